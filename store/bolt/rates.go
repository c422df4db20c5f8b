// Rate-limit windows (bucket ratelimit) and named counters (bucket meta),
// kept across restarts.

package bolt

import (
	"encoding/binary"
	"time"

	"helpdesk/store/internal/ratewin"
)

// The rate windows are ratewin's records, kept in bucket ratelimit so
// limits hold across restarts.
type rateKV struct{ t *Tx }

func (kv rateKV) Get(key string) ([]byte, error) { return kv.t.get(kv.t.b(bRate), []byte(key)), nil }
func (kv rateKV) Put(key string, v []byte) error { return kv.t.b(bRate).Put([]byte(key), v) }

// RateAllow records an event for key and reports whether at most limit
// events (including this one) fell within window (ratewin.Allow).
func (t *Tx) RateAllow(key string, window time.Duration, limit int) (bool, error) {
	return t.RateAllowAt(key, t.Now(), window, limit)
}

// RateAllowAt is RateAllow at the caller's time (the engine's clock).
func (t *Tx) RateAllowAt(key string, now time.Time, window time.Duration, limit int) (bool, error) {
	return ratewin.Allow(rateKV{t}, key, now, window, limit)
}

// RateAllowEach records one event under every key when each stays within
// its limit, else nothing (ratewin.AllowEach).
func (t *Tx) RateAllowEach(now time.Time, window time.Duration, keys []string, limits []int) (int, error) {
	return ratewin.AllowEach(rateKV{t}, now, window, keys, limits)
}

// RateCountAt returns how many events for key fell within the window
// ending at now, without recording one.
func (t *Tx) RateCountAt(key string, now time.Time, window time.Duration) int {
	return ratewin.Count(rateKV{t}, key, now, window)
}

// Counter adds delta to a named counter in the meta bucket and returns the
// new value (round-robin positions and the like).
func (t *Tx) Counter(name string, delta uint64) (uint64, error) {
	k := []byte("counter:" + name)
	var v uint64
	if raw := t.get(t.b(bMeta), k); len(raw) == 8 {
		v = binary.BigEndian.Uint64(raw)
	}
	v += delta
	return v, t.b(bMeta).Put(k, u64(v))
}
