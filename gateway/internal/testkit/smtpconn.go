package testkit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// SMTPConn is an SMTP client driven step by step, for tests that must do
// what a well-behaved client (SendMail, go-smtp's client) never does:
// pause, trickle, pipeline, send bare LFs or oversized lines, or keep
// talking after an error. Replies are read with net/textproto; what is
// sent is exactly the bytes of each step.
//
// A test writes its conversation as a script of steps:
//
//	c := testkit.DialSMTP(t, addr)
//	c.Run(
//		testkit.Expect(220),
//		testkit.Cmd("EHLO client.test", 250),
//		testkit.Cmd("MAIL FROM:<a@client.test>", 250),
//		testkit.Cmd("RCPT TO:<support@example.com>", 250),
//		testkit.Cmd("DATA", 354),
//		testkit.Body(raw, 250),
//		testkit.Cmd("QUIT", 221),
//		testkit.Closed(),
//	)
//
// A step that does not go as written fails the test, naming the step.
// Reply, Write and NetConn are there for what a script cannot say (timing
// a reply, writing from another goroutine).
type SMTPConn struct {
	// Timeout bounds the wait for each reply and for the close (default
	// 5 s).
	Timeout time.Duration

	t testing.TB
	c net.Conn
	r *textproto.Reader
}

// Reply is one SMTP reply: its code and its text (lines joined with
// "\n", the enhanced status code included).
type Reply struct {
	Code int
	Text string
}

// Step is one step of a script: bytes sent as they are, then (if Code is
// set) a reply expected, then (if Closed) the server closing the
// connection. Build steps with Send, SendRaw, Cmd, Body, Expect and
// Closed, and add a wanted reply text with Text.
type Step struct {
	Send   []byte // written first, as they are (nil: nothing)
	Code   int    // the reply expected then (0: none read)
	Prefix string // the reply's text must start with this (an enhanced status code)
	Closed bool   // the server must then close the connection
}

// Text is s wanting a reply text that starts with prefix, such as an
// enhanced status code: Expect(421).Text("4.4.2").
func (s Step) Text(prefix string) Step {
	s.Prefix = prefix
	return s
}

// Send is a command line, sent with CRLF; no reply is read.
func Send(line string) Step { return Step{Send: []byte(line + "\r\n")} }

// SendRaw sends b exactly (a partial line, bare LFs, a whole pipelined
// batch); no reply is read.
func SendRaw(b []byte) Step { return Step{Send: b} }

// Cmd sends a command line and expects a reply with code.
func Cmd(line string, code int) Step { return Step{Send: []byte(line + "\r\n"), Code: code} }

// Body sends body as the content of DATA (dot-stuffed and terminated, see
// DotStuff) and expects the reply to its end with code.
func Body(body []byte, code int) Step { return Step{Send: DotStuff(body), Code: code} }

// Expect reads a reply and wants code.
func Expect(code int) Step { return Step{Code: code} }

// Closed waits for the server to close the connection (see
// SMTPConn.Closed).
func Closed() Step { return Step{Closed: true} }

func (s Step) String() string {
	var parts []string
	if s.Send != nil {
		line := s.Send
		if len(line) > 40 {
			line = line[:40]
		}
		more := ""
		if len(s.Send) > len(line) {
			more = fmt.Sprintf("... (%d bytes)", len(s.Send))
		}
		parts = append(parts, fmt.Sprintf("send %q%s", line, more))
	}
	if s.Code != 0 {
		parts = append(parts, fmt.Sprintf("expect %d %s", s.Code, s.Prefix))
	}
	if s.Closed {
		parts = append(parts, "wait for close")
	}
	return strings.TrimSpace(strings.Join(parts, ", "))
}

// DialSMTP connects to addr; it fails the test if it cannot. The
// greeting is not read: a script starts with Expect(220) (or the 421 of a
// refused connection).
func DialSMTP(t testing.TB, addr string) *SMTPConn {
	t.Helper()
	c, err := DialSMTPFrom(t, addr, "")
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return c
}

// DialSMTPFrom connects from a local address ("" = any), so a test can be
// several clients on the loopback network (127.0.0.2 ...). The connection
// is closed at the end of the test.
func DialSMTPFrom(t testing.TB, addr, local string) (*SMTPConn, error) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return &SMTPConn{Timeout: 5 * time.Second, t: t, c: c, r: textproto.NewReader(bufio.NewReader(c))}, nil
}

// NetConn is the connection itself (to write from another goroutine, or
// to stream a body too large to hold).
func (c *SMTPConn) NetConn() net.Conn { return c.c }

// Close closes the connection.
func (c *SMTPConn) Close() error { return c.c.Close() }

// Run runs the steps in order and returns the reply of each (the zero
// Reply for a step that reads none). The first step that does not go as
// written fails the test.
func (c *SMTPConn) Run(steps ...Step) []Reply {
	c.t.Helper()
	out := make([]Reply, len(steps))
	for i, s := range steps {
		if s.Send != nil {
			if err := c.write(s.Send); err != nil {
				c.t.Fatalf("step %d (%s): write: %v", i+1, s, err)
			}
		}
		if s.Code != 0 {
			r, err := c.Reply()
			if err != nil {
				c.t.Fatalf("step %d (%s): want %d, got error %v", i+1, s, s.Code, err)
			}
			if r.Code != s.Code || !strings.HasPrefix(r.Text, s.Prefix) {
				c.t.Fatalf("step %d (%s): got %d %s", i+1, s, r.Code, r.Text)
			}
			out[i] = r
		}
		if s.Closed && !c.Closed() {
			c.t.Fatalf("step %d (%s): connection still open", i+1, s)
		}
	}
	return out
}

// Reply reads one (multi-line) reply, waiting at most Timeout. A reply
// with a code but a malformed text comes back with its error.
func (c *SMTPConn) Reply() (Reply, error) {
	c.c.SetReadDeadline(time.Now().Add(c.Timeout))
	code, text, err := c.r.ReadResponse(0)
	return Reply{Code: code, Text: text}, err
}

// Expect reads a reply, wants code and returns its text.
func (c *SMTPConn) Expect(code int) string {
	c.t.Helper()
	return c.Run(Expect(code))[0].Text
}

// Cmd sends a command line, wants a reply with code and returns its text.
func (c *SMTPConn) Cmd(line string, code int) string {
	c.t.Helper()
	return c.Run(Cmd(line, code))[0].Text
}

// Write sends b exactly; it fails the test if it cannot.
func (c *SMTPConn) Write(b []byte) {
	c.t.Helper()
	c.Run(SendRaw(b))
}

func (c *SMTPConn) write(b []byte) error {
	c.c.SetWriteDeadline(time.Now().Add(2 * c.Timeout))
	_, err := c.c.Write(b)
	return err
}

// Hello reads the greeting (220) and says EHLO.
func (c *SMTPConn) Hello() {
	c.t.Helper()
	c.Run(Expect(220), Cmd("EHLO client.test", 250))
}

// Envelope sends MAIL FROM and one RCPT TO per recipient, each wanting 250.
func (c *SMTPConn) Envelope(from string, rcpts ...string) {
	c.t.Helper()
	steps := []Step{Cmd("MAIL FROM:<"+from+">", 250)}
	for _, r := range rcpts {
		steps = append(steps, Cmd("RCPT TO:<"+r+">", 250))
	}
	c.Run(steps...)
}

// Data sends DATA (wanting 354) and body (see Body), and returns the reply
// to the end of the data, whatever its code.
func (c *SMTPConn) Data(body []byte) Reply {
	c.t.Helper()
	c.Run(Cmd("DATA", 354), SendRaw(DotStuff(body)))
	r, err := c.Reply()
	if err != nil {
		c.t.Fatalf("reply to end of data: %v", err)
	}
	return r
}

// Closed reports whether the server closes the connection (EOF or reset)
// within Timeout, after at most a few more 421 or 500 reply lines (go-smtp
// adds its own 421 to ours after a timeout).
func (c *SMTPConn) Closed() bool {
	c.c.SetReadDeadline(time.Now().Add(c.Timeout))
	for i := 0; i < 3; i++ {
		line, err := c.r.ReadLine()
		if err != nil {
			var ne net.Error
			return !(errors.As(err, &ne) && ne.Timeout())
		}
		if !strings.HasPrefix(line, "421 ") && !strings.HasPrefix(line, "500 ") {
			return false
		}
	}
	return false
}

// DotStuff prepares body for DATA: a dot starting a CRLF line is doubled,
// and the body ends with CRLF before the terminating dot. Bare LFs pass
// unchanged (the server only knows CRLF lines).
func DotStuff(body []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(body) + 16)
	if len(body) > 0 && body[0] == '.' {
		b.WriteByte('.')
	}
	b.Write(bytes.ReplaceAll(body, []byte("\r\n."), []byte("\r\n..")))
	if !bytes.HasSuffix(body, []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	b.WriteString(".\r\n")
	return b.Bytes()
}
