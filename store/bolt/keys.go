// The reply-token key ring (bucket meta).

package bolt

import (
	"time"

	"helpdesk/store/internal/keyring"
	"helpdesk/store/model"
)

// Keys returns the reply-token key ring, as stored.
func (t *Tx) Keys() ([]model.TokenKey, error) {
	var keys []model.TokenKey
	err := t.getJSON(t.b(bMeta), []byte("token_keys"), &keys)
	return keys, err
}

// RotateKey retires the current token key and adds a new one; old tokens
// keep verifying for the configured grace period.
func (t *Tx) RotateKey(grace time.Duration) error {
	keys, err := t.Keys()
	if err != nil {
		return err
	}
	ring, err := keyring.Rotate(keys, t.Now(), grace)
	if err != nil {
		return err
	}
	return putJSON(t.b(bMeta), []byte("token_keys"), ring)
}
