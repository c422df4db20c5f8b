package bolt

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"helpdesk/store"
)

// TestKeptCursorReadsAsGet: a write transaction's reads through its
// kept cursors (Tx.get, Tx.cursor) answer as bbolt's Get does, whatever
// the same transaction wrote or deleted before, across pages (enough
// keys that the bucket has several leaves, most of them materialized and
// changed in the transaction), empty values included.
func TestKeptCursorReadsAsGet(t *testing.T) {
	db := openTest(t)
	key := func(i int) []byte { return binary.BigEndian.AppendUint32([]byte("k"), uint32(i)) }
	const n = 3000
	// A first write fills the bucket: later changes hit stored pages.
	if err := db.Update(func(stx store.Tx) error {
		b := stx.(*Tx).b(bRate)
		for i := 0; i < n; i += 2 {
			if err := b.Put(key(i), bytes.Repeat([]byte{byte(i)}, i%40)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	if err := db.Update(func(stx store.Tx) error {
		tx := stx.(*Tx)
		b := tx.b(bRate)
		for step := 0; step < 20000; step++ {
			k := key(rnd.IntN(n + 10))
			switch rnd.IntN(4) {
			case 0:
				if err := b.Put(k, bytes.Repeat([]byte{'v'}, rnd.IntN(60))); err != nil {
					return err
				}
			case 1:
				if err := b.Delete(k); err != nil {
					return err
				}
			default:
				got, want := tx.get(b, k), b.Get(k)
				if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
					t.Fatalf("step %d: get(%x) = %q (nil %v), Get = %q (nil %v)", step, k, got, got == nil, want, want == nil)
				}
				if c, _ := tx.cursor(b).Seek(k); bytes.Equal(c, k) != (want != nil) {
					t.Fatalf("step %d: the kept cursor's Seek(%x) found %x", step, k, c)
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
