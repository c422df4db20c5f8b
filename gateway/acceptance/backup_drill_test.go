package acceptance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("`helpdesk backup` taken while mail flows is the store at one instant: restored into an empty data_dir it holds exactly the mails committed before that instant (every one answered 250 before the backup began, none sent after it ended, and none without every mail committed before it), each with its whole ticket, comments, blob file and queued outbound mail; a daemon started on it delivers that queue, files byte for byte",
	"TestBackupUnderLoadRestoresItsInstant")

// sentMail is one mail of the drill, as its client saw it.
type sentMail struct {
	id         string // Message-ID
	kind       string // new, reply, staff
	raw        []byte // as sent
	big        bool   // over spool_threshold: a blob file
	start, end time.Time
	ok         bool // answered 250
}

// The backup's instant is the snapshot's: a prefix of the store's
// commits. The test finds which mails it holds (by Message-ID), then
// checks that set against what the clients saw (every mail answered 250
// before `helpdesk backup` began is in it, no mail whose DATA began after
// it returned is, and a mail in it implies every mail answered 250 before
// that one's DATA began: commits are ordered) and against the live store
// after the flow (each restored ticket's comments are the first ones of
// the live ticket, exactly those of the mails in the set; the restored
// queue is the live queue's first items, exactly those those mails
// caused). The relay refuses mail during the flow, so every outbound item
// of the instant is still queued in the backup.
func TestBackupUnderLoadRestoresItsInstant(t *testing.T) {
	bboltOnly(t)
	sink := testkit.StartSink(t)
	sink.SetFail(true)
	e := Start(t, Options{Sink: sink, SMTP: `spool_threshold = "64KiB"`})
	big := bytes.Repeat([]byte("0123456789abcdef backup drill attachment line\n"), 2000) // 94 KiB

	var (
		mu    sync.Mutex
		mails []*sentMail
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	opened := func() (ids []string) { // Message-IDs of new tickets answered 250 so far
		mu.Lock()
		defer mu.Unlock()
		for _, m := range mails {
			if m.kind == "new" && m.ok {
				ids = append(ids, m.id)
			}
		}
		return ids
	}
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				m := &sentMail{id: fmt.Sprintf("drill-%d-%d@client.test", c, i), kind: "new"}
				from, rcpt := fmt.Sprintf("cust%d@e-fun.example", c), []string{"support@example.com"}
				mail := testkit.Mail{From: from, To: rcpt, MessageID: m.id, Subject: fmt.Sprintf("Drill %d/%d", c, i),
					Body: fmt.Sprintf("Mail %d of client %d.\n", i, c)}
				ids := opened()
				switch {
				case i%7 == 3 && len(ids) > 0: // a staff command on some open ticket
					m.kind = "staff"
					from = vic
					mail.From = vicFr
					n := 1 + (i*13+c)%len(ids)
					mail.Subject = "status"
					mail.Body = fmt.Sprintf("#ticket %d\n#status pending\n#tag +drill%d\nLooking into it (%d/%d).\n", n, c, c, i)
				case i%3 == 2 && len(ids) > 0: // a customer's answer to an earlier ticket
					m.kind = "reply"
					mail.InReplyTo = ids[(i*7+c)%len(ids)]
					mail.Subject = "Re: drill"
					mail.Body = fmt.Sprintf("Answer %d of client %d.\n", i, c)
				case i%5 == 0:
					m.big = true
					mail.Files = []testkit.File{{Name: "dump.txt", ContentType: "text/plain", Data: big}}
				}
				m.raw = mail.Build()
				if m.kind == "staff" {
					m.raw = e.Signer.Sign(t, m.raw)
				}
				mu.Lock()
				mails = append(mails, m)
				mu.Unlock()
				m.start = time.Now()
				err := e.Send(from, rcpt, m.raw)
				mu.Lock()
				m.end, m.ok = time.Now(), err == nil
				mu.Unlock()
			}
		}(c)
	}
	// The backup in the middle of the flow.
	e.Eventually(60*time.Second, func() bool { return len(opened()) >= 20 }, func() string { return "20 tickets opened" })
	bk := filepath.Join(t.TempDir(), "backup.tar")
	bStart := time.Now()
	e.MustCLI("backup", bk)
	bEnd := time.Now()
	n0 := len(opened())
	e.Eventually(60*time.Second, func() bool { return len(opened()) >= n0+20 }, func() string { return "20 more tickets after the backup" })
	close(stop)
	wg.Wait()

	// The live store after the flow.
	var live []Ticket
	var liveList []struct{ ID uint64 }
	e.JSON(&liveList, "tickets", "--limit", "100000")
	for _, tk := range liveList {
		live = append(live, *e.Show(tk.ID))
	}
	liveOut := drillOutbox(t, e.MustCLI("outbox", "--limit", "100000", "--json"))
	e.Stop()

	// The restored store, read before any daemon runs on it.
	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "restore.toml")
	text, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, bytes.ReplaceAll(text, []byte(e.Dir), []byte(dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := runBin(t, "restore", bk, "-config", cfg); code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errs)
	}
	cli := func(args ...string) string {
		out, errs, code := runBin(t, append(args, "-config", cfg)...)
		if code != 0 {
			t.Fatalf("helpdesk %v on the restore: exit %d: %s", args, code, errs)
		}
		return out
	}
	var restList []struct{ ID uint64 }
	if err := json.Unmarshal([]byte(cli("tickets", "--limit", "100000", "--json")), &restList); err != nil {
		t.Fatal(err)
	}
	restored := map[uint64]*Ticket{}
	for _, tk := range restList {
		var v Ticket
		if err := json.Unmarshal([]byte(cli("show", fmt.Sprint(tk.ID), "--json")), &v); err != nil {
			t.Fatal(err)
		}
		restored[tk.ID] = &v
	}
	restOut := drillOutbox(t, cli("outbox", "--limit", "100000", "--json"))

	// Which mails the backup holds.
	byID := map[string]*sentMail{}
	for _, m := range mails {
		byID[m.id] = m
	}
	inBackup := map[string]bool{}
	for _, tk := range restored {
		for _, c := range tk.Comments {
			if c.MessageID != "" {
				inBackup[c.MessageID] = true
			}
		}
	}
	var ok250, held int
	for _, m := range mails {
		if !m.ok {
			continue
		}
		ok250++
		switch {
		case m.end.Before(bStart) && !inBackup[m.id]:
			t.Errorf("mail %s (%s) got 250 before the backup began but is not in it", m.id, m.kind)
		case m.start.After(bEnd) && inBackup[m.id]:
			t.Errorf("mail %s (%s) was sent after the backup ended but is in it", m.id, m.kind)
		}
		if inBackup[m.id] {
			held++
			for _, p := range mails {
				if p.ok && p.end.Before(m.start) && !inBackup[p.id] {
					t.Errorf("the backup holds %s but not %s, which was committed before %s was sent", m.id, p.id, m.id)
				}
			}
		}
	}
	for id := range inBackup {
		if m := byID[id]; m == nil || !m.ok {
			t.Errorf("the backup holds %s, which no client had answered 250", id)
		}
	}

	// Every restored ticket is the live ticket as of the instant: its
	// comments the live ones' first, exactly those of the held mails.
	liveByID := map[uint64]*Ticket{}
	for i := range live {
		liveByID[live[i].ID] = &live[i]
	}
	var maxTicket uint64
	for id, r := range restored {
		maxTicket = max(maxTicket, id)
		l := liveByID[id]
		if l == nil {
			t.Errorf("restored ticket %d does not exist in the live store", id)
			continue
		}
		if r.Subject != l.Subject || r.Requester != l.Requester || r.Mailbox != l.Mailbox {
			t.Errorf("ticket %d: restored %q/%s, live %q/%s", id, r.Subject, r.Requester, l.Subject, l.Requester)
		}
		if len(r.Comments) > len(l.Comments) || !reflect.DeepEqual(r.Comments, l.Comments[:len(r.Comments)]) {
			t.Errorf("ticket %d: restored comments are not the first of the live ones:\nrestored %+v\nlive %+v", id, r.Comments, l.Comments)
			continue
		}
		for _, c := range l.Comments[len(r.Comments):] {
			if inBackup[c.MessageID] {
				t.Errorf("ticket %d: comment %d of %s (a mail in the backup) is missing from the restore", id, c.ID, c.MessageID)
			}
		}
		// The ticket record agrees with its comments at the instant.
		status := "open"
		for _, c := range r.Comments {
			if m := statusEvent.FindStringSubmatch(c.Text); c.Kind == "event" && m != nil {
				status = m[1]
			}
		}
		if r.Status != status {
			t.Errorf("ticket %d: restored status %s, its restored events say %s", id, r.Status, status)
		}
		var atts, latts []string
		for _, a := range r.Attachments {
			atts = append(atts, fmt.Sprint(a))
		}
		for _, a := range l.Attachments {
			if int(a.Comment) <= len(r.Comments) {
				latts = append(latts, fmt.Sprint(a))
			}
		}
		if !reflect.DeepEqual(atts, latts) {
			t.Errorf("ticket %d: restored attachments %v, live %v", id, atts, latts)
		}
	}
	if uint64(len(restored)) != maxTicket {
		t.Errorf("the restore holds %d tickets, numbered up to %d: not a prefix", len(restored), maxTicket)
	}
	for _, l := range live {
		if l.ID <= maxTicket {
			continue
		}
		for _, c := range l.Comments {
			if inBackup[c.MessageID] {
				t.Errorf("ticket %d, opened by a mail in the backup (%s), is missing from the restore", l.ID, c.MessageID)
			}
		}
	}

	// The queue: the restored items are the live store's first ones, the
	// same mail, all still queued (the relay refused everything).
	sort.Slice(liveOut, func(i, j int) bool { return liveOut[i].ID < liveOut[j].ID })
	sort.Slice(restOut, func(i, j int) bool { return restOut[i].ID < restOut[j].ID })
	if len(restOut) > len(liveOut) {
		t.Fatalf("restored queue has %d items, the live store %d", len(restOut), len(liveOut))
	}
	queued := 0
	for i, r := range restOut {
		l := liveOut[i]
		if r.ID != uint64(i+1) || r.ID != l.ID || r.State != "queued" || !reflect.DeepEqual(r.stable(), l.stable()) {
			t.Errorf("outbound item %d: restored %+v, live %+v", i+1, r.stable(), l.stable())
		}
		if r.Ticket > maxTicket {
			t.Errorf("restored outbound item %d is about ticket %d, which the restore does not hold", r.ID, r.Ticket)
		}
		queued++
	}

	// Blob files: every big mail in the backup has its file, byte for byte.
	bigHeld := 0
	for id := range inBackup {
		if m := byID[id]; m != nil && m.big {
			bigHeld++
			if !blobHolds(t, dir, m.raw) {
				t.Errorf("no blob file of the restore holds mail %s", id)
			}
		}
	}

	// A daemon on the restore delivers the queue it holds.
	r := Start(t, Options{Dir: dir, SMTP: `spool_threshold = "64KiB"`})
	r.Eventually(120*time.Second, func() bool { return len(r.Sink.All()) >= queued },
		func() string { return fmt.Sprintf("%d of %d queued mails delivered", len(r.Sink.All()), queued) })
	r.Settle()
	if got := len(r.Sink.All()); got != queued {
		t.Errorf("the restored daemon delivered %d mails, its queue held %d", got, queued)
	}
	files := 0
	for _, m := range r.Sink.All() {
		for _, a := range m.Env.Attachments {
			if a.FileName == "dump.txt" {
				files++
				if !bytes.Equal(a.Content, big) {
					t.Errorf("a delivered copy of dump.txt differs from the original")
				}
			}
		}
	}
	t.Logf("%d mails answered 250, %d in the backup (taken in %v), %d tickets, %d queued outbound mails, %d blob mails; %d files delivered from the restore",
		ok250, held, bEnd.Sub(bStart).Round(time.Millisecond), len(restored), queued, bigHeld, files)
	if held == 0 || held == ok250 || bigHeld == 0 {
		t.Errorf("the backup should fall inside the flow with blob mails in it: %d of %d mails, %d big", held, ok250, bigHeld)
	}
}

var statusEvent = regexp.MustCompile(`^status \S+ → (\S+)`)

// outItem is one item of `helpdesk outbox --json`.
type outItem struct {
	ID      uint64    `json:"id"`
	Ticket  uint64    `json:"ticket"`
	Kind    string    `json:"kind"`
	State   string    `json:"state"`
	Rcpt    string    `json:"rcpt"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	Created time.Time `json:"created"`
	Attach  []struct {
		Name string `json:"name"`
		Size int64  `json:"size"`
	} `json:"attach"`
}

// stable is what an item is, leaving out its delivery attempts.
func (o outItem) stable() string {
	return fmt.Sprintf("%d %d %s %s %q %q %v %v", o.ID, o.Ticket, o.Kind, o.Rcpt, o.Subject, o.Text, o.Attach, o.Created.UnixNano())
}

func drillOutbox(t *testing.T, out string) []outItem {
	t.Helper()
	var v struct{ Items []outItem }
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("outbox --json: %v", err)
	}
	return v.Items
}

// blobHolds reports whether a file under dir/blobs ends with raw (the
// stored mail is our Received line and the mail as sent).
func blobHolds(t *testing.T, dir string, raw []byte) bool {
	found := false
	filepath.WalkDir(filepath.Join(dir, "blobs"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || found {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.HasSuffix(b, raw) {
			found = true
		}
		return nil
	})
	return found
}
