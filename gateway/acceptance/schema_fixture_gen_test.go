//go:build schemafixture

package acceptance

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

// TestMakeSchemaFixture writes the fixture TestOldSchemaStoreIsUpgraded
// reads: a data directory filled by an older helpdesk binary
// (HELPDESK_FIXTURE_BIN, built from an old commit by
// scripts/make-schema-fixture) and what that binary itself showed of it.
// It is not part of the suite (build tag schemafixture).
func TestMakeSchemaFixture(t *testing.T) {
	old, out := os.Getenv("HELPDESK_FIXTURE_BIN"), os.Getenv("HELPDESK_FIXTURE_OUT")
	if old == "" || out == "" {
		t.Skip("set HELPDESK_FIXTURE_BIN and HELPDESK_FIXTURE_OUT (scripts/make-schema-fixture does)")
	}
	bin = old
	e := Start(t, Options{NoRelay: false, SMTP: fixtureSMTP})
	// Ticket 1: a long mail (its raw bytes and comment are big enough to
	// be packed); Victoria answers publicly and adds a private note.
	n1 := e.Open(kenFr, "Certificate for www", fixtureLong, vic)
	e.Reply(vicFr, n1, "#status pending\nHello Ken, we are on it. Which validity do you need?")
	e.Reply(vicFr, n1, "#note\nKen's company has an unpaid invoice; check with finance first.")
	// Quarantined: a staff From without DKIM, and a looping mail over
	// spool_threshold (its raw message is a blob file).
	e.MustSend(vic, []string{"support@example.com"}, testkit.Mail{From: vicFr, To: []string{"support@example.com"},
		Subject: "Forged", Body: "#close\nnot really Victoria"}.Build())
	e.MustSend("ann@e-fun.example", []string{"support@example.com"}, fixtureLoop())
	ack := e.Find(ken, "[#1]")
	// Ticket 2, with a file, while the relay refuses: its acknowledgement
	// and notifications stay queued (the notifications, which carry the
	// file, as that binary wrote them).
	e.Sink.SetFail(true)
	e.MustSendNoSettle(ken, []string{"support@example.com"}, testkit.Mail{From: kenFr, To: []string{"support@example.com"},
		Subject: "Queued while the relay was down", Body: "Please call me back.\n",
		Files: []testkit.File{{Name: "csr.pem", ContentType: "application/x-pem-file", Data: []byte(fixtureCSR)}}}.Build())
	e.Eventually(30e9, func() bool {
		o := e.Outbox()
		for _, it := range o.Items {
			if it.Ticket == 2 && it.Attempts == 0 {
				return false
			}
		}
		return o.Queued > 0
	}, func() string { return e.MustCLI("outbox") })

	e.Stop()
	// What the old binary shows of its own store (no daemon: read from the file).
	exp := map[string]string{"ack_reply_to": ReplyTo(ack)}
	for _, c := range [][]string{{"tickets"}, {"show", "1"}, {"show", "2"}, {"quarantine", "show", "1"}, {"quarantine", "show", "2"}, {"outbox", "--limit", "1000"}, {"quarantine", "list"}} {
		exp[strings.Join(c, " ")] = shortRaw(t, e.MustCLI(append(c, "--json")...))
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	j, _ := json.MarshalIndent(exp, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "expected.json"), append(j, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	// The data directory as a .tar.gz: helpdesk.db and blobs/ (no socket, config or tmp).
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	err := filepath.WalkDir(e.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(e.Dir, p)
		if rel != "helpdesk.db" && !strings.HasPrefix(rel, "blobs"+string(filepath.Separator)) {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		st, _ := f.Stat()
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o600, Size: st.Size(), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = io.Copy(tw, f)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(out, "data.tar.gz"), buf.Bytes(), 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// MustSendNoSettle is Send that fails the test unless the mail got 250,
// without waiting for the outbound queue.
func (e *Env) MustSendNoSettle(from string, rcpts []string, raw []byte) {
	e.T.Helper()
	if err := e.Send(from, rcpts, raw); err != nil {
		e.T.Fatalf("sending mail from %s: %v", from, err)
	}
}
