package bolt

import (
	"time"

	bbolt "go.etcd.io/bbolt"

	"helpdesk/store/model"
)

// Tx is a store transaction with typed accessors. Values returned are
// copies: they stay valid after the transaction.
type Tx struct {
	tx *bbolt.Tx
	db *DB
	// users holds the users this transaction decoded or stored, by id:
	// one commit groups many mails, and each mail of a new ticket looks up
	// the same agents several times. Callers get copies.
	users map[uint64]*model.User
	// groups are the comment groups AppendComment wrote in this
	// transaction, by ticket: the next one of the same ticket joins it.
	groups map[uint64]*commentGroup
}

func (t *Tx) b(name []byte) *bbolt.Bucket {
	b := t.tx.Bucket(name)
	if t.tx.Writable() && appendOnly[string(name)] {
		b.FillPercent = 0.9
	}
	return b
}

// Writable reports whether this is a write transaction.
func (t *Tx) Writable() bool { return t.tx.Writable() }

// Now is the store clock.
func (t *Tx) Now() time.Time { return t.db.now() }
