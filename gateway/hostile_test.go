package gateway_test

// Hostile input over real SMTP against the real daemon (SPEC 10, 11; issue
// 2 item 3; issue 6 item 4): slow clients, connection floods, huge mails,
// recipient floods, header bombs, broken MIME, path-traversal file names,
// autoresponder loops, unknown recipients, duplicates and store failures.
//
// This file holds what they share (a daemon with custom limits and helpers
// to inspect its store); each theme has its own hostile_*_test.go, and the
// SMTP client they drive step by step is testkit.SMTPConn.

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store"
	"helpdesk/store/model"
)

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

func (h *hd) messages() []*model.Message {
	h.t.Helper()
	var out []*model.Message
	err := h.DB.View(func(tx store.Tx) error {
		return tx.ForEachMessage(func(m *model.Message) error { out = append(out, m); return nil })
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *hd) raw(m *model.Message) []byte {
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

func (h *hd) ticket(id uint64) (*model.Ticket, []*model.Comment) {
	h.t.Helper()
	var tk *model.Ticket
	var cs []*model.Comment
	err := h.DB.View(func(tx store.Tx) (err error) {
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
	h.DB.View(func(tx store.Tx) error { n = tx.TicketCount(); return nil })
	return n
}

func (h *hd) queueDepth() int {
	n := 0
	h.DB.View(func(tx store.Tx) error { n = tx.QueueDepth(); return nil })
	return n
}

// lastMessage is the newest stored message; it fails when there is none.
func (h *hd) lastMessage() *model.Message {
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
