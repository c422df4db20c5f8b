// Package testkit runs real helpdesk parts for end-to-end tests and the
// bench: the daemon on 127.0.0.1:0 with a temporary data directory, a real
// SMTP sink (go-smtp) that records every outbound mail per recipient, a
// test DNS server for DKIM/DMARC, and an SMTP client to send mail.
package testkit

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/jhillyerd/enmime/v2"

	"helpdesk/config"
	"helpdesk/gateway/daemon"
	"helpdesk/gateway/internal/dnstest"
	"helpdesk/store"
	"helpdesk/store/model"
)

// Received is one mail the sink accepted.
type Received struct {
	From string
	To   []string
	// RcptArgs are the RCPT TO paths exactly as the client sent them
	// (without the angle brackets, quoting kept: `"a b"@example.com`),
	// one per entry of To; To holds go-smtp's unquoted reading.
	RcptArgs []string
	Raw      []byte
	Env      *enmime.Envelope
	// TLS: the mail came over a STARTTLS session.
	TLS bool
}

// Header returns a decoded header of the mail.
func (r *Received) Header(name string) string { return r.Env.GetHeader(name) }

// Sink is a real SMTP server that records every mail it receives.
type Sink struct {
	Addr string
	srv  *smtp.Server
	mu   sync.Mutex
	msgs []*Received
	cond *sync.Cond
	// Refuse makes the sink answer RCPT for these addresses with 550.
	Refuse map[string]bool
	// Fail makes the sink answer DATA with 451 while set.
	Fail bool
	// Password, when set before mail arrives, makes the sink a relay
	// that wants AUTH PLAIN (offered without TLS): MAIL before AUTH gets
	// 530, a wrong password 535. Any user name is accepted. Change it
	// with SetPassword while mail flows.
	Password string
	// HangAuth makes the sink never answer the next HangAuth AUTH
	// exchanges (-1: every one, until changed with SetHangAuth): the
	// client waits until its own timeout. It needs Password.
	HangAuth int
	// Auths counts AUTH exchanges started (hung ones included).
	Auths int
	// CloseAfter, when > 0, makes the sink drop a connection that has
	// carried that many mails at its next MAIL, without an answer (a
	// relay limiting mails per connection, or one that closed an idle
	// connection): the client must connect again. Set it with
	// SetCloseAfter.
	CloseAfter int

	conns []*rcptRecorder // accepted connections, in order

	release chan struct{} // closed at cleanup: hung AUTHs end
}

// StartSink starts a sink on 127.0.0.1:0, closed at test cleanup.
func StartSink(t testing.TB) *Sink {
	t.Helper()
	return StartTLSSink(t, nil)
}

// StartTLSSink is StartSink offering STARTTLS with tc (nil: no STARTTLS).
func StartTLSSink(t testing.TB, tc *tls.Config) *Sink {
	t.Helper()
	s := &Sink{Refuse: map[string]bool{}, release: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		rc, _ := c.Conn().(*rcptRecorder)
		return &sinkSession{s: s, rec: rc, conn: c}, nil
	}))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	srv.TLSConfig = tc
	srv.ErrorLog = nopLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	s.srv = srv
	go srv.Serve(recordingListener{ln, s})
	t.Cleanup(func() {
		close(s.release)
		srv.Close()
	})
	return s
}

// recordingListener hands go-smtp connections that remember the RCPT
// arguments read from them: go-smtp gives the session the path with its
// quoting removed, and tests need to see what went over the wire.
type recordingListener struct {
	net.Listener
	s *Sink
}

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	r := &rcptRecorder{Conn: c}
	l.s.mu.Lock()
	l.s.conns = append(l.s.conns, r)
	l.s.mu.Unlock()
	return r, nil
}

// rcptRecorder watches the client's lines for RCPT commands. The client
// waits for each reply (no pipelining from go-smtp's client), so when
// the session's Rcpt runs, the newest RCPT line read is its command; a
// "RCPT TO:" line inside a message body always precedes the next real one.
// It also records the verb of each command line (EHLO, MAIL, RCPT, DATA,
// RSET, ...; message bodies left out), for tests of what a client says on
// one connection; after STARTTLS it sees only ciphertext and records no
// more.
type rcptRecorder struct {
	net.Conn
	mu   sync.Mutex
	line []byte
	last string
	cmds []string
	// dataSent: a DATA command was read and its reply not yet written;
	// inBody: the reply was 354, so lines are the message until ".".
	dataSent, inBody bool
}

// Write watches the replies for the one to DATA: only a 354 starts a body.
func (r *rcptRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	if r.dataSent {
		r.dataSent = false
		r.inBody = bytes.HasPrefix(p, []byte("354"))
	}
	r.mu.Unlock()
	return r.Conn.Write(p)
}

func (r *rcptRecorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	for _, b := range p[:n] {
		if b == '\n' {
			l := strings.TrimRight(string(r.line), "\r")
			switch {
			case r.inBody:
				if l == "." {
					r.inBody = false
				}
			case len(r.cmds) < 10000:
				verb, _, _ := strings.Cut(l, " ")
				verb = strings.ToUpper(verb)
				if i := strings.IndexByte(verb, ':'); i > 0 { // "MAIL FROM:<...>" has a space; some send "MAIL FROM:"
					verb = verb[:i]
				}
				r.cmds = append(r.cmds, verb)
				r.dataSent = verb == "DATA"
			}
			if !r.inBody && len(l) > 8 && strings.EqualFold(l[:8], "RCPT TO:") {
				arg := strings.TrimSpace(l[8:])
				if strings.HasPrefix(arg, "<") && strings.HasSuffix(arg, ">") {
					arg = arg[1 : len(arg)-1]
				}
				r.last = arg
			}
			r.line = r.line[:0]
		} else if len(r.line) < 4096 {
			r.line = append(r.line, b)
		}
	}
	r.mu.Unlock()
	return n, err
}

// Sessions returns the command verbs the sink read on each connection,
// in the order the connections were accepted (EHLO, MAIL, RCPT, DATA,
// RSET, QUIT, ...; message bodies left out).
func (s *Sink) Sessions() [][]string {
	s.mu.Lock()
	conns := append([]*rcptRecorder(nil), s.conns...)
	s.mu.Unlock()
	out := make([][]string, len(conns))
	for i, c := range conns {
		c.mu.Lock()
		out[i] = append([]string(nil), c.cmds...)
		c.mu.Unlock()
	}
	return out
}

func (r *rcptRecorder) lastRcpt() string {
	if r == nil {
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}
func (nopLogger) Println(...interface{})        {}

type sinkSession struct {
	s      *Sink
	conn   *smtp.Conn
	rec    *rcptRecorder
	authed bool
	mails  int // accepted on this connection
	from   string
	to     []string
	args   []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.to, ss.args = "", nil, nil }
func (ss *sinkSession) Logout() error { return nil }

// AuthMechanisms offers AUTH PLAIN only when the sink has a password.
func (ss *sinkSession) AuthMechanisms() []string {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.Password == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *sinkSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, _, password string) error {
		ss.s.mu.Lock()
		ss.s.Auths++
		want, hang := ss.s.Password, ss.s.HangAuth != 0
		if ss.s.HangAuth > 0 {
			ss.s.HangAuth--
		}
		ss.s.mu.Unlock()
		if hang {
			<-ss.s.release // never answered; the client gives up first
			return errors.New("sink closed")
		}
		if password != want {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.s.mu.Lock()
	needAuth, closeAfter := ss.s.Password != "", ss.s.CloseAfter
	ss.s.mu.Unlock()
	if closeAfter > 0 && ss.mails >= closeAfter {
		// Gone without a word, as a relay that dropped the connection.
		ss.conn.Conn().Close()
		return errors.New("connection closed by the sink")
	}
	if needAuth && !ss.authed {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	ss.from = from
	return nil
}
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	refuse := ss.s.Refuse[strings.ToLower(to)]
	ss.s.mu.Unlock()
	if refuse {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	ss.to = append(ss.to, to)
	ss.args = append(ss.args, ss.rec.lastRcpt())
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	fail := ss.s.Fail
	ss.s.mu.Unlock()
	if fail {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	_, overTLS := ss.conn.TLSConnectionState()
	ss.s.msgs = append(ss.s.msgs, &Received{From: ss.from, To: ss.to, RcptArgs: ss.args, Raw: raw, Env: env, TLS: overTLS})
	ss.mails++
	ss.s.cond.Broadcast()
	ss.s.mu.Unlock()
	return nil
}

// SetFail switches 451 answers on or off.
func (s *Sink) SetFail(v bool) {
	s.mu.Lock()
	s.Fail = v
	s.mu.Unlock()
}

// SetRefuse makes the sink refuse (550) or accept RCPT for addr.
func (s *Sink) SetRefuse(addr string, v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v {
		s.Refuse[strings.ToLower(addr)] = true
	} else {
		delete(s.Refuse, strings.ToLower(addr))
	}
}

// SetCloseAfter sets CloseAfter (0: never drop a connection).
func (s *Sink) SetCloseAfter(n int) {
	s.mu.Lock()
	s.CloseAfter = n
	s.mu.Unlock()
}

// SetPassword changes the password AUTH wants ("" = no AUTH offered).
func (s *Sink) SetPassword(p string) {
	s.mu.Lock()
	s.Password = p
	s.mu.Unlock()
}

// SetHangAuth sets how many AUTH exchanges to come are never answered
// (-1: all, 0: none).
func (s *Sink) SetHangAuth(v int) {
	s.mu.Lock()
	s.HangAuth = v
	s.mu.Unlock()
}

// AuthCount is how many AUTH exchanges were started.
func (s *Sink) AuthCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Auths
}

// All returns every mail received so far.
func (s *Sink) All() []*Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Received(nil), s.msgs...)
}

// To returns the mails whose envelope recipient is addr.
func (s *Sink) To(addr string) []*Received {
	var out []*Received
	for _, m := range s.All() {
		for _, t := range m.To {
			if strings.EqualFold(t, addr) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// WaitCount waits until at least n mails have arrived for addr ("" = any)
// and returns them; it fails the test after timeout.
func (s *Sink) WaitCount(t testing.TB, addr string, n int, timeout time.Duration) []*Received {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var got []*Received
		if addr == "" {
			got = s.All()
		} else {
			got = s.To(addr)
		}
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %d mails to %q, got %d", timeout, n, addr, len(got))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Options shape the daemon a test starts.
type Options struct {
	// SMTP are extra keys of the [smtp] table (limits, timeouts).
	SMTP string
	// Config is TOML appended to the generated base config ([[agent]],
	// [[mailbox]] ... ). When it has no [[mailbox]], support@example.com is
	// added; agents must be declared by the test.
	Config string
	// Relay: send outbound mail to this sink (nil: write .eml files).
	Relay *Sink
	// DNS is the resolver for DKIM/DMARC (nil: one is started).
	DNS *dnstest.Server
	// Dir is the data directory (default: a temp dir).
	Dir string
	// Now is the store clock.
	Now func() time.Time
	// Log receives the daemon's logs (default: discarded unless -v).
	Log io.Writer
}

// Daemon is a running helpdesk for a test.
type Daemon struct {
	*daemon.Daemon
	DNS  *dnstest.Server
	Dir  string
	Path string // the config file
	t    testing.TB
}

// BaseConfig is the generated part of a test config.
func BaseConfig(dir, relay, resolver string) string {
	return fmt.Sprintf(`data_dir = %q
hostname = "helpdesk.test"
[smtp]
listen = "127.0.0.1:0"
[http]
listen = "127.0.0.1:0"
[outbound]
relay = %q
starttls = "none"
retry_initial = "50ms"
retry_max = "200ms"
[auth]
resolver = %q
dns_timeout = "2s"
dns_cache = "0s"
staff = ["dmarc", "authres"]
trusted_relays = ["127.0.0.1/32"]
`, dir, relay, resolver)
}

// Start starts a daemon; it is shut down at test cleanup.
func Start(t testing.TB, o Options) *Daemon {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.DNS == nil {
		o.DNS = dnstest.Start(t)
	}
	relay := ""
	if o.Relay != nil {
		relay = o.Relay.Addr
	}
	text := strings.Replace(BaseConfig(o.Dir, relay, o.DNS.Addr()), "[smtp]\n", "[smtp]\n"+o.SMTP+"\n", 1) + "\n" + o.Config
	if !strings.Contains(o.Config, "[[mailbox]]") {
		text += "\n[[mailbox]]\naddress = \"support@example.com\"\nname = \"Example Support\"\ngroup = \"support\"\n"
	}
	if !strings.Contains(o.Config, "[[group]]") {
		text += "\n[[group]]\nname = \"support\"\n"
	}
	path := filepath.Join(o.Dir, "helpdesk.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("test config: %v\n%s", err, text)
	}
	w := o.Log
	if w == nil {
		w = io.Discard
		if testing.Verbose() {
			w = os.Stderr
		}
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d, err := daemon.Start(cfg, daemon.Options{Logger: log, Now: o.Now})
	if err != nil {
		t.Fatal(err)
	}
	td := &Daemon{Daemon: d, DNS: o.DNS, Dir: o.Dir, Path: path, t: t}
	t.Cleanup(func() { td.Stop() })
	return td
}

// Stop shuts the daemon down (idempotent).
func (d *Daemon) Stop() {
	if d.Daemon == nil {
		return
	}
	d.Daemon.Shutdown(contextTimeout(5 * time.Second))
	d.Daemon = nil
}

// Send delivers raw over SMTP from envelope sender from to rcpts and
// returns the server's error (nil for 250).
func (d *Daemon) Send(from string, rcpts []string, raw []byte) error {
	return SendMail(d.SMTPAddr, from, rcpts, raw)
}

// MustSend is Send that fails the test on any error.
func (d *Daemon) MustSend(from string, rcpts []string, raw []byte) {
	d.t.Helper()
	if err := d.Send(from, rcpts, raw); err != nil {
		d.t.Fatalf("sending mail from %s: %v", from, err)
	}
}

// SendMail speaks SMTP to addr.
func SendMail(addr, from string, rcpts []string, raw []byte) error {
	return SendMailFrom("", addr, from, rcpts, raw)
}

// SendMailFrom is SendMail from a chosen local (loopback) address, e.g.
// 127.0.0.2, so a test can play several SMTP clients; "" lets the system
// choose.
func SendMailFrom(localIP, addr, from string, rcpts []string, raw []byte) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	if localIP != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(localIP)}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		return err
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(raw); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// Ticket loads a ticket and its comments from the running daemon's store.
func (d *Daemon) Ticket(id uint64) (*model.Ticket, []*model.Comment) {
	d.t.Helper()
	var tk *model.Ticket
	var cs []*model.Comment
	err := d.DB.View(func(tx store.Tx) error {
		var err error
		if tk, err = tx.Ticket(id); err != nil {
			return err
		}
		cs, err = tx.Comments(id)
		return err
	})
	if err != nil {
		d.t.Fatalf("ticket %d: %v", id, err)
	}
	return tk, cs
}

// TicketCount is the number of tickets.
func (d *Daemon) TicketCount() int {
	n := 0
	d.DB.View(func(tx store.Tx) error { n = tx.TicketCount(); return nil })
	return n
}

// Flush delivers every due outbound mail now.
func (d *Daemon) Flush() { d.Worker.Drain() }
