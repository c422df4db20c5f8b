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
// mails it (gateway/engine's reports.go), `helpdesk report` prints it.
package report
