package gateway_test

// Hostile input: connection, recipient, header and line-length limits.

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

// hostileGreet connects and returns the greeting code (421 when refused).
func hostileGreet(t *testing.T, addr, local string) (*testkit.SMTPConn, int) {
	t.Helper()
	c, err := testkit.DialSMTPFrom(t, addr, local)
	if err != nil {
		t.Fatalf("dial from %s: %v", local, err)
	}
	r, err := c.Reply()
	if err != nil {
		t.Fatalf("greeting from %s: %v", local, err)
	}
	if r.Code == 421 && !strings.HasPrefix(r.Text, "4.") {
		t.Errorf("421 %q without enhanced code", r.Text)
	}
	return c, r.Code
}

// hostileGreetEventually retries until a connection is greeted with 220: a closed
// connection frees its slot only once the server has seen the close.
func hostileGreetEventually(t *testing.T, addr, local string) *testkit.SMTPConn {
	t.Helper()
	var c *testkit.SMTPConn
	hostilePoll(t, "a connection slot to be freed", 3*time.Second, func() bool {
		var code int
		c, code = hostileGreet(t, addr, local)
		if code == 421 {
			c.Close()
			return false
		}
		if code != 220 {
			t.Fatalf("greeting %d", code)
		}
		return true
	})
	return c
}

// Connections beyond max_connections_per_ip from one address, or beyond
// max_connections in total, get a 421 greeting and are closed; once others
// close, new connections are served again.
func TestHostileConnectionLimits(t *testing.T) {
	d := startHD(t, hopts{smtp: "max_connections_per_ip = 3\nmax_connections = 5"})

	var held []*testkit.SMTPConn
	for i := 0; i < 3; i++ {
		c, code := hostileGreet(t, d.SMTPAddr, "127.0.0.1")
		if code != 220 {
			t.Fatalf("connection %d greeted %d", i+1, code)
		}
		held = append(held, c)
	}
	extra, code := hostileGreet(t, d.SMTPAddr, "127.0.0.1")
	if code != 421 {
		t.Fatalf("4th connection from one IP greeted %d, want 421", code)
	}
	if !extra.Closed() {
		t.Error("refused connection left open")
	}
	// The held connections still work.
	held[0].Run(
		testkit.Cmd("EHLO client.test", 250),
		testkit.Cmd("QUIT", 221),
	)
	held[0] = hostileGreetEventually(t, d.SMTPAddr, "127.0.0.1")
	held[0].Cmd("EHLO client.test", 250)

	// In total: two more from another address fill max_connections = 5.
	for i := 0; i < 2; i++ {
		c, err := testkit.DialSMTPFrom(t, d.SMTPAddr, "127.0.0.2")
		if err != nil {
			t.Skipf("cannot use 127.0.0.2 as a second client address: %v", err)
		}
		c.Expect(220)
		held = append(held, c)
	}
	if _, code := hostileGreet(t, d.SMTPAddr, "127.0.0.3"); code != 421 {
		t.Fatalf("6th connection in total greeted %d, want 421", code)
	}
	held[3].Close()
	c := hostileGreetEventually(t, d.SMTPAddr, "127.0.0.3")
	c.Cmd("EHLO client.test", 250)
	if n := d.SMTP.Metrics.RefusedConns.Load(); n < 2 {
		t.Errorf("RefusedConns = %d, want at least 2", n)
	}
}

// Only max_recipients are accepted, the rest get 452 4.5.3; the mail is
// stored once, with the accepted recipients.
func TestHostileManyRecipients(t *testing.T) {
	d := startHD(t, hopts{smtp: "max_recipients = 100"})
	c := testkit.DialSMTP(t, d.SMTPAddr)
	c.Hello()
	c.Cmd("MAIL FROM:<many@client.test>", 250)
	// Pipelined: all RCPTs in one write (from another goroutine, so the
	// replies are read while it writes), then the replies.
	var b bytes.Buffer
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "RCPT TO:<support+r%d@example.com>\r\n", i)
	}
	go func() { c.NetConn().Write(b.Bytes()) }()
	counts := map[int]int{}
	for i := 0; i < 1000; i++ {
		r, err := c.Reply()
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		counts[r.Code]++
		if r.Code == 452 && !strings.HasPrefix(r.Text, "4.5.3") {
			t.Errorf("452 %s: want 4.5.3", r.Text)
		}
		if (r.Code == 250) != (i < 100) {
			t.Fatalf("RCPT %d answered %d %s", i+1, r.Code, r.Text)
		}
	}
	if counts[250] != 100 || counts[452] != 900 {
		t.Fatalf("replies %v, want 100 x 250 and 900 x 452", counts)
	}
	c.Run(
		testkit.Cmd("DATA", 354),
		testkit.Body(testkit.Mail{From: "many@client.test", To: []string{"support@example.com"}, Subject: "many", Body: "to many"}.Build(), 250),
	)
	ms := d.messages()
	if len(ms) != 1 {
		t.Fatalf("%d messages stored, want 1", len(ms))
	}
	if len(ms[0].Rcpts) != 100 {
		t.Errorf("message has %d recipients, want 100", len(ms[0].Rcpts))
	}
	if d.ticketCount() != 1 {
		t.Errorf("%d tickets, want 1", d.ticketCount())
	}
}

// 10,000 headers exceed max_header_bytes: 552 5.3.4, and the session goes
// on. A 1 MB header line is refused as too long.
func TestHostileHeaderBombs(t *testing.T) {
	d := startHD(t, hopts{})

	t.Run("10000 headers", func(t *testing.T) {
		var b bytes.Buffer
		b.WriteString("From: bomb@client.test\r\nTo: support@example.com\r\nSubject: bomb\r\n")
		for i := 0; i < 10000; i++ {
			fmt.Fprintf(&b, "X-Bomb-%05d: this header is one of ten thousand\r\n", i)
		}
		b.WriteString("\r\nbody\r\n")
		c := testkit.DialSMTP(t, d.SMTPAddr)
		c.Hello()
		c.Envelope("bomb@client.test", "support@example.com")
		c.Run(
			testkit.Cmd("DATA", 354),
			testkit.Body(b.Bytes(), 552).Text("5.3.4"),
		)
		if n := d.SMTP.Metrics.HeaderTooLarge.Load(); n != 1 {
			t.Errorf("HeaderTooLarge = %d", n)
		}
		if n := len(d.messages()); n != 0 {
			t.Fatalf("%d messages stored", n)
		}
		// The same session accepts a normal mail.
		c.Envelope("bomb@client.test", "support@example.com")
		if r := c.Data(testkit.Mail{From: "bomb@client.test", To: []string{"support@example.com"}, Subject: "sane", Body: "sane"}.Build()); r.Code != 250 {
			t.Fatalf("normal mail after the bomb: %d %s", r.Code, r.Text)
		}
		if n := len(d.messages()); n != 1 {
			t.Fatalf("%d messages stored, want 1", n)
		}
	})

	t.Run("1 MB header line", func(t *testing.T) {
		before := len(d.messages())
		raw := []byte("From: long@client.test\r\nTo: support@example.com\r\nSubject: " + strings.Repeat("a", 1<<20) + "\r\n\r\nbody\r\n")
		c := testkit.DialSMTP(t, d.SMTPAddr)
		c.Hello()
		c.Envelope("long@client.test", "support@example.com")
		if r := c.Data(raw); r.Code != 500 || !strings.HasPrefix(r.Text, "5.4.0") || !strings.Contains(strings.ToLower(r.Text), "line too long") {
			t.Fatalf("1 MB line: %d %s, want 500 5.4.0 line too long", r.Code, r.Text)
		}
		if n := len(d.messages()); n != before {
			t.Fatalf("stored a mail with a 1 MB line")
		}
		// The rest of the line was consumed as data, not read as
		// commands: the session goes on.
		c.Envelope("long@client.test", "support@example.com")
		if r := c.Data(testkit.Mail{From: "long@client.test", To: []string{"support@example.com"}, Subject: "sane", Body: "sane"}.Build()); r.Code != 250 {
			t.Fatalf("normal mail after the long line: %d %s", r.Code, r.Text)
		}
	})

	t.Run("BDAT", func(t *testing.T) {
		// CHUNKING is advertised: the same limits hold for BDAT.
		c := testkit.DialSMTP(t, d.SMTPAddr)
		c.Hello()
		var bomb bytes.Buffer
		bomb.WriteString("From: chunk@client.test\r\nSubject: bomb\r\n")
		for bomb.Len() < 70<<10 {
			bomb.WriteString("X-Chunk: header line in a BDAT bomb\r\n")
		}
		c.Envelope("chunk@client.test", "support@example.com")
		c.Run(
			testkit.Send(fmt.Sprintf("BDAT %d LAST", bomb.Len())),
			testkit.SendRaw(bomb.Bytes()),
			testkit.Expect(552).Text("5.3.4"),
		)
		before := len(d.messages())
		raw := testkit.Mail{From: "chunk@client.test", To: []string{"support@example.com"}, Subject: "chunks", Body: "in two chunks"}.Build()
		c.Envelope("chunk@client.test", "support@example.com")
		c.Run(
			testkit.Send(fmt.Sprintf("BDAT %d", 10)),
			testkit.SendRaw(raw[:10]),
			testkit.Expect(250),
			testkit.Send(fmt.Sprintf("BDAT %d LAST", len(raw)-10)),
			testkit.SendRaw(raw[10:]),
			testkit.Expect(250),
		)
		ms := d.messages()
		if len(ms) != before+1 || !bytes.HasSuffix(d.raw(ms[len(ms)-1]), raw) {
			t.Fatalf("BDAT mail not stored raw")
		}
	})

	t.Run("1 MB command line", func(t *testing.T) {
		c := testkit.DialSMTP(t, d.SMTPAddr)
		c.Hello()
		c.Run(
			testkit.SendRaw([]byte("MAIL FROM:<"+strings.Repeat("a", 1<<20))),
			testkit.Expect(500),
			testkit.Closed(),
		)
	})
}

// max_line_length counts a line with its CRLF (RFC 5321: 1,000 bytes). A
// longer message line is refused after the end of the data, in step with
// the client; a longer command line ends the session.
func TestHostileLineLengthBoundary(t *testing.T) {
	d := startHD(t, hopts{smtp: "max_line_length = 1000"})
	mail := func(line string) []byte {
		return []byte("From: edge@client.test\r\nTo: support@example.com\r\nSubject: edge\r\n\r\n" + line + "\r\nend\r\n")
	}
	c := testkit.DialSMTP(t, d.SMTPAddr)
	c.Hello()
	c.Cmd("NOOP "+strings.Repeat("n", 1000-len("NOOP \r\n")), 250)
	c.Envelope("edge@client.test", "support@example.com")
	if r := c.Data(mail(strings.Repeat("a", 998))); r.Code != 250 {
		t.Fatalf("a 1000-byte line: %d %s", r.Code, r.Text)
	}
	c.Envelope("edge@client.test", "support@example.com")
	if r := c.Data(mail(strings.Repeat("a", 999))); r.Code != 500 || !strings.HasPrefix(r.Text, "5.4.0") {
		t.Fatalf("a 1001-byte line: %d %s, want 500 5.4.0", r.Code, r.Text)
	}
	if n := len(d.messages()); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
	c.Run(
		testkit.Cmd("NOOP "+strings.Repeat("n", 1001-len("NOOP \r\n")), 500),
		testkit.Closed(),
	)
}
