// The reply-token key ring (bucket meta).

package bolt

import (
	"fmt"
	"time"

	"helpdesk/store/model"
)

// Keys returns the reply-token key ring, as stored.
func (t *Tx) Keys() ([]model.TokenKey, error) {
	var keys []model.TokenKey
	err := getJSON(t.b(bMeta), []byte("token_keys"), &keys)
	return keys, err
}

// RotateKey retires the current token key and adds a new one; old tokens
// keep verifying for the configured grace period.
func (t *Tx) RotateKey(grace time.Duration) error {
	keys, err := t.Keys()
	if err != nil {
		return err
	}
	now := t.Now()
	used := map[uint8]bool{}
	kept := keys[:0]
	for _, k := range keys {
		if k.Retired.IsZero() {
			k.Retired = now
		}
		if now.Sub(k.Retired) > grace {
			continue // past its grace period: it verifies nothing any more
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
		return fmt.Errorf("255 token secrets still within their grace period: wait before rotating again")
	}
	k, err := newKey(id, now)
	if err != nil {
		return err
	}
	return putJSON(t.b(bMeta), []byte("token_keys"), append(kept, k))
}
