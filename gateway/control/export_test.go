package control

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
)

// viewWatch is a store that knows whether one of its read transactions
// is open.
type viewWatch struct {
	store.Store
	open bool
}

func (s *viewWatch) View(fn func(store.Tx) error) error {
	return s.Store.View(func(tx store.Tx) error {
		s.open = true
		defer func() { s.open = false }()
		return fn(tx)
	})
}

// outsideView is the CLI's socket: it refuses a write made while a read
// transaction is open.
type outsideView struct {
	s   *viewWatch
	buf bytes.Buffer
}

var errInView = errors.New("written inside a read transaction")

func (w *outsideView) Write(p []byte) (int, error) {
	if w.s.open {
		return 0, errInView
	}
	return w.buf.Write(p)
}

// Export writes to its reader (the socket of helpdesk export) outside any
// read transaction: a slow reader must not hold one open (in bbolt the
// remap of a growing file, and with it every mail's write, waits for
// them), however many tickets it exports.
func TestExportWritesOutsideReadTransactions(t *testing.T) {
	db, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	day := time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)
	const tickets = 3000 // well over the writer's 64 KiB buffer
	if err := db.Update(func(tx store.Tx) error {
		for i := range tickets {
			at := day.Add(time.Duration(i) * time.Minute)
			tk := &model.Ticket{Subject: "export " + strings.Repeat("x", 40), Requester: "ann@example.org",
				Status: model.StatusOpen, Created: at, Updated: at}
			if err := tx.NewTicket(tk); err != nil {
				return err
			}
			if err := tx.AddComment(tk, &model.Comment{Kind: model.KindComment, Visibility: model.Public, Author: "ann@example.org", Text: "hello", Created: at}); err != nil {
				return err
			}
			if err := tx.PutTicket(tk); err != nil {
				return err
			}
			if err := tx.AddReportEvent(&model.ReportEvent{At: at, Kind: model.EvReceived, Ticket: tk.ID}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	s := &viewWatch{Store: db}
	l := &Local{DB: s, Config: config.Default()}
	for _, format := range []string{"jsonl", "csv"} {
		w := &outsideView{s: s}
		n, err := l.Export(w, day.Truncate(24*time.Hour), day.Add(7*24*time.Hour), format)
		if err != nil {
			t.Fatalf("export --format %s: %v", format, err)
		}
		if n != tickets {
			t.Errorf("export --format %s wrote %d tickets, want %d", format, n, tickets)
		}
		lines := strings.Count(w.buf.String(), "\n")
		if format == "csv" {
			lines-- // the header
		}
		if lines != tickets {
			t.Errorf("export --format %s: %d lines, want %d", format, lines, tickets)
		}
	}
}
