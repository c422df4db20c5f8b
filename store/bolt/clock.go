// The manual ticket clock and the store's first start (bucket meta).

package bolt

import (
	"errors"
	"fmt"
	"time"
)

// keyManualClock holds the instant of a manual ticket clock, RFC 3339
// with nanoseconds.
var keyManualClock = []byte("manual_clock")

// ManualClock returns the stored instant of the manual clock; ok is false
// when none was ever stored.
func (t *Tx) ManualClock() (at time.Time, ok bool, err error) {
	raw := t.get(t.b(bMeta), keyManualClock)
	if raw == nil {
		return time.Time{}, false, nil
	}
	at, err = time.Parse(time.RFC3339Nano, string(raw))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading the manual clock: %w", err)
	}
	return at.UTC(), true, nil
}

// SetManualClock stores the instant of the manual clock.
func (t *Tx) SetManualClock(at time.Time) error {
	if !t.Writable() {
		return errors.New("storing the manual clock: read-only transaction")
	}
	return t.b(bMeta).Put(keyManualClock, []byte(at.UTC().Format(time.RFC3339Nano)))
}

// FirstStart is when the store was first opened, as its clock said then:
// the creation time of its oldest reply-token key (made at that start and
// kept until a rotation retires it; then the oldest one kept).
func (t *Tx) FirstStart() (time.Time, error) {
	keys, err := t.Keys()
	if err != nil {
		return time.Time{}, err
	}
	var first time.Time
	for _, k := range keys {
		if first.IsZero() || k.Created.Before(first) {
			first = k.Created
		}
	}
	if first.IsZero() {
		return time.Time{}, errors.New("the store records no start")
	}
	return first.UTC(), nil
}
