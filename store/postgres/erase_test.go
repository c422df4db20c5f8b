package postgres

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/store/postgres/pgtest"
)

// This engine keeps large bodies as rows of table blobs, so erasing a
// message (DeleteMessage) or dropping its raw mail (DeleteRaw, retention)
// must take the row out of the database, once no message names it; and
// the erasure records are a table of their own.
func TestErasingTakesBodiesAndRecordsErasures(t *testing.T) {
	dsn := pgtest.NewDB(t)
	db := openTest(t, dsn)
	spool := func(body []byte) string {
		sp := db.NewSpool(10)
		sp.Write(body)
		name, err := sp.Commit()
		if err != nil {
			t.Fatal(err)
		}
		sp.Close()
		return name
	}
	shared := bytes.Repeat([]byte("shared body\r\n"), 100)
	own := bytes.Repeat([]byte("own body\r\n"), 100)
	a, b, c := spool(shared), spool(shared), spool(own)
	var ids []uint64
	if err := db.Update(func(tx store.Tx) error {
		for _, name := range []string{a, b, c} {
			m := &model.Message{Blob: name}
			if err := tx.AddMessage(m, nil); err != nil {
				return err
			}
			ids = append(ids, m.ID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	blobs := func() int {
		var n int
		if err := db.pool.QueryRow(context.Background(), "SELECT count(*) FROM blobs").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := blobs(); n != 2 {
		t.Fatalf("%d rows in blobs, want 2 (the shared body once)", n)
	}
	if err := db.Update(func(tx store.Tx) error { return tx.DeleteMessage(ids[0]) }); err != nil {
		t.Fatal(err)
	}
	if n := blobs(); n != 2 {
		t.Errorf("after erasing one of two messages sharing a body: %d rows in blobs, want 2", n)
	}
	// Retention: DeleteRaw, then the record without its Blob.
	if err := db.Update(func(tx store.Tx) error {
		for _, id := range ids[1:] {
			if err := tx.DeleteRaw(id); err != nil {
				return err
			}
			m, err := tx.Message(id)
			if err != nil {
				return err
			}
			m.Blob = ""
			if err := tx.PutMessage(m); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := blobs(); n != 0 {
		t.Errorf("after dropping every message's raw mail: %d rows in blobs, want 0", n)
	}
	if _, err := db.OpenRaw(&model.Message{ID: ids[2], Blob: c}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OpenRaw of a dropped body: %v, want ErrNotFound", err)
	}

	if err := db.Update(func(tx store.Tx) error {
		return tx.AddErasure(&model.Erasure{By: "cli", Via: "cli", Tickets: 3})
	}); err != nil {
		t.Fatal(err)
	}
	var by, via string
	var tickets int
	if err := db.pool.QueryRow(context.Background(), "SELECT erased_by, via, tickets FROM erasures WHERE id = 1").Scan(&by, &via, &tickets); err != nil || by != "cli" || via != "cli" || tickets != 3 {
		t.Errorf("the erasure record in table erasures: %q %q %d, %v", by, via, tickets, err)
	}
}
