package acceptance

import (
	"mime"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

// Outside-in tests of customer profiles (SPEC 8, issue 16 item 1): made
// with a customer's first mail, an [[organization]] by address domain,
// merged by an admin, changed by #customer, read by `helpdesk customer`,
// and never shown to an end user.

var _ = claim("a customer profile is made with the first mail (name decoded from RFC 2047, organization by address domain, the ticket requested on the timeline); `helpdesk customer merge A B` moves B's tickets and addresses into A, a later mail from B's address lands on the merged profile, `helpdesk customers [--org NAME]` lists the profiles (of one organization), and `helpdesk customer ADDR --json` shows the timeline newest first, 10 entries a page",
	"TestCustomerKoreanMergeTimeline")
var _ = claim("[[organization]] tags go on every new ticket of its customers, and `organization is NAME` holds in triggers and views for them only (a merged profile's organization counts for mail from its other address)",
	"TestCustomerKoreanMergeTimeline")
var _ = claim("#customer by mail: an agent's `#customer tag +vip`, `note`, `lang ko` (`none` clears it), `tz` (`none` too), `address +ADDR` change the requester's profile (mail from the added address lands on it; a CC gets a profile listing the ticket CC'd on) and `#customer` mails it to that agent only; the customer's next ticket carries the tag and its acknowledgement speaks the profile's language; the customer never receives profile data, and their own '#customer' lines stay text",
	"TestCustomerCommandsByMail")
var _ = claim("#customer is refused with a transcript line for a light agent, and `#customer merge` for an agent who is not an admin; an admin's `#customer merge ADDR` keeps the ticket's requester's profile and adds ADDR's tickets, addresses, tags and notes",
	"TestCustomerCommandsByMail")
var _ = claim("a store written before profiles gets them for its existing requesters by a one-time backfill: by the daemon at start and by the CLI without a daemon (testdata/store-v1)",
	"TestCustomerProfilesBackfilledFromOldStore")
var _ = claim("`helpdesk check-config` names a bad [[organization]] (a domain claimed twice, an unknown organization in a rule) by key, line and fix",
	"TestCheckConfigOrganizations")

// Orgs is Staff with an organization, a trigger and a view on it.
const Orgs = Staff + `
[[organization]]
name = "Acme"
domains = ["acme.example"]
tags = ["acme"]
notes = "Enterprise plan"

[[trigger]]
name = "acme first"
all = ["event is created", "organization is Acme"]
actions = ["#priority high"]

[[trigger]]
name = "vip watch"
all = ["event is created", "customer tags include vip"]
actions = ["#tag +vip-ticket"]

[[view]]
name = "acme"
all = ["organization is Acme"]
`

// Profile is `helpdesk customer ADDR --json`, decoded loosely.
type Profile struct {
	ID           uint64   `json:"id"`
	Name         string   `json:"name"`
	Primary      string   `json:"primary"`
	Addresses    []string `json:"addresses"`
	Organization string   `json:"organization"`
	OrgNotes     string   `json:"organization_notes"`
	Tags         []string `json:"tags"`
	Notes        []struct {
		By   string `json:"by"`
		Text string `json:"text"`
	} `json:"notes"`
	Language  string `json:"language"`
	TimeZone  string `json:"time_zone"`
	Requested []struct {
		ID uint64 `json:"id"`
	} `json:"tickets_requested"`
	CCd []struct {
		ID uint64 `json:"id"`
	} `json:"tickets_cc"`
	Timeline []struct {
		Kind   string `json:"kind"`
		Ticket uint64 `json:"ticket"`
		Text   string `json:"text"`
	} `json:"timeline"`
	More bool `json:"timeline_more"`
}

func (e *Env) Profile(addr string, args ...string) *Profile {
	e.T.Helper()
	var p Profile
	e.JSON(&p, append([]string{"customer", addr}, args...)...)
	return &p
}

func (p *Profile) ticketIDs(cc bool) []uint64 {
	var out []uint64
	l := p.Requested
	if cc {
		l = p.CCd
	}
	for _, t := range l {
		out = append(out, t.ID)
	}
	return out
}

func (p *Profile) texts() []string {
	var out []string
	for _, a := range p.Timeline {
		out = append(out, a.Text)
	}
	return out
}

const (
	minjun     = "minjun@acme.example"
	minjunHome = "mj@home.example"
)

// minjunFrom is a From header with the name as a mail client writes
// Hangul: an RFC 2047 encoded word.
func minjunFrom(addr string) string {
	return mime.BEncoding.Encode("utf-8", "김민준") + " <" + addr + ">"
}

func TestCustomerKoreanMergeTimeline(t *testing.T) {
	e := Start(t, Options{Config: Orgs})
	e.Customer(testkit.Mail{From: minjunFrom(minjun), To: []string{"support@example.com"}, Subject: "견적 요청", Body: "인증서 견적을 부탁드립니다."})
	e.Customer(testkit.Mail{From: minjunFrom(minjunHome), To: []string{"support@example.com"}, Subject: "집에서 보냅니다", Body: "회사 메일이 안 되어 집 주소로 보냅니다."})

	work, home := e.Profile(minjun), e.Profile(minjunHome)
	if work.Name != "김민준" || work.Organization != "Acme" || work.OrgNotes != "Enterprise plan" || !slices.Equal(work.ticketIDs(false), []uint64{1}) {
		t.Errorf("work profile: %+v", work)
	}
	if home.ID == work.ID || home.Organization != "" || !slices.Equal(home.ticketIDs(false), []uint64{2}) {
		t.Errorf("home profile: %+v", home)
	}
	// The organization's tag and its trigger: ticket 1 only.
	if tk := e.Show(1); !hasTag(tk.Tags, "acme") || tk.Priority != "high" || fired(tk, "acme first") != 1 {
		t.Errorf("ticket 1 of an Acme address: tags %q priority %s", tk.Tags, tk.Priority)
	}
	if tk := e.Show(2); hasTag(tk.Tags, "acme") || tk.Priority != "normal" || fired(tk, "acme first") != 0 {
		t.Errorf("ticket 2 of a home address: tags %q priority %s", tk.Tags, tk.Priority)
	}

	var acmeOnly []Profile
	e.JSON(&acmeOnly, "customers", "--org", "acme")
	if len(acmeOnly) != 1 || acmeOnly[0].ID != work.ID {
		t.Errorf("customers --org acme before the merge: %+v, want the work profile alone", acmeOnly)
	}

	// An admin merges the home profile into the work one.
	out := e.MustCLI("customer", "merge", minjun, minjunHome)
	if !strings.Contains(out, minjunHome) {
		t.Errorf("customer merge printed %q", out)
	}
	var all []Profile
	e.JSON(&all, "customers")
	if len(all) != 1 || all[0].ID != work.ID {
		t.Fatalf("after the merge `customers` lists %+v, want only profile %d", all, work.ID)
	}

	// A later mail from the second address lands on the merged profile:
	// it is an Acme customer now (tag, trigger), ticket 3 is theirs.
	e.Customer(testkit.Mail{From: minjunFrom(minjunHome), To: []string{"support@example.com"}, Subject: "추가 문의", Body: "하나 더 여쭤봅니다."})
	if tk := e.Show(3); !hasTag(tk.Tags, "acme") || tk.Priority != "high" || tk.Requester != minjunHome {
		t.Errorf("ticket 3 from the merged address: tags %q priority %s requester %s", tk.Tags, tk.Priority, tk.Requester)
	}
	p := e.Profile(minjunHome)
	if p.ID != work.ID || p.Primary != minjun || !slices.Equal(p.Addresses, []string{minjun, minjunHome}) || p.Name != "김민준" || p.Organization != "Acme" {
		t.Errorf("the merged profile by the second address: %+v", p)
	}
	if got := p.ticketIDs(false); !slices.Equal(got, []uint64{3, 2, 1}) {
		t.Errorf("merged profile's tickets %v, want [3 2 1]", got)
	}
	texts := p.texts()
	want := []string{"requested #3: 추가 문의", "merged with the profile of 김민준 (" + minjunHome + ") by helpdesk customer merge", "requested #2: 집에서 보냅니다", "requested #1: 견적 요청"}
	if !slices.Equal(texts, want) {
		t.Errorf("timeline:\n  %s\nwant:\n  %s", strings.Join(texts, "\n  "), strings.Join(want, "\n  "))
	}
	// The view on the organization lists all three now.
	var acme []struct {
		ID uint64 `json:"id"`
	}
	e.JSON(&acme, "tickets", "--view", "acme")
	if len(acme) != 3 {
		t.Errorf("view acme lists %v, want tickets 1, 2 and 3", acme)
	}

	// Ten entries a page, newest first: eight replies make twelve.
	ack := e.Find(minjunHome, "[#3]")
	for i := 0; i < 8; i++ {
		e.Customer(testkit.Mail{From: minjunFrom(minjunHome), To: []string{ReplyTo(ack)}, Subject: "Re: " + ack.Header("Subject"), Body: "추가 정보 " + string(rune('A'+i))})
	}
	p = e.Profile(minjun)
	if len(p.Timeline) != 10 || !p.More || p.Timeline[0].Kind != "comment" || p.Timeline[0].Text != "wrote on #3: 추가 문의" {
		t.Errorf("page 1: %d entries, more %v, first %+v", len(p.Timeline), p.More, p.Timeline)
	}
	p2 := e.Profile(minjun, "--page", "2")
	if got := p2.texts(); !slices.Equal(got, want[2:]) || p2.More {
		t.Errorf("page 2: %q (more %v), want %q", got, p2.More, want[2:])
	}
	// The human form names the same.
	human := e.MustCLI("customer", minjunHome)
	for _, s := range []string{"Customer 김민준 <" + minjun + ">", "other addresses: " + minjunHome, "organization:    Acme", "Tickets requested: 3"} {
		if !strings.Contains(human, s) {
			t.Errorf("helpdesk customer lacks %q:\n%s", s, human)
		}
	}
	// Nothing of the profile reached the customer.
	for _, m := range append(e.Mailbox(minjun), e.Mailbox(minjunHome)...) {
		NoneOf(t, "Min-jun", m, "Enterprise plan", "merged with", "helpdesk customer")
	}
}

func TestCustomerCommandsByMail(t *testing.T) {
	e := Start(t, Options{Config: Orgs})
	n := e.Open(kenFr, "Certificate renewal", "Please renew www.e-fun.example.", vic)
	e.Reply(vic, n, "#customer tag +VIP\n#customer note Prefers phone calls after 18:00 KST\n#customer lang ko\n#customer")
	tr := e.Find(vic, "Prefers phone calls")
	WantText(t, "Victoria's transcript", tr, "profile of "+ken+": see below", "Customer Ken <"+ken+">", "tags:            vip",
		"language:        ko", "Tickets requested: 1", "Prefers phone calls after 18:00 KST", "tags +vip by "+vic)
	p := e.Profile(ken)
	if !slices.Equal(p.Tags, []string{"vip"}) || p.Language != "ko" || len(p.Notes) != 1 || p.Notes[0].By != vic {
		t.Errorf("profile after #customer: %+v", p)
	}
	// Only Victoria hears of it; Ken has his acknowledgement alone.
	for _, who := range []string{venkat, ada, lena} {
		for _, m := range e.Mailbox(who) {
			NoneOf(t, who, m, "Prefers phone")
		}
	}
	e.Count(ken, 1)

	// His next ticket carries the tag (and the trigger on customer tags
	// fires); its acknowledgement is Korean although he writes English.
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Another question", Body: "How long is the new certificate valid?"})
	tk := e.Show(2)
	var lang struct {
		Language string `json:"language"`
	}
	e.JSON(&lang, "show", "2")
	if !hasTag(tk.Tags, "vip") || !hasTag(tk.Tags, "vip-ticket") || lang.Language != "ko" {
		t.Errorf("ticket 2: tags %q language %q, want vip, vip-ticket and ko", tk.Tags, lang.Language)
	}
	ack := e.Find(ken, "[#2]")
	WantText(t, "the acknowledgement of #2", ack, "접수되어")
	for _, m := range e.Mailbox(ken) {
		NoneOf(t, "Ken", m, "Prefers phone", "vip", "profile", "customer tags")
	}

	// Ken's own '#customer' line is the text of his reply.
	e.Customer(testkit.Mail{From: kenFr, To: []string{ReplyTo(ack)}, Subject: "Re: " + ack.Header("Subject"), Body: "#customer tag -vip\nplease"})
	if p := e.Profile(ken); !slices.Equal(p.Tags, []string{"vip"}) {
		t.Errorf("an end user's #customer line changed the profile: %q", p.Tags)
	}
	if !hasComment(e.Show(2), "#customer tag -vip\nplease") {
		t.Errorf("Ken's reply is not a comment word for word: %+v", e.Show(2).Comments)
	}
	e.Count(ken, 2)

	// Another address of his, by mail: his mail from there is his.
	e.Fresh(vic, "address", "#ticket 1\n#customer address +ken@home.example\n#customer tz Asia/Seoul")
	e.Customer(testkit.Mail{From: "Ken <ken@home.example>", To: []string{"support@example.com"}, Cc: []string{"Boss <boss@e-fun.example>"},
		Subject: "From home", Body: "Writing from home, boss in copy."})
	if p := e.Profile("ken@home.example"); p.Primary != ken || p.TimeZone != "Asia/Seoul" || !slices.Equal(p.ticketIDs(false), []uint64{3, 2, 1}) {
		t.Errorf("after #customer address: %+v", p)
	}
	if tk := e.Show(3); !hasTag(tk.Tags, "vip") {
		t.Errorf("ticket 3 from his other address: tags %q, want vip", tk.Tags)
	}
	// The boss in copy has a profile with the ticket he is CC'd on.
	if b := e.Profile("boss@e-fun.example"); b.Name != "Boss" || !slices.Equal(b.ticketIDs(true), []uint64{3}) || len(b.Requested) != 0 ||
		len(b.Timeline) != 1 || b.Timeline[0].Text != "CC'd on #3: From home" {
		t.Errorf("the CC's profile: %+v", b)
	}
	for _, m := range e.Mailbox("boss@e-fun.example") {
		NoneOf(t, "the boss", m, "Prefers phone", "vip", "Asia/Seoul")
	}

	// A light agent is refused; an agent may not merge.
	e.Fresh(lena, "profile?", "#ticket 1\n#customer")
	WantText(t, "Lena's transcript", e.Find(lena, "NOT applied"), "#customer is not allowed for light agents")
	e.Fresh(vic, "merge", "#ticket 1\n#customer merge quinn@q.example")
	WantText(t, "Victoria's refused merge", e.Find(vic, "Commands not applied"), "#customer merge is for admins only")

	// An admin merges Quinn's profile into Ken's, from Ken's ticket.
	e.Customer(testkit.Mail{From: "Quinn <quinn@q.example>", To: []string{"support@example.com"}, Subject: "From my other job", Body: "Same person, other address."})
	// Quinn's profile has a tag and a note of its own; they move too.
	e.Fresh(vic, "quinn", "#ticket 4\n#customer tag +phone\n#customer note Calls on Fridays")
	if q := e.Profile("quinn@q.example"); !slices.Equal(q.Tags, []string{"phone"}) || len(q.Notes) != 1 {
		t.Fatalf("Quinn's profile before the merge: %+v", q)
	}
	e.Fresh(ada, "merge", "#ticket 1\n#customer merge quinn@q.example\n#customer")
	WantText(t, "Ada's transcript", e.Find(ada, "merged into the profile"), "other addresses: ken@home.example, quinn@q.example", "Tickets requested: 4")
	p = e.Profile("quinn@q.example")
	if p.Primary != ken || !slices.Equal(p.ticketIDs(false), []uint64{4, 3, 2, 1}) {
		t.Errorf("after #customer merge: %+v", p)
	}
	var noteTexts []string
	for _, n := range p.Notes {
		noteTexts = append(noteTexts, n.Text)
	}
	if !slices.Contains(p.Tags, "vip") || !slices.Contains(p.Tags, "phone") || len(p.Notes) != 2 || !slices.Contains(noteTexts, "Calls on Fridays") {
		t.Errorf("after #customer merge the profile has tags %q and notes %q, want Ken's and Quinn's", p.Tags, noteTexts)
	}
	if tk := e.Show(4); tk.Requester != "quinn@q.example" {
		t.Errorf("the merge changed ticket 4's requester to %s", tk.Requester)
	}
	for _, m := range e.Mailbox("quinn@q.example") {
		NoneOf(t, "Quinn", m, "Prefers phone", "Calls on Fridays", "merged", "profile")
	}

	// `none` clears the language and the time zone: his next
	// acknowledgement follows his English mail again.
	e.Fresh(vic, "clear", "#ticket 1\n#customer lang none\n#customer tz none")
	if p := e.Profile(ken); p.Language != "" || p.TimeZone != "" {
		t.Errorf("after #customer lang none and tz none: language %q, time zone %q", p.Language, p.TimeZone)
	}
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "One more question", Body: "Can I renew for two years?"})
	ack = e.Find(ken, "One more question")
	WantText(t, "Ken's acknowledgement after lang none", ack, "we received your request")
	NoneOf(t, "Ken's acknowledgement after lang none", ack, "접수되어")
}

func TestCustomerProfilesBackfilledFromOldStore(t *testing.T) {
	bboltOnly(t) // the old store is a bbolt file (testdata fixture)
	// The daemon builds them at start.
	dir, _ := unpackFixture(t, 1)
	e := Start(t, Options{Dir: dir, SMTP: fixtureSMTP})
	var p *Profile
	e.Eventually(30*time.Second, func() bool {
		if _, _, code := e.CLI("customer", ken, "--json"); code != 0 {
			return false
		}
		p = e.Profile(ken)
		return len(p.Requested) == 2
	}, func() string { return e.Logs() })
	if !slices.Equal(p.ticketIDs(false), []uint64{2, 1}) || p.Timeline[len(p.Timeline)-1].Text != "requested #1: Certificate for www" {
		t.Errorf("backfilled profile: %+v", p)
	}
	// A new mail links to it, once.
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "After the upgrade", Body: "Hello again."})
	if p := e.Profile(ken); !slices.Equal(p.ticketIDs(false), []uint64{3, 2, 1}) || len(p.Timeline) != 3 {
		t.Errorf("profile after a new ticket: %+v", p)
	}
	e.Stop()

	// The CLI without a daemon does it too.
	dir2, _ := unpackFixture(t, 1)
	cfg := filepath.Join(t.TempDir(), "helpdesk.toml")
	if err := os.WriteFile(cfg, []byte(testkit.BaseConfig(dir2, "", "127.0.0.1:1")+Staff), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runBin(t, "customers", "--json", "-config", cfg)
	if code != 0 || !strings.Contains(out, ken) {
		t.Errorf("helpdesk customers on an old store without a daemon: exit %d %s %s", code, out, errs)
	}
}

func TestCheckConfigOrganizations(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "helpdesk.toml")
	text := testkit.BaseConfig(dir, "", "127.0.0.1:1") + Staff + `
[[organization]]
name = "Acme"
domains = ["acme.example"]

[[organization]]
name = "Acme Korea"
domains = ["acme.example"]

[[trigger]]
name = "initech"
all = ["organization is Initech"]
actions = ["#priority high"]
`
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code := runBin(t, "check-config", "-config", cfg)
	// The second organization's domains line.
	second := 0
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, `domains = ["acme.example"]`) {
			second = i + 1
		}
	}
	if code != 1 {
		t.Fatalf("check-config: exit %d, want 1\n%s", code, out)
	}
	for _, s := range []string{"helpdesk.toml:" + strconv.Itoa(second) + ": organization[1].domains[0]", `"acme.example" is already a domain of organization[0]`, "one organization",
		`no [[organization]] is named "Initech"`, "use one of: Acme, Acme Korea"} {
		if !strings.Contains(out, s) {
			t.Errorf("check-config output lacks %q:\n%s", s, out)
		}
	}
}
