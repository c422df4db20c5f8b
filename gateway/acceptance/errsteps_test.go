package acceptance

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("an error says which step failed: an outbound mail's last error and its log line start with the step (render, dkim sign, dial, send, write outbox) and the SMTP command; a 451's log line names the inbound step (spooling the body; inside the store write: threading, enqueueing, saving)",
	"TestErrorsNameTheirStep")

// A mail the relay refuses has a last error (in `helpdesk outbox`) and a
// log line that begin with the step, "send", and the SMTP command; a mail
// whose body cannot be spooled gets 451 and a log line naming the spool.
func TestErrorsNameTheirStep(t *testing.T) {
	bboltOnly(t)
	e := Start(t, Options{SMTP: `spool_threshold = "1KiB"`})
	e.Sink.SetRefuse("amy@e-fun.example", true)
	e.Customer(testkit.Mail{From: "amy@e-fun.example", To: []string{"support@example.com"}, Subject: "Refused", Body: "Hi.\n"})
	var last string
	e.Eventually(30*time.Second, func() bool {
		for _, it := range e.Outbox().Items {
			if it.Rcpt == "amy@e-fun.example" && it.State == "failed" {
				last = it.LastError
				return true
			}
		}
		return false
	}, func() string { return "the refused acknowledgement never failed:\n" + e.MustCLI("outbox") })
	if !strings.HasPrefix(last, "send: RCPT TO: ") || !strings.Contains(last, "550") {
		t.Errorf("last error %q: want it to start with the step (send: RCPT TO: 550 ...)", last)
	}
	// The log line may follow the outbox's state (another goroutine, a
	// pipe): wait for it, then count.
	e.Eventually(30*time.Second, func() bool { return countLines(e.Logs(), "outbound failed permanently", `send: RCPT TO: `) > 0 },
		func() string { return "no log line names the failed step:\n" + e.Logs() })
	if n := countLines(e.Logs(), "outbound failed permanently", `send: RCPT TO: `); n != 1 {
		t.Errorf("%d log lines name the failed step, want 1:\n%s", n, e.Logs())
	}

	// Inbound: the blob directory cannot take a spooled body.
	blobs := filepath.Join(e.Dir, "blobs")
	if err := os.Rename(blobs, blobs+".aside"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blobs, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := e.Send("ken@e-fun.example", []string{"support@example.com"}, testkit.Mail{
		From: "ken@e-fun.example", To: []string{"support@example.com"}, Subject: "spooled",
		Body: strings.Repeat("a body larger than the spool threshold\n", 100),
	}.Build())
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 {
		t.Fatalf("with the blob directory broken: %v, want 451", err)
	}
	// The 451 reaches the client before the daemon's log line reaches
	// the test through its pipe: wait for the line, then count.
	e.Eventually(30*time.Second, func() bool { return countLines(e.Logs(), "storing message failed", `"err":"spooling message: `) > 0 },
		func() string { return "no log line names the spooling step:\n" + e.Logs() })
	if n := countLines(e.Logs(), "storing message failed", `"err":"spooling message: `); n != 1 {
		t.Errorf("%d log lines name the spooling step, want 1:\n%s", n, e.Logs())
	}
}
