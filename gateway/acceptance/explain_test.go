package acceptance

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("`helpdesk explain FILE [--json]` prints what a mail would do if it arrived now — the authentication verdict and whether the sender counts as authenticated staff, the thread and role it lands on and the rule that decided, the planned commands with problems as the transcript names them, the triggers that fire, the recipients with their view and who is left out and why, the mail queued — and stores and sends nothing: show --json, the outbox, the quarantine, the sink and the accepted count are unchanged, and the same mail delivered afterwards is no duplicate and does what explain said; with the daemon running (control socket) and without it (on the store)",
	"TestExplainStaffReplyStoresAndSendsNothing", "TestExplainForgedStaffIsNotAuthenticated", "TestExplainCustomerReplyNamesTicketAndThread",
	"TestExplainVendorReplyLandsOnSideThread")

// explanation is `helpdesk explain --json`.
type explanation struct {
	Class string `json:"class"`
	Auth  struct {
		Checked            bool     `json:"checked"`
		DMARC              string   `json:"dmarc"`
		DKIMAligned        bool     `json:"dkim_aligned"`
		Failed             []string `json:"failed"`
		Staff              string   `json:"staff"`
		StaffAuthenticated bool     `json:"staff_authenticated"`
		StaffFailure       string   `json:"staff_failure"`
	} `json:"auth"`
	Result struct {
		Message     uint64 `json:"Message"`
		Ticket      uint64 `json:"Ticket"`
		Disposition string `json:"Disposition"`
		Detail      string `json:"Detail"`
		Security    bool   `json:"Security"`
	} `json:"result"`
	Threading *struct {
		Outcome string `json:"outcome"`
		Ticket  uint64 `json:"ticket"`
		Thread  uint32 `json:"thread"`
		Role    string `json:"role"`
		Key     string `json:"key"`
		Reason  string `json:"reason"`
	} `json:"threading"`
	Commands []struct {
		Ticket     uint64   `json:"ticket"`
		OK         bool     `json:"ok"`
		Transcript string   `json:"transcript"`
		Problems   []string `json:"problems"`
		Changes    []string `json:"changes"`
	} `json:"commands"`
	Triggers []struct {
		Ticket uint64 `json:"ticket"`
		Name   string `json:"name"`
	} `json:"triggers"`
	Audience []struct {
		Ticket     uint64 `json:"ticket"`
		Kind       string `json:"kind"`
		Recipients []struct {
			Addr string `json:"addr"`
			View string `json:"view"`
		} `json:"recipients"`
		Left []struct {
			Addr string `json:"addr"`
			Why  string `json:"why"`
		} `json:"left"`
	} `json:"audience"`
	Mail []struct {
		Ticket uint64 `json:"ticket"`
		Kind   string `json:"kind"`
		Rcpt   string `json:"rcpt"`
	} `json:"mail"`
}

// explain writes raw to a file and runs `helpdesk explain FILE --json`
// and the human form; it returns the decoded JSON and the human text.
func explain(e *Env, raw []byte, args ...string) (*explanation, string) {
	e.T.Helper()
	f := filepath.Join(e.Dir, "explain.eml")
	if err := os.WriteFile(f, raw, 0o600); err != nil {
		e.T.Fatal(err)
	}
	out := e.MustCLI(append([]string{"explain", f, "--json"}, args...)...)
	var x explanation
	if err := json.Unmarshal([]byte(out), &x); err != nil {
		e.T.Fatalf("explain --json: %v\n%s", err, out)
	}
	return &x, e.MustCLI(append([]string{"explain", f}, args...)...)
}

// state is everything explain must leave alone.
type state struct {
	show, outbox, quarantine string
	sink                     int
}

func snapshotState(e *Env, ticket string) state {
	e.T.Helper()
	return state{
		show:       e.MustCLI("show", ticket, "--json"),
		outbox:     outboxItems(e),
		quarantine: e.MustCLI("quarantine", "--json"),
		sink:       len(e.Sink.All()),
	}
}

// outboxItems is the outbox's counts and items (the relay's state is the
// daemon's view and differs without one).
func outboxItems(e *Env) string {
	e.T.Helper()
	var o map[string]json.RawMessage
	if err := json.Unmarshal([]byte(e.MustCLI("outbox", "--json", "--limit", "1000")), &o); err != nil {
		e.T.Fatal(err)
	}
	delete(o, "relay")
	b, _ := json.Marshal(o)
	return string(b)
}

func (s state) same(t *testing.T, what string, o state) {
	t.Helper()
	if s.show != o.show {
		t.Errorf("%s: show --json changed:\nbefore %s\nafter %s", what, s.show, o.show)
	}
	if s.outbox != o.outbox {
		t.Errorf("%s: the outbox changed:\nbefore %s\nafter %s", what, s.outbox, o.outbox)
	}
	if s.quarantine != o.quarantine {
		t.Errorf("%s: the quarantine changed:\nbefore %s\nafter %s", what, s.quarantine, o.quarantine)
	}
	if s.sink != o.sink {
		t.Errorf("%s: the sink received %d mails, want none", what, o.sink-s.sink)
	}
}

func recipientsOf(x *explanation) []string {
	var out []string
	for _, a := range x.Audience {
		for _, r := range a.Recipients {
			out = append(out, r.Addr+" "+r.View)
		}
	}
	return out
}

// Victoria's signed reply with commands: explain lists the authenticated
// staff verdict, the ticket, the planned commands, the trigger that would
// fire, Ken as the customer-view recipient; nothing is stored or sent,
// with the daemon running and without it. Delivered for real afterwards,
// the mail is no duplicate and does what explain said.
func TestExplainStaffReplyStoresAndSendsNothing(t *testing.T) {
	e := Start(t, Options{Config: Staff + `
[[trigger]]
name = "urgent-to-venkat"
all = ["priority is urgent", "priority changed"]
actions = ["#follower +venkat"]
`})
	n1 := e.Open(kenFr, "VPN certificate", "The VPN certificate is expired.", vic)
	reply := e.Signer.Sign(t, testkit.Mail{From: vicFr, To: []string{ReplyTo(n1)}, Subject: "Re: " + n1.Header("Subject"),
		MessageID: e.ID("a"), InReplyTo: strings.Trim(n1.Header("Message-Id"), "<> "),
		Body: "#priority urgent\n#tag +vpn\n#status pending\nHi Ken, we are renewing it now.\n"}.Build())
	e.Settle()
	before := snapshotState(e, "1")
	accepted := e.Metric("helpdesk_messages_accepted_total")

	check := func(how string) {
		x, human := explain(e, reply)
		if !x.Auth.StaffAuthenticated || x.Auth.Staff != vic {
			t.Errorf("%s: auth %+v, want Victoria authenticated", how, x.Auth)
		}
		if x.Threading == nil || x.Threading.Ticket != 1 || x.Result.Ticket != 1 || x.Result.Message != 0 {
			t.Fatalf("%s: threading %+v result %+v, want ticket 1 and no message stored", how, x.Threading, x.Result)
		}
		if len(x.Commands) != 1 || !x.Commands[0].OK || !strings.Contains(x.Commands[0].Transcript, "#priority urgent") ||
			!strings.Contains(strings.Join(x.Commands[0].Changes, "\n"), "urgent") {
			t.Errorf("%s: commands %+v, want the plan of #priority urgent", how, x.Commands)
		}
		if len(x.Triggers) != 1 || x.Triggers[0].Name != "urgent-to-venkat" {
			t.Errorf("%s: triggers %+v, want urgent-to-venkat", how, x.Triggers)
		}
		if rc := recipientsOf(x); !slices.Contains(rc, ken+" customer") {
			t.Errorf("%s: recipients %v, want Ken with the customer view", how, rc)
		}
		var left bool
		for _, a := range x.Audience {
			for _, l := range a.Left {
				left = left || (l.Addr == vic && strings.Contains(l.Why, "author"))
			}
		}
		if !left {
			t.Errorf("%s: audience %+v does not leave out Victoria as the author", how, x.Audience)
		}
		for _, want := range []string{"staff:     " + vic + ", authenticated", "#priority urgent", "urgent-to-venkat", "to " + ken + " (customer view)", "nothing was stored or sent"} {
			if !strings.Contains(human, want) {
				t.Errorf("%s: human output lacks %q:\n%s", how, want, human)
			}
		}
		snapshotState(e, "1").same(t, how, before)
	}
	check("with the daemon")
	if got := e.Metric("helpdesk_messages_accepted_total"); got != accepted {
		t.Errorf("accepted count %v after explain, want %v", got, accepted)
	}
	e.Stop()
	check("without the daemon")
	e.start()

	// The real delivery does what explain said (no duplicate: explain
	// stored no message).
	e.MustSend(vic, []string{ReplyTo(n1)}, reply)
	tk := e.Show(1)
	if tk.Priority != "urgent" || tk.Status != "pending" || !slices.Contains(tk.Followers, venkat) {
		t.Errorf("after delivery: %+v, want urgent, pending, venkat following", tk)
	}
	WantText(t, "reply to Ken", e.Last(ken), "we are renewing it now")
}

// An unsigned mail in Victoria's name: explain says the staff address is
// not authenticated and the mail would be quarantined, running nothing.
func TestExplainForgedStaffIsNotAuthenticated(t *testing.T) {
	e := Start(t, Options{})
	e.Open(kenFr, "VPN certificate", "The VPN certificate is expired.", vic)
	e.Settle()
	before := snapshotState(e, "1")
	forged := testkit.Mail{From: vicFr, To: []string{"support@example.com"}, Subject: "Re: VPN certificate",
		MessageID: e.ID("forged"), Body: "#ticket 1\n#status closed\n"}.Build()
	x, human := explain(e, forged)
	if x.Auth.Staff != vic || x.Auth.StaffAuthenticated || x.Auth.StaffFailure == "" {
		t.Errorf("auth %+v, want Victoria named but not authenticated, with the failure", x.Auth)
	}
	if x.Result.Disposition != "quarantine" || len(x.Commands) != 0 {
		t.Errorf("result %+v commands %+v, want quarantined and no command planned", x.Result, x.Commands)
	}
	if !strings.Contains(human, "NOT authenticated") {
		t.Errorf("human output does not say NOT authenticated:\n%s", human)
	}
	snapshotState(e, "1").same(t, "forged", before)
}

// Ken's reply to his acknowledgement: explain names ticket 1, its main
// thread, Ken's role and the key that decided, and Victoria as the staff
// recipient.
func TestExplainCustomerReplyNamesTicketAndThread(t *testing.T) {
	e := Start(t, Options{})
	e.Open(kenFr, "VPN certificate", "The VPN certificate is expired.", vic)
	ack := e.Last(ken)
	before := snapshotState(e, "1")
	raw := testkit.Mail{From: kenFr, To: []string{ReplyTo(ack)}, Subject: "Re: VPN certificate", MessageID: e.ID("c"),
		Body: "Any news?\n"}.Build()
	x, human := explain(e, raw)
	if x.Threading == nil || x.Threading.Ticket != 1 || x.Threading.Outcome == "" || x.Threading.Reason == "" || x.Threading.Role == "" {
		t.Fatalf("threading %+v, want ticket 1 with outcome, role and reason", x.Threading)
	}
	if x.Auth.Staff != "" || x.Auth.StaffAuthenticated {
		t.Errorf("auth %+v: Ken is no staff", x.Auth)
	}
	if rc := recipientsOf(x); !slices.Contains(rc, vic+" staff") {
		t.Errorf("recipients %v, want Victoria with the staff view", rc)
	}
	for _, want := range []string{"ticket #1 thread", x.Threading.Reason} {
		if !strings.Contains(human, want) {
			t.Errorf("human output lacks %q:\n%s", want, human)
		}
	}
	snapshotState(e, "1").same(t, "customer reply", before)
}

var _ = claim("`helpdesk explain -` reads the mail from stdin and takes the envelope (--rcpt, --sender) as inject does; a new customer mail is explained as a new ticket and none is opened; where no store exists explain says so and creates none",
	"TestExplainStdinNewTicketAndNoStore")

// A first mail piped in with an envelope recipient: explain says a new
// ticket, its acknowledgement and the agents' notifications; the store
// still holds one ticket. Without a store, explain creates none.
func TestExplainStdinNewTicketAndNoStore(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "helpdesk.toml")
	if err := os.WriteFile(cfg, []byte(testkit.BaseConfig(filepath.Join(dir, "data"), "", "127.0.0.1:1")+Staff), 0o600); err != nil {
		t.Fatal(err)
	}
	mail := testkit.Mail{From: kenFr, To: []string{"someone@else.example"}, Subject: "Printer on fire", Body: "Help.\n"}.Build()
	f := filepath.Join(dir, "m.eml")
	if err := os.WriteFile(f, mail, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runBin(t, "explain", f, "-config", cfg)
	if code == 0 || !strings.Contains(errOut, "no store") {
		t.Errorf("explain without a store: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "helpdesk.db")); !os.IsNotExist(err) {
		t.Errorf("explain created the store (stat: %v)", err)
	}

	e := Start(t, Options{})
	e.Open(kenFr, "VPN certificate", "The VPN certificate is expired.", vic)
	e.Settle()
	before := snapshotState(e, "1")
	cmd := exec.Command(bin, "explain", "-", "--json", "--rcpt", "support@example.com", "-config", e.Config)
	cmd.Dir, cmd.Stdin = e.Dir, bytes.NewReader(mail)
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("explain -: %v\n%s", err, raw)
	}
	var x explanation
	if err := json.Unmarshal(raw, &x); err != nil {
		t.Fatalf("explain --json: %v\n%s", err, raw)
	}
	if x.Threading == nil || x.Threading.Outcome != "new-ticket" || x.Result.Disposition != "ticket" {
		t.Fatalf("threading %+v result %+v, want a new ticket", x.Threading, x.Result)
	}
	kinds := map[string]bool{}
	for _, m := range x.Mail {
		kinds[m.Kind+" "+m.Rcpt] = true
	}
	if !kinds["ack "+ken] || !kinds["notification "+vic] {
		t.Errorf("mail %+v, want Ken's acknowledgement and Victoria's notification", x.Mail)
	}
	snapshotState(e, "1").same(t, "explain -", before)
	var list []map[string]any
	e.JSON(&list, "tickets")
	if len(list) != 1 {
		t.Errorf("%d tickets after explain, want 1", len(list))
	}
}

// The vendor's answer in a side thread: explain names the side thread
// of ticket 1, the vendor's role, and keeps Ken out of it with the
// reason.
func TestExplainVendorReplyLandsOnSideThread(t *testing.T) {
	e := Start(t, Options{})
	sideThreadSetup(t, e, true)
	v1 := e.Find(vendor, "check the payment")
	before := snapshotState(e, "1")
	raw := testkit.Mail{From: "Orders <" + vendor + ">", To: []string{ReplyTo(v1)}, Subject: "Re: " + v1.Header("Subject"),
		MessageID: e.ID("o"), InReplyTo: msgID(v1), Body: "And the invoice is attached.\n"}.Build()
	x, human := explain(e, raw)
	if x.Threading == nil || x.Threading.Ticket != 1 || x.Threading.Thread == 0 || x.Threading.Outcome != "side-message" {
		t.Fatalf("threading %+v, want a side thread of ticket 1", x.Threading)
	}
	var kenOut string
	for _, a := range x.Audience {
		if a.Kind != "side" {
			t.Errorf("audience kind %q, want side", a.Kind)
		}
		for _, l := range a.Left {
			if l.Addr == ken {
				kenOut = l.Why
			}
		}
	}
	if kenOut == "" {
		t.Errorf("audience %+v does not say why Ken gets nothing", x.Audience)
	}
	if !strings.Contains(human, "side-message, ticket #1 thread") || !strings.Contains(human, "left out "+ken) {
		t.Errorf("human output:\n%s", human)
	}
	snapshotState(e, "1").same(t, "vendor reply", before)
}
