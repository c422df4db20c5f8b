package report

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// Counters of the one-time backfill (store.Rates Counter): the highest
// ticket id whose history is in the index, and whether the backfill is
// done.
const (
	backfillNext = "report_index_backfilled_to"
	backfillDone = "report_index_ready"
)

// History is what the index would hold for a ticket written before it
// existed, from what the ticket kept: its arrival, its first response,
// its resolution (ResolvedAt, or ClosedAt), its close, and its current
// status since its last update. A ticket that logged its status changes
// (StatusLog, kept since the service levels) replays them instead, each
// at its time, so its reopens and every resolution are recovered; only
// tickets older than that log lose the reopens.
func History(tk *model.Ticket) (evs []model.ReportEvent, moves []Move) {
	marks := []mark{{at: tk.Created, status: model.StatusOpen}}
	fr := firstResponse(tk)
	if !fr.IsZero() {
		marks = append(marks, mark{at: fr, fr: true})
	}
	for _, b := range breaches(tk) {
		marks = append(marks, mark{at: time.Unix(b.at, 0).UTC(), breach: &b})
	}
	if tk.CSAT != nil && tk.CSAT.Rating != 0 {
		marks = append(marks, mark{at: tk.CSAT.At, rating: tk.CSAT.Rating})
	}
	switch {
	case len(tk.StatusLog) > 0:
		marks = append(marks, statusMarks(tk)...)
	case tk.Status == model.StatusResolved:
		if tk.ResolvedAt != nil {
			marks = append(marks, mark{at: *tk.ResolvedAt, status: model.StatusResolved})
		}
	case tk.Status == model.StatusClosed:
		if tk.ResolvedAt != nil {
			marks = append(marks, mark{at: *tk.ResolvedAt, status: model.StatusResolved})
		}
		if tk.ClosedAt != nil {
			marks = append(marks, mark{at: *tk.ClosedAt, status: model.StatusClosed})
		} else {
			marks = append(marks, mark{at: tk.Updated, status: model.StatusClosed})
		}
	case tk.Status == model.StatusOpen:
	default:
		marks = append(marks, mark{at: tk.Updated, status: tk.Status})
	}
	sort.SliceStable(marks, func(i, j int) bool { return marks[i].at.Before(marks[j].at) })
	cur := State{Exists: true, Status: model.StatusOpen, Group: tk.Group, Mailbox: tk.Mailbox, Assignee: tk.Assignee, Created: tk.Created}
	prev := State{}
	for i, m := range marks {
		if i > 0 {
			switch {
			case m.fr:
				cur.FirstResponse = fr
			case m.rating != 0:
				cur.Rating, cur.RatedAt = m.rating, m.at
			case m.breach != nil:
				cur.Breaches = append(append([]breach(nil), cur.Breaches...), *m.breach)
			default:
				cur.Status = m.status
			}
		}
		if i == len(marks)-1 && tk.MergedInto != 0 {
			cur.Merged = true
		}
		e, dec, inc := Changes(tk.ID, prev, cur, m.at, "")
		evs = append(evs, e...)
		if dec != nil || inc != nil {
			moves = append(moves, Move{At: m.at, Dec: dec, Inc: inc})
		}
		prev = cur
	}
	return evs, moves
}

// mark is one moment of a ticket's history.
type mark struct {
	at     time.Time
	status string
	fr     bool
	rating int
	breach *breach
}

// statusMarks are the ticket's logged status changes. Marks logged before
// the log kept nanoseconds have whole seconds: the last resolution and
// close take their exact instants from ResolvedAt and ClosedAt when those
// fall in the same second.
func statusMarks(tk *model.Ticket) []mark {
	out := make([]mark, 0, len(tk.StatusLog))
	lastRes, lastClose := -1, -1
	for i, l := range tk.StatusLog {
		switch l.S {
		case model.StatusResolved:
			lastRes = i
		case model.StatusClosed:
			lastClose = i
		}
		out = append(out, mark{at: l.Time(), status: l.S})
	}
	exact := func(i int, t *time.Time) {
		if i >= 0 && t != nil && t.Unix() == tk.StatusLog[i].At {
			out[i].at = *t
		}
	}
	exact(lastRes, tk.ResolvedAt)
	exact(lastClose, tk.ClosedAt)
	return out
}

// Move is one backlog move.
type Move struct {
	At       time.Time
	Dec, Inc []string
}

// Backfill puts the history of every ticket written before the index
// existed into it, once (a store whose index is complete, a new one
// included, returns at once). It runs before the daemon takes mail, in
// writes of batch tickets, each recording how far it got, so a crash
// resumes where it stopped without counting a ticket twice.
func Backfill(db store.Store, log *slog.Logger, batch int) (int, error) {
	if batch <= 0 {
		batch = 2000
	}
	var ready, next uint64
	var last uint64
	// Counter reads by adding nothing, which only a write may do.
	err := db.Update(func(tx store.Tx) error {
		var err error
		if ready, err = tx.Counter(backfillDone, 0); err != nil {
			return err
		}
		if next, err = tx.Counter(backfillNext, 0); err != nil {
			return err
		}
		if ids := tx.TicketIDs("", 1); len(ids) > 0 {
			last = ids[0]
		}
		if ready > 0 || next > 0 {
			return nil
		}
		// Not marked and not begun, yet holding events: the index was
		// written as mail arrived, by daemons that never backfill
		// (PostgreSQL's) and then copied by helpdesk migrate without
		// the mark. Building it again would count every ticket twice.
		indexed, err := hasReportEvent(tx)
		if err != nil || !indexed {
			return err
		}
		ready = 1
		return MarkIndexed(tx)
	})
	if err != nil || ready > 0 {
		return 0, err
	}
	if last > next && log != nil {
		log.Info("building the report index from the existing tickets (once, after an upgrade)", "tickets", last-next)
	}
	start, done := time.Now(), 0
	for next < last {
		to := min(next+uint64(batch), last)
		n := 0
		err := db.Update(func(tx store.Tx) error {
			n = 0
			for id := next + 1; id <= to; id++ {
				tk, err := tx.Ticket(id)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return fmt.Errorf("loading ticket %d: %w", id, err)
				}
				evs, moves := History(tk)
				for i := range evs {
					if err := tx.AddReportEvent(&evs[i]); err != nil {
						return err
					}
				}
				for _, m := range moves {
					if err := tx.MoveBacklog(m.At, m.Dec, m.Inc); err != nil {
						return err
					}
				}
				n++
			}
			_, err := tx.Counter(backfillNext, to-next)
			return err
		})
		if err != nil {
			return done, fmt.Errorf("building the report index (tickets %d-%d): %w", next+1, to, err)
		}
		done += n
		next = to
	}
	if err := db.Update(func(tx store.Tx) error { _, err := tx.Counter(backfillDone, 1); return err }); err != nil {
		return done, fmt.Errorf("marking the report index built: %w", err)
	}
	if done > 0 && log != nil {
		log.Info("report index built", "tickets", done, "took", time.Since(start).Round(time.Millisecond))
	}
	return done, nil
}

// MarkIndexed records that the index holds every ticket's history (a
// tool that writes tickets and their index entries itself, such as the
// bench's pre-fill, so no backfill counts them again).
func MarkIndexed(tx store.Tx) error {
	if v, err := tx.Counter(backfillDone, 0); err != nil || v > 0 {
		return err
	}
	_, err := tx.Counter(backfillDone, 1)
	return err
}

// errFound stops hasReportEvent's walk at the first event.
var errFound = errors.New("found")

// hasReportEvent says whether the store holds any report event.
func hasReportEvent(tx store.Tx) (bool, error) {
	// From the epoch to 2242 (UnixNano's range ends in 2262).
	err := tx.ReportEvents(time.Unix(0, 0), time.Unix(1<<33, 0), func(*model.ReportEvent) error { return errFound })
	if errors.Is(err, errFound) {
		return true, nil
	}
	return false, err
}
