package acceptance

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"helpdesk/gateway/internal/testkit"
)

// dialRaw connects a client that can stop or trickle where a well-behaved
// one would not (testkit.SMTPConn: commands and replies step by step, the
// body as bytes on the connection) and reads the greeting. Replies are
// waited for up to 30 s.
func dialRaw(t *testing.T, addr string) *testkit.SMTPConn {
	t.Helper()
	c := testkit.DialSMTP(t, addr)
	c.Timeout = 30 * time.Second
	c.Expect(220)
	return c
}

// closedWithin reports whether the server closes the connection within d
// (after at most a few more 421 or 500 lines, such as go-smtp's own 421).
func closedWithin(c *testkit.SMTPConn, d time.Duration) bool {
	c.Timeout = d
	return c.Closed()
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
	c.Run(
		testkit.Cmd("EHLO slow.client.test", 250),
		testkit.Cmd("MAIL FROM:<slow@client.test>", 250),
		testkit.Cmd("RCPT TO:<support@example.com>", 250),
		testkit.Cmd("DATA", 354),
	)
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
			c.NetConn().SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.NetConn().Write([]byte{b}); err != nil {
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

	r, err := c.Reply()
	el := time.Since(start)
	if err != nil && r.Code == 0 {
		t.Fatalf("trickling DATA: no reply after %s: %v", el, err)
	}
	if r.Code != 421 || !strings.HasPrefix(r.Text, "4.4.2") {
		t.Fatalf("trickling DATA: got %d %q, want 421 4.4.2", r.Code, r.Text)
	}
	t.Logf("trickling client cut after %s: %d %s", el.Round(time.Millisecond), r.Code, r.Text)
	if el < 1500*time.Millisecond || el > 10*time.Second {
		t.Errorf("cut after %s; want about data_timeout (2s)", el)
	}
	if !closedWithin(c, 10*time.Second) {
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
		c.Cmd("EHLO idle.client.test", 250)
		start := time.Now()
		msg := c.Expect(421)
		if el := time.Since(start); el < 800*time.Millisecond || el > 10*time.Second {
			t.Errorf("421 after %s; want about read_timeout (1s)", el)
		}
		if !strings.HasPrefix(msg, "4.4.2") {
			t.Errorf("421 %s: want 4.4.2", msg)
		}
		if !closedWithin(c, 10*time.Second) {
			t.Error("connection still open after the 421")
		}
	})
	t.Run("trickled command line", func(t *testing.T) {
		c := dialRaw(t, e.SMTP)
		c.Cmd("EHLO slow.client.test", 250)
		start := time.Now()
		go func() {
			for _, b := range []byte("MAIL FROM:<trickle@client.test> " + strings.Repeat(" ", 200)) {
				time.Sleep(200 * time.Millisecond)
				if _, err := c.NetConn().Write([]byte{b}); err != nil {
					return
				}
			}
		}()
		// go-smtp may answer the partial line it got at the timeout
		// before its 421; the session ends at the first timeout.
		r, err := c.Reply()
		if err == nil && r.Code != 421 {
			r, err = c.Reply()
		}
		if err != nil || r.Code != 421 {
			t.Fatalf("got %d %q %v, want 421", r.Code, r.Text, err)
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
	var conns []*testkit.SMTPConn
	for i := 0; i < 21; i++ {
		conns = append(conns, dialRaw(t, e.SMTP)) // each greeted 220
	}
	for _, c := range conns {
		c.Cmd("QUIT", 221)
	}
}
