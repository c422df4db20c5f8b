package engine

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
	"helpdesk/threading"
)

// readsCounted is a store that counts the report index reads made in
// its writes and in its reads.
type readsCounted struct {
	store.Store
	inWrite, inRead atomic.Int64
}

type countingTx struct {
	store.Tx
	n *atomic.Int64
}

func (c countingTx) ReportEvents(from, to time.Time, fn func(*model.ReportEvent) error) error {
	c.n.Add(1)
	return c.Tx.ReportEvents(from, to, fn)
}

func (s *readsCounted) Update(fn func(store.Tx) error) error {
	return s.Store.Update(func(tx store.Tx) error { return fn(countingTx{tx, &s.inWrite}) })
}

func (s *readsCounted) View(fn func(store.Tx) error) error {
	return s.Store.View(func(tx store.Tx) error { return fn(countingTx{tx, &s.inRead}) })
}

// TestReportIsReadOutsideTheWrite: #report by mail reads the report index
// in a read before the mail's write (the single writer is not held for
// a whole report), and the transcript still carries the CSV it claims.
func TestReportIsReadOutsideTheWrite(t *testing.T) {
	cfg, err := config.Parse(`data_dir = "` + t.TempDir() + `"
hostname = "helpdesk.test"
[[mailbox]]
address = "support@example.com"
group = "support"
[[group]]
name = "support"
[[agent]]
email = "victoria@certs.example"
name = "Victoria"
role = "agent"
groups = ["support"]
`)
	if err != nil {
		t.Fatal(err)
	}
	bdb, err := bolt.Open(cfg.DataDir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bdb.Close() })
	db := &readsCounted{Store: bdb}
	pass := func(context.Context, io.ReaderAt, int64, *threading.Mail, Envelope) AuthVerdict {
		return AuthVerdict{Checked: true, DMARC: "pass", DKIMAligned: true}
	}
	e, err := New(cfg, db, Options{Auth: pass})
	if err != nil {
		t.Fatal(err)
	}
	deliver := func(from, subject, body string) Result {
		t.Helper()
		sp := db.NewSpool(1 << 20)
		defer sp.Close()
		io.WriteString(sp, mailFrom(from, subject, body))
		res, err := e.Deliver(context.Background(), Envelope{MailFrom: from, Rcpts: []string{"support@example.com"}, Via: "test"}, sp)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	deliver("ken@example.org", "help", "My printer is on fire.")
	deliver("victoria@certs.example", "numbers", "#report today\n#report week groups\n")
	// Paced: a read per day of the periods (today, this week).
	if w, r := db.inWrite.Load(), db.inRead.Load(); w != 0 || r < 2 {
		t.Errorf("report index reads: %d in writes, %d in reads; want none in writes, all in reads", w, r)
	}
	var tr *model.Outbound
	db.View(func(tx store.Tx) error {
		return tx.ForEachOutbound(func(o *model.Outbound) error {
			if o.Kind == "transcript" {
				tr = o
			}
			return nil
		})
	})
	if tr == nil || len(tr.AttachData) != 2 || !strings.Contains(tr.Text, "attached as report-agents-") || !strings.Contains(tr.Text, "attached as report-groups-") {
		t.Fatalf("transcript: %+v", tr)
	}
	if !strings.Contains(string(tr.AttachData[0].Data), "victoria@certs.example") {
		t.Errorf("the agents report lacks the agent's row:\n%s", tr.AttachData[0].Data)
	}
}
