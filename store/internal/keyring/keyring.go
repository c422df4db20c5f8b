// Package keyring is the reply-token key ring's rules both storage engines
// keep (store.Keys): a new random secret, and a rotation that retires the
// current key and drops keys past their grace period. The engines only
// read and write the ring.
package keyring

import (
	"crypto/rand"
	"fmt"
	"time"

	"helpdesk/store/model"
)

// New is a key with a fresh 32-byte secret, created at now.
func New(id uint8, now time.Time) (model.TokenKey, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return model.TokenKey{}, err
	}
	return model.TokenKey{ID: id, Secret: secret, Created: now}, nil
}

// Rotate returns the ring with the current key retired at now, keys
// retired longer than grace ago dropped (they verify nothing any more)
// and a new current key under the lowest free id. It reuses keys' array.
func Rotate(keys []model.TokenKey, now time.Time, grace time.Duration) ([]model.TokenKey, error) {
	used := map[uint8]bool{}
	kept := keys[:0]
	for _, k := range keys {
		if k.Retired.IsZero() {
			k.Retired = now
		}
		if now.Sub(k.Retired) > grace {
			continue
		}
		used[k.ID] = true
		kept = append(kept, k)
	}
	id := uint8(0)
	for cand := 1; cand <= 255; cand++ {
		if !used[uint8(cand)] {
			id = uint8(cand)
			break
		}
	}
	if id == 0 {
		return nil, fmt.Errorf("255 token secrets still within their grace period: wait before rotating again")
	}
	k, err := New(id, now)
	if err != nil {
		return nil, err
	}
	return append(kept, k), nil
}
