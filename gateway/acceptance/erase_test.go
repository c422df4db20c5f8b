package acceptance

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var (
	_ = claim("`helpdesk customer erase ADDR --yes` (GDPR): the customer's tickets stay as shells (number, dates, status, assignee; `erased` in show --json), their raw mail, blobs, comment texts, attachments, outbound mail and .eml outbox files, quarantine entries and index entries go; the store is compacted, and afterwards neither the address nor a sentence of theirs occurs in any file under data_dir; without --yes nothing changes; `helpdesk erasures` lists the record (when, by whom, counts) with no personal data; later mail from the address opens a fresh ticket",
		"TestEraseCustomerLeavesNoBytes")
	_ = claim("erasing a customer who was CC'd on someone else's ticket removes the address from its lists, replaces it in its texts with [erased], keeps the other people's raw mail (counted as kept), and mails the erased address nothing more",
		"TestEraseCustomerCCdElsewhere")
)

// erasureView is `helpdesk customer erase --json`.
type erasureView struct {
	Record struct {
		ID           uint64    `json:"id"`
		At           time.Time `json:"at"`
		By           string    `json:"by"`
		Via          string    `json:"via"`
		Tickets      int       `json:"tickets"`
		Comments     int       `json:"comments"`
		Attachments  int       `json:"attachments"`
		Messages     int       `json:"messages"`
		Blobs        int       `json:"blobs"`
		Outbound     int       `json:"outbound"`
		OutboxFiles  int       `json:"outbox_files"`
		Quarantine   int       `json:"quarantine"`
		IndexEntries int       `json:"index_entries"`
		Profiles     int       `json:"profiles"`
		OtherTickets int       `json:"other_tickets"`
		Replaced     int       `json:"replaced"`
		KeptRaw      int       `json:"kept_raw"`
	} `json:"record"`
	DryRun  bool        `json:"dry_run"`
	Compact compactView `json:"compact"`
}

// filesHolding lists the files under dir whose bytes contain any of
// needles (case-insensitively for ASCII).
func filesHolding(t *testing.T, dir string, needles ...string) []string {
	t.Helper()
	var hits []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if d.Type()&fs.ModeSocket != 0 {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("reading %s: %v", path, err)
			return nil
		}
		lb := bytes.ToLower(b)
		for _, n := range needles {
			if bytes.Contains(lb, bytes.ToLower([]byte(n))) {
				rel, _ := filepath.Rel(dir, path)
				hits = append(hits, rel+" ("+n+")")
			}
		}
		return nil
	})
	return hits
}

// The customer the erase tests erase, and a sentence only his mail holds.
const (
	eraseKen      = "ken.erase@e-fun.example"
	eraseSentence = "My grandmother's teapot collection is insured under policy 7731."
)

// mailEraseTickets opens tickets 1 and 2 of eraseKen (the second with an
// attachment big enough to be kept apart: a blob file, or on PostgreSQL a
// row of table blobs) and ticket 3 of Bob's, which must stay whole.
func mailEraseTickets(e *Env) {
	e.T.Helper()
	e.Customer(testkit.Mail{From: "Ken Eraseme <" + eraseKen + ">", To: []string{"support@example.com"},
		Subject: "Teapot insurance question", Body: eraseSentence + "\nKen"})
	big := bytes.Repeat([]byte("teapot inventory line 7731\n"), 1000)
	e.Customer(testkit.Mail{From: eraseKen, To: []string{"support@example.com"}, Subject: "Inventory attached",
		Body: "Here is the inventory. " + eraseSentence, Files: []testkit.File{{Name: "inventory.txt", ContentType: "text/plain", Data: big}}})
	e.Customer(testkit.Mail{From: "bob@other.example", To: []string{"support@example.com"}, Subject: "Bob's question", Body: "Bob asks about certificates."})
}

// Issue 16 item 2: an erase followed by a byte search of the data
// directory, for a customer who appears only in their own tickets.
func TestEraseCustomerLeavesNoBytes(t *testing.T) {
	bboltOnly(t) // data_dir's files; TestEraseCustomerLeavesNoRowsOnPostgres is the database's
	e := Start(t, Options{NoRelay: true, SMTP: `spool_threshold = "4KiB"`})
	const ken, sentence = eraseKen, eraseSentence
	mailEraseTickets(e)
	// An agent answers Ken on ticket 1: outbound mail to him, written to the outbox.
	e.Agent(testkit.Mail{From: vicFr, To: []string{"support@example.com"}, Subject: "Re: teapot", Body: "#ticket 1\n#assign me\n#status pending\nDear Ken, we are checking the policy."})
	// A looping mail from Ken, quarantined.
	var hops []string
	for i := 0; i < 60; i++ {
		hops = append(hops, fmt.Sprintf("Received: from hop%d.example by hop%d.example; Mon, 7 Dec 2026 09:00:00 +0000", i, i+1))
	}
	e.Customer(testkit.Mail{From: ken, To: []string{"support@example.com"}, Subject: "Loop", Body: sentence, Headers: hops})
	e.Eventually(30*time.Second, func() bool { return e.Outbox().Queued == 0 }, func() string { return e.MustCLI("outbox") })
	var qs []struct{ ID uint64 }
	e.JSON(&qs, "quarantine")
	if len(qs) == 0 {
		t.Fatalf("the looping mail was not quarantined; the test needs a quarantine entry")
	}
	before := e.Show(1)
	if before.Requester != ken || before.Assignee != vic {
		t.Fatalf("ticket 1 before the erase: requester %q, assignee %q", before.Requester, before.Assignee)
	}
	if hits := filesHolding(t, e.Dir, ken, sentence); len(hits) < 3 {
		t.Fatalf("before the erase the address and sentence are in only %v: the byte search would prove nothing", hits)
	}
	if m, err := filepath.Glob(filepath.Join(e.Dir, "blobs", "*", "*.eml")); err != nil || len(m) == 0 {
		t.Fatalf("no blob file before the erase: %v", err)
	}

	// Without --yes: a count, exit 1, nothing changed.
	out, _, code := e.CLI("customer", "erase", ken)
	if code != 1 || !strings.Contains(out, "would erase") || !strings.Contains(out, "--yes") {
		t.Errorf("erase without --yes: exit %d, %q", code, out)
	}
	if tk := e.Show(1); tk.Requester != ken || len(tk.Comments) == 0 || tk.Comments[0].Text == "" {
		t.Fatalf("erase without --yes changed ticket 1: %+v", tk)
	}

	var ev erasureView
	e.JSON(&ev, "customer", "erase", ken, "--yes")
	r := ev.Record
	t.Logf("erasure: %+v; compact %+v", r, ev.Compact)
	if r.Tickets != 2 || r.Messages < 3 || r.Blobs < 1 || r.Outbound < 2 || r.OutboxFiles < 2 || r.Quarantine != 1 || r.IndexEntries < 3 || r.OtherTickets != 0 || r.By != "cli" || r.Via != "cli" {
		t.Errorf("erasure record %+v: want 2 tickets, ≥3 mails, ≥1 blob, ≥2 outbound with their files, 1 quarantined, index entries, no other tickets, by cli", r)
	}
	if ev.Compact.Before <= 0 || ev.Compact.After <= 0 {
		t.Errorf("the erase did not report its compaction: %+v", ev.Compact)
	}
	if hits := filesHolding(t, e.Dir, ken, sentence, "Eraseme", "teapot inventory line"); len(hits) > 0 {
		t.Errorf("after the erase, files under data_dir still hold their data: %v", hits)
	}

	// The shells keep their figures.
	tk := e.Show(1)
	var shell struct {
		Erased *time.Time `json:"erased"`
	}
	e.JSON(&shell, "show", "1")
	if shell.Erased == nil || tk.Requester != "" || tk.Subject != "" || tk.Status != "pending" || tk.Assignee != vic || !tk.Created.Equal(before.Created) || len(tk.CCs) != 0 {
		t.Errorf("ticket 1 after the erase: erased %v, %+v", shell.Erased, tk)
	}
	for _, c := range tk.Comments {
		if c.Text != "" || c.MessageID != "" {
			t.Errorf("comment %d of the shell keeps text %q / message-id %q", c.ID, c.Text, c.MessageID)
		}
	}
	if len(tk.Attachments) != 0 {
		t.Errorf("the shell keeps attachments: %+v", tk.Attachments)
	}
	if bob := e.Show(3); bob.Requester != "bob@other.example" || !strings.Contains(bob.Comments[0].Text, "Bob asks") {
		t.Errorf("someone else's ticket changed: %+v", bob)
	}
	e.JSON(&qs, "quarantine")
	if len(qs) != 0 {
		t.Errorf("quarantine after the erase: %+v", qs)
	}

	// The record: listed, and naming no one.
	var rs []map[string]any
	e.JSON(&rs, "erasures")
	if len(rs) != 1 || rs[0]["by"] != "cli" || rs[0]["tickets"] != float64(2) {
		t.Errorf("erasures: %+v", rs)
	}
	human := e.MustCLI("erasures")
	if all := fmt.Sprint(rs) + human; strings.Contains(strings.ToLower(all), "ken") || strings.Contains(all, "teapot") {
		t.Errorf("the erasure record names the person: %s", all)
	}

	// Later mail from the address starts fresh, also when it answers an
	// old thread by its Message-ID or the subject's [#1] tag.
	e.Customer(testkit.Mail{From: ken, To: []string{"support@example.com"}, Subject: "Re: [#1] Teapot insurance question", Body: "Any news?"})
	var list []struct {
		ID        uint64 `json:"id"`
		Requester string `json:"requester"`
	}
	e.JSON(&list, "tickets", "--limit", "1")
	if len(list) != 1 || list[0].ID != 4 || list[0].Requester != ken {
		t.Errorf("Ken's next mail: newest ticket %+v, want a fresh ticket 4 of his", list)
	}
	if n := len(e.Show(1).Comments); n > len(before.Comments) {
		t.Errorf("the shell got %d comments after the erase (had %d)", n, len(before.Comments))
	}
}

// A customer CC'd on someone else's ticket: erased from its lists and
// texts, the other people's raw mail kept and counted.
func TestEraseCustomerCCdElsewhere(t *testing.T) {
	e := Start(t, Options{})
	const amy, ken = "amy@e-fun.example", "ken.cc@e-fun.example"
	e.Customer(testkit.Mail{From: amy, To: []string{"support@example.com"}, Cc: []string{"Ken CC <" + ken + ">"},
		Subject: "Shared question", Body: "Ken (" + ken + ") and I need new certificates."})
	tk := e.Show(1)
	if len(tk.CCs) != 1 || tk.CCs[0] != ken {
		t.Fatalf("ticket 1 CCs %v, want Ken", tk.CCs)
	}
	ack := e.Find(amy, "[#1]")
	// Ken answers all.
	e.Customer(testkit.Mail{From: ken, To: []string{"support@example.com"}, Cc: []string{amy}, Subject: "Re: " + ack.Header("Subject"),
		InReplyTo: Addr(ack.Header("Message-ID")), Body: "Me too, please: for www.ken.example."})
	if tk = e.Show(1); len(tk.Comments) < 2 {
		t.Fatalf("Ken's reply did not land on ticket 1: %+v", tk.Comments)
	}
	kenGot := len(e.Mailbox(ken))

	var ev erasureView
	e.JSON(&ev, "customer", "erase", ken, "--yes")
	r := ev.Record
	if r.Tickets != 0 || r.OtherTickets != 1 || r.Replaced < 2 || r.KeptRaw < 1 || r.Messages != 1 {
		t.Errorf("erasure record %+v: want no own ticket, 1 other ticket, replacements, Amy's raw mail kept, Ken's one mail removed", r)
	}
	tk = e.Show(1)
	if tk.Requester != amy || len(tk.CCs) != 0 {
		t.Errorf("ticket 1 after the erase: requester %q, CCs %v", tk.Requester, tk.CCs)
	}
	for _, th := range tk.Threads {
		for _, p := range th.Participants {
			if strings.Contains(p, "ken.cc") {
				t.Errorf("thread %d participants still list Ken: %v", th.ID, th.Participants)
			}
		}
	}
	var kenAuthored bool
	for _, c := range tk.Comments {
		if strings.Contains(strings.ToLower(c.Text), ken) || strings.EqualFold(c.Author, ken) {
			t.Errorf("comment %d still names Ken: author %q, text %q", c.ID, c.Author, c.Text)
		}
		if c.Author == "[erased]" {
			kenAuthored = true
			if !strings.Contains(c.Text, "www.ken.example") {
				t.Errorf("Ken's comment on Amy's ticket lost its text: %q", c.Text)
			}
		}
	}
	if !kenAuthored {
		t.Errorf("no comment is marked as by [erased]: %+v", tk.Comments)
	}
	// Amy's next update reaches Amy and the agents, not Ken.
	e.Customer(testkit.Mail{From: amy, To: []string{"support@example.com"}, Subject: "Re: " + ack.Header("Subject"),
		InReplyTo: Addr(ack.Header("Message-ID")), Body: "Any news?"})
	if n := len(e.Mailbox(ken)); n != kenGot {
		t.Errorf("Ken got %d more mails after his erasure", n-kenGot)
	}
}

var _ = claim("an erased customer's tickets stay in the reports: the report by agents, groups and mailboxes reads the same before and after the erase, and the tickets report keeps one row per ticket",
	"TestEraseKeepsReportCounts")

// Issue 16 item 2: the shells keep their figures "so reports keep their
// counts".
func TestEraseKeepsReportCounts(t *testing.T) {
	// A manual clock: the period "30d" ends at the same instant twice.
	e := Start(t, Options{Config: Staff + "\n[testing]\nclock = \"manual\"\n"})
	const ken = "ken.report@e-fun.example"
	for i, subj := range []string{"First question", "Second question"} {
		e.Customer(testkit.Mail{From: ken, To: []string{"support@example.com"}, Subject: subj, Body: "Ken asks."})
		e.Agent(testkit.Mail{From: vicFr, To: []string{"support@example.com"}, Subject: "Re: " + subj,
			Body: fmt.Sprintf("#ticket %d\n#assign me\n#status resolved\nDear Ken, done.", i+1)})
	}
	e.Customer(testkit.Mail{From: "bob@other.example", To: []string{"support@example.com"}, Subject: "Bob's", Body: "Bob asks."})
	e.MustCLI("clock", "advance", "1h") // the period ends after every ticket's times
	reports := func() map[string]string {
		out := map[string]string{}
		for _, by := range []string{"agents", "groups", "mailboxes"} {
			out[by] = e.MustCLI("report", "--period", "30d", "--by", by, "--format", "json")
		}
		out["tickets"] = e.MustCLI("report", "--period", "30d", "--by", "tickets")
		return out
	}
	before := reports()
	if !strings.Contains(before["agents"], vic) {
		t.Fatalf("the report before the erase has no row of Victoria:\n%s", before["agents"])
	}
	var ev erasureView
	e.JSON(&ev, "customer", "erase", ken, "--yes")
	if ev.Record.Tickets != 2 {
		t.Fatalf("erasure record %+v: want 2 tickets", ev.Record)
	}
	after := reports()
	for _, by := range []string{"agents", "groups", "mailboxes"} {
		if after[by] != before[by] {
			t.Errorf("the report by %s changed with the erase:\nbefore %s\nafter  %s", by, before[by], after[by])
		}
	}
	rows := func(csv string) int { return strings.Count(strings.TrimSpace(csv), "\n") }
	if rows(after["tickets"]) != rows(before["tickets"]) || rows(before["tickets"]) < 3 {
		t.Errorf("the tickets report had %d rows, has %d after the erase:\n%s", rows(before["tickets"]), rows(after["tickets"]), after["tickets"])
	}
	if strings.Contains(after["tickets"], ken) || strings.Contains(after["tickets"], "First question") {
		t.Errorf("the tickets report names the erased customer:\n%s", after["tickets"])
	}
}
