package bolt

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"helpdesk/store"
	"helpdesk/store/model"
)

// Readers running while Compact swaps the file all succeed (those that
// took the old file finish on it or begin again on the new one), and
// the old file's bytes that were freed do not reach the new one.
func TestCompactReadersAndFreedBytes(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	secret := "a sentence only the deleted record held"
	if err := db.Update(func(tx store.Tx) error {
		for i := 0; i < 200; i++ {
			if err := tx.NewTicket(&model.Ticket{Subject: "filler", Requester: "x@y"}); err != nil {
				return err
			}
		}
		tk := &model.Ticket{Subject: "s", Requester: "z@y"}
		if err := tx.NewTicket(tk); err != nil {
			return err
		}
		return tx.AddComment(tk, &model.Comment{Text: secret})
	}); err != nil {
		t.Fatal(err)
	}
	// Rewritten: the first version's page is freed, its bytes stay.
	if err := db.Update(func(tx store.Tx) error {
		c, err := tx.Comment(201, 1)
		if err != nil {
			return err
		}
		c.Text = "erased"
		return tx.PutComment(c)
	}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "helpdesk.db")
	if b, _ := os.ReadFile(path); !bytes.Contains(b, []byte(secret)) {
		t.Skip("bbolt reused the freed page already; nothing to show")
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var readErrs atomic.Int64
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := db.View(func(tx store.Tx) error {
					_, err := tx.Ticket(100)
					return err
				}); err != nil {
					readErrs.Add(1)
					t.Errorf("a read during the compaction: %v", err)
				}
			}
		}()
	}
	for i := 0; i < 3; i++ {
		if _, err := db.Compact(); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(secret)) {
		t.Error("the freed record's bytes are still in the store file after Compact")
	}
	for _, side := range []string{path + compactSuffix, path + oldSuffix} {
		if _, err := os.Stat(side); err == nil {
			t.Errorf("%s left behind", side)
		}
	}
}
