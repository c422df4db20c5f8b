// Package report builds the reports of SPEC 9 (issue 16): per agent,
// group, mailbox or ticket over a period, from the store's event index
// (store.Reports), never by loading every ticket. It also decides what a
// ticket change adds to that index (Record), which the engine calls in
// the write that makes the change, and writes the CSV and JSON forms.
//
// # SPEC 9: Reports
//
// Tickets received (by the group and mailbox they arrived in), resolved
// and reopened (by the assignee at that moment), first response and
// resolution times (median and 90th percentile by nearest rank, in
// business minutes of the ticket's calendar and calendar minutes), the
// backlog by status at the period's end. The CSV carries a byte-order
// mark so Excel opens Korean text correctly, a header row, RFC 4180
// quoting and no cell a spreadsheet would run as a formula. #report
// mails it (gateway/engine's reports.go), `helpdesk report` prints it.//
// # Periods and columns
//
// Periods (in [reports] time_zone, default UTC; weeks start on Monday):
// today, yesterday, week, last-week, month, last-month, quarter,
// last-quarter, year, last-year, 30d (default), 4w, 2026, 2026-11,
// 2026-11-01, 2026-11-01..2026-11-15 (both days included). Figures come from
// an event index the engine writes in the same store write as each change
// (received, resolved, reopened, first response; backlog moves), so a report
// reads its period only, a day per read transaction, pausing while mail is
// coming in so that it takes about a tenth of a core from it. A store
// written before the index gets it once, when the daemon starts: each
// ticket's logged status changes give back its resolutions and reopens (by
// its current assignee); tickets older than that log keep only their last
// resolution, and their reopens are lost. The CSV is UTF-8 with a byte-order
// mark (Excel shows Korean names), CRLF, RFC 4180 quoting; a cell starting
// with =, +, -, @ gets a leading ' so no spreadsheet runs it. Columns: kind
// (agent, group, mailbox), key (address or group name), name (configured
// name), period_from, period_to, received (tickets that arrived; agents:
// assigned on arrival), resolved and reopened (by the assignee then; a merge
// is no resolution), first_response_count and resolution_count with
// *_business_median_min, *_business_p90_min (the group's, else the mailbox's
// calendar), *_calendar_median_min, *_calendar_p90_min (minutes from the
// ticket's creation; nearest rank: the median of an even count is the lower
// middle value), then backlog_open, backlog_pending,
// backlog_waiting_customer, backlog_waiting_third_party, backlog_resolved at
// the period's end (or now), sla_breaches_first_reply, _next_reply,
// _periodic_update, _resolution (breaches recorded in the period),
// csat_count (ratings given in the period, each ticket's latest) and
// csat_good_percent (share rated 4 or 5). --by tickets: one row per ticket
// received in the period with its times. --format json has the same figures.
// SLA breaches are counted from the breach marks the SLA timers record on
// the ticket, at the instant of each breach.
package report
