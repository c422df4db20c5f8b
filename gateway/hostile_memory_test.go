package gateway_test

// Hostile input: a mail far over the size limit is refused without being
// held in memory.

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

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

	c := testkit.DialSMTP(t, d.SMTPAddr)
	c.Hello()
	// A client that declares the size is refused at MAIL already.
	c.Run(
		testkit.Cmd(fmt.Sprintf("MAIL FROM:<big@client.test> SIZE=%d", size), 552),
		testkit.Cmd("MAIL FROM:<big@client.test>", 250),
		testkit.Cmd("RCPT TO:<support@example.com>", 250),
		testkit.Cmd("DATA", 354),
	)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	// Streamed straight onto the connection: the test never holds it.
	c.NetConn().SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := writeBigMail(c.NetConn(), size); err != nil {
		t.Fatalf("writing the big mail: %v", err)
	}
	msg := c.Expect(552)
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
	c.Envelope("big@client.test", "support@example.com")
	if r := c.Data(testkit.Mail{From: "big@client.test", To: []string{"support@example.com"}, Subject: "small", Body: "small one"}.Build()); r.Code != 250 {
		t.Fatalf("small mail after the refused one: %d %s", r.Code, r.Text)
	}
	ms := d.messages()
	if len(ms) != 1 || ms[0].Size > 1<<20 {
		t.Fatalf("stored %d messages (want only the small one): %+v", len(ms), ms)
	}
	hostilePoll(t, "no spool file left", 2*time.Second, func() bool { return len(hostileSpoolFiles(t, d.Dir)) == 0 })
}
