// The scheduler's due-time index (bucket timers, issue 14 item 6).

package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"helpdesk/store/model"
)

// Bucket timers holds two keys per timer, so a ticket has at most one
// timer per kind and the next due is one cursor seek:
//
//	'd' at ticket kind -> nil  (the due order)
//	'r' ticket kind    -> at   (the timer of a ticket and kind)
//
// at is 8 bytes, the instant in Unix nanoseconds with the sign bit
// flipped (so the byte order is the time order); ticket is 8 bytes big
// endian.
const (
	timerDue = 'd'
	timerRev = 'r'
)

// The index grows at its ends: each new ticket's reverse keys at the
// end of the 'r' range, its timers at the end of the instants armed so
// far (a time after its creation). Pages filled before splitting keep
// the leaves a commit of new tickets writes (and reads into memory) few.
func init() { appendOnly[string(bTimers)] = true }

var (
	keyTimerStamp = []byte("timer_stamp")
	// keyRearm is the re-arming's progress: done (8 bytes) then stamp.
	keyRearm = []byte("timer_rearm")
)

func timerAt(t time.Time) []byte {
	n := int64(math.MinInt64)
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
	case t.After(time.Unix(0, math.MaxInt64)):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	return u64(uint64(n) ^ 1<<63)
}

func timerTime(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)^1<<63)).UTC()
}

func timerDueKey(at []byte, ticket uint64, kind string) []byte {
	k := make([]byte, 0, 17+len(kind))
	k = append(k, timerDue)
	k = append(k, at...)
	k = append(k, u64(ticket)...)
	return append(k, kind...)
}

func timerRevKey(ticket uint64, kind string) []byte {
	k := make([]byte, 0, 9+len(kind))
	k = append(k, timerRev)
	k = append(k, u64(ticket)...)
	return append(k, kind...)
}

func (t *Tx) writableTimers(what string) error {
	if !t.Writable() {
		return fmt.Errorf("%s: read-only transaction", what)
	}
	return nil
}

// SetTimer arms a timer, replacing the ticket's timer of that kind.
func (t *Tx) SetTimer(tm model.Timer) error {
	if err := t.writableTimers("setting a timer"); err != nil {
		return err
	}
	if tm.Kind == "" {
		return errors.New("setting a timer: empty kind")
	}
	b := t.b(bTimers)
	rk := timerRevKey(tm.Ticket, tm.Kind)
	at := timerAt(tm.At)
	if old := b.Get(rk); old != nil {
		if bytes.Equal(old, at) {
			return nil
		}
		if err := b.Delete(timerDueKey(old, tm.Ticket, tm.Kind)); err != nil {
			return fmt.Errorf("setting a timer: %w", err)
		}
	}
	if err := b.Put(rk, at); err != nil {
		return fmt.Errorf("setting a timer: %w", err)
	}
	if err := b.Put(timerDueKey(at, tm.Ticket, tm.Kind), nil); err != nil {
		return fmt.Errorf("setting a timer: %w", err)
	}
	return nil
}

// ClearTimer disarms the ticket's timer of kind.
func (t *Tx) ClearTimer(ticket uint64, kind string) error {
	if err := t.writableTimers("clearing a timer"); err != nil {
		return err
	}
	b := t.b(bTimers)
	rk := timerRevKey(ticket, kind)
	old := b.Get(rk)
	if old == nil {
		return nil
	}
	if err := b.Delete(timerDueKey(old, ticket, kind)); err != nil {
		return fmt.Errorf("clearing a timer: %w", err)
	}
	if err := b.Delete(rk); err != nil {
		return fmt.Errorf("clearing a timer: %w", err)
	}
	return nil
}

// TimersOf lists a ticket's timers, by kind.
func (t *Tx) TimersOf(ticket uint64) ([]model.Timer, error) {
	var out []model.Timer
	prefix := timerRevKey(ticket, "")
	c := t.b(bTimers).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(v) != 8 {
			return nil, fmt.Errorf("timer %q of ticket %d: damaged entry", k[len(prefix):], ticket)
		}
		out = append(out, model.Timer{Ticket: ticket, Kind: string(k[len(prefix):]), At: timerTime(v)})
	}
	return out, nil
}

// DueTimers returns timers due at or before upTo, in due order.
func (t *Tx) DueTimers(upTo time.Time, limit int) ([]model.Timer, error) {
	var out []model.Timer
	end := timerAt(upTo)
	c := t.b(bTimers).Cursor()
	for k, _ := c.Seek([]byte{timerDue}); k != nil && k[0] == timerDue; k, _ = c.Next() {
		if len(k) < 17 {
			return nil, fmt.Errorf("timer index: damaged key %x", k)
		}
		if bytes.Compare(k[1:9], end) > 0 {
			break
		}
		out = append(out, model.Timer{At: timerTime(k[1:9]), Ticket: binary.BigEndian.Uint64(k[9:17]), Kind: string(k[17:])})
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

// NextTimerAt is the earliest armed instant.
func (t *Tx) NextTimerAt() (time.Time, bool, error) {
	k, _ := t.b(bTimers).Cursor().Seek([]byte{timerDue})
	if k == nil || k[0] != timerDue {
		return time.Time{}, false, nil
	}
	if len(k) < 17 {
		return time.Time{}, false, fmt.Errorf("timer index: damaged key %x", k)
	}
	return timerTime(k[1:9]), true, nil
}

// TimerStamp is what SetTimerStamp stored.
func (t *Tx) TimerStamp() (string, error) {
	return string(t.b(bMeta).Get(keyTimerStamp)), nil
}

// SetTimerStamp records what the timer index was built for.
func (t *Tx) SetTimerStamp(stamp string) error {
	if err := t.writableTimers("storing the timer stamp"); err != nil {
		return err
	}
	return t.b(bMeta).Put(keyTimerStamp, []byte(stamp))
}

// RearmProgress is what SetRearmProgress stored.
func (t *Tx) RearmProgress() (string, uint64, error) {
	v := t.b(bMeta).Get(keyRearm)
	if v == nil {
		return "", 0, nil
	}
	if len(v) < 8 {
		return "", 0, fmt.Errorf("the re-arming's progress: damaged entry %x", v)
	}
	return string(v[8:]), binary.BigEndian.Uint64(v[:8]), nil
}

// SetRearmProgress records how far a re-arming for stamp got ("": none).
func (t *Tx) SetRearmProgress(stamp string, done uint64) error {
	if err := t.writableTimers("storing the re-arming's progress"); err != nil {
		return err
	}
	if stamp == "" {
		return t.b(bMeta).Delete(keyRearm)
	}
	return t.b(bMeta).Put(keyRearm, append(u64(done), stamp...))
}
