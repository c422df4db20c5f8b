package acceptance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("/healthz answers 503 naming the failing store writes while every mail gets 451, and 200 once a write succeeds; a repeated error is logged once, then once per interval with the count left out; helpdesk_smtp_sessions counts connections from accept to close",
	"TestHealthReflectsFailingCommits")

// While every store write fails (the blob directory is replaced by a file,
// as with a broken disk), every mail gets 451, /healthz answers 503 naming
// the failing writes, and the failure is logged once and then in one line
// per interval with the count of those left out, not once per mail; once a
// write succeeds again /healthz is 200. The sessions gauge counts
// connections from accept to close, greeted or not.
func TestHealthReflectsFailingCommits(t *testing.T) {
	bboltOnly(t)
	e := Start(t, Options{SMTP: `spool_threshold = "1KiB"`})
	body := strings.Repeat("a body larger than the spool threshold\n", 100)
	send := func(subject string) error {
		return e.Send("ken@e-fun.example", []string{"support@example.com"}, testkit.Mail{
			From: "ken@e-fun.example", To: []string{"support@example.com"}, Subject: subject, Body: body,
		}.Build())
	}
	if err := send("before"); err != nil {
		t.Fatal(err)
	}
	if b, code := e.HTTPStatus("/healthz"); code != 200 {
		t.Fatalf("/healthz before failures: %d %s", code, b)
	}

	blobs := filepath.Join(e.Dir, "blobs")
	if err := os.Rename(blobs, blobs+".aside"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blobs, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const failures = 60
	for i := 0; i < failures; i++ {
		err := send(fmt.Sprintf("during %d", i))
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 451 {
			t.Fatalf("mail %d with a broken store: %v, want 451", i, err)
		}
	}
	b, code := e.HTTPStatus("/healthz")
	t.Logf("/healthz while failing: %d\n%s", code, b)
	if code != 503 || !strings.Contains(b, "store writes failing") {
		t.Errorf("/healthz while every commit fails: %d %q, want 503 naming the failing store writes", code, b)
	}
	errLines := 0
	for _, l := range strings.Split(e.Logs(), "\n") {
		if strings.Contains(l, `"level":"ERROR"`) && strings.Contains(l, "storing message failed") {
			errLines++
		}
	}
	t.Logf("%d failures logged in %d ERROR lines", failures, errLines)
	if errLines < 1 || errLines > 3 {
		t.Errorf("%d ERROR lines for %d identical failures; want the first and then a count", errLines, failures)
	}

	if err := os.Remove(blobs); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(blobs+".aside", blobs); err != nil {
		t.Fatal(err)
	}
	if err := send("after"); err != nil {
		t.Fatalf("after repair: %v", err)
	}
	if b, code := e.HTTPStatus("/healthz"); code != 200 {
		t.Errorf("/healthz after a commit succeeded again: %d %s", code, b)
	}

	// Connections that never say EHLO are open connections all the same.
	var conns []*testkit.SMTPConn
	for i := 0; i < 30; i++ {
		conns = append(conns, dialRaw(t, e.SMTP))
	}
	pollMetric(t, e, "helpdesk_smtp_sessions", 30)
	for _, c := range conns {
		c.Close()
	}
	pollMetric(t, e, "helpdesk_smtp_sessions", 0)

	// The failures left out are counted in one line at the end of the
	// interval (10 s).
	want := fmt.Sprintf("(%d more since ", failures-1)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(e.Logs(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no summary line %q in the log", want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func pollMetric(t *testing.T, e *Env, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := e.Metric(name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", name, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var _ = claim("/healthz fails while the last SIGHUP's configuration was refused (the daemon runs on the previous one) and recovers after a good reload",
	"TestHealthReportsRefusedReload")

// Found by a black-box run: a reload refused for a bad config left
// /healthz at 200, so nothing told the operator the edit did not apply.
func TestHealthReportsRefusedReload(t *testing.T) {
	e := Start(t, Options{})
	good, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.Config, append(append([]byte{}, good...), []byte("\n[smtp\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	e.Proc.Signal(syscall.SIGHUP)
	e.Eventually(10*time.Second, func() bool { _, code := e.HTTPStatus("/healthz"); return code == 503 }, func() string {
		body, code := e.HTTPStatus("/healthz")
		return fmt.Sprintf("/healthz after a refused reload: %d %q", code, body)
	})
	if body, _ := e.HTTPStatus("/healthz"); !strings.Contains(body, "config:") || !strings.Contains(body, "refused") {
		t.Errorf("/healthz does not name the refused reload: %q", body)
	}
	if err := os.WriteFile(e.Config, good, 0o600); err != nil {
		t.Fatal(err)
	}
	e.Proc.Signal(syscall.SIGHUP)
	e.Eventually(10*time.Second, func() bool { _, code := e.HTTPStatus("/healthz"); return code == 200 }, func() string {
		body, code := e.HTTPStatus("/healthz")
		return fmt.Sprintf("/healthz after a good reload: %d %q", code, body)
	})
}

var _ = claim("`helpdesk serve` handles SIGHUP and SIGTERM from the moment it says it listens (a signal right after the ready line reloads or stops gracefully, never kills)",
	"TestSignalsRightAfterReady")

// Found while testing the reload: the ready line was printed before the
// signal handlers were installed, so a SIGHUP right after it killed the
// daemon (the default action), and a SIGTERM skipped the graceful stop.
func TestSignalsRightAfterReady(t *testing.T) {
	for i := 0; i < 5; i++ {
		e := Start(t, Options{})
		if err := e.Proc.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		e.Eventually(10*time.Second, func() bool { return strings.Contains(e.Logs(), "configuration reloaded") }, func() string {
			return "no reload logged after an early SIGHUP:\n" + e.Logs()
		})
		if err := e.Proc.Stop(20 * time.Second); err != nil {
			t.Fatalf("stop after the reload: %v", err)
		}
		e.Proc = nil
	}
}
