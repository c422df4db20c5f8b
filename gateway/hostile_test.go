package gateway_test

// Hostile input over real SMTP against the real daemon (SPEC 10, 11; issue
// 2 item 3; issue 6 item 4): slow clients, connection floods, huge mails,
// recipient floods, header bombs, broken MIME, path-traversal file names,
// autoresponder loops, unknown recipients, duplicates and store failures.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store"
)

// ---- a daemon with custom [smtp] limits ----

// hd is a test daemon with helpers for inspecting what it stored.
type hd struct {
	*testkit.Daemon
	t *testing.T
}

type hopts struct {
	smtp  string // keys of the [smtp] table
	extra string // more TOML ([[agent]], [tickets] ...)
	relay *testkit.Sink
	dir   string
}

func startHD(t *testing.T, o hopts) *hd {
	t.Helper()
	if o.dir != "" {
		if err := os.MkdirAll(o.dir, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	return &hd{Daemon: testkit.Start(t, testkit.Options{Dir: o.dir, Relay: o.relay, SMTP: o.smtp, Config: o.extra}), t: t}
}

func (h *hd) stop() { h.Daemon.Stop() }

func (h *hd) messages() []*store.Message {
	h.t.Helper()
	var out []*store.Message
	err := h.DB.View(func(tx *store.Tx) error {
		return tx.ForEachMessage(func(m *store.Message) error { out = append(out, m); return nil })
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *hd) raw(m *store.Message) []byte {
	h.t.Helper()
	rc, err := h.DB.OpenRaw(m)
	if err != nil {
		h.t.Fatalf("raw of message %d: %v", m.ID, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

func (h *hd) ticket(id uint64) (*store.Ticket, []*store.Comment) {
	h.t.Helper()
	var tk *store.Ticket
	var cs []*store.Comment
	err := h.DB.View(func(tx *store.Tx) (err error) {
		if tk, err = tx.Ticket(id); err != nil {
			return err
		}
		cs, err = tx.Comments(id)
		return err
	})
	if err != nil {
		h.t.Fatalf("ticket %d: %v", id, err)
	}
	return tk, cs
}

func (h *hd) ticketCount() int {
	n := 0
	h.DB.View(func(tx *store.Tx) error { n = tx.TicketCount(); return nil })
	return n
}

func (h *hd) queueDepth() int {
	n := 0
	h.DB.View(func(tx *store.Tx) error { n = tx.QueueDepth(); return nil })
	return n
}

// lastMessage is the newest stored message; it fails when there is none.
func (h *hd) lastMessage() *store.Message {
	h.t.Helper()
	ms := h.messages()
	if len(ms) == 0 {
		h.t.Fatal("no message stored")
	}
	return ms[len(ms)-1]
}

// hostilePoll polls cond until it holds or the deadline passes (for effects
// that follow a reply asynchronously, such as a session's cleanup).
func hostilePoll(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hostileSpoolFiles lists what is left in data_dir/tmp (half-received bodies).
func hostileSpoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// ---- a hand-driven SMTP client ----

// rawConn speaks SMTP byte by byte, so a test controls pauses, bare LFs,
// oversized lines and pipelining, and sees every reply.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *textproto.Reader
}

func dialSMTP(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := dialFrom(t, addr, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// dialFrom connects from a local address ("" = any), so a test can be
// several clients on the loopback network.
func dialFrom(t *testing.T, addr, local string) (*rawConn, error) {
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
	return &rawConn{t: t, c: c, r: textproto.NewReader(bufio.NewReader(c))}, nil
}

// reply reads one (multi-line) reply, waiting at most 5 s.
func (c *rawConn) reply() (int, string, error) {
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return c.r.ReadResponse(0)
}

func (c *rawConn) expect(code int) string {
	c.t.Helper()
	got, msg, err := c.reply()
	if err != nil {
		c.t.Fatalf("want %d, got error %v", code, err)
	}
	if got != code {
		c.t.Fatalf("want %d, got %d %s", code, got, msg)
	}
	return msg
}

func (c *rawConn) write(b []byte) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.c.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawConn) cmd(line string, code int) string {
	c.t.Helper()
	c.write([]byte(line + "\r\n"))
	return c.expect(code)
}

func (c *rawConn) hello() {
	c.t.Helper()
	c.expect(220)
	c.cmd("EHLO client.test", 250)
}

func (c *rawConn) envelope(from string, rcpts ...string) {
	c.t.Helper()
	c.cmd("MAIL FROM:<"+from+">", 250)
	for _, r := range rcpts {
		c.cmd("RCPT TO:<"+r+">", 250)
	}
}

// data sends body (dot-stuffed, terminated) after DATA and returns the
// reply to the end of data.
func (c *rawConn) data(body []byte) (int, string) {
	c.t.Helper()
	c.cmd("DATA", 354)
	c.write(dotStuff(body))
	code, msg, err := c.reply()
	if err != nil {
		c.t.Fatalf("reply to end of data: %v", err)
	}
	return code, msg
}

// closed reports whether the server closes the connection (EOF or reset)
// within 5 s, after at most a few more reply lines (go-smtp adds its own
// 421 to ours after a timeout).
func (c *rawConn) closed() bool {
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
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

// dotStuff prepares body for DATA: a dot starting a CRLF line is doubled,
// and the body ends with CRLF before the terminating dot. Bare LFs pass
// unchanged (the server only knows CRLF lines).
func dotStuff(body []byte) []byte {
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

// withCRLF is body as it is stored: ending in CRLF.
func withCRLF(body []byte) []byte {
	if bytes.HasSuffix(body, []byte("\r\n")) {
		return body
	}
	return append(append([]byte(nil), body...), '\r', '\n')
}

func hostileCRLF(s string) []byte {
	return []byte(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n"))
}

// ---- slow clients ----

// A client that stops talking is cut with 421 after read_timeout (also in
// the middle of a command line) and after data_timeout in the middle of
// DATA; nothing half-received is stored or left in the spool.
func TestHostileSlowClient(t *testing.T) {
	d := startHD(t, hopts{smtp: `read_timeout = "300ms"
data_timeout = "300ms"
spool_threshold = "1KiB"`})

	t.Run("idle after EHLO", func(t *testing.T) {
		c := dialSMTP(t, d.SMTPAddr)
		c.hello()
		start := time.Now()
		msg := c.expect(421)
		if el := time.Since(start); el < 250*time.Millisecond {
			t.Errorf("421 after %s, before the 300ms read timeout", el)
		}
		if !strings.HasPrefix(msg, "4.4.2") {
			t.Errorf("421 %s: want enhanced code 4.4.2", msg)
		}
		if !c.closed() {
			t.Error("connection still open after 421")
		}
	})

	t.Run("half a command line", func(t *testing.T) {
		c := dialSMTP(t, d.SMTPAddr)
		c.hello()
		c.write([]byte("MAIL FROM:<slow@client.test"))
		// go-smtp's line reader hands out the partial line when the
		// read times out, so it may answer it before the 421; the
		// session ends at the first timeout all the same.
		start := time.Now()
		code, msg, err := c.reply()
		if err == nil && code != 421 {
			t.Logf("partial line answered %d %s", code, msg)
			code, msg, err = c.reply()
		}
		if err != nil || code != 421 {
			t.Fatalf("got %d %s %v, want 421", code, msg, err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("421 after %s", el)
		}
		if !c.closed() {
			t.Error("connection still open after 421")
		}
	})

	t.Run("stalled DATA", func(t *testing.T) {
		c := dialSMTP(t, d.SMTPAddr)
		c.hello()
		c.envelope("slow@client.test", "support@example.com")
		c.cmd("DATA", 354)
		// More than spool_threshold, so the body is in a spool file.
		c.write(testkit.Mail{From: "slow@client.test", To: []string{"support@example.com"}, Subject: "half",
			Body: strings.Repeat("a line of a mail that never ends\n", 200)}.Build())
		start := time.Now()
		code, msg, err := c.reply()
		if err != nil || code != 421 {
			t.Fatalf("stalled DATA: got %d %q %v, want 421", code, msg, err)
		}
		if el := time.Since(start); el < 250*time.Millisecond {
			t.Errorf("421 after %s, before the 300ms data timeout", el)
		}
		if !c.closed() {
			t.Error("connection still open after 421 in DATA")
		}
		hostilePoll(t, "the half-received spool file to be removed", 2*time.Second, func() bool { return len(hostileSpoolFiles(t, d.Dir)) == 0 })
		if n := len(d.messages()); n != 0 {
			t.Errorf("%d messages stored from a stalled DATA", n)
		}
		if n := d.ticketCount(); n != 0 {
			t.Errorf("%d tickets from a stalled DATA", n)
		}
	})

	// The daemon still serves a well-behaved client.
	if err := testkit.SendMail(d.SMTPAddr, "ok@client.test", []string{"support@example.com"}, testkit.Mail{
		From: "ok@client.test", To: []string{"support@example.com"}, Subject: "fine", Body: "hello",
	}.Build()); err != nil {
		t.Fatalf("normal mail after slow clients: %v", err)
	}
	if d.ticketCount() != 1 {
		t.Errorf("tickets = %d, want 1", d.ticketCount())
	}
}

// ---- connection limits ----

// hostileGreet connects and returns the greeting code (421 when refused).
func hostileGreet(t *testing.T, addr, local string) (*rawConn, int) {
	t.Helper()
	c, err := dialFrom(t, addr, local)
	if err != nil {
		t.Fatalf("dial from %s: %v", local, err)
	}
	code, msg, err := c.reply()
	if err != nil {
		t.Fatalf("greeting from %s: %v", local, err)
	}
	if code == 421 && !strings.HasPrefix(msg, "4.") {
		t.Errorf("421 %q without enhanced code", msg)
	}
	return c, code
}

// hostileGreetEventually retries until a connection is greeted with 220: a closed
// connection frees its slot only once the server has seen the close.
func hostileGreetEventually(t *testing.T, addr, local string) *rawConn {
	t.Helper()
	var c *rawConn
	hostilePoll(t, "a connection slot to be freed", 3*time.Second, func() bool {
		var code int
		c, code = hostileGreet(t, addr, local)
		if code == 421 {
			c.c.Close()
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

	var held []*rawConn
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
	if !extra.closed() {
		t.Error("refused connection left open")
	}
	// The held connections still work.
	held[0].cmd("EHLO client.test", 250)

	held[0].cmd("QUIT", 221)
	held[0] = hostileGreetEventually(t, d.SMTPAddr, "127.0.0.1")
	held[0].cmd("EHLO client.test", 250)

	// In total: two more from another address fill max_connections = 5.
	for i := 0; i < 2; i++ {
		c, err := dialFrom(t, d.SMTPAddr, "127.0.0.2")
		if err != nil {
			t.Skipf("cannot use 127.0.0.2 as a second client address: %v", err)
		}
		c.expect(220)
		held = append(held, c)
	}
	if _, code := hostileGreet(t, d.SMTPAddr, "127.0.0.3"); code != 421 {
		t.Fatalf("6th connection in total greeted %d, want 421", code)
	}
	held[3].c.Close()
	c := hostileGreetEventually(t, d.SMTPAddr, "127.0.0.3")
	c.cmd("EHLO client.test", 250)
	if n := d.SMTP.Metrics.RefusedConns.Load(); n < 2 {
		t.Errorf("RefusedConns = %d, want at least 2", n)
	}
}

// ---- a 100 MB mail ----

// bigBody writes a mail of n bytes to w in fixed chunks (never holding it
// in memory): headers, then 100-byte lines.
func writeBigMail(w io.Writer, n int) error {
	hdr := "From: big@client.test\r\nTo: support@example.com\r\nSubject: huge\r\nMessage-ID: <huge@client.test>\r\n\r\n"
	if _, err := io.WriteString(w, hdr); err != nil {
		return err
	}
	line := strings.Repeat("x", 98) + "\r\n"
	chunk := []byte(strings.Repeat(line, 640)) // 64,000 bytes
	for sent := len(hdr); sent < n; sent += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, ".\r\n")
	return err
}

// A 100 MB mail is refused with 552 at max_message_bytes without being read
// into memory; nothing is stored, and the session stays usable (the rest of
// the body was consumed as data, not taken for commands).
func TestHostileHugeMessage(t *testing.T) {
	// data_timeout bounds the whole DATA, the drain of the refused rest
	// included: generous enough for 100 MB on a loaded machine.
	d := startHD(t, hopts{smtp: `max_message_bytes = "1MiB"
data_timeout = "2m"`})
	size := 100 << 20
	if raceEnabled {
		size = 8 << 20 // the race detector makes go-smtp's byte loop ~20x slower
	}

	c := dialSMTP(t, d.SMTPAddr)
	c.hello()
	// A client that declares the size is refused at MAIL already.
	c.cmd(fmt.Sprintf("MAIL FROM:<big@client.test> SIZE=%d", size), 552)

	c.envelope("big@client.test", "support@example.com")
	c.cmd("DATA", 354)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	c.c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := writeBigMail(c.c, size); err != nil {
		t.Fatalf("writing the big mail: %v", err)
	}
	msg := c.expect(552)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	t.Logf("%d MB refused in %s; allocated %d KiB, heap in use %d -> %d KiB",
		size>>20, elapsed, (after.TotalAlloc-before.TotalAlloc)>>10, before.HeapInuse>>10, after.HeapInuse>>10)
	if !strings.HasPrefix(msg, "5.3.4") {
		t.Errorf("552 %s: want 5.3.4", msg)
	}
	// Everything the process allocated meanwhile (daemon and client) is a
	// small fraction of the mail: it was never held in memory.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > min(16<<20, uint64(size)/2) {
		t.Errorf("allocated %d MiB while a %d MiB mail was refused", alloc>>20, size>>20)
	}
	if d.SMTP.Metrics.TooLarge.Load() != 1 {
		t.Errorf("TooLarge = %d", d.SMTP.Metrics.TooLarge.Load())
	}

	// Same connection: a normal mail goes through.
	c.envelope("big@client.test", "support@example.com")
	code, msg := c.data(testkit.Mail{From: "big@client.test", To: []string{"support@example.com"}, Subject: "small", Body: "small one"}.Build())
	if code != 250 {
		t.Fatalf("small mail after the refused one: %d %s", code, msg)
	}
	ms := d.messages()
	if len(ms) != 1 || ms[0].Size > 1<<20 {
		t.Fatalf("stored %d messages (want only the small one): %+v", len(ms), ms)
	}
	hostilePoll(t, "no spool file left", 2*time.Second, func() bool { return len(hostileSpoolFiles(t, d.Dir)) == 0 })
}

// ---- 1,000 recipients ----

// Only max_recipients are accepted, the rest get 452 4.5.3; the mail is
// stored once, with the accepted recipients.
func TestHostileManyRecipients(t *testing.T) {
	d := startHD(t, hopts{smtp: "max_recipients = 100"})
	c := dialSMTP(t, d.SMTPAddr)
	c.hello()
	c.cmd("MAIL FROM:<many@client.test>", 250)
	// Pipelined: all RCPTs in one write, then the replies.
	var b bytes.Buffer
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, "RCPT TO:<support+r%d@example.com>\r\n", i)
	}
	go func() { c.c.Write(b.Bytes()) }()
	counts := map[int]int{}
	for i := 0; i < 1000; i++ {
		code, msg, err := c.reply()
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		counts[code]++
		if code == 452 && !strings.HasPrefix(msg, "4.5.3") {
			t.Errorf("452 %s: want 4.5.3", msg)
		}
		if (code == 250) != (i < 100) {
			t.Fatalf("RCPT %d answered %d %s", i+1, code, msg)
		}
	}
	if counts[250] != 100 || counts[452] != 900 {
		t.Fatalf("replies %v, want 100 x 250 and 900 x 452", counts)
	}
	code, msg := c.data(testkit.Mail{From: "many@client.test", To: []string{"support@example.com"}, Subject: "many", Body: "to many"}.Build())
	if code != 250 {
		t.Fatalf("DATA: %d %s", code, msg)
	}
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

// ---- header bombs ----

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
		c := dialSMTP(t, d.SMTPAddr)
		c.hello()
		c.envelope("bomb@client.test", "support@example.com")
		code, msg := c.data(b.Bytes())
		if code != 552 || !strings.HasPrefix(msg, "5.3.4") {
			t.Fatalf("header bomb: %d %s, want 552 5.3.4", code, msg)
		}
		if n := d.SMTP.Metrics.HeaderTooLarge.Load(); n != 1 {
			t.Errorf("HeaderTooLarge = %d", n)
		}
		if n := len(d.messages()); n != 0 {
			t.Fatalf("%d messages stored", n)
		}
		// The same session accepts a normal mail.
		c.envelope("bomb@client.test", "support@example.com")
		if code, msg := c.data(testkit.Mail{From: "bomb@client.test", To: []string{"support@example.com"}, Subject: "sane", Body: "sane"}.Build()); code != 250 {
			t.Fatalf("normal mail after the bomb: %d %s", code, msg)
		}
		if n := len(d.messages()); n != 1 {
			t.Fatalf("%d messages stored, want 1", n)
		}
	})

	t.Run("1 MB header line", func(t *testing.T) {
		before := len(d.messages())
		raw := []byte("From: long@client.test\r\nTo: support@example.com\r\nSubject: " + strings.Repeat("a", 1<<20) + "\r\n\r\nbody\r\n")
		c := dialSMTP(t, d.SMTPAddr)
		c.hello()
		c.envelope("long@client.test", "support@example.com")
		code, msg := c.data(raw)
		if code != 500 || !strings.HasPrefix(msg, "5.4.0") || !strings.Contains(strings.ToLower(msg), "line too long") {
			t.Fatalf("1 MB line: %d %s, want 500 5.4.0 line too long", code, msg)
		}
		if n := len(d.messages()); n != before {
			t.Fatalf("stored a mail with a 1 MB line")
		}
		// The rest of the line was consumed as data, not read as
		// commands: the session goes on.
		c.envelope("long@client.test", "support@example.com")
		if code, msg := c.data(testkit.Mail{From: "long@client.test", To: []string{"support@example.com"}, Subject: "sane", Body: "sane"}.Build()); code != 250 {
			t.Fatalf("normal mail after the long line: %d %s", code, msg)
		}
	})

	t.Run("BDAT", func(t *testing.T) {
		// CHUNKING is advertised: the same limits hold for BDAT.
		c := dialSMTP(t, d.SMTPAddr)
		c.hello()
		var bomb bytes.Buffer
		bomb.WriteString("From: chunk@client.test\r\nSubject: bomb\r\n")
		for bomb.Len() < 70<<10 {
			bomb.WriteString("X-Chunk: header line in a BDAT bomb\r\n")
		}
		c.envelope("chunk@client.test", "support@example.com")
		c.write([]byte(fmt.Sprintf("BDAT %d LAST\r\n", bomb.Len())))
		c.write(bomb.Bytes())
		if msg := c.expect(552); !strings.HasPrefix(msg, "5.3.4") {
			t.Errorf("BDAT header bomb: 552 %s", msg)
		}
		before := len(d.messages())
		raw := testkit.Mail{From: "chunk@client.test", To: []string{"support@example.com"}, Subject: "chunks", Body: "in two chunks"}.Build()
		c.envelope("chunk@client.test", "support@example.com")
		c.write([]byte(fmt.Sprintf("BDAT %d\r\n", 10)))
		c.write(raw[:10])
		c.expect(250)
		c.write([]byte(fmt.Sprintf("BDAT %d LAST\r\n", len(raw)-10)))
		c.write(raw[10:])
		c.expect(250)
		ms := d.messages()
		if len(ms) != before+1 || !bytes.HasSuffix(d.raw(ms[len(ms)-1]), raw) {
			t.Fatalf("BDAT mail not stored raw")
		}
	})

	t.Run("1 MB command line", func(t *testing.T) {
		c := dialSMTP(t, d.SMTPAddr)
		c.hello()
		c.write([]byte("MAIL FROM:<" + strings.Repeat("a", 1<<20)))
		code, msg, err := c.reply()
		if err != nil || code != 500 {
			t.Fatalf("1 MB command line: %d %s %v, want 500", code, msg, err)
		}
		if !c.closed() {
			t.Error("connection open after a 1 MB command line")
		}
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
	c := dialSMTP(t, d.SMTPAddr)
	c.hello()
	c.cmd("NOOP "+strings.Repeat("n", 1000-len("NOOP \r\n")), 250)
	c.envelope("edge@client.test", "support@example.com")
	if code, msg := c.data(mail(strings.Repeat("a", 998))); code != 250 {
		t.Fatalf("a 1000-byte line: %d %s", code, msg)
	}
	c.envelope("edge@client.test", "support@example.com")
	if code, msg := c.data(mail(strings.Repeat("a", 999))); code != 500 || !strings.HasPrefix(msg, "5.4.0") {
		t.Fatalf("a 1001-byte line: %d %s, want 500 5.4.0", code, msg)
	}
	if n := len(d.messages()); n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
	c.write([]byte("NOOP " + strings.Repeat("n", 1001-len("NOOP \r\n")) + "\r\n"))
	if code, _, err := c.reply(); err != nil || code != 500 {
		t.Fatalf("a 1001-byte command line: %d %v, want 500", code, err)
	}
	if !c.closed() {
		t.Error("connection open after a too long command line")
	}
}

// ---- malformed MIME ----

func nestedMultipart(depth int) []byte {
	var b bytes.Buffer
	b.WriteString("From: nest@client.test\r\nTo: support@example.com\r\nSubject: nested\r\nMessage-ID: <nested@client.test>\r\nMIME-Version: 1.0\r\n")
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nthe innermost text\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.Bytes()
}

// Mail we cannot parse is still accepted with 250, kept raw byte for byte,
// and becomes a ticket (SPEC 11).
func TestHostileMalformedMIME(t *testing.T) {
	d := startHD(t, hopts{})
	cases := []struct {
		name string
		raw  []byte
	}{
		{"1000 nested multiparts", nestedMultipart(1000)},
		{"bad boundaries", hostileCRLF(`From: bad@client.test
To: support@example.com
Subject: bad boundary
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="declared"

--other
Content-Type: text/plain

text under a boundary nobody declared
--declared
Content-Type: multipart/alternative; boundary=
--declared
unterminated part`)},
		{"garbage Content-Type", hostileCRLF("From: garbage@client.test\nTo: support@example.com\nSubject: garbage type\nMIME-Version: 1.0\nContent-Type: ;;;=\"/\x01\xff; charset=\"\"\"; boundary\nContent-Transfer-Encoding: quantum\n\n\xff\xfe body \x00 with NUL and bad UTF-8\n")},
		{"bare LF", []byte("From: lf@client.test\nTo: support@example.com\nSubject: bare LF\nMIME-Version: 1.0\nContent-Type: text/plain\n\nline one\nline two\r\n")},
		{"invalid base64", hostileCRLF(`From: b64@client.test
To: support@example.com
Subject: invalid base64
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="x"

--x
Content-Type: text/plain
Content-Transfer-Encoding: base64

!!!! this is not base64 at all ****
--x
Content-Type: application/pdf; name="a.pdf"
Content-Transfer-Encoding: base64

QUJD===%%%AAAA
--x--`)},
		{"no header end", hostileCRLF("From: noend@client.test\nSubject: headers only\nX-Broken header without colon\n")},
		{"no From header", hostileCRLF("To: support@example.com\nSubject: who wrote this?\n\nno From line at all\n")},
		{"encoded-word garbage", hostileCRLF("From: =?utf-8?B?!!!?= <ew@client.test>\nTo: support@example.com\nSubject: =?x-unknown?Q?=FF=FE?= =?utf-8?B?4pyT?=\n\nbody\n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(d.messages())
			c := dialSMTP(t, d.SMTPAddr)
			c.hello()
			c.envelope("sender@client.test", "support@example.com")
			start := time.Now()
			if code, msg := c.data(tc.raw); code != 250 {
				t.Fatalf("%d %s, want 250", code, msg)
			}
			t.Logf("accepted in %s", time.Since(start))
			ms := d.messages()
			if len(ms) != before+1 {
				t.Fatalf("%d new messages, want 1", len(ms)-before)
			}
			m := ms[len(ms)-1]
			raw := d.raw(m)
			if !bytes.HasSuffix(raw, withCRLF(tc.raw)) {
				t.Errorf("raw bytes not kept: stored %d bytes, sent %d", len(raw), len(tc.raw))
			}
			if !bytes.HasPrefix(raw, []byte("Received: ")) {
				t.Errorf("stored raw lacks our Received line: %q", raw[:min(len(raw), 60)])
			}
			if m.Ticket == 0 {
				t.Fatalf("no ticket for the malformed mail: disposition %q, parse errors %v", m.Disposition, m.ParseErrors)
			}
			tk, cs := d.ticket(m.Ticket)
			found := false
			for _, c := range cs {
				found = found || c.Message == m.ID
			}
			if !found {
				t.Errorf("ticket %d has no comment pointing at message %d", tk.ID, m.ID)
			}
		})
	}
}

// ---- path traversal in attachment names ----

// Attachment names are recorded without any directory part, and nothing is
// written outside data_dir.
func TestHostileAttachmentNames(t *testing.T) {
	root := t.TempDir()
	dataDir := filepath.Join(root, "srv", "helpdesk", "data")
	d := startHD(t, hopts{dir: dataDir}) // no relay: outbound mail is written to data_dir/outbox
	names := map[string]string{
		"../../etc/passwd":             "passwd",
		`..\..\x`:                      "x",
		"/etc/shadow":                  "shadow",
		`C:\Windows\System32\evil.dll`: "evil.dll",
		"../../../../../../../tmp/..":  "",
	}
	var b bytes.Buffer
	b.WriteString("From: Eve <eve@client.test>\r\nTo: support@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n--sep\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n")
	for n := range names {
		fmt.Fprintf(&b, "--sep\r\nContent-Type: application/octet-stream; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8K\r\n", n, n)
	}
	// RFC 2231 encoded traversal.
	b.WriteString("--sep\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-8''..%2F..%2Froot%2F.ssh%2Fauthorized_keys\r\n\r\nkey\r\n--sep--\r\n")
	names["../../root/.ssh/authorized_keys"] = "authorized_keys"

	c := dialSMTP(t, d.SMTPAddr)
	c.hello()
	c.envelope("eve@client.test", "support@example.com")
	if code, msg := c.data(b.Bytes()); code != 250 {
		t.Fatalf("%d %s", code, msg)
	}
	m := d.lastMessage()
	if m.Ticket == 0 {
		t.Fatal("no ticket")
	}
	_, cs := d.ticket(m.Ticket)
	var got []store.Attachment
	for _, c := range cs {
		if c.Message == m.ID {
			got = append(got, c.Attachments...)
		}
	}
	if len(got) < len(names)-1 {
		t.Fatalf("recorded attachments %+v, want %d", got, len(names))
	}
	want := map[string]bool{}
	for _, w := range names {
		if w != "" {
			want[w] = true
		}
	}
	for _, a := range got {
		if strings.ContainsAny(a.Name, `/\`) || a.Name == ".." || strings.HasPrefix(a.Name, ".") || filepath.IsAbs(a.Name) {
			t.Errorf("attachment name %q has a directory part", a.Name)
		}
		delete(want, a.Name)
	}
	if len(want) > 0 {
		t.Errorf("attachment names not recorded as base names: missing %v in %+v", want, got)
	}
	c.cmd("QUIT", 221)
	d.Worker.Drain()
	d.stop() // let everything settle on disk
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		if rel, _ := filepath.Rel(dataDir, p); strings.HasPrefix(rel, "..") {
			t.Errorf("file written outside data_dir: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ---- autoresponder loop ----

// autoResponder is a naive autoresponder on the relay: it answers every mail
// it receives for its address by sending a reply back into the daemon.
type autoResponder struct {
	addr string
	// mode: "token" replies to Reply-To with Auto-Submitted: auto-replied,
	// "naive" replies to Reply-To with no auto headers, "fresh" writes a
	// new mail to the From address with a new subject every time.
	mode string

	handled int // mails answered
	errs    []error
}

func (r *autoResponder) answer(daemonAddr string, m *testkit.Received, n int) error {
	var to string
	mail := testkit.Mail{From: "Auto <" + r.addr + ">", Body: "I am out of the office until next year.\n(automatic reply)"}
	switch r.mode {
	case "token", "naive":
		to = tokenRe.FindString(m.Header("Reply-To"))
		if to == "" {
			return fmt.Errorf("no reply token in %q", m.Header("Reply-To"))
		}
		mail.Subject = "Re: " + m.Header("Subject")
		mail.InReplyTo = strings.Trim(m.Header("Message-Id"), "<>")
		if r.mode == "token" {
			mail.Subject = "Auto: " + m.Header("Subject")
			mail.Headers = []string{"Auto-Submitted: auto-replied", "X-Autoreply: yes"}
		}
	case "fresh":
		to = "support@example.com"
		mail.Subject = fmt.Sprintf("Away notice %d", n)
	}
	mail.To = []string{to}
	return testkit.SendMail(daemonAddr, r.addr, []string{to}, mail.Build())
}

// A mail loop with autoresponders that answer every mail stops by itself:
// the daemon sends each of them at most the acknowledgement rate limit
// (5 per sender per hour), whatever headers they use.
func TestHostileAutoresponderLoop(t *testing.T) {
	sink := testkit.StartSink(t)
	d := startHD(t, hopts{relay: sink, extra: `[[agent]]
email = "victoria@certs.example"
name = "Victoria"
role = "agent"
groups = ["support"]
`})
	const ackLimit = 5 // [tickets] ack_per_sender_per_hour default
	const maxAnswers = 40
	rs := []*autoResponder{
		{addr: "vacation@loop.example", mode: "token"},
		{addr: "naive@loop.example", mode: "naive"},
		{addr: "fresh@loop.example", mode: "fresh"},
	}
	// Each autoResponder's owner writes once; then the responders take over.
	for _, r := range rs {
		if err := testkit.SendMail(d.SMTPAddr, r.addr, []string{"support@example.com"}, testkit.Mail{
			From: r.addr, To: []string{"support@example.com"}, Subject: "Question from " + r.addr, Body: "How do I renew?",
		}.Build()); err != nil {
			t.Fatal(err)
		}
	}
	// The responders run in this goroutine, interleaved with the daemon's
	// outbound worker, until the loop is quiet: every mail each autoResponder
	// got is answered, the daemon's queue is empty, and so nothing more
	// can come. A cap bounds a loop that does not stop.
	deadline := time.Now().Add(10 * time.Second)
	for {
		busy := false
		for _, r := range rs {
			got := sink.To(r.addr)
			for r.handled < len(got) && r.handled < maxAnswers {
				if err := r.answer(d.SMTPAddr, got[r.handled], r.handled); err != nil {
					r.errs = append(r.errs, err)
				}
				r.handled++
				busy = true
			}
		}
		if !busy && d.queueDepth() == 0 {
			quiet := true
			for _, r := range rs {
				quiet = quiet && r.handled == len(sink.To(r.addr))
			}
			if quiet {
				break
			}
		}
		capped := false
		for _, r := range rs {
			capped = capped || r.handled >= maxAnswers
		}
		if capped || time.Now().After(deadline) {
			for _, r := range rs {
				t.Logf("%s (%s): %d mails from the daemon", r.addr, r.mode, len(sink.To(r.addr)))
			}
			t.Fatal("the mail loop did not stop by itself")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, r := range rs {
		n := len(sink.To(r.addr))
		t.Logf("%s (%s): %d mails from the daemon, %d answers", r.addr, r.mode, n, r.handled)
		for _, err := range r.errs {
			t.Errorf("%s: sending an answer: %v", r.addr, err)
		}
		if n == 0 {
			t.Errorf("%s got no acknowledgement at all", r.addr)
		}
		if n > ackLimit {
			t.Errorf("%s got %d mails from the daemon, more than the acknowledgement limit %d", r.addr, n, ackLimit)
		}
		for _, m := range sink.To(r.addr) {
			if m.Header("Auto-Submitted") == "" || m.Header("Auto-Submitted") == "no" {
				t.Errorf("mail to the autoResponder %q lacks Auto-Submitted", m.Header("Subject"))
			}
		}
	}
	// Every answer that got a 250 was stored.
	answers := 0
	for _, r := range rs {
		answers += r.handled + 1
	}
	if n := len(d.messages()); n != answers {
		t.Errorf("%d messages stored, %d sent", n, answers)
	}
}

// ---- recipients, plus-addresses, duplicates ----

func TestHostileRecipientsAndDuplicates(t *testing.T) {
	d := startHD(t, hopts{})

	t.Run("unknown recipients", func(t *testing.T) {
		c := dialSMTP(t, d.SMTPAddr)
		c.hello()
		c.cmd("MAIL FROM:<x@client.test>", 250)
		for _, rc := range []string{"nobody@example.com", "support@other.test", "supportx@example.com",
			"support@example.com.evil.test", "x+support@example.com", "support+@evil.test", "postmaster@example.com"} {
			msg := c.cmd("RCPT TO:<"+rc+">", 550)
			if !strings.HasPrefix(msg, "5.1.1") {
				t.Errorf("RCPT %s: 550 %s, want 5.1.1", rc, msg)
			}
		}
		c.cmd("DATA", 502) // no valid recipient
		if n := len(d.messages()); n != 0 {
			t.Errorf("%d messages stored", n)
		}
		if n := d.SMTP.Metrics.RcptRefused.Load(); n != 7 {
			t.Errorf("RcptRefused = %d, want 7", n)
		}
	})

	t.Run("garbage plus-address token", func(t *testing.T) {
		first := testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"}, Subject: "Printer", MessageID: "p1@e-fun.example", Body: "It jams."}
		if err := testkit.SendMail(d.SMTPAddr, "ken@e-fun.example", []string{"support@example.com"}, first.Build()); err != nil {
			t.Fatal(err)
		}
		tk1 := d.lastMessage().Ticket
		// The same follow-up, once without a token and once to a garbage
		// token: both are threaded alike.
		disp := map[string]*store.Message{}
		for _, to := range []string{"support@example.com", "support+garbage0000@example.com", "SUPPORT+Zz9--..@Example.COM"} {
			err := testkit.SendMail(d.SMTPAddr, "ken@e-fun.example", []string{to}, testkit.Mail{
				From: "Ken <ken@e-fun.example>", To: []string{to}, Subject: "Re: Printer", InReplyTo: "p1@e-fun.example",
				Body: "Still jams (to " + to + ").",
			}.Build())
			if err != nil {
				t.Fatalf("to %s: %v", to, err)
			}
			disp[to] = d.lastMessage()
		}
		plain := disp["support@example.com"]
		for to, m := range disp {
			if m.Ticket != plain.Ticket || m.Disposition != plain.Disposition {
				t.Errorf("to %s: ticket %d %s; without token: ticket %d %s", to, m.Ticket, m.Disposition, plain.Ticket, plain.Disposition)
			}
		}
		if plain.Ticket != tk1 || plain.Disposition != store.DispComment {
			t.Errorf("follow-up: ticket %d %s, want a comment on %d", plain.Ticket, plain.Disposition, tk1)
		}
		if n := d.Engine.Metrics.ForgedTokens.Load(); n != 2 {
			t.Errorf("ForgedTokens = %d, want 2", n)
		}
		// Without any other cue a garbage token opens a new ticket, as no
		// token would.
		before := d.ticketCount()
		if err := testkit.SendMail(d.SMTPAddr, "ann@client.test", []string{"support+abcdefghijklmnop@example.com"}, testkit.Mail{
			From: "ann@client.test", To: []string{"support+abcdefghijklmnop@example.com"}, Subject: "Hello", Body: "new question",
		}.Build()); err != nil {
			t.Fatal(err)
		}
		if m := d.lastMessage(); d.ticketCount() != before+1 || m.Disposition != store.DispTicket {
			t.Errorf("garbage token without cues: %d tickets (want %d), disposition %s", d.ticketCount(), before+1, m.Disposition)
		}
	})

	t.Run("same mail twice", func(t *testing.T) {
		raw := testkit.Mail{From: "dup@client.test", To: []string{"support@example.com"}, Subject: "twice", MessageID: "dup-1@client.test", Body: "same body"}.Build()
		msgs, tickets := len(d.messages()), d.ticketCount()
		for i := 0; i < 2; i++ {
			if err := testkit.SendMail(d.SMTPAddr, "dup@client.test", []string{"support@example.com"}, raw); err != nil {
				t.Fatalf("delivery %d: %v", i+1, err)
			}
		}
		if n := len(d.messages()); n != msgs+1 {
			t.Errorf("%d messages stored for one mail delivered twice", n-msgs)
		}
		if n := d.ticketCount(); n != tickets+1 {
			t.Errorf("%d tickets opened for one mail delivered twice", n-tickets)
		}
		if n := d.Engine.Metrics.Duplicates.Load(); n != 1 {
			t.Errorf("Duplicates = %d", n)
		}
	})
}

// ---- store failures ----

// hostileBreakDir replaces the directory p by a regular file (so creating files
// under it fails with ENOTDIR, even for root) and returns the repair.
func hostileBreakDir(t *testing.T, p string) (repair func()) {
	t.Helper()
	aside := p + ".aside"
	if err := os.Rename(p, aside); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(aside, p); err != nil {
			t.Fatal(err)
		}
	}
}

// A store failure answers 451 with a generic text (no internals), stores
// nothing, and the client's retry after recovery is stored. Three real
// failures: the blob directory cannot take the spooled body (as with a
// full or read-only disk), the spool directory cannot take it, and the
// database is closed under the running daemon (recovered by a restart).
func TestHostileStoreFailure(t *testing.T) {
	d := startHD(t, hopts{smtp: `spool_threshold = "1KiB"`})
	send := func(id string) error {
		return testkit.SendMail(d.SMTPAddr, "fail@client.test", []string{"support@example.com"}, testkit.Mail{
			From: "fail@client.test", To: []string{"support@example.com"}, Subject: "retry " + id, MessageID: id,
			Body: strings.Repeat("a body larger than the spool threshold\n", 100),
		}.Build())
	}
	check451 := func(err error) {
		t.Helper()
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 451 {
			t.Fatalf("got %v, want 451", err)
		}
		if strings.Contains(se.Message, d.Dir) || strings.Contains(strings.ToLower(se.Message), "error:") {
			t.Errorf("451 text leaks internals: %q", se.Message)
		}
	}
	stored := func(id string) *store.Message {
		t.Helper()
		var found *store.Message
		for _, m := range d.messages() {
			if m.MessageID == id {
				if found != nil {
					t.Errorf("message %s stored twice", id)
				}
				found = m
			}
		}
		return found
	}

	for _, sub := range []string{"blobs", "tmp"} {
		t.Run(sub+" unwritable", func(t *testing.T) {
			id := "fail-" + sub + "@client.test"
			repair := hostileBreakDir(t, filepath.Join(d.Dir, sub))
			check451(send(id))
			repair()
			if stored(id) != nil {
				t.Fatal("a mail answered 451 was stored")
			}
			if err := send(id); err != nil {
				t.Fatalf("retry after recovery: %v", err)
			}
			m := stored(id)
			if m == nil || m.Ticket == 0 || m.Blob == "" {
				t.Fatalf("retry not stored as a spooled message with a ticket: %+v", m)
			}
			if raw := d.raw(m); !bytes.Contains(raw, []byte("Message-ID: <"+id+">")) {
				t.Errorf("raw bytes of the retry are wrong (%d bytes)", len(raw))
			}
		})
	}

	t.Run("database closed", func(t *testing.T) {
		if err := send("before-close@client.test"); err != nil {
			t.Fatal(err)
		}
		if err := d.DB.Close(); err != nil {
			t.Fatal(err)
		}
		check451(send("during-close@client.test"))
		dir := d.Dir
		d.stop()
		d = startHD(t, hopts{smtp: `spool_threshold = "1KiB"`, dir: dir})
		if stored("before-close@client.test") == nil {
			t.Fatal("a mail that got 250 vanished")
		}
		if stored("during-close@client.test") != nil {
			t.Fatal("a mail answered 451 was stored")
		}
		if err := send("during-close@client.test"); err != nil {
			t.Fatalf("retry after restart: %v", err)
		}
		if m := stored("during-close@client.test"); m == nil || m.Ticket == 0 {
			t.Fatalf("retry not stored: %+v", m)
		}
	})
}
