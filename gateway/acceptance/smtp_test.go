package acceptance

import (
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"helpdesk/gateway/internal/testkit"
)

// rawSMTP is a client that can stop or trickle where a well-behaved one
// would not: commands and replies through net/textproto, the body as
// bytes on the connection.
type rawSMTP struct {
	t  *testing.T
	c  net.Conn
	tp *textproto.Conn
}

func dialRaw(t *testing.T, addr string) *rawSMTP {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawSMTP{t: t, c: c, tp: textproto.NewConn(c)}
	r.expect(220)
	return r
}

// reply reads one reply, waiting at most 30 s.
func (r *rawSMTP) reply() (int, string, error) {
	r.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	return r.tp.ReadResponse(0)
}

func (r *rawSMTP) expect(code int) string {
	r.t.Helper()
	got, msg, err := r.reply()
	if err != nil || got != code {
		r.t.Fatalf("got %d %q (%v), want %d", got, msg, err, code)
	}
	return msg
}

func (r *rawSMTP) cmd(line string, code int) string {
	r.t.Helper()
	if err := r.tp.PrintfLine("%s", line); err != nil {
		r.t.Fatalf("%s: %v", line, err)
	}
	return r.expect(code)
}

// closedWithin reports whether the server closes the connection within d
// (reading and discarding anything it still sends, such as a second 421).
func (r *rawSMTP) closedWithin(d time.Duration) bool {
	r.c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 512)
	for {
		if _, err := r.c.Read(buf); err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
	}
}

var _ = claim("smtp data_timeout bounds the whole DATA from the DATA command (a trickling client is cut with 421, nothing kept, other sessions unaffected); read_timeout still ends idle sessions",
	"TestDataTimeoutBoundsTheWholeData", "TestReadTimeoutBetweenCommands")

var _ = claim("smtp max_connections_per_ip: a session's slot is free when its 221 goes out (20 parallel reconnecting sessions at a limit of 20 are never refused); the default is above Postfix's concurrency of 20",
	"TestPerIPSlotFreedAtQuit", "TestDefaultPerIPLimitAbovePostfixConcurrency")

// data_timeout bounds the whole DATA, not each read: a client trickling
// one byte every 200 ms (each read well within the limit) is cut with a
// 421 once data_timeout = 2s has passed since DATA, the connection is
// closed and nothing of the mail is stored; a normal mail sent on another
// connection meanwhile gets its 250.
func TestDataTimeoutBoundsTheWholeData(t *testing.T) {
	e := Start(t, Options{SMTP: `data_timeout = "2s"`})
	c := dialRaw(t, e.SMTP)
	c.cmd("EHLO slow.client.test", 250)
	c.cmd("MAIL FROM:<slow@client.test>", 250)
	c.cmd("RCPT TO:<support@example.com>", 250)
	c.cmd("DATA", 354)
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		body := []byte("From: slow@client.test\r\nTo: support@example.com\r\nSubject: trickled\r\n\r\n" +
			strings.Repeat("one byte at a time\r\n", 1000))
		for _, b := range body {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.c.Write([]byte{b}); err != nil {
				return // cut by the server
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	// Meanwhile, another connection delivers normally.
	if err := e.Send("ken@e-fun.example", []string{"support@example.com"}, testkit.Mail{
		From: "ken@e-fun.example", To: []string{"support@example.com"}, Subject: "normal mail", Body: "hello\n",
	}.Build()); err != nil {
		t.Fatalf("normal mail during a trickling DATA: %v", err)
	}

	code, msg, err := c.reply()
	el := time.Since(start)
	if err != nil && code == 0 {
		t.Fatalf("trickling DATA: no reply after %s: %v", el, err)
	}
	if code != 421 || !strings.HasPrefix(msg, "4.4.2") {
		t.Fatalf("trickling DATA: got %d %q, want 421 4.4.2", code, msg)
	}
	t.Logf("trickling client cut after %s: %d %s", el.Round(time.Millisecond), code, msg)
	if el < 1500*time.Millisecond || el > 10*time.Second {
		t.Errorf("cut after %s; want about data_timeout (2s)", el)
	}
	if !c.closedWithin(10 * time.Second) {
		t.Error("connection still open after the 421")
	}
	e.Settle()
	if n := e.Metric("helpdesk_tickets"); n != 1 {
		t.Errorf("tickets = %v, want 1 (the normal mail only)", n)
	}
	if tk := e.Show(1); tk.Subject != "normal mail" {
		t.Errorf("ticket 1 is %q, want the normal mail", tk.Subject)
	}
	if n := e.Metric("helpdesk_messages_accepted_total"); n != 1 {
		t.Errorf("accepted = %v, want 1", n)
	}
}

// read_timeout still ends an idle session between commands, and one
// whose command line trickles in, with 421.
func TestReadTimeoutBetweenCommands(t *testing.T) {
	e := Start(t, Options{SMTP: `read_timeout = "1s"`})
	t.Run("idle", func(t *testing.T) {
		c := dialRaw(t, e.SMTP)
		c.cmd("EHLO idle.client.test", 250)
		start := time.Now()
		msg := c.expect(421)
		if el := time.Since(start); el < 800*time.Millisecond || el > 10*time.Second {
			t.Errorf("421 after %s; want about read_timeout (1s)", el)
		}
		if !strings.HasPrefix(msg, "4.4.2") {
			t.Errorf("421 %s: want 4.4.2", msg)
		}
		if !c.closedWithin(10 * time.Second) {
			t.Error("connection still open after the 421")
		}
	})
	t.Run("trickled command line", func(t *testing.T) {
		c := dialRaw(t, e.SMTP)
		c.cmd("EHLO slow.client.test", 250)
		start := time.Now()
		go func() {
			for _, b := range []byte("MAIL FROM:<trickle@client.test> " + strings.Repeat(" ", 200)) {
				time.Sleep(200 * time.Millisecond)
				if _, err := c.c.Write([]byte{b}); err != nil {
					return
				}
			}
		}()
		// go-smtp may answer the partial line it got at the timeout
		// before its 421; the session ends at the first timeout.
		code, msg, err := c.reply()
		if err == nil && code != 421 {
			code, msg, err = c.reply()
		}
		if err != nil || code != 421 {
			t.Fatalf("got %d %q %v, want 421", code, msg, err)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("421 after %s", el)
		}
	})
}

// A front MTA with 20 parallel sessions from one address, each sending
// mail after mail over new connections (QUIT, then reconnect at once), is
// never refused at max_connections_per_ip = 20: a session's slot is free
// by the time the client has read the 221 to its QUIT.
func TestPerIPSlotFreedAtQuit(t *testing.T) {
	e := Start(t, Options{SMTP: "max_connections_per_ip = 20"})
	const clients, each = 20, 40
	var refused, failed, ok atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < each; j++ {
				err := testkit.SendMail(e.SMTP, "front@mta.example", []string{"support@example.com"}, testkit.Mail{
					From: "front@mta.example", To: []string{"support@example.com"},
					Subject: fmt.Sprintf("mail %d.%d", i, j), Body: "relayed\n",
				}.Build())
				var se *smtp.SMTPError
				switch {
				case err == nil:
					ok.Add(1)
				case errors.As(err, &se) && se.Code == 421:
					refused.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				default:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		}(i)
	}
	wg.Wait()
	t.Logf("%d clients x %d mails: %d answered 250, %d refused with 421, %d failed otherwise",
		clients, each, ok.Load(), refused.Load(), failed.Load())
	if refused.Load() > 0 || failed.Load() > 0 {
		t.Errorf("%d refused, %d failed; first: %v", refused.Load(), failed.Load(), firstErr.Load())
	}
	if n := e.Metric("helpdesk_smtp_connections_refused_total"); n != 0 {
		t.Errorf("helpdesk_smtp_connections_refused_total = %v, want 0", n)
	}
	if n := e.Metric("helpdesk_messages_accepted_total"); n != clients*each {
		t.Errorf("accepted = %v, want %d", n, clients*each)
	}
}

// The shipped default of max_connections_per_ip is above 20, Postfix's
// default destination concurrency, so a Postfix front end at its defaults
// never hits it.
func TestDefaultPerIPLimitAbovePostfixConcurrency(t *testing.T) {
	e := Start(t, Options{})
	var conns []*rawSMTP
	for i := 0; i < 21; i++ {
		conns = append(conns, dialRaw(t, e.SMTP)) // each greeted 220
	}
	for _, c := range conns {
		c.cmd("QUIT", 221)
	}
}
