// Rate-limit windows (table rates), in the bbolt engine's record format
// (store/bolt/rates.go, copied: the two engines count alike and a
// migration may carry records across unchanged).

package postgres

import (
	"encoding/binary"
	"encoding/json"
	"time"
)

func (t *Tx) rateGet(key string) ([]byte, error) {
	if r, ok := t.pendingRow(tRates, key); ok {
		return r.vals[1].([]byte), nil
	}
	var v []byte
	_, err := t.lookup(&v, tRates, key, "SELECT data FROM rates WHERE key = $1", key)
	return v, err
}

func (t *Tx) ratePut(key string, v []byte) error { return t.put(tRates, key, key, v) }

// RateAllow records an event for key when fewer than limit fell within
// window and reports whether it did.
func (t *Tx) RateAllow(key string, window time.Duration, limit int) (bool, error) {
	return t.RateAllowAt(key, t.Now(), window, limit)
}

// RateAllowAt is RateAllow at the caller's time.
func (t *Tx) RateAllowAt(key string, now time.Time, window time.Duration, limit int) (bool, error) {
	v, err := t.rateGet(key)
	if err != nil {
		return false, err
	}
	r := loadRate(v, now, window)
	if r.count() >= limit {
		return false, nil
	}
	r.add(now)
	return true, t.ratePut(key, r.encode())
}

// RateAllowEach records one event under every key when each stays within
// its limit; otherwise nothing, and the index of the first key at its
// limit.
func (t *Tx) RateAllowEach(now time.Time, window time.Duration, keys []string, limits []int) (int, error) {
	recs := make([]*rateRecord, len(keys))
	for i, k := range keys {
		v, err := t.rateGet(k)
		if err != nil {
			return -1, err
		}
		recs[i] = loadRate(v, now, window)
		if recs[i].count() >= limits[i] {
			return i, nil
		}
	}
	for i, k := range keys {
		recs[i].add(now)
		if err := t.ratePut(k, recs[i].encode()); err != nil {
			return -1, err
		}
	}
	return -1, nil
}

// RateCountAt returns how many events for key fell within the window.
func (t *Tx) RateCountAt(key string, now time.Time, window time.Duration) int {
	v, _ := t.rateGet(key)
	return loadRate(v, now, window).count()
}

// rateBuckets is how many parts a rate window is counted in: a record is
// at most that many counters whatever the limit (a list of one stamp per
// event, as kept before, was encoded again with every event: quadratic
// for a limit of thousands). The window slides by 1/rateBuckets of itself.
const rateBuckets = 60

// rateRecord counts events per bucket of Width nanoseconds; Counts[i] is
// bucket First+i (bucket n covers [n*Width, (n+1)*Width)).
type rateRecord struct {
	Width  int64    `json:"w"`
	First  int64    `json:"f"`
	Counts []uint32 `json:"c"`
}

// loadRate decodes a record for a window ending at now, dropping buckets
// that left the window. A list of stamps (the earlier format) is counted
// into buckets; a record of another window width starts afresh.
func loadRate(v []byte, now time.Time, window time.Duration) *rateRecord {
	width := max(int64(window)/rateBuckets, 1)
	// A fresh record has room for the whole window: counting an event
	// then never grows the slice (the newest bucket is the last).
	fresh := func() *rateRecord {
		return &rateRecord{Width: width, First: now.UnixNano()/width - rateBuckets + 1, Counts: make([]uint32, 0, rateBuckets)}
	}
	var r *rateRecord
	if len(v) > 0 {
		var old rateRecord
		var stamps []int64
		switch {
		case v[0] == rateBinary:
			if d, ok := decodeRate(v); ok && d.Width == width {
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
func (r *rateRecord) slide(cur int64) {
	oldest := cur - rateBuckets + 1
	if r.First < oldest {
		drop := min(oldest-r.First, int64(len(r.Counts)))
		// Moved down, not resliced: the slice keeps its room for the
		// buckets the window slides into.
		n := copy(r.Counts, r.Counts[drop:])
		r.Counts = r.Counts[:n]
		r.First = oldest
	}
}

// rateBinary marks a rate record in its binary form (a JSON value, the
// earlier forms, starts with '[' or '{'): it is read and written with
// every acknowledgement, so it is kept cheap to decode.
const rateBinary = 0x01

// encode is marker, Width, First, then the counters, little-endian.
func (r *rateRecord) encode() []byte {
	b := make([]byte, 17, 17+4*len(r.Counts))
	b[0] = rateBinary
	binary.LittleEndian.PutUint64(b[1:], uint64(r.Width))
	binary.LittleEndian.PutUint64(b[9:], uint64(r.First))
	for _, c := range r.Counts {
		b = binary.LittleEndian.AppendUint32(b, c)
	}
	return b
}

func decodeRate(v []byte) (*rateRecord, bool) {
	if len(v) < 17 || (len(v)-17)%4 != 0 {
		return nil, false
	}
	n := (len(v) - 17) / 4
	r := &rateRecord{Width: int64(binary.LittleEndian.Uint64(v[1:])), First: int64(binary.LittleEndian.Uint64(v[9:])),
		Counts: make([]uint32, n, max(n, rateBuckets))}
	for i := range r.Counts {
		r.Counts[i] = binary.LittleEndian.Uint32(v[17+4*i:])
	}
	return r, r.Width > 0
}

func (r *rateRecord) count() int {
	n := 0
	for _, c := range r.Counts {
		n += int(c)
	}
	return n
}

// add counts an event at now, sliding the window there first.
func (r *rateRecord) add(now time.Time) {
	r.slide(now.UnixNano() / r.Width)
	r.addAt(now.UnixNano())
}

// addAt counts an event at unix nanoseconds ns.
func (r *rateRecord) addAt(ns int64) {
	i := ns/r.Width - r.First
	if i < 0 {
		return // before the window
	}
	for int64(len(r.Counts)) <= i {
		r.Counts = append(r.Counts, 0)
	}
	r.Counts[i]++
}
