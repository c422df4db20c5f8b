package outbound

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
)

// idleRelay is a go-smtp server that ends idle sessions after its read
// timeout with "421 Idle timeout" (go-smtp's own behaviour) and counts
// sessions, mails and logouts.
type idleRelay struct {
	mu       sync.Mutex
	sessions int
	logouts  int
	rcpts    []string
}

type idleSession struct {
	r  *idleRelay
	to string
}

func (s *idleSession) Reset()                                    {}
func (s *idleSession) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *idleSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = to; return nil }
func (s *idleSession) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	s.r.mu.Lock()
	s.r.rcpts = append(s.r.rcpts, s.to)
	s.r.mu.Unlock()
	return nil
}
func (s *idleSession) Logout() error {
	s.r.mu.Lock()
	s.r.logouts++
	s.r.mu.Unlock()
	return nil
}

// A relay connection that the relay closed for being idle (421, then
// gone) costs the next mail nothing: attempt notices it at MAIL FROM and
// sends the mail on a new connection in the same attempt, with no error.
func TestAttemptReplacesAConnectionTheRelayClosedWhileIdle(t *testing.T) {
	relay := &idleRelay{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		relay.mu.Lock()
		relay.sessions++
		relay.mu.Unlock()
		return &idleSession{r: relay}, nil
	}))
	srv.Domain = "relay.test"
	srv.ReadTimeout = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	cfg := config.Default()
	cfg.Outbound.Relay = ln.Addr().String()
	cfg.Outbound.StartTLS = "none"
	w := New(nil, func() *config.Config { return cfg }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	mail := func(to string) *model.Outbound {
		return &model.Outbound{Kind: "ack", MailFrom: "support@example.com", Rcpt: to, From: "Support <support@example.com>",
			To: []string{to}, Subject: "Re: x", MessageID: to + ".id@example.com", Text: "hello\n"}
	}
	var conn *relayConn
	defer func() {
		if conn != nil {
			conn.close()
		}
	}()
	if err := w.attempt(cfg, mail("a@example.net"), true, &conn, nil); err != nil {
		t.Fatalf("first mail: %v", err)
	}
	// Wait (generously) until the relay has ended the idle session.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		relay.mu.Lock()
		gone := relay.logouts == 1
		relay.mu.Unlock()
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the relay did not end the idle session")
		}
	}
	if err := w.attempt(cfg, mail("b@example.net"), true, &conn, nil); err != nil {
		t.Fatalf("second mail after the relay closed the idle connection: %v", err)
	}
	relay.mu.Lock()
	defer relay.mu.Unlock()
	if relay.sessions != 2 || len(relay.rcpts) != 2 || relay.rcpts[0] != "a@example.net" || relay.rcpts[1] != "b@example.net" {
		t.Errorf("relay saw %d sessions and mails for %v, want 2 sessions and one mail each to a@ and b@", relay.sessions, relay.rcpts)
	}
}

// A round reads each included comment once, and each mail gets exactly
// the comment it names (a note included in a staff notification never
// stands in for the public reply an acknowledgement includes); a comment
// that cannot be read is left out, so its own mail reads it again and
// fails with the reason on its record.
func TestIncludedTextsGiveEachMailItsOwnComment(t *testing.T) {
	db, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var pub, note model.CommentRef
	if err := db.Update(func(tx store.Tx) error {
		tk := &model.Ticket{Subject: "x"}
		if err := tx.NewTicket(tk); err != nil {
			return err
		}
		c1 := &model.Comment{Author: "ken@example.net", Visibility: model.Public, Text: "public text"}
		c2 := &model.Comment{Author: "v@example.com", Visibility: model.Private, Text: "note text"}
		for _, c := range []*model.Comment{c1, c2} {
			if err := tx.AddComment(tk, c); err != nil {
				return err
			}
		}
		pub, note = model.CommentRef{Ticket: tk.ID, Comment: c1.ID}, model.CommentRef{Ticket: tk.ID, Comment: c2.ID}
		return tx.PutTicket(tk)
	}); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	w := New(db, func() *config.Config { return cfg }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	gone := model.CommentRef{Ticket: pub.Ticket, Comment: 99}
	items := []*model.Outbound{{ID: 1, Include: &pub}, {ID: 2, Include: &note}, {ID: 3, Include: &pub}, {ID: 4}, {ID: 5, Include: &gone}}
	texts := w.includedTexts(items)
	want := map[model.CommentRef]string{pub: "public text", note: "note text"}
	if len(texts) != len(want) || texts[pub] != want[pub] || texts[note] != want[note] {
		t.Fatalf("includedTexts = %v, want %v", texts, want)
	}
	for _, c := range []struct {
		o    *model.Outbound
		want string
	}{{items[0], "A\npublic text\nB"}, {items[1], "A\nnote text\nB"}} {
		c.o.Text, c.o.TextAfter = "A\n", "\nB"
		got, err := Body(c.o, w.commentReader(texts))
		if err != nil || got != c.want {
			t.Errorf("mail %d: body %q, %v; want %q", c.o.ID, got, err, c.want)
		}
	}
	if _, err := Body(items[4], w.commentReader(texts)); err == nil {
		t.Errorf("a mail including a missing comment rendered without an error")
	}
}
