// Rate-limit windows (table rates): the records of store/internal/ratewin,
// shared with the bbolt engine so both count alike and a migration may
// carry records across unchanged.

package postgres

import (
	"time"

	"helpdesk/store/internal/ratewin"
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

// rateKV reads and writes rate records in this transaction (pending
// writes first).
type rateKV struct{ t *Tx }

func (kv rateKV) Get(key string) ([]byte, error) { return kv.t.rateGet(key) }
func (kv rateKV) Put(key string, v []byte) error { return kv.t.ratePut(key, v) }

// RateAllow records an event for key when fewer than limit fell within
// window and reports whether it did.
func (t *Tx) RateAllow(key string, window time.Duration, limit int) (bool, error) {
	return t.RateAllowAt(key, t.Now(), window, limit)
}

// RateAllowAt is RateAllow at the caller's time.
func (t *Tx) RateAllowAt(key string, now time.Time, window time.Duration, limit int) (bool, error) {
	return ratewin.Allow(rateKV{t}, key, now, window, limit)
}

// RateAllowEach records one event under every key when each stays within
// its limit; otherwise nothing, and the index of the first key at its
// limit.
func (t *Tx) RateAllowEach(now time.Time, window time.Duration, keys []string, limits []int) (int, error) {
	return ratewin.AllowEach(rateKV{t}, now, window, keys, limits)
}

// RateCountAt returns how many events for key fell within the window.
func (t *Tx) RateCountAt(key string, now time.Time, window time.Duration) int {
	return ratewin.Count(rateKV{t}, key, now, window)
}
