package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"helpdesk/store/model"
)

// The report event index and the backlog (store.Reports, issue 16).
//
// Bucket report_events, in time order: at (8 bytes, unix nanoseconds) +
// sequence (8) -> a compact binary record (a year's report decodes
// millions of them; JSON would cost most of its time), whose first byte
// says what it holds:
//
//	1  an event
//	2  a backlog move: the keys that went down and up
//	3  an event, then the backlog move of the same instant
//
// A write's move of a ticket between backlog keys goes into the event
// it records at the same instant (a new ticket's "received", a reply's
// first response, a resolution) or, without one, into a record of its
// own (schema 6): a new ticket adds one key at the end of one bucket.
// Schema 5 and older kept the moves in bucket report_backlog ('l' + at +
// sequence); migrateBacklogV5 moves them here.
//
// Bucket report_backlog keeps a checkpoint for every UTC day with a
// move, 'c' + day + key -> the key's count before that day ('d' + day
// marks the checkpoint). The counts as of an instant are its day's (or
// the latest earlier) checkpoint plus the moves since, at most one day
// of them. A move dated before existing checkpoints (an import) corrects
// each later one, key by key.
const (
	recEvent     = 1
	recMove      = 2
	recEventMove = 3
)

var (
	bReportEvents = []byte("report_events")
	bBacklog      = []byte("report_backlog")
)

func init() {
	allBuckets = append(allBuckets, bReportEvents, bBacklog)
	appendOnly[string(bReportEvents)] = true
	appendOnly[string(bBacklog)] = true
}

const dayNanos = int64(24 * time.Hour)

func timeKey(prefix byte, at time.Time, seq uint64) []byte {
	k := make([]byte, 0, 17)
	if prefix != 0 {
		k = append(k, prefix)
	}
	k = binary.BigEndian.AppendUint64(k, uint64(at.UnixNano()))
	if seq != 0 {
		k = binary.BigEndian.AppendUint64(k, seq)
	}
	return k
}

// AddReportEvent records ev under ev.At. The transaction remembers it:
// a backlog move of the same instant recorded next joins its record.
func (t *Tx) AddReportEvent(ev *model.ReportEvent) error {
	b := t.b(bReportEvents)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	k, v := timeKey(0, ev.At, seq), encodeEvent(ev)
	t.lastEvKey, t.lastEvVal = k, v
	return b.Put(k, v)
}

// ReportEvents calls fn for every event with from <= At < to, in order.
func (t *Tx) ReportEvents(from, to time.Time, fn func(*model.ReportEvent) error) error {
	end := timeKey(0, to, 0)
	c := t.tx.Bucket(bReportEvents).Cursor()
	// Strings repeat (a few agents, groups and mailboxes): one copy each.
	intern := map[string]string{}
	// One event, decoded into again and again: no allocation per entry.
	ev := &model.ReportEvent{}
	for k, v := c.Seek(timeKey(0, from, 0)); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
		if len(v) > 0 && v[0] == recMove {
			continue
		}
		if _, err := decodeEventInto(ev, v, intern); err != nil {
			return fmt.Errorf("report event %x: %w", k, err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

func putStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func putTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

// encodeEvent writes an event record (recEvent); room is left for a
// move to follow.
func encodeEvent(ev *model.ReportEvent) []byte {
	b := make([]byte, 0, 96)
	b = append(b, recEvent)
	b = putStr(b, ev.Kind)
	b = binary.AppendUvarint(b, ev.Ticket)
	b = putStr(b, ev.Group)
	b = putStr(b, ev.Mailbox)
	b = putStr(b, ev.Agent)
	b = putTime(b, ev.At)
	b = putTime(b, ev.Since)
	b = putStr(b, ev.Target)
	b = binary.AppendVarint(b, int64(ev.Rating))
	return b
}

var errShort = errors.New("truncated record")

type reader struct {
	b      []byte
	err    error
	intern map[string]string
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil || uint64(len(r.b)) < n {
		r.err = errShort
		return ""
	}
	raw := r.b[:n]
	r.b = r.b[n:]
	if n == 0 {
		return ""
	}
	if s, ok := r.intern[string(raw)]; ok {
		return s
	}
	s := string(raw)
	if r.intern != nil && len(r.intern) < 4096 {
		r.intern[s] = s
	}
	return s
}

func (r *reader) time() time.Time {
	n := r.varint()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// decodeEventInto reads an event record (recEvent or recEventMove) and
// returns what follows the event: the move of a recEventMove.
func decodeEventInto(ev *model.ReportEvent, v []byte, intern map[string]string) ([]byte, error) {
	if len(v) == 0 || v[0] != recEvent && v[0] != recEventMove {
		return nil, fmt.Errorf("unknown event record version")
	}
	r := reader{b: v[1:], intern: intern}
	ev.Kind = r.str()
	ev.Ticket = r.uvarint()
	ev.Group = r.str()
	ev.Mailbox = r.str()
	ev.Agent = r.str()
	ev.At = r.time()
	ev.Since = r.time()
	ev.Target = r.str()
	ev.Rating = int(r.varint())
	return r.b, r.err
}

// skipEvent returns what follows the event of a recEventMove record (its
// move), reading the event's fields without keeping them.
func skipEvent(v []byte) ([]byte, error) {
	r := reader{b: v[1:]}
	r.skip() // kind
	r.uvarint()
	r.skip() // group
	r.skip() // mailbox
	r.skip() // agent
	r.varint()
	r.varint()
	r.skip() // target
	r.varint()
	return r.b, r.err
}

func (r *reader) skip() {
	n := r.uvarint()
	if r.err != nil || uint64(len(r.b)) < n {
		r.err = errShort
		return
	}
	r.b = r.b[n:]
}

// moveOf is the backlog move a record of bucket report_events holds
// (ok false: none, an event alone).
func moveOf(v []byte) (dec, inc []string, ok bool, err error) {
	if len(v) == 0 {
		return nil, nil, false, fmt.Errorf("empty record")
	}
	switch v[0] {
	case recEvent:
		return nil, nil, false, nil
	case recMove:
		dec, inc, err = decodeMove(v[1:])
		return dec, inc, true, err
	case recEventMove:
		rest, err := skipEvent(v)
		if err != nil {
			return nil, nil, false, err
		}
		dec, inc, err = decodeMove(rest)
		return dec, inc, true, err
	}
	return nil, nil, false, fmt.Errorf("unknown record version %d", v[0])
}

func dayOf(at time.Time) int64 {
	n := at.UnixNano()
	d := n / dayNanos
	if n < 0 && n%dayNanos != 0 {
		d--
	}
	return d * dayNanos
}

func dayMark(day int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{'d'}, uint64(day))
}

func checkKey(day int64, key string) []byte {
	return append(binary.BigEndian.AppendUint64([]byte{'c'}, uint64(day)), key...)
}

func appendMove(b []byte, dec, inc []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(dec)))
	for _, k := range dec {
		b = putStr(b, k)
	}
	b = binary.AppendUvarint(b, uint64(len(inc)))
	for _, k := range inc {
		b = putStr(b, k)
	}
	return b
}

func decodeMove(v []byte) (dec, inc []string, err error) {
	r := &reader{b: v}
	dec = make([]string, r.uvarint())
	for i := range dec {
		dec[i] = r.str()
	}
	inc = make([]string, r.uvarint())
	for i := range inc {
		inc[i] = r.str()
	}
	return dec, inc, r.err
}

// MoveBacklog records a move of one ticket between backlog keys at at.
func (t *Tx) MoveBacklog(at time.Time, dec, inc []string) error {
	if len(dec) == 0 && len(inc) == 0 {
		return nil
	}
	b := t.b(bBacklog)
	day := dayOf(at)
	if t.backlogDay == day+1 {
		// The day's checkpoint is there and no later day has one (this
		// transaction looked, and only MoveBacklog writes them): a group
		// commit's new tickets move on the same day.
		return t.logMove(at, dec, inc)
	}
	// The day's checkpoint comes first: the counts before this move.
	if t.get(b, dayMark(day)) == nil {
		counts, err := t.backlogAt(b, time.Unix(0, day))
		if err != nil {
			return err
		}
		for k, n := range counts {
			if err := b.Put(checkKey(day, k), binary.AppendUvarint(nil, uint64(n))); err != nil {
				return err
			}
		}
		if err := b.Put(dayMark(day), []byte{}); err != nil {
			return err
		}
	}
	if err := t.logMove(at, dec, inc); err != nil {
		return err
	}
	// Checkpoints of later days count this move too.
	var later []int64
	c := t.cursor(b)
	for k, _ := c.Seek(dayMark(day + dayNanos)); k != nil && k[0] == 'd'; k, _ = c.Next() {
		later = append(later, int64(binary.BigEndian.Uint64(k[1:])))
	}
	t.backlogDay = 0
	if len(later) == 0 {
		t.backlogDay = day + 1
	}
	for _, d := range later {
		for _, k := range dec {
			if err := addCount(b, checkKey(d, k), -1); err != nil {
				return err
			}
		}
		for _, k := range inc {
			if err := addCount(b, checkKey(d, k), 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// logMove records a move in bucket report_events: in the record of the
// event this transaction recorded just before it, at the same instant,
// or in one of its own.
func (t *Tx) logMove(at time.Time, dec, inc []string) error {
	b := t.b(bReportEvents)
	k, ev := t.lastEvKey, t.lastEvVal
	t.lastEvKey, t.lastEvVal = nil, nil
	if k != nil && int64(binary.BigEndian.Uint64(k)) == at.UnixNano() {
		// The event's record grows by the move (its slice has room) and
		// replaces the one put before, which bbolt holds until the commit.
		v := appendMove(ev, dec, inc)
		v[0] = recEventMove
		return b.Put(k, v)
	}
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return b.Put(timeKey(0, at, seq), appendMove([]byte{recMove}, dec, inc))
}

func addCount(b *bbolt.Bucket, key []byte, delta int64) error {
	var n int64
	if v := b.Get(key); v != nil {
		u, _ := binary.Uvarint(v)
		n = int64(u)
	}
	n += delta
	if n <= 0 {
		// Zero is left out; below zero (a move out of a key nobody
		// entered) is clamped rather than wrapped.
		return b.Delete(key)
	}
	return b.Put(key, binary.AppendUvarint(nil, uint64(n)))
}

// Backlog returns every key's count as of at.
func (t *Tx) Backlog(at time.Time) (map[string]int, error) {
	return t.backlogAt(t.tx.Bucket(bBacklog), at)
}

func (t *Tx) backlogAt(b *bbolt.Bucket, at time.Time) (map[string]int, error) {
	counts := map[string]int{}
	c := b.Cursor()
	// The latest checkpoint at or before at's day: the greatest key
	// below the next day's mark ('c' < 'd' < 'l', so when Seek finds
	// nothing there is no move at all and Last is a mark or a count).
	k, _ := c.Seek(dayMark(dayOf(at) + dayNanos))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k != nil && k[0] != 'd' {
		k = nil
	}
	start := time.Unix(0, 0)
	if k != nil {
		day := int64(binary.BigEndian.Uint64(k[1:]))
		start = time.Unix(0, day)
		pre := checkKey(day, "")
		for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
			n, _ := binary.Uvarint(v)
			counts[string(k[len(pre):])] = int(n)
		}
	}
	return counts, t.eachMove(start, at, func(k []byte, dec, inc []string) {
		for _, key := range dec {
			if counts[key]--; counts[key] <= 0 {
				delete(counts, key)
			}
		}
		for _, key := range inc {
			counts[key]++
		}
	})
}

// eachMove calls fn for every backlog move with from <= at < to, in the
// order they were recorded (to zero: every one from from).
func (t *Tx) eachMove(from, to time.Time, fn func(k []byte, dec, inc []string)) error {
	prefix, b := byte(0), t.tx.Bucket(bReportEvents)
	if t.db.reportsV5 {
		prefix, b = 'l', t.tx.Bucket(bBacklog)
	}
	if b == nil {
		return nil
	}
	var end []byte
	if !to.IsZero() {
		end = timeKey(prefix, to, 0)
	}
	c := b.Cursor()
	for k, v := c.Seek(timeKey(prefix, from, 0)); k != nil && (end == nil || bytes.Compare(k, end) < 0); k, v = c.Next() {
		var dec, inc []string
		var ok bool
		var err error
		if prefix == 'l' {
			if k[0] != 'l' {
				break
			}
			dec, inc, err = decodeMove(v)
			ok = true
		} else {
			dec, inc, ok, err = moveOf(v)
		}
		if err != nil {
			return fmt.Errorf("backlog move %x: %w", k, err)
		}
		if ok {
			fn(k, dec, inc)
		}
	}
	return nil
}

// migrateBacklogV5 moves up to max (0: all) of schema 5's backlog moves
// ('l' + at + sequence in bucket report_backlog) into bucket
// report_events and returns how many it moved (0: none left). A move
// joins the first record of an event of its instant without a move, as
// the write that recorded them would now have stored it, while no move
// of that instant has a record of its own; otherwise it gets one (a new
// sequence, after every record there). So the moves of one instant keep
// their order, also across the transactions of an interrupted start, and
// a year's report reads few records besides the events.
func migrateBacklogV5(tx *bbolt.Tx, max int) (int, error) {
	from, to := tx.Bucket(bBacklog), tx.Bucket(bReportEvents)
	if from == nil || to == nil {
		return 0, nil
	}
	moved := 0
	for max <= 0 || moved < max {
		var keys, vals [][]byte
		c := from.Cursor()
		for k, v := c.Seek([]byte{'l'}); k != nil && k[0] == 'l' && len(keys) < 10000 && (max <= 0 || moved+len(keys) < max); k, v = c.Next() {
			keys, vals = append(keys, append([]byte(nil), k...)), append(vals, append([]byte(nil), v...))
		}
		if len(keys) == 0 {
			break
		}
		for i, k := range keys {
			if len(k) != 17 {
				return moved, fmt.Errorf("backlog move %x: damaged key", k)
			}
			at := k[1:9]
			var join, jv []byte
			ec := to.Cursor()
			for ek, ev := ec.Seek(at); ek != nil && bytes.HasPrefix(ek, at); ek, ev = ec.Next() {
				if len(ev) > 0 && ev[0] == recMove {
					join = nil
					break
				}
				if join == nil && len(ev) > 0 && ev[0] == recEvent {
					join, jv = append([]byte(nil), ek...), append([]byte(nil), ev...)
				}
			}
			var err error
			if join != nil {
				// A schema 5 move's value is the move's encoding.
				v := append(jv, vals[i]...)
				v[0] = recEventMove
				err = to.Put(join, v)
			} else {
				var seq uint64
				if seq, err = to.NextSequence(); err == nil {
					err = to.Put(binary.BigEndian.AppendUint64(append([]byte(nil), at...), seq), append([]byte{recMove}, vals[i]...))
				}
			}
			if err != nil {
				return moved, fmt.Errorf("moving backlog move %x: %w", k, err)
			}
			if err := from.Delete(k); err != nil {
				return moved, err
			}
		}
		moved += len(keys)
	}
	return moved, nil
}
