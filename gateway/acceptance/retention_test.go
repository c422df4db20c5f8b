package acceptance

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("[retention] on the ticket clock: with raw_after_closed the raw mail (and blob files) of tickets closed that long ago go while their texts and attachments' names and sizes stay; sent outbound mail and its outbox/*.eml copies are pruned after sent_outbound (30d) and quarantine after quarantine (30d, releasable until then); compact runs on its schedule; `helpdesk clock advance` runs the sweep",
	"TestRetentionOnManualClock")

// Issue 17 item 4, on a manual clock: nothing goes before its time,
// everything goes after it.
func TestRetentionOnManualClock(t *testing.T) {
	bboltOnly(t)
	e := Start(t, Options{NoRelay: true, SMTP: `spool_threshold = "4KiB"`, Config: Staff + `
[testing]
clock = "manual"

[retention]
raw_after_closed = "10d"
compact = "7d"
`})
	big := bytes.Repeat([]byte("certificate chain line\n"), 800)
	e.Customer(testkit.Mail{From: "ken@e-fun.example", To: []string{"support@example.com"}, Subject: "Chain attached",
		Body: "Please check the attached chain.", Files: []testkit.File{{Name: "chain.pem", ContentType: "application/x-pem-file", Data: big}}})
	e.Agent(testkit.Mail{From: vicFr, To: []string{"support@example.com"}, Subject: "close", Body: "#ticket 1\n#status closed\nDone, the chain is fine."})
	var hops []string
	for i := 0; i < 60; i++ {
		hops = append(hops, "Received: from a.example by b.example; Mon, 7 Dec 2026 09:00:00 +0000")
	}
	e.Customer(testkit.Mail{From: "loop@other.example", To: []string{"support@example.com"}, Subject: "Loop", Body: "looping", Headers: hops})
	e.Eventually(30*time.Second, func() bool { return e.Outbox().Queued == 0 }, func() string { return e.MustCLI("outbox") })
	blobs := func() []string { m, _ := filepath.Glob(filepath.Join(e.Dir, "blobs", "*", "*.eml")); return m }
	emls := func() []string { m, _ := filepath.Glob(filepath.Join(e.Dir, "outbox", "*.eml")); return m }
	quarantined := func() int {
		var qs []struct{ ID uint64 }
		e.JSON(&qs, "quarantine")
		return len(qs)
	}
	if tk := e.Show(1); tk.Status != "closed" {
		t.Fatalf("ticket 1 is %s, want closed", tk.Status)
	}
	sent0, emls0 := e.Outbox().Sent, len(emls())
	if len(blobs()) == 0 || sent0 == 0 || emls0 == 0 || quarantined() != 1 {
		t.Fatalf("before: %d blobs, %d sent, %d outbox files, %d quarantined", len(blobs()), sent0, emls0, quarantined())
	}

	// 9 days: nothing is due yet.
	e.MustCLI("clock", "advance", "9d")
	if len(blobs()) == 0 || e.Outbox().Sent != sent0 || len(emls()) != emls0 || quarantined() != 1 {
		t.Errorf("after 9 days something went early: %d blobs, %d sent, %d outbox files, %d quarantined", len(blobs()), e.Outbox().Sent, len(emls()), quarantined())
	}
	// 11 days: the closed ticket's raw mail goes, its text and the
	// attachment's metadata stay.
	e.MustCLI("clock", "advance", "2d")
	if b := blobs(); len(b) != 1 { // the quarantined loop mail's
		t.Errorf("after 11 days blob files %v, want only the quarantined mail's", b)
	}
	tk := e.Show(1)
	if len(tk.Comments) == 0 || !strings.Contains(tk.Comments[0].Text, "attached chain") || len(tk.Attachments) != 1 || tk.Attachments[0].Name != "chain.pem" || tk.Attachments[0].Size != int64(len(big)) {
		t.Errorf("after dropping raw mail ticket 1 lost text or attachment metadata: %+v / %+v", tk.Comments, tk.Attachments)
	}
	if !strings.Contains(e.Logs(), "compacted\":true") {
		t.Errorf("compact = 7d did not compact after 11 days; log:\n%s", e.Logs())
	}
	// Released before its time, quarantine would still apply; at 31 days
	// sent mail, outbox copies and quarantine are gone.
	e.MustCLI("clock", "advance", "20d")
	if o := e.Outbox(); o.Sent != 0 {
		t.Errorf("after 31 days %d sent items remain", o.Sent)
	}
	if n := len(emls()); n != 0 {
		t.Errorf("after 31 days %d outbox files remain", n)
	}
	if n := quarantined(); n != 0 {
		t.Errorf("after 31 days %d quarantine entries remain", n)
	}
	if b := blobs(); len(b) != 0 {
		t.Errorf("after 31 days blob files remain: %v", b)
	}
	if _, err := os.Stat(filepath.Join(e.Dir, "helpdesk.db")); err != nil {
		t.Error(err)
	}
	// Tickets themselves stay.
	if tk := e.Show(1); tk.ID != 1 || len(tk.Comments) == 0 {
		t.Errorf("ticket 1 after retention: %+v", tk)
	}
}
