package gateway_test

// Hostile input: the store fails under a delivery.

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/model"
)

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
	stored := func(id string) *model.Message {
		t.Helper()
		var found *model.Message
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
