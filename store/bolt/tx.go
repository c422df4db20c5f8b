package bolt

import (
	"bytes"
	"time"
	"unsafe"

	bbolt "go.etcd.io/bbolt"

	"helpdesk/store"
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
	// cursors are the cursors get reads with, one per bucket of a write
	// transaction (a read transaction's buckets are new objects at each
	// lookup, so it reads with Get).
	cursors map[*bbolt.Bucket]*bbolt.Cursor
	// custMiss is the last address customerOf found without a profile:
	// the engine looks a new requester up, then NewCustomer checks the
	// same address again. Cleared by every write of an address's key.
	custMiss string
	// custNew is the profile NewCustomer created last in this
	// transaction, custNewLinked whether LinkCustomerTicket has linked
	// it since: its first link cannot be there yet.
	custNew       uint64
	custNewLinked bool
	// backlogDay is a day whose checkpoint this transaction found (or
	// wrote) with none after it, +1 (0: none): MoveBacklog's next move
	// of that day skips both look-ups (reports.go).
	backlogDay int64
	// lastEvKey and lastEvVal are the report event AddReportEvent wrote
	// last, until a move follows it (reports.go).
	lastEvKey, lastEvVal []byte
	// handoff is the store's when the write began (nil: none); handed
	// are the outbound items it queued claimed (Enqueue).
	handoff *store.Handoff
	handed  []*model.Outbound
	// buckets are the buckets b opened in a write transaction, by
	// name, in a small table addressed by the name's pointer: a new
	// ticket's write asks for some seventy, and bbolt's Bucket is a map
	// look-up by string (plus appendOnly's) each time, about 15,000
	// instructions a mail.
	buckets  [bucketSlots]namedBucket
	nBuckets int
}

// bucketSlots is the size of Tx.buckets (a power of two, about twice
// the buckets a write opens).
const bucketSlots = 32

// namedBucket is a bucket b opened, with its name as b was given it.
// The name's array is kept alive by the entry, so no other name can
// have its address while the entry exists; bucket names are never
// written to.
type namedBucket struct {
	name []byte
	b    *bbolt.Bucket
}

// get is b.Get(key) through a cursor kept for b in a write transaction:
// bbolt's Get makes a new cursor each time, and its path stack grows by
// an allocation or two per level, which a kept cursor's stack has
// already done (a new ticket's write reads some twenty keys). A Seek
// starts again at the bucket's root, so writes in between do not matter.
func (t *Tx) get(b *bbolt.Bucket, key []byte) []byte {
	if !t.tx.Writable() {
		return b.Get(key)
	}
	k, v := t.cursor(b).Seek(key)
	if !bytes.Equal(k, key) {
		return nil
	}
	return v
}

// cursor is b.Cursor(), in a write transaction the one kept for b (get
// reads through it too): for a Seek, or a walk during which nothing
// writes to b or reads it through get or cursor (that would move it).
func (t *Tx) cursor(b *bbolt.Bucket) *bbolt.Cursor {
	if !t.tx.Writable() {
		return b.Cursor()
	}
	c := t.cursors[b]
	if c == nil {
		if t.cursors == nil {
			t.cursors = make(map[*bbolt.Bucket]*bbolt.Cursor, 8)
		}
		c = b.Cursor()
		t.cursors[b] = c
	}
	return c
}

// getJSON reads the record at key into v (store.ErrNotFound: none).
func (t *Tx) getJSON(b *bbolt.Bucket, key []byte, v any) error {
	data := t.get(b, key)
	if data == nil {
		return store.ErrNotFound
	}
	return unmarshal(data, v)
}

func (t *Tx) b(name []byte) *bbolt.Bucket {
	if len(name) == 0 {
		return t.tx.Bucket(name)
	}
	p := unsafe.SliceData(name)
	h := int(uintptr(unsafe.Pointer(p))>>3) & (bucketSlots - 1)
	for i := h; ; i = (i + 1) & (bucketSlots - 1) {
		e := &t.buckets[i]
		if e.b == nil {
			break
		}
		if unsafe.SliceData(e.name) == p && len(e.name) == len(name) {
			return e.b
		}
	}
	b := t.tx.Bucket(name)
	if b == nil || !t.tx.Writable() {
		// A read transaction's lookups are few; a bucket not there
		// may be created later in this one.
		return b
	}
	if appendOnly[string(name)] {
		b.FillPercent = 0.9
	}
	// No write of this package deletes a bucket while its transaction
	// runs, so an opened bucket stays the one of its name. The table is
	// left at most three quarters full (a look ends at an empty slot).
	if t.nBuckets < bucketSlots*3/4 {
		for i := h; ; i = (i + 1) & (bucketSlots - 1) {
			if t.buckets[i].b == nil {
				t.buckets[i] = namedBucket{name: name, b: b}
				t.nBuckets++
				break
			}
		}
	}
	return b
}

// Writable reports whether this is a write transaction.
func (t *Tx) Writable() bool { return t.tx.Writable() }

// Now is the store clock.
func (t *Tx) Now() time.Time { return t.db.now() }
