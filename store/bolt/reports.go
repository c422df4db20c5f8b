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
// Events: at (8 bytes, unix nanoseconds) + sequence (8) -> a compact
// binary record (a year's report decodes millions of them; JSON would
// cost most of its time).
//
// Backlog: a log of moves, 'l' + at + sequence -> the keys that went
// down and up; and a checkpoint for every UTC day with a move, 'c' + day
// + key -> the key's count before that day ('d' + day marks the
// checkpoint). The counts as of an instant are its day's (or the latest
// earlier) checkpoint plus the moves since, at most one day of them. A
// move dated before existing checkpoints (an import) corrects each later
// one, key by key.
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

// AddReportEvent records ev under ev.At.
func (t *Tx) AddReportEvent(ev *model.ReportEvent) error {
	b := t.b(bReportEvents)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return b.Put(timeKey(0, ev.At, seq), encodeEvent(ev))
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
		if err := decodeEventInto(ev, v, intern); err != nil {
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

// encodeEvent writes version 1 of the event record.
func encodeEvent(ev *model.ReportEvent) []byte {
	b := make([]byte, 0, 64)
	b = append(b, 1)
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

func decodeEventInto(ev *model.ReportEvent, v []byte, intern map[string]string) error {
	if len(v) == 0 || v[0] != 1 {
		return fmt.Errorf("unknown event record version")
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
	return r.err
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

func encodeMove(dec, inc []string) []byte {
	b := binary.AppendUvarint(nil, uint64(len(dec)))
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
		return t.logMove(b, at, dec, inc)
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
	if err := t.logMove(b, at, dec, inc); err != nil {
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

// logMove adds a move to the log.
func (t *Tx) logMove(b *bbolt.Bucket, at time.Time, dec, inc []string) error {
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return b.Put(timeKey('l', at, seq), encodeMove(dec, inc))
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
	end := timeKey('l', at, 0)
	for k, v := c.Seek(timeKey('l', start, 0)); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
		dec, inc, err := decodeMove(v)
		if err != nil {
			return nil, fmt.Errorf("backlog move %x: %w", k, err)
		}
		for _, key := range dec {
			if counts[key]--; counts[key] <= 0 {
				delete(counts, key)
			}
		}
		for _, key := range inc {
			counts[key]++
		}
	}
	return counts, nil
}
