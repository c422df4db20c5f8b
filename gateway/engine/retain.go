package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// RetainResult is what one retention sweep removed ([retention], issue 17
// item 4).
type RetainResult struct {
	Outbound   int `json:"outbound"`   // settled outbound items pruned
	Quarantine int `json:"quarantine"` // quarantine entries expired
	Messages   int `json:"messages"`   // their raw mails deleted
	RawDropped int `json:"raw_dropped"`
	// Compacted is set when the compaction schedule fell due.
	Compacted bool                `json:"compacted"`
	Compact   store.CompactResult `json:"compact"`
}

// retainMu keeps sweeps (the daemon's and a clock move's) apart.
var retainMu sync.Mutex

// retainBatch bounds one write of a sweep: the single writer is shared
// with arriving mail.
const retainBatch = 500

// Counters (store.Rates.Counter) that carry a sweep's progress across
// restarts, in unix seconds of the ticket clock.
const (
	rawClosedUntil = "retention:raw_closed_until" // closed before this: raw dropped
	compactedAt    = "retention:compacted_at"
)

// Retain runs the retention sweep at the ticket clock's instant: sent and
// given-up outbound mail older than sent_outbound is pruned (with its
// .eml copy), quarantine older than quarantine is deleted with its raw
// mail, with raw_after_closed the raw mail of tickets closed that long ago
// is dropped (texts and attachments' metadata stay), and with compact the
// store is compacted when that long has passed since the last time.
func (e *Engine) Retain() (RetainResult, error) {
	retainMu.Lock()
	defer retainMu.Unlock()
	e.Metrics.RetentionSweeps.Add(1)
	cfg := e.Config()
	r := cfg.Retention
	now := e.now()
	var res RetainResult
	var blobs []string
	removeBlobs := func() {
		for _, b := range blobs {
			if err := os.Remove(filepath.Join(cfg.DataDir, filepath.Clean(b))); err != nil && !errors.Is(err, os.ErrNotExist) {
				e.log.Error("retention: removing a blob file", "err", err)
			}
		}
		blobs = blobs[:0]
	}
	if d := r.SentOutbound.D(); d > 0 {
		for {
			var ids []uint64
			err := e.db.Update(func(tx store.Tx) error {
				ids = ids[:0]
				os, err := tx.SettledOutbound(now.Add(-d), retainBatch)
				if err != nil {
					return err
				}
				for _, o := range os {
					if err := tx.DeleteOutbound(o.ID); err != nil {
						return err
					}
					ids = append(ids, o.ID)
				}
				return nil
			})
			if err != nil {
				return res, fmt.Errorf("retention: pruning sent outbound mail: %w", err)
			}
			for _, id := range ids {
				os.Remove(outboxFile(cfg.DataDir, id))
			}
			res.Outbound += len(ids)
			if len(ids) < retainBatch {
				break
			}
		}
	}
	if d := r.Quarantine.D(); d > 0 {
		for {
			n, msgs := 0, 0
			var bl []string
			err := e.db.Update(func(tx store.Tx) error {
				n, msgs, bl = 0, 0, bl[:0]
				qs, err := tx.OldQuarantine(now.Add(-d), retainBatch)
				if err != nil {
					return err
				}
				for _, q := range qs {
					if !q.Released && q.Message != 0 {
						// A released mail's record belongs to its ticket now.
						if m, err := tx.Message(q.Message); err == nil {
							if m.Blob != "" {
								bl = append(bl, m.Blob)
							}
							if err := tx.DeleteMessage(m.ID); err != nil {
								return err
							}
							msgs++
						}
					}
					if err := tx.DeleteQuarantine(q.ID); err != nil {
						return err
					}
					n++
				}
				return nil
			})
			if err != nil {
				return res, fmt.Errorf("retention: expiring quarantine: %w", err)
			}
			blobs = append(blobs, bl...)
			removeBlobs()
			res.Quarantine += n
			res.Messages += msgs
			if n < retainBatch {
				break
			}
		}
	}
	if d := r.RawAfterClosed.D(); d > 0 {
		n, err := e.dropClosedRaw(now.Add(-d), &blobs)
		if err != nil {
			return res, err
		}
		removeBlobs()
		res.RawDropped = n
	}
	if d := r.Compact.D(); d > 0 {
		var last uint64
		if err := e.db.Update(func(tx store.Tx) error {
			var err error
			last, err = tx.Counter(compactedAt, 0)
			return err
		}); err != nil {
			return res, err
		}
		if last == 0 {
			// The schedule starts now (first sweep of this store or of
			// this setting): the first compaction is d from here.
			if err := e.db.Update(func(tx store.Tx) error {
				_, err := tx.Counter(compactedAt, uint64(now.Unix()))
				return err
			}); err != nil {
				return res, err
			}
		} else if now.Sub(time.Unix(int64(last), 0)) >= d {
			c, err := e.db.Compact()
			if err != nil {
				return res, fmt.Errorf("retention: scheduled compaction: %w", err)
			}
			res.Compacted, res.Compact = true, c
			if err := e.db.Update(func(tx store.Tx) error {
				_, err := tx.Counter(compactedAt, uint64(now.Unix())-last)
				return err
			}); err != nil {
				return res, err
			}
		}
	}
	if res.Outbound+res.Quarantine+res.RawDropped > 0 || res.Compacted {
		e.log.Info("retention sweep", "outbound_pruned", res.Outbound, "quarantine_expired", res.Quarantine,
			"raw_dropped", res.RawDropped, "compacted", res.Compacted, "store_bytes_before", res.Compact.Before, "store_bytes_after", res.Compact.After)
	}
	return res, nil
}

// dropClosedRaw drops the raw mail of tickets closed before cutoff and
// after the previous sweep's cutoff (a counter keeps it, so a sweep reads
// only the closed tickets' records and writes only what is new). It
// returns how many raw mails it dropped; blob files to remove once
// committed are added to blobs.
func (e *Engine) dropClosedRaw(cutoff time.Time, blobs *[]string) (int, error) {
	var from uint64
	var msgs []uint64
	// Reading a counter is adding 0 to it: a write.
	if err := e.db.Update(func(tx store.Tx) error {
		var err error
		from, err = tx.Counter(rawClosedUntil, 0)
		return err
	}); err != nil {
		return 0, fmt.Errorf("retention: %w", err)
	}
	err := e.db.View(func(tx store.Tx) error {
		for _, id := range tx.TicketIDs(model.StatusClosed, 0) {
			tk, err := tx.Ticket(id)
			if err != nil {
				return err
			}
			if tk.ClosedAt == nil || !tk.ClosedAt.Before(cutoff) || tk.ClosedAt.Unix() < int64(from) {
				continue
			}
			cs, err := tx.Comments(id)
			if err != nil {
				return err
			}
			for _, c := range cs {
				if c.Message != 0 {
					msgs = append(msgs, c.Message)
				}
				for _, a := range c.Attachments {
					if a.Message != 0 && a.Message != c.Message {
						msgs = append(msgs, a.Message)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("retention: finding closed tickets' raw mail: %w", err)
	}
	dropped := 0
	for len(msgs) > 0 {
		batch := msgs[:min(len(msgs), retainBatch)]
		msgs = msgs[len(batch):]
		var bl []string
		n := 0
		err := e.db.Update(func(tx store.Tx) error {
			bl, n = bl[:0], 0
			for _, id := range batch {
				m, err := tx.Message(id)
				if err != nil {
					continue // erased meanwhile
				}
				if m.Blob != "" {
					// DeleteRaw first: an engine keeping bodies as
					// rows (postgres) drops the one m names.
					if err := tx.DeleteRaw(id); err != nil {
						return err
					}
					bl = append(bl, m.Blob)
					m.Blob = ""
					if err := tx.PutMessage(m); err != nil {
						return err
					}
					n++
				} else if tx.RawInline(id) != nil {
					if err := tx.DeleteRaw(id); err != nil {
						return err
					}
					n++
				}
			}
			return nil
		})
		if err != nil {
			return dropped, fmt.Errorf("retention: dropping raw mail: %w", err)
		}
		*blobs = append(*blobs, bl...)
		dropped += n
	}
	if c := uint64(cutoff.Unix()); c > from {
		if err := e.db.Update(func(tx store.Tx) error {
			_, err := tx.Counter(rawClosedUntil, c-from)
			return err
		}); err != nil {
			return dropped, err
		}
	}
	return dropped, nil
}
