// Package ratewin is the rate-limit window both storage engines keep per
// key (store.Rates): a record of per-bucket counters in one byte string,
// read and written in the caller's transaction through KV. The engines
// share it so they count alike and a migration carries records across
// unchanged.
package ratewin

import (
	"encoding/binary"
	"encoding/json"
	"time"
)

// KV reads and writes one key's record inside an engine's transaction
// (a missing key reads as nil).
type KV interface {
	Get(key string) ([]byte, error)
	Put(key string, v []byte) error
}

// Allow records an event for key when fewer than limit fell within the
// window ending at now, and reports whether it did. A refused event is
// not recorded.
func Allow(kv KV, key string, now time.Time, window time.Duration, limit int) (bool, error) {
	v, err := kv.Get(key)
	if err != nil {
		return false, err
	}
	r := Load(v, now, window)
	if r.Count() >= limit {
		return false, nil
	}
	r.Add(now)
	return true, kv.Put(key, r.Encode())
}

// AllowEach records one event under every key when each stays within its
// limit over the window ending at now; otherwise it records nothing and
// returns the index of the first key at its limit (-1 when all were
// counted). Each record is read and written once.
func AllowEach(kv KV, now time.Time, window time.Duration, keys []string, limits []int) (int, error) {
	recs := make([]*Record, len(keys))
	for i, k := range keys {
		v, err := kv.Get(k)
		if err != nil {
			return -1, err
		}
		recs[i] = Load(v, now, window)
		if recs[i].Count() >= limits[i] {
			return i, nil
		}
	}
	for i, k := range keys {
		recs[i].Add(now)
		if err := kv.Put(k, recs[i].Encode()); err != nil {
			return -1, err
		}
	}
	return -1, nil
}

// Count returns how many events for key fell within the window ending at
// now, without recording one (a record that cannot be read counts 0).
func Count(kv KV, key string, now time.Time, window time.Duration) int {
	v, _ := kv.Get(key)
	return Load(v, now, window).Count()
}

// Buckets is how many parts a rate window is counted in: a record is
// at most that many counters whatever the limit (a list of one stamp per
// event, as kept before, was encoded again with every event: quadratic
// for a limit of thousands). The window slides by 1/Buckets of itself.
const Buckets = 60

// Record counts events per bucket of Width nanoseconds; Counts[i] is
// bucket First+i (bucket n covers [n*Width, (n+1)*Width)).
type Record struct {
	Width  int64    `json:"w"`
	First  int64    `json:"f"`
	Counts []uint32 `json:"c"`
}

// Load decodes a record for a window ending at now, dropping buckets
// that left the window. A list of stamps (the earlier format) is counted
// into buckets; a record of another window width starts afresh.
func Load(v []byte, now time.Time, window time.Duration) *Record {
	width := max(int64(window)/Buckets, 1)
	// A fresh record has room for the whole window: counting an event
	// then never grows the slice (the newest bucket is the last).
	fresh := func() *Record {
		return &Record{Width: width, First: now.UnixNano()/width - Buckets + 1, Counts: make([]uint32, 0, Buckets)}
	}
	var r *Record
	if len(v) > 0 {
		var old Record
		var stamps []int64
		switch {
		case v[0] == binaryMark:
			if d, ok := decode(v); ok && d.Width == width {
				r = d
			}
		case json.Unmarshal(v, &stamps) == nil:
			r = fresh()
			for _, s := range stamps {
				r.addAt(s)
			}
		case json.Unmarshal(v, &old) == nil && old.Width == width:
			r = &old
		}
	}
	if r == nil {
		r = fresh()
	}
	r.slide(now.UnixNano() / width)
	return r
}

// slide drops the buckets before the window whose last bucket is cur.
func (r *Record) slide(cur int64) {
	oldest := cur - Buckets + 1
	if r.First < oldest {
		drop := min(oldest-r.First, int64(len(r.Counts)))
		// Moved down, not resliced: the slice keeps its room for the
		// buckets the window slides into.
		n := copy(r.Counts, r.Counts[drop:])
		r.Counts = r.Counts[:n]
		r.First = oldest
	}
}

// binaryMark marks a rate record in its binary form (a JSON value, the
// earlier forms, starts with '[' or '{'): it is read and written with
// every acknowledgement, so it is kept cheap to decode.
const binaryMark = 0x01

// Encode is marker, Width, First, then the counters, little-endian.
func (r *Record) Encode() []byte {
	b := make([]byte, 17, 17+4*len(r.Counts))
	b[0] = binaryMark
	binary.LittleEndian.PutUint64(b[1:], uint64(r.Width))
	binary.LittleEndian.PutUint64(b[9:], uint64(r.First))
	for _, c := range r.Counts {
		b = binary.LittleEndian.AppendUint32(b, c)
	}
	return b
}

func decode(v []byte) (*Record, bool) {
	if len(v) < 17 || (len(v)-17)%4 != 0 {
		return nil, false
	}
	n := (len(v) - 17) / 4
	r := &Record{Width: int64(binary.LittleEndian.Uint64(v[1:])), First: int64(binary.LittleEndian.Uint64(v[9:])),
		Counts: make([]uint32, n, max(n, Buckets))}
	for i := range r.Counts {
		r.Counts[i] = binary.LittleEndian.Uint32(v[17+4*i:])
	}
	return r, r.Width > 0
}

func (r *Record) Count() int {
	n := 0
	for _, c := range r.Counts {
		n += int(c)
	}
	return n
}

// Add counts an event at now, sliding the window there first.
func (r *Record) Add(now time.Time) {
	r.slide(now.UnixNano() / r.Width)
	r.addAt(now.UnixNano())
}

// addAt counts an event at unix nanoseconds ns.
func (r *Record) addAt(ns int64) {
	i := ns/r.Width - r.First
	if i < 0 {
		return // before the window
	}
	for int64(len(r.Counts)) <= i {
		r.Counts = append(r.Counts, 0)
	}
	r.Counts[i]++
}
