package outbound

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
	"helpdesk/store/postgres"
	"helpdesk/store/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// countingRelay is a go-smtp relay on this machine that reads and counts
// every mail.
type countingRelay struct{ mails atomic.Int64 }

type countingSession struct{ r *countingRelay }

func (s countingSession) Reset()                               {}
func (s countingSession) Logout() error                        { return nil }
func (s countingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s countingSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s countingSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	s.r.mails.Add(1)
	return err
}

// BenchmarkDeliver delivers queued mail through the worker to a relay on
// this machine, as bench's new tickets queue it: per ticket an
// acknowledgement and a notification that include the customer's 4 KiB
// comment. One op is one mail; cpu-us/mail is this process's CPU (the
// worker, the store's client side, and the relay) per mail, which a
// loaded machine inflates far less than ns/op.
func BenchmarkDeliver(b *testing.B) {
	for _, engine := range []string{"bbolt", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			var db store.Store
			var err error
			if engine == "bbolt" {
				db, err = bolt.Open(b.TempDir(), bolt.Options{})
			} else {
				db, err = postgres.Open(pgtest.NewDB(b), postgres.Options{})
			}
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			benchDeliver(b, db)
		})
	}
}

func benchDeliver(b *testing.B, db store.Store) {
	relay := &countingRelay{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return countingSession{relay}, nil }))
	srv.Domain = "relay.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.Outbound.Relay = ln.Addr().String()
	cfg.Outbound.StartTLS = "none"
	w := New(db, func() *config.Config { return cfg }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	var sb strings.Builder
	for sb.Len() < 4<<10 {
		sb.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.\n")
	}
	text := sb.String()
	const perRound = 16 // bench's rounds while mail keeps coming in (busyBatch)
	var cpu time.Duration
	seq := 0
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		if err := db.Update(func(tx store.Tx) error {
			for i := 0; i < perRound/2; i++ {
				seq++
				tk := &model.Ticket{Subject: fmt.Sprintf("Ticket %d", seq)}
				if err := tx.NewTicket(tk); err != nil {
					return err
				}
				c := &model.Comment{Author: fmt.Sprintf("c%d@cust.example", seq), Visibility: model.Public, Text: text}
				if err := tx.AddComment(tk, c); err != nil {
					return err
				}
				if err := tx.PutTicket(tk); err != nil {
					return err
				}
				for _, rcpt := range []string{c.Author, "agent@certs.example"} {
					if err := tx.Enqueue(&model.Outbound{Ticket: tk.ID, Kind: "ack", MailFrom: "support@example.com", Rcpt: rcpt,
						From: "Certs Support <support@example.com>", To: []string{rcpt}, Subject: "[#" + fmt.Sprint(tk.ID) + "] " + tk.Subject,
						MessageID: fmt.Sprintf("hd.%d.%s@example.com", tk.ID, rcpt), Text: "Hello,\n\nwe opened your ticket.\n\n",
						Include: &model.CommentRef{Ticket: tk.ID, Comment: c.ID}, TextAfter: "\n-- \nCerts Support\n", NextAttempt: time.Now()}); err != nil {
						return err
					}
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := cpuTime()
		n := w.Drain()
		cpu += cpuTime() - t0
		if n != perRound {
			b.Fatalf("a round delivered %d mails, want %d", n, perRound)
		}
		done += n
	}
	b.StopTimer()
	if got := relay.mails.Load(); got != int64(seq*2) {
		b.Fatalf("the relay got %d mails, want %d", got, seq*2)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(seq*2), "cpu-us/mail")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
