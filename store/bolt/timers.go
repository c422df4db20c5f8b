// The scheduler's due-time index (bucket timers, issue 14 item 6).

package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"helpdesk/store/model"
)

// Schema 5 keeps one key per ticket in bucket timers, the due order, and
// the ticket's timers in a record beside the ticket, which a write that
// arms a ticket's timers stores anyway:
//
//	timers:  'd' at ticket -> nil   (the ticket's earliest instant)
//	tickets: ticket 't'    -> record (the ticket's timers, by kind: at,
//	                                  len(kind) as uvarint, kind ...)
//
// at is 8 bytes, the instant in Unix nanoseconds with the sign bit
// flipped (so the byte order is the time order); ticket is 8 bytes big
// endian. So arming a new ticket's timers adds one key at one place of
// bucket timers, whatever the number of its timers, and its record to
// the leaf that holds the new ticket and its comments (ticket records
// are 8 bytes long, comments 12, timer records 9: each reader of bucket
// tickets tells them apart by length). A ticket's other timers are
// found through its earliest: DueTimers reads the record of every
// ticket whose earliest instant is due.
//
// Schema 4 had four keys per ticket of two timers at three places of
// bucket timers (a due key per timer, 'd' at ticket kind, and a reverse
// key per timer, 'r' ticket kind -> at): migrateTimersV4 rewrites them.
const (
	timerDue = 'd'
	timerRec = 't'
	timerRev = 'r' // schema 4
)

// The index grows at its end: each new ticket's earliest instant comes
// after the instants armed so far (a time after its creation). Pages
// filled before splitting keep the leaves a commit of new tickets writes
// (and reads into memory) few.
func init() { appendOnly[string(bTimers)] = true }

var (
	keyTimerStamp = []byte("timer_stamp")
	// keyRearm is the re-arming's progress: done (8 bytes) then stamp.
	keyRearm = []byte("timer_rearm")
)

func timerAt(t time.Time) []byte { return u64(timerAtN(t)) }

func timerAtN(t time.Time) uint64 {
	n := int64(math.MinInt64)
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
	case t.After(time.Unix(0, math.MaxInt64)):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	return uint64(n) ^ 1<<63
}

func timerTime(b []byte) time.Time { return timerTimeN(binary.BigEndian.Uint64(b)) }

func timerTimeN(n uint64) time.Time { return time.Unix(0, int64(n^1<<63)).UTC() }

func timerDueKey(at uint64, ticket uint64) []byte {
	var k [17]byte
	k[0] = timerDue
	binary.BigEndian.PutUint64(k[1:9], at)
	binary.BigEndian.PutUint64(k[9:17], ticket)
	return k[:]
}

// timerRecKey is the key of a ticket's timer record in bucket tickets.
func timerRecKey(ticket uint64) []byte {
	var k [9]byte
	binary.BigEndian.PutUint64(k[:8], ticket)
	k[8] = timerRec
	return k[:]
}

// timerRevKeyV4 is schema 4's reverse key of a ticket's timers (the
// prefix of its keys 'r' ticket kind).
func timerRevKeyV4(ticket uint64) []byte { return append([]byte{timerRev}, u64(ticket)...) }

// timerEnt is one timer of a ticket's record.
type timerEnt struct {
	at   uint64
	kind string
}

// decodeTimers appends the timers of a ticket's record to into.
func decodeTimers(into []timerEnt, v []byte) ([]timerEnt, error) {
	for len(v) > 0 {
		if len(v) < 9 {
			return into, errors.New("damaged timer record")
		}
		l, n := binary.Uvarint(v[8:])
		if n <= 0 || l == 0 || l > uint64(len(v)-8-n) {
			return into, errors.New("damaged timer record")
		}
		into = append(into, timerEnt{at: binary.BigEndian.Uint64(v[:8]), kind: string(v[8+n : 8+n+int(l)])})
		v = v[8+n+int(l):]
	}
	return into, nil
}

func encodeTimers(ents []timerEnt) []byte {
	n := 0
	for _, e := range ents {
		n += 8 + binary.MaxVarintLen64 + len(e.kind)
	}
	out := make([]byte, 0, n)
	for _, e := range ents {
		out = binary.BigEndian.AppendUint64(out, e.at)
		out = binary.AppendUvarint(out, uint64(len(e.kind)))
		out = append(out, e.kind...)
	}
	return out
}

func earliest(ents []timerEnt) uint64 {
	m := uint64(math.MaxUint64)
	for _, e := range ents {
		m = min(m, e.at)
	}
	return m
}

func (t *Tx) writableTimers(what string) error {
	if !t.Writable() {
		return fmt.Errorf("%s: read-only transaction", what)
	}
	return nil
}

// timersOf reads a ticket's record (in bucket tickets b) into buf.
func timersOf(b *bbolt.Bucket, ticket uint64, buf []timerEnt) ([]timerEnt, error) {
	ents, err := decodeTimers(buf[:0], b.Get(timerRecKey(ticket)))
	if err != nil {
		return nil, fmt.Errorf("the timers of ticket %d: %w", ticket, err)
	}
	return ents, nil
}

// putTimers stores a ticket's timers, which were old, in its record
// (bucket tickets tb) and moves its due key (bucket timers b) when the
// earliest instant changed.
func putTimers(b, tb *bbolt.Bucket, ticket uint64, old, ents []timerEnt) error {
	was, now := earliest(old), earliest(ents)
	if len(old) > 0 && (len(ents) == 0 || was != now) {
		if err := b.Delete(timerDueKey(was, ticket)); err != nil {
			return err
		}
	}
	if len(ents) == 0 {
		return tb.Delete(timerRecKey(ticket))
	}
	if err := tb.Put(timerRecKey(ticket), encodeTimers(ents)); err != nil {
		return err
	}
	if len(old) == 0 || was != now {
		return b.Put(timerDueKey(now, ticket), nil)
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
	if t.db.timersV4 {
		return errors.New("setting a timer: the store's timer index is of schema 4 (open it writable to migrate it)")
	}
	tb := t.b(bTickets)
	var buf, nbuf [4]timerEnt
	old, err := timersOf(tb, tm.Ticket, buf[:])
	if err != nil {
		return fmt.Errorf("setting a timer: %w", err)
	}
	at := timerAtN(tm.At)
	ents := append(nbuf[:0], old...)
	i, found := slices.BinarySearchFunc(ents, tm.Kind, func(e timerEnt, k string) int { return strings.Compare(e.kind, k) })
	switch {
	case found && ents[i].at == at:
		return nil
	case found:
		ents[i].at = at
	default:
		ents = slices.Insert(ents, i, timerEnt{at, tm.Kind})
	}
	if err := putTimers(t.b(bTimers), tb, tm.Ticket, old, ents); err != nil {
		return fmt.Errorf("setting a timer: %w", err)
	}
	return nil
}

// ClearTimer disarms the ticket's timer of kind.
func (t *Tx) ClearTimer(ticket uint64, kind string) error {
	if err := t.writableTimers("clearing a timer"); err != nil {
		return err
	}
	if t.db.timersV4 {
		return errors.New("clearing a timer: the store's timer index is of schema 4 (open it writable to migrate it)")
	}
	tb := t.b(bTickets)
	var buf, nbuf [4]timerEnt
	old, err := timersOf(tb, ticket, buf[:])
	if err != nil {
		return fmt.Errorf("clearing a timer: %w", err)
	}
	i := slices.IndexFunc(old, func(e timerEnt) bool { return e.kind == kind })
	if i < 0 {
		return nil
	}
	ents := slices.Delete(append(nbuf[:0], old...), i, i+1)
	if err := putTimers(t.b(bTimers), tb, ticket, old, ents); err != nil {
		return fmt.Errorf("clearing a timer: %w", err)
	}
	return nil
}

// TimersOf lists a ticket's timers, by kind.
func (t *Tx) TimersOf(ticket uint64) ([]model.Timer, error) {
	if t.db.timersV4 {
		return t.timersOfV4(ticket)
	}
	var buf [4]timerEnt
	ents, err := timersOf(t.b(bTickets), ticket, buf[:])
	if err != nil {
		return nil, err
	}
	var out []model.Timer
	for _, e := range ents {
		out = append(out, model.Timer{Ticket: ticket, Kind: e.kind, At: timerTimeN(e.at)})
	}
	return out, nil
}

// DueTimers returns timers due at or before upTo, in due order.
//
// The due keys are the tickets' earliest instants: every due timer
// belongs to a ticket whose due key is at or before upTo, and a ticket
// whose earliest instant is after the limit-th timer found so far has
// none to add before it, so the walk stops there.
func (t *Tx) DueTimers(upTo time.Time, limit int) ([]model.Timer, error) {
	if t.db.timersV4 {
		return t.dueTimersV4(upTo, limit)
	}
	var out []model.Timer
	end := timerAtN(upTo)
	tb := t.b(bTickets)
	c := t.b(bTimers).Cursor()
	var buf [4]timerEnt
	for k, _ := c.Seek([]byte{timerDue}); k != nil && k[0] == timerDue; k, _ = c.Next() {
		if len(k) != 17 {
			return nil, fmt.Errorf("timer index: damaged key %x", k)
		}
		first := binary.BigEndian.Uint64(k[1:9])
		if first > end {
			break
		}
		if limit > 0 && len(out) >= limit {
			sortTimers(out)
			out = out[:limit]
			if first > timerAtN(out[limit-1].At) {
				break
			}
		}
		ticket := binary.BigEndian.Uint64(k[9:17])
		ents, err := timersOf(tb, ticket, buf[:])
		if err != nil {
			return nil, err
		}
		if len(ents) == 0 || earliest(ents) != first {
			return nil, fmt.Errorf("timer index: the due key %x does not match the ticket's timers", k)
		}
		for _, e := range ents {
			if e.at <= end {
				out = append(out, model.Timer{At: timerTimeN(e.at), Ticket: ticket, Kind: e.kind})
			}
		}
	}
	sortTimers(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// sortTimers puts timers in due order: At, then ticket, then kind.
func sortTimers(tms []model.Timer) {
	slices.SortFunc(tms, func(a, b model.Timer) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		if a.Ticket != b.Ticket {
			if a.Ticket < b.Ticket {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Kind, b.Kind)
	})
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

// eachTimer calls fn for every armed timer, by ticket and kind (dump).
func (t *Tx) eachTimer(fn func(model.Timer) error) error {
	if t.db.timersV4 {
		b := t.b(bTimers)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte{timerRev}); k != nil && k[0] == timerRev; k, v = c.Next() {
			if len(k) < 10 || len(v) != 8 {
				return fmt.Errorf("timer %x: damaged entry", k)
			}
			if err := fn(model.Timer{Ticket: binary.BigEndian.Uint64(k[1:9]), Kind: string(k[9:]), At: timerTime(v)}); err != nil {
				return err
			}
		}
		return nil
	}
	return t.b(bTickets).ForEach(func(k, v []byte) error {
		if len(k) != 9 || k[8] != timerRec {
			return nil // a ticket or a comment
		}
		ticket := binary.BigEndian.Uint64(k[:8])
		ents, err := decodeTimers(nil, v)
		if err != nil {
			return fmt.Errorf("the timers of ticket %d: %w", ticket, err)
		}
		for _, e := range ents {
			if err := fn(model.Timer{Ticket: ticket, Kind: e.kind, At: timerTimeN(e.at)}); err != nil {
				return err
			}
		}
		return nil
	})
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

// A store of schema 4 opened read-only (a writable open migrates it) is
// read in its own layout.

func (t *Tx) timersOfV4(ticket uint64) ([]model.Timer, error) {
	var out []model.Timer
	prefix := timerRevKeyV4(ticket)
	c := t.b(bTimers).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(v) != 8 || len(k) == len(prefix) {
			return nil, fmt.Errorf("timer %q of ticket %d: damaged entry", k[len(prefix):], ticket)
		}
		out = append(out, model.Timer{Ticket: ticket, Kind: string(k[len(prefix):]), At: timerTime(v)})
	}
	return out, nil
}

func (t *Tx) dueTimersV4(upTo time.Time, limit int) ([]model.Timer, error) {
	var out []model.Timer
	end := timerAt(upTo)
	c := t.b(bTimers).Cursor()
	for k, _ := c.Seek([]byte{timerDue}); k != nil && k[0] == timerDue; k, _ = c.Next() {
		if len(k) < 18 {
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

// migrateTimersV4 rewrites up to max tickets' timers of schema 4 into
// schema 5's layout (0: all) and returns how many it rewrote: the first
// tickets that still have reverse keys of schema 4 ('r' ticket kind),
// whose keys of both kinds it deletes. A start interrupted between its
// transactions finds the rest still in schema 4's layout (schema 5 has
// no 'r' keys, and its due keys are shorter) and goes on.
func migrateTimersV4(tx *bbolt.Tx, max int) (int, error) {
	b, tb := tx.Bucket(bTimers), tx.Bucket(bTickets)
	if b == nil || tb == nil {
		return 0, nil
	}
	type old struct {
		ticket uint64
		ents   []timerEnt
	}
	var olds []old
	c := b.Cursor()
	for k, v := c.Seek([]byte{timerRev}); k != nil && k[0] == timerRev; k, v = c.Next() {
		if len(k) < 10 || len(v) != 8 {
			return 0, fmt.Errorf("timer %x of schema 4: damaged entry", k)
		}
		ticket := binary.BigEndian.Uint64(k[1:9])
		if len(olds) == 0 || olds[len(olds)-1].ticket != ticket {
			if max > 0 && len(olds) == max {
				break
			}
			olds = append(olds, old{ticket: ticket})
		}
		o := &olds[len(olds)-1]
		o.ents = append(o.ents, timerEnt{at: binary.BigEndian.Uint64(v), kind: string(k[9:])})
	}
	for _, o := range olds {
		for _, e := range o.ents {
			if err := b.Delete(append(timerRevKeyV4(o.ticket), e.kind...)); err != nil {
				return 0, err
			}
			if err := b.Delete(append(timerDueKey(e.at, o.ticket), e.kind...)); err != nil {
				return 0, err
			}
		}
		have, err := timersOf(tb, o.ticket, nil)
		if err != nil {
			return 0, err
		}
		ents := slices.Clone(have)
		for _, e := range o.ents {
			if !slices.ContainsFunc(ents, func(h timerEnt) bool { return h.kind == e.kind }) {
				ents = append(ents, e)
			}
		}
		slices.SortFunc(ents, func(a, b timerEnt) int { return strings.Compare(a.kind, b.kind) })
		if err := putTimers(b, tb, o.ticket, have, ents); err != nil {
			return 0, fmt.Errorf("the timers of ticket %d: %w", o.ticket, err)
		}
	}
	return len(olds), nil
}
