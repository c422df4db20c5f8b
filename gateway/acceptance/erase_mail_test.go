package acceptance

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/postgres/pgtest"
)

var (
	_ = claim("an admin erases a customer by mail: #customer erase on their ticket is answered with a confirmation code (valid 15 minutes on the ticket clock, for that admin and that customer); a second mail quoting it (#customer erase confirm CODE) erases them as `helpdesk customer erase --yes` does, compaction included, and the admin gets a transcript with the erasure record's counts that names no one; afterwards neither the address nor a sentence of theirs is in any file under data_dir (or any row on PostgreSQL)",
		"TestEraseByMail", "TestEraseByMailOnPostgres")
	_ = claim("#customer erase is refused for agents; a wrong or expired confirmation code, and a code sent again after the erase, are refused with a transcript saying why, and nothing more is erased",
		"TestEraseByMail")
)

var eraseCodeRE = regexp.MustCompile(`#customer erase confirm ([A-Z0-9]{4}-[A-Z0-9]{4})`)

// Issue 16 item 2, by mail: two mails from an admin, then a byte search.
func TestEraseByMail(t *testing.T) {
	eraseByMail(t, os.Getenv("HELPDESK_TEST_STORE"))
}

func TestEraseByMailOnPostgres(t *testing.T) {
	eraseByMail(t, "postgres")
}

func eraseByMail(t *testing.T, engine string) {
	o := Options{Config: Staff + "\n[testing]\nclock = \"manual\"\n", SMTP: `spool_threshold = "4KiB"`}
	if engine == "postgres" {
		o.Store, o.DSN = "postgres", pgtest.NewDB(t)
	}
	e := Start(t, o)
	const ken = "ken.gone@e-fun.example"
	const ada, adaFr = "ada@certs.example", "Ada <ada@certs.example>"
	const sentence = "The spare key is under the blue flowerpot at 12 Elm Road."
	needles := []string{ken, sentence}
	search := func() []string {
		if engine == "postgres" {
			return pgRowsHolding(t, o.DSN, needles...)
		}
		return filesHolding(t, e.Dir, needles...)
	}
	n := e.Open("Ken Gone <"+ken+">", "Locked out", sentence+"\nKen", ada)
	vicNote := e.Find(vic, "Locked out")
	e.Reply(vicFr, vicNote, "#assign me\nDear Ken, a locksmith is on the way.")
	if hits := search(); len(hits) == 0 {
		t.Fatalf("before the erase the data is nowhere: the search would prove nothing")
	}
	transcript := func(who string, k int) *testkit.Received {
		t.Helper()
		ms := e.Count(who, k)
		if len(ms) < k {
			t.FailNow()
		}
		return ms[k-1]
	}
	sent := func(who string) int { return len(e.Mailbox(who)) }

	// An agent may not.
	k := sent(vic)
	e.Reply(vicFr, vicNote, "#customer erase")
	if tr := transcript(vic, k+1); !strings.Contains(Text(tr), "> #customer erase\nERROR: #customer erase is for admins only") {
		t.Errorf("an agent's #customer erase:\n%s", Text(tr))
	}

	// The admin asks: a code, and what it will do.
	k = sent(ada)
	e.Reply(adaFr, n, "#customer erase")
	tr := transcript(ada, k+1)
	m := eraseCodeRE.FindStringSubmatch(Text(tr))
	if m == nil || !strings.Contains(Text(tr), "erasing "+ken+" cannot be undone") {
		t.Fatalf("the admin's #customer erase got no code:\n%s", Text(tr))
	}
	// 16 minutes later it has expired.
	e.MustCLI("clock", "advance", "16m")
	e.Reply(adaFr, n, "#customer erase confirm "+m[1])
	if tr := transcript(ada, k+2); !strings.Contains(Text(tr), "ERROR: the code expired at") {
		t.Errorf("an expired code:\n%s", Text(tr))
	}
	// A new code; a wrong one is refused, and an agent cannot use the
	// admin's.
	e.Reply(adaFr, n, "#customer erase")
	m = eraseCodeRE.FindStringSubmatch(Text(transcript(ada, k+3)))
	if m == nil {
		t.Fatal("no second code")
	}
	e.Reply(adaFr, n, "#customer erase confirm AAAA-AAAA")
	if tr := transcript(ada, k+4); !strings.Contains(Text(tr), "ERROR: wrong confirmation code: nothing was erased") {
		t.Errorf("a wrong code:\n%s", Text(tr))
	}
	e.Reply(vicFr, vicNote, "#customer erase confirm "+m[1])
	if tr := transcript(vic, sent(vic)); !strings.Contains(Text(tr), "ERROR: #customer erase is for admins only") {
		t.Errorf("an agent quoting the admin's code:\n%s", Text(tr))
	}
	if tk := e.Show(1); tk.Requester != ken {
		t.Fatalf("refused mails changed ticket 1: requester %q", tk.Requester)
	}

	// The second mail that counts: the erase runs, the admin is told.
	confirm := "#customer erase confirm " + strings.ToLower(m[1])
	e.Reply(adaFr, n, confirm)
	e.Eventually(2*time.Minute, func() bool { return sent(ada) >= k+5 }, func() string { return e.Logs() })
	done := transcript(ada, k+5)
	var rs []struct {
		ID                          uint64
		By, Via                     string
		Tickets, Messages, Outbound int
		Comments                    int
	}
	e.JSON(&rs, "erasures")
	if len(rs) != 1 || rs[0].By != ada || rs[0].Via != "mail" || rs[0].Tickets != 1 || rs[0].Messages < 5 || rs[0].Outbound < 3 {
		t.Fatalf("erasures after the confirmation: %+v", rs)
	}
	r := rs[0]
	if !strings.HasPrefix(done.Header("Subject"), fmt.Sprintf("Customer erased: erasure record %d", r.ID)) ||
		!strings.Contains(Text(done), fmt.Sprintf("the customer was erased (erasure record %d, `helpdesk erasures`): %d tickets left as shells; %d comments", r.ID, r.Tickets, r.Comments)) ||
		!strings.Contains(Text(done), fmt.Sprintf("%d raw mails", r.Messages)) || !strings.Contains(Text(done), "The store was compacted") {
		t.Errorf("the admin's transcript (%q) does not give the record %+v:\n%s", done.Header("Subject"), r, Text(done))
	}
	t.Logf("the code:\n%s\nthe erase:\n%s", Text(tr), Text(done))
	NoneOf(t, ada, done, ken, "Ken", "Locked out", "flowerpot")
	if hits := search(); len(hits) > 0 {
		t.Errorf("after the erase by mail the data is still in %v", hits)
	}
	if tk := e.Show(1); tk.Requester != "" || tk.Assignee != vic {
		t.Errorf("ticket 1 after the erase: requester %q, assignee %q", tk.Requester, tk.Assignee)
	}

	// The same confirmation again: refused, nothing more happens.
	e.Reply(adaFr, n, confirm)
	if tr := transcript(ada, k+6); !strings.Contains(Text(tr), "ERROR: #customer erase needs the customer's ticket, and this mail is about none") ||
		!strings.Contains(Text(tr), "a confirmation code works once") {
		t.Errorf("a replayed confirmation:\n%s", Text(tr))
	}
	e.JSON(&rs, "erasures")
	if len(rs) != 1 {
		t.Errorf("erasures after the replay: %+v", rs)
	}
}
