package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/store/testhook"
)

// Erasures not complete (issue 16, SPEC 8). An erase confirmed by mail is
// recorded in the confirming mail's write (model.ErasureConfirmed); the
// erase's own write moves the record to model.ErasureErased and the write
// after its compaction completes it and queues the admin's transcript. A
// daemon killed anywhere in between finds the record when it starts
// again and goes on from its state: the erase (checked in its write to
// be still waiting, so it runs once), then the files, the compaction
// and the transcript (each harmless to repeat; the last write checks the
// record is not complete yet, so one transcript goes). On a database
// several daemons share only the leader runs them (RunErasures is the
// leader's work), and the checks in the writes, which the database
// serializes, keep a leader change from erasing or mailing twice.

// erasurePoll is how often the runner looks for erasures not complete
// besides being woken: another daemon's confirmed erase (a shared
// database), and a retry after a failure.
const erasurePoll = 10 * time.Second

// WakeErasures tells RunErasures that a confirmed erase was recorded.
func (e *Engine) WakeErasures() {
	select {
	case e.eraseWake <- struct{}{}:
	default:
	}
}

// RunErasures resumes the erasures not complete at once, then whenever
// woken and every erasurePoll, until ctx ends. It is the leading node's
// work. A failing erasure is tried again after a backoff (1 minute,
// doubling up to an hour).
func (e *Engine) RunErasures(ctx context.Context) {
	t := time.NewTicker(erasurePoll)
	defer t.Stop()
	wait := map[uint64]time.Time{}
	backoff := map[uint64]time.Duration{}
	for {
		e.resumeErasures(ctx, wait, backoff)
		select {
		case <-ctx.Done():
			return
		case <-e.eraseWake:
		case <-t.C:
		}
	}
}

// resumeErasures runs each erasure not complete as far as it goes.
func (e *Engine) resumeErasures(ctx context.Context, wait map[uint64]time.Time, backoff map[uint64]time.Duration) {
	var ids []uint64
	if err := e.db.View(func(tx store.Tx) error {
		rs, err := tx.Erasures()
		for _, r := range rs {
			if r.State != "" {
				ids = append(ids, r.ID)
			}
		}
		return err
	}); err != nil {
		e.log.Error("erasures: reading the records", "err", err)
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		if time.Now().Before(wait[id]) {
			continue
		}
		err := e.resumeErasure(id)
		if err == nil {
			delete(wait, id)
			delete(backoff, id)
			continue
		}
		b := min(max(2*backoff[id], time.Minute), time.Hour)
		backoff[id], wait[id] = b, time.Now().Add(b)
		e.log.Error("erasure not complete: trying again later", "erasure", id, "retry_in", b, "err", err)
	}
}

// resumeErasure takes erasure record id from its state to complete.
func (e *Engine) resumeErasure(id uint64) error {
	e.eraseMu.Lock()
	defer e.eraseMu.Unlock()
	for range 3 { // a step another run took meanwhile: read again
		var rec *model.Erasure
		if err := e.db.View(func(tx store.Tx) error {
			var err error
			rec, err = erasureRecord(tx, id)
			return err
		}); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		switch rec.State {
		case "":
			return nil
		case model.ErasureErased:
			if rec.Via == "mail" {
				e.log.Info("erase by mail: compacting and mailing the transcript", "erasure", id)
			} else {
				e.log.Info("erasure not complete when the daemon stopped: compacting", "erasure", id)
			}
			_, err := e.completeErasure(id, nil)
			return err
		case model.ErasureConfirmed:
			testhook.Hold("erase-confirmed")
			if rec.Pending == nil {
				return fmt.Errorf("erasure record %d is confirmed but names no one", id)
			}
			e.log.Info("erase by mail: erasing", "erasure", id, "by", rec.By, "ticket", rec.Pending.Ticket)
			_, err := e.erase(rec.Pending.Addr, rec.By, "mail", false, rec)
			var refused refusedError
			switch {
			case errors.As(err, &refused):
				return e.refuseErasure(id, err)
			case errors.Is(err, errNoLongerPending):
				continue
			case err != nil:
				return err
			}
		default:
			return fmt.Errorf("erasure record %d has the unknown state %q (written by a newer helpdesk?)", id, rec.State)
		}
	}
	return nil
}

// refuseErasure ends an erase confirmed by mail that cannot run (the
// requester became staff, or nothing of them is stored any more): the
// record goes, and the admin is told why, in one write.
func (e *Engine) refuseErasure(id uint64, why error) error {
	e.log.Warn("erase by mail refused", "erasure", id, "err", why)
	queued := 0
	err := e.update(func(tx store.Tx) error {
		queued = 0
		cur, err := erasureRecord(tx, id)
		if err != nil || cur.State != model.ErasureConfirmed {
			return nil // gone, or run by another
		}
		if err := tx.DeleteErasure(id); err != nil {
			return err
		}
		subject, text := eraseTranscript(cur.Pending, nil, nil, why)
		queued, err = e.queueEraseTranscript(tx, cur.By, cur.Pending, subject, text)
		return err
	})
	if err != nil {
		return fmt.Errorf("erase by mail: queueing the refusal: %w", err)
	}
	if queued > 0 && e.Wake != nil {
		e.Wake()
	}
	return nil
}
