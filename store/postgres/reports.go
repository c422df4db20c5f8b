package postgres

// The report event index and the backlog (store.Reports, issue 16), as
// one append-only table an admin can read with psql:
//
//	report_events (seq, at_ns, kind, ticket, grp, mailbox, agent, since_ns, target, rating, dec, inc)
//
// A row is an event (kind set) and/or a backlog move: the report keys one
// ticket left (dec) and entered (inc) at at_ns, as bytea arrays (report
// keys hold NUL separators). A move joins the event its write added last
// at the same instant (a new ticket's "received" and its move into the
// open backlog are one row); a move without one is a row of kind ''
// (schema 9; before, the moves were rows of report_backlog_moves). Rows
// are queued in the write that records the change and sent in its batch
// (the write lock orders writers and a batch keeps its order, so seq
// follows insertion). The backlog as of an instant is the sum of the
// moves before it; unlike the bbolt engine's daily checkpoints, that sum
// reads every earlier move: 9 million moves (about a million tickets)
// took 5 s per report on a loaded 2-core machine (a parallel scan of the
// 1 GB table). Checkpoints would cost every mail's write a read or an
// upsert of the day's counts; a report is rare, so the report pays.

import (
	"strconv"
	"time"

	"helpdesk/store/model"
)

func nsOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// The table is append-only: its rows go out in the write's batch, no
// round trip of their own on a mail's write.
var tReportEvents = newTable("report_events", 0, "at_ns", "kind", "ticket", "grp", "mailbox", "agent", "since_ns", "target", "rating", "dec", "inc")

// AddReportEvent records ev under ev.At.
func (t *Tx) AddReportEvent(ev *model.ReportEvent) error {
	if err := t.appendRow(tReportEvents, ev.At.UnixNano(), ev.Kind, int64(ev.Ticket), ev.Group, ev.Mailbox, ev.Agent, nsOrNil(ev.Since), ev.Target, int32(ev.Rating), nil, nil); err != nil {
		return err
	}
	t.lastEvent = strconv.FormatUint(t.appended, 10)
	return nil
}

// ReportEvents calls fn for every event with from <= At < to, in time
// order (one instant's events in the order they were added). The event
// is reused between calls.
func (t *Tx) ReportEvents(from, to time.Time, fn func(*model.ReportEvent) error) error {
	rows, err := t.query(`SELECT at_ns, kind, ticket, grp, mailbox, agent, since_ns, target, rating
FROM report_events WHERE at_ns >= $1 AND at_ns < $2 AND kind <> '' ORDER BY at_ns, seq`, from.UnixNano(), to.UnixNano())
	if err != nil {
		return err
	}
	defer rows.Close()
	ev := &model.ReportEvent{}
	for rows.Next() {
		var at, ticket int64
		var since *int64
		var rating int32
		*ev = model.ReportEvent{}
		if err := rows.Scan(&at, &ev.Kind, &ticket, &ev.Group, &ev.Mailbox, &ev.Agent, &since, &ev.Target, &rating); err != nil {
			return t.fail("reading report events", err)
		}
		ev.At, ev.Ticket, ev.Rating = time.Unix(0, at).UTC(), uint64(ticket), int(rating)
		if since != nil {
			ev.Since = time.Unix(0, *since).UTC()
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return t.fail("reading report events", err)
	}
	return nil
}

// MoveBacklog records that at instant at one ticket left the backlog keys
// dec and entered inc.
func (t *Tx) MoveBacklog(at time.Time, dec, inc []string) error {
	if len(dec) == 0 && len(inc) == 0 {
		return nil
	}
	if r, ok := t.pendingRow(tReportEvents, t.lastEvent); ok && r.vals[0].(int64) == at.UnixNano() && r.vals[9] == nil {
		// The row of the event this write added at that instant, not
		// sent yet, takes the move.
		vals := append([]any(nil), r.vals...)
		vals[9], vals[10] = byteKeys(dec), byteKeys(inc)
		return t.write(tReportEvents, t.lastEvent, &prow{vals: vals})
	}
	return t.appendRow(tReportEvents, at.UnixNano(), "", int64(0), "", "", "", nil, "", int32(0), byteKeys(dec), byteKeys(inc))
}

// byteKeys is keys as a bytea[] (never NULL: an empty array).
func byteKeys(keys []string) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k)
	}
	return out
}

// backlogSQL sums the moves before $1 by key.
const backlogSQL = `SELECT k, sum(d) FROM report_events m,
	LATERAL (SELECT unnest(m.inc) AS k, 1 AS d UNION ALL SELECT unnest(m.dec), -1) x
WHERE m.at_ns < $1 AND m.dec IS NOT NULL GROUP BY k HAVING sum(d) <> 0`

// Backlog returns every key's count as of instant at (the moves before
// at), leaving out zeros.
func (t *Tx) Backlog(at time.Time) (map[string]int, error) {
	rows, err := t.query(backlogSQL, at.UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k []byte
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			return nil, t.fail("reading the backlog", err)
		}
		out[string(k)] = int(n)
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail("reading the backlog", err)
	}
	return out, nil
}
