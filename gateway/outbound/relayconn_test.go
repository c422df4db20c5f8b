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
	if err := w.attempt(cfg, mail("a@example.net"), true, &conn); err != nil {
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
	if err := w.attempt(cfg, mail("b@example.net"), true, &conn); err != nil {
		t.Fatalf("second mail after the relay closed the idle connection: %v", err)
	}
	relay.mu.Lock()
	defer relay.mu.Unlock()
	if relay.sessions != 2 || len(relay.rcpts) != 2 || relay.rcpts[0] != "a@example.net" || relay.rcpts[1] != "b@example.net" {
		t.Errorf("relay saw %d sessions and mails for %v, want 2 sessions and one mail each to a@ and b@", relay.sessions, relay.rcpts)
	}
}
