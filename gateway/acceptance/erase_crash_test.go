package acceptance

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/postgres/pgtest"
)

var _ = claim("an erase confirmed by mail survives a crash (kill -9) at any point after the confirming mail's 250: the pending erase is recorded in that mail's write, and the daemon resumes it when it starts again (again after a crash in the erase's own write or in its compaction): then no file under data_dir (or row on PostgreSQL) holds the address or a sentence of theirs, the admin gets exactly one transcript, the customer nothing, and `helpdesk customer ADDR` knows no profile",
	"TestEraseByMailSurvivesCrashes", "TestEraseByMailSurvivesCrashesOnPostgres")

// The crash window of issue 16's erase by mail: the confirming mail is
// committed (250, code used) and the daemon is killed before the erase
// ran; then killed again while resuming it, once after its write and
// once in its compaction. HELPDESK_TEST_HOLD (store/testhook) stops
// the daemon at each of those points, so the kill lands exactly there.
func TestEraseByMailSurvivesCrashes(t *testing.T) {
	eraseCrash(t, os.Getenv("HELPDESK_TEST_STORE"))
}

func TestEraseByMailSurvivesCrashesOnPostgres(t *testing.T) {
	eraseCrash(t, "postgres")
}

func eraseCrash(t *testing.T, engine string) {
	o := Options{SMTP: `spool_threshold = "4KiB"`, Env: []string{"HELPDESK_TEST_HOLD=erase-confirmed"}}
	if engine == "postgres" {
		o.Store, o.DSN = "postgres", pgtest.NewDB(t)
	}
	e := Start(t, o)
	const ken = "ken.crash@e-fun.example"
	const adaFr = "Ada <ada@certs.example>"
	const sentence = "The spare key is under the blue flowerpot at 12 Elm Road."
	needles := []string{ken, sentence, "flowerpot inventory line"}
	search := func() []string {
		hits := filesHolding(t, e.Dir, needles...)
		if engine == "postgres" {
			hits = append(hits, pgRowsHolding(t, o.DSN, needles...)...)
		}
		return hits
	}
	// Large enough to be a blob file (bbolt) or a row of table blobs.
	big := bytes.Repeat([]byte("flowerpot inventory line 12\n"), 1000)
	e.Customer(testkit.Mail{From: "Ken Crash <" + ken + ">", To: []string{"support@example.com"}, Subject: "Locked out",
		Body: sentence + "\nKen", Files: []testkit.File{{Name: "inventory.txt", ContentType: "text/plain", Data: big}}})
	n := e.Find(ada, "Locked out")
	if n == nil {
		t.Fatal("the admin got no notification of the new ticket")
	}
	e.Reply(vicFr, e.Find(vic, "Locked out"), "#assign me\n#customer tag +vip\n#customer note Prefers the back door\nDear Ken, a locksmith is on the way.")
	if p := e.Profile(ken); len(p.Tags) == 0 || len(p.Notes) == 0 {
		t.Fatalf("Ken's profile before the erase: %+v", p)
	}
	if hits := search(); len(hits) < 2 {
		t.Fatalf("before the erase the data is only in %v: the search would prove nothing", hits)
	}
	kenHad := len(e.Mailbox(ken))
	if kenHad == 0 {
		t.Fatal("Ken got no mail before the erase (acknowledgement, the agent's answer)")
	}

	k := len(e.Mailbox(ada))
	e.Reply(adaFr, n, "#customer erase")
	ms := e.Count(ada, k+1)
	m := eraseCodeRE.FindStringSubmatch(Text(ms[k]))
	if m == nil {
		t.Fatalf("the admin's #customer erase got no code:\n%s", Text(ms[k]))
	}
	// The confirming mail gets its 250; the daemon stops at the hold and
	// is killed there.
	e.Reply(adaFr, n, "#customer erase confirm "+m[1])
	crashAt := func(point string) {
		t.Helper()
		e.Eventually(2*time.Minute, func() bool { return strings.Contains(e.Logs(), "holding at "+point) },
			func() string { return "the daemon never reached " + point + ":\n" + e.Logs() })
		e.Crash()
	}
	crashAt("erase-confirmed")
	if tk := e.Show(1); tk.Requester != ken {
		t.Fatalf("the erase ran before the hold (requester %q): the test proves nothing", tk.Requester)
	}
	// Started again, it resumes the erase: killed after the erase's write,
	// then in the compaction, then left to finish.
	e.StartAgain("HELPDESK_TEST_HOLD=erase-erased")
	crashAt("erase-erased")
	e.StartAgain("HELPDESK_TEST_HOLD=compact")
	crashAt("compact")
	e.StartAgain()

	done := func() bool {
		for _, r := range e.Mailbox(ada)[k+1:] {
			if strings.HasPrefix(r.Header("Subject"), "Customer erased") {
				return true
			}
		}
		return false
	}
	e.Eventually(2*time.Minute, done, func() string { return e.Logs() })
	e.Settle()
	got := e.Mailbox(ada)[k+1:]
	if len(got) != 1 {
		var subj []string
		for _, r := range got {
			subj = append(subj, r.Header("Subject"))
		}
		t.Fatalf("after the crashes the admin got %d mails %q, want exactly one transcript", len(got), subj)
	}
	tr := got[0]
	var rs []struct {
		ID                          uint64
		By, Via                     string
		Tickets, Messages, Outbound int
		State                       string
	}
	e.JSON(&rs, "erasures")
	if len(rs) != 1 || rs[0].By != ada || rs[0].Via != "mail" || rs[0].Tickets != 1 || rs[0].Messages < 3 || rs[0].State != "" {
		t.Fatalf("erasures after the crashes: %+v", rs)
	}
	WantText(t, "the admin's transcript", tr, "the customer was erased (erasure record", "The store was compacted")
	NoneOf(t, ada, tr, ken, "Ken", "Locked out", "flowerpot")
	if got := len(e.Mailbox(ken)); got != kenHad {
		t.Errorf("Ken got %d mails after the erase was confirmed, want none", got-kenHad)
	}
	if hits := search(); len(hits) > 0 {
		t.Errorf("after the resumed erase the data is still in %v", hits)
	}
	if tk := e.Show(1); tk.Requester != "" || tk.Assignee != vic {
		t.Errorf("ticket 1 after the erase: requester %q, assignee %q", tk.Requester, tk.Assignee)
	}
	if out, _, code := e.CLI("customer", ken, "--json"); code == 0 {
		t.Errorf("helpdesk customer %s --json after the erase: exit 0, %s", ken, out)
	}
	// One more start finds nothing left to do: no second transcript.
	e.Restart()
	e.Settle()
	if n := len(e.Mailbox(ada)); n != k+2 {
		t.Errorf("after another restart the admin has %d mails, want %d", n, k+2)
	}
	// Later mail from the address starts a fresh profile: no tag, note or
	// ticket of before.
	e.Customer(testkit.Mail{From: "Ken Again <" + ken + ">", To: []string{"support@example.com"}, Subject: "New door", Body: "Hello again."})
	p := e.Profile(ken)
	if p.Name != "Ken Again" || len(p.Tags) != 0 || len(p.Notes) != 0 || len(p.Requested) != 1 || p.Requested[0].ID != 2 || len(p.Timeline) != 1 {
		t.Errorf("Ken's profile after the erase and a new mail is not fresh: %+v", p)
	}
}

var _ = claim("on a PostgreSQL database several daemons share, an erase confirmed by mail at any of them is run by the leader only, and once: when the leader is killed holding the confirmed erase, the daemon that takes over the lead runs it, the admin gets one transcript, and the killed daemon, started again, does nothing more",
	"TestEraseByMailRunsOnceOnSharedPostgres")

func TestEraseByMailRunsOnceOnSharedPostgres(t *testing.T) {
	dsn := pgtest.NewDB(t)
	leads := func(e *Env) func() bool {
		return func() bool { return strings.Contains(e.Logs(), "this node leads") }
	}
	a := Start(t, Options{Config: Staff + pgConfig(dsn, "mx1"), Env: []string{"HELPDESK_TEST_HOLD=erase-confirmed"}})
	a.Eventually(60*time.Second, leads(a), func() string { return "the first daemon does not lead:\n" + a.Logs() })
	b := Start(t, Options{Config: Staff + pgConfig(dsn, "mx2"), Sink: a.Sink})
	const ken = "ken.shared@e-fun.example"
	const adaFr = "Ada <ada@certs.example>"
	const sentence = "The spare key is under the red flowerpot at 14 Elm Road."
	b.Customer(testkit.Mail{From: "Ken Shared <" + ken + ">", To: []string{"support@example.com"}, Subject: "Locked out again", Body: sentence})
	n := b.Find(ada, "Locked out again")
	if n == nil {
		t.Fatal("the admin got no notification of the new ticket")
	}
	k := len(b.Mailbox(ada))
	b.Reply(adaFr, n, "#customer erase")
	m := eraseCodeRE.FindStringSubmatch(Text(b.Count(ada, k+1)[k]))
	if m == nil {
		t.Fatal("no confirmation code")
	}
	// Confirmed at the daemon that does not lead: the leader runs it.
	b.Reply(adaFr, n, "#customer erase confirm "+m[1])
	a.Eventually(2*time.Minute, func() bool { return strings.Contains(a.Logs(), "holding at erase-confirmed") },
		func() string {
			return "the leader did not take up the confirmed erase:\n" + a.Logs() + "\n---\n" + b.Logs()
		})
	if strings.Contains(b.Logs(), "erase by mail: erasing") {
		t.Fatalf("the daemon that does not lead ran the erase:\n%s", b.Logs())
	}
	a.Crash()
	b.Eventually(60*time.Second, leads(b), func() string { return "the survivor did not take over:\n" + b.Logs() })
	transcripts := func() (n int) {
		for _, r := range b.Mailbox(ada)[k+1:] {
			if strings.HasPrefix(r.Header("Subject"), "Customer erased") {
				n++
			}
		}
		return n
	}
	b.Eventually(2*time.Minute, func() bool { return transcripts() > 0 }, func() string { return b.Logs() })
	a.StartAgain()
	a.Settle()
	b.Settle()
	if got := len(b.Mailbox(ada)) - (k + 1); got != 1 || transcripts() != 1 {
		t.Errorf("the admin got %d mails after the confirmation (%d transcripts), want exactly one transcript", got, transcripts())
	}
	if runs := strings.Count(a.Logs(), "erase by mail: erasing") + strings.Count(b.Logs(), "erase by mail: erasing"); runs != 1 {
		t.Errorf("the erase ran %d times, want once", runs)
	}
	var rs []struct{ State string }
	a.JSON(&rs, "erasures")
	if len(rs) != 1 || rs[0].State != "" {
		t.Errorf("erasures: %+v, want one, complete", rs)
	}
	if hits := pgRowsHolding(t, dsn, ken, sentence); len(hits) > 0 {
		t.Errorf("after the erase the database still holds %v", hits)
	}
}
