package acceptance

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"helpdesk/gateway/testkit"
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
	var conns []*rawSMTP
	for i := 0; i < 30; i++ {
		conns = append(conns, dialRaw(t, e.SMTP))
	}
	pollMetric(t, e, "helpdesk_smtp_sessions", 30)
	for _, c := range conns {
		c.c.Close()
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
