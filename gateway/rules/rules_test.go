package rules

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"helpdesk/config"
)

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	c, err := config.Parse(`
[[group]]
name = "dns"
[[mailbox]]
address = "support@example.com"
name = "Support"
group = "dns"
[[agent]]
name = "Dana"
email = "dana@certs.example"
role = "agent"
groups = ["dns"]
aliases = ["dee@home.example"]
`)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var now = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

func facts() *Facts {
	return &Facts{
		Events: []string{Created, CustomerComment}, Mailbox: "support@example.com", Sender: "ken@e-fun.example",
		Subject: "DNS 도메인 연결 문제", Body: "Our zone has OLD records.", Status: "open", Priority: "normal",
		Group: "dns", Tags: []string{"service:dns", "vip"}, Changed: []string{"tags"},
		Created: now.Add(-48 * time.Hour), Updated: now.Add(-time.Hour), Now: now,
	}
}

func TestVocabulary(t *testing.T) {
	cfg := testConfig(t)
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"event is created", true},
		{"EVENT IS response, note", false},
		{"event is not response", true},
		{"mailbox is Support", true},
		{"mailbox is support@example.com", true},
		{"sender is Ken@E-Fun.example", true},
		{"sender domain is e-fun.example", true},
		{"sender domain is @e-fun.example", true},
		{"sender domain is not e-fun.example", false},
		{"subject contains 도메인", true},
		{"subject contains dns", true},
		{`subject contains "연결 문제"`, true},
		{"subject does not contain refund", true},
		{"body contains old records", true},
		{"text contains 도메인", true},
		{"subject matches ^DNS", true},
		{"subject matches ^dns", false},
		{"subject matches (?i)^dns", true},
		{"body does not match [0-9]", true},
		{"status is open, pending", true},
		{"status is solved", false},
		{"status is not closed", true},
		{"priority is urgent", false},
		{"type is incident", false},
		{"group is DNS", true},
		{"assignee is none", true},
		{"unassigned", true},
		{"assignee is Dana", false},
		{"assignee is dee@home.example", false},
		{"tags include service:dns, service:mail", true},
		{"tag includes vip", true},
		{"tags exclude spam", true},
		{"tags exclude vip", false},
		{"tags changed", true},
		{"status changed", false},
		{"created more than 24h ago", true},
		{"created more than 3d ago", false},
		{"created less than 3d ago", true},
		{"updated less than 2h ago", true},
		{"updated more than 2h ago", false},
		{"resolved more than 1h ago", false}, // not resolved
		{"inside business hours", true},
		{"outside business hours", false},
	} {
		c, probs := Compile([]string{tc.line}, nil, cfg)
		if len(probs) > 0 {
			t.Errorf("%q: %v", tc.line, probs)
			continue
		}
		if got := c.Match(facts()); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.line, got, tc.want)
		}
	}
}

func TestResolvedAge(t *testing.T) {
	c, _ := Compile([]string{"resolved more than 5d ago"}, nil, testConfig(t))
	f := facts()
	f.Resolved = now.Add(-6 * 24 * time.Hour)
	if !c.Match(f) {
		t.Error("resolved 6 days ago is more than 5d ago")
	}
}

func TestBusinessHoursComeFromTheCaller(t *testing.T) {
	c, _ := Compile([]string{"outside business hours"}, nil, testConfig(t))
	f := facts()
	f.InHours = func(at time.Time) bool { return at.Hour() >= 10 } // 09:00: closed
	if !c.Match(f) {
		t.Error("09:00 with hours from 10:00 is outside")
	}
}

func TestAllAndAny(t *testing.T) {
	cfg := testConfig(t)
	c, _ := Compile([]string{"status is open"}, []string{"event is response", "tags changed"}, cfg)
	if !c.Match(facts()) {
		t.Error("all holds, one of any holds")
	}
	c, _ = Compile([]string{"status is open"}, []string{"event is response", "status changed"}, cfg)
	if c.Match(facts()) {
		t.Error("none of any holds")
	}
	if !(&Conditions{}).Match(facts()) {
		t.Error("no conditions always hold")
	}
}

func TestProblems(t *testing.T) {
	cfg := testConfig(t)
	for _, tc := range []struct {
		all, any []string
		want     string // in the message or fix
	}{
		{[]string{"colour is red"}, nil, `unknown field "colour"`},
		{[]string{"stauts is open"}, nil, `did you mean "status"`},
		{[]string{"status open"}, nil, "use one of"},
		{[]string{"status is opne"}, nil, `did you mean "open"`},
		{[]string{"subject matches (a"}, nil, "bad regular expression"},
		{[]string{"subject matches (?=x)"}, nil, "bad regular expression"},
		{[]string{"group is sales"}, nil, "no [[group]]"},
		{[]string{"mailbox is sales@example.com"}, nil, "no [[mailbox]]"},
		{[]string{"assignee is zed"}, nil, "no [[agent]]"},
		{[]string{"event is sla-breech"}, nil, `did you mean "sla-breach"`},
		{[]string{"created more than soon ago"}, nil, "not a duration"},
		{[]string{"created more than 24h"}, nil, `not a duration followed by "ago"`},
		{[]string{"status changed now"}, nil, "takes no value"},
		{[]string{"subject contains"}, nil, "has no value"},
		{[]string{""}, nil, "is empty"},
		{[]string{"status is open", "status is closed"}, nil, "can never hold together"},
		{[]string{"status is open", "status is not open, pending"}, nil, "can never hold together"},
		{[]string{"tags include x", "tags exclude x"}, nil, "can never hold together"},
		{[]string{"inside business hours", "outside business hours"}, nil, "can never hold together"},
		{nil, []string{}, "never hold"},
	} {
		_, probs := Compile(tc.all, tc.any, cfg)
		var all []string
		for _, p := range probs {
			all = append(all, p.Msg+" / "+p.Fix)
		}
		if !strings.Contains(strings.Join(all, "\n"), tc.want) {
			t.Errorf("%q %q: problems %q, want %q", tc.all, tc.any, all, tc.want)
		}
	}
	// Lines that may hold together are not reported.
	for _, ok := range [][]string{
		{"status is open, pending", "status is pending"},
		{"event is created", "event is customer-comment"},
		{"tags include x", "tags exclude y"},
	} {
		if _, probs := Compile(ok, nil, cfg); len(probs) > 0 {
			t.Errorf("%q: %v", ok, probs)
		}
	}
}

func TestLoadChecksActions(t *testing.T) {
	cfg := testConfig(t)
	cfg.Triggers = []config.Trigger{{Name: "a", Actions: []string{"#group dns", "#assign me", "#forward x@y.example", "#assign zed"}}}
	_, probs := Load(cfg)
	var got []string
	for _, p := range probs {
		got = append(got, p.Key+": "+p.Msg)
	}
	s := strings.Join(got, "\n")
	for _, want := range []string{"trigger[0].actions[1]: \"#assign me\"", "trigger[0].actions[2]: #forward is not an action", "trigger[0].actions[3]"} {
		if !strings.Contains(s, want) {
			t.Errorf("problems lack %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "actions[0]") {
		t.Errorf("#group dns refused:\n%s", s)
	}
}

// A survey rating is an update with the event "rating", and a rating of
// 2 or less adds "bad-rating" (issue 15 item 3).
func TestRatingEvents(t *testing.T) {
	cfg := testConfig(t)
	bad, probs := Compile([]string{"event is bad-rating"}, nil, cfg)
	rated, probs2 := Compile([]string{"event is rating"}, nil, cfg)
	if len(probs)+len(probs2) > 0 {
		t.Fatal(probs, probs2)
	}
	f := facts()
	f.Events = []string{Rating}
	if !rated.Match(f) || bad.Match(f) {
		t.Error("a good rating: want rating only")
	}
	f.Events = []string{Rating, BadRating}
	if !rated.Match(f) || !bad.Match(f) {
		t.Error("a bad rating: want both")
	}
}

// The literal prefilter of "matches" never changes an answer: a text
// without the required literal cannot match, and one with it is left to
// the regular expression.
func TestRequiredLiteral(t *testing.T) {
	for _, c := range []struct {
		expr, lit string
		fold      bool
	}{
		{`request [0-9]*40 from`, "request ", false},
		{`(?i)\binvoice\s+#?3\b`, "invoice", true},
		{`(?i)status report`, " report", true}, // s folds to ſ too: the pieces around it
		{`(?i)^re: *urgent`, "urgent", true},
		{`도메인|dns`, "", false},
		{`(환불)\s*요청`, "요청", false},
		{`a+b`, "b", false},
	} {
		lit, fold := requiredLiteral(c.expr)
		if lit != c.lit || fold != c.fold && lit != "" {
			t.Errorf("requiredLiteral(%q) = %q %v, want %q %v", c.expr, lit, fold, c.lit, c.fold)
		}
	}
	cfg := testConfig(t)
	for _, c := range []struct {
		line, body string
		want       bool
	}{
		{"body matches (?i)invoice\\s+#?3", "About INVOICE #3, please.", true},
		{"body matches (?i)invoice\\s+#?3", "About the bill.", false},
		{"body matches (?i)ſtatus", "STATUS", true}, // long s folds to S
		{"body matches (?i)kelvin", "\u212aELVIN", true},
		{"body does not match (?i)invoice", "no bill", true},
		{"body matches 환불\\s*요청", "환불 요청드립니다", true},
	} {
		cs, probs := Compile([]string{c.line}, nil, cfg)
		if len(probs) > 0 {
			t.Fatal(probs)
		}
		f := facts()
		f.Body = c.body
		if got := cs.Match(f); got != c.want {
			t.Errorf("%q on %q = %v, want %v", c.line, c.body, got, c.want)
		}
	}
}

// The accelerated "matches" (accel.go) answers as regexp does, on
// random texts built from the expressions' own words, in ASCII and not.
func TestAccelAgreesWithRegexp(t *testing.T) {
	exprs := []string{`(?i)\bcontract\s+no\.?\s*7\b`, `\binvoice\s+#?21\b`, `\Border`, `(?i)\bdns\b|domain`,
		`(?i)\bprinter\b`, `(?i)(queue)\s+stuck`, `(?i)\bk[a-z]+`, `(?i)\bRe:\s*urgent$`, `\bx_1\b`, `(?i)\b\x{212a}elvin`, `(?i)\bſtatus`}
	words := []string{"contract", "CONTRACT", "Contract", "no", "No.", "7", "17", "invoice", "#21", "21", "border", "order", "Order",
		"dns", "DNS", "printer", "Printers", "queue", "Stuck", "stuck", "x_1", "re:", "Re:", "URGENT", "urgent", "kelvin", "\u212aelvin",
		"ſtatus", "도메인", " ", "  ", "\n", ".", "_", "-", "é"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, e := range exprs {
		re := regexp.MustCompile(e)
		a := newAccel(e)
		for n := 0; n < 3000; n++ {
			var b strings.Builder
			for range rng.IntN(12) {
				b.WriteString(words[rng.IntN(len(words))])
				if rng.IntN(3) > 0 {
					b.WriteByte(' ')
				}
			}
			text := b.String()
			if a == nil {
				continue
			}
			hit, ok := a.match(text, func() (string, bool) { return strings.ToLower(text), isASCII(text) })
			if ok && hit != re.MatchString(text) {
				t.Fatalf("%q on %q: accel %v, regexp %v", e, text, hit, !hit)
			}
		}
	}
	for _, e := range []string{`(?i)\bcontract\s+no\.?\s*7\b`, `\binvoice\s+#?21\b`, `(?i)\bprinter\b`} {
		if newAccel(e) == nil {
			t.Errorf("%q: no accelerator", e)
		}
	}
	for _, e := range []string{`invoice`, `(?i)a(?-i)b`, `\b(a|b)`} {
		if newAccel(e) != nil {
			t.Errorf("%q: an accelerator", e)
		}
	}
}

// The gram set only ever rejects needles a text cannot contain, and the
// ASCII lowercasing is strings.ToLower's: long random texts (ASCII and
// Korean) against needles cut from them and made up.
func TestLongTextPrefilter(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	words := []string{"Printer", "queue", "stuck", "request", "12", "30", "from", "환불", "요청", "Outage", "in", "region", "\r\n", "contract", "No."}
	for range 200 {
		var b strings.Builder
		for b.Len() < gramMin+rng.IntN(4000) {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		text := b.String()
		if low, ascii := lowerText(text); low != strings.ToLower(text) || ascii != isASCII(text) {
			t.Fatalf("lowerText(%q) = %q %v", text, low, ascii)
		}
		f := &Facts{Subject: "Re: Printer 요청 " + words[rng.IntN(len(words))], Body: text}
		for range 50 {
			needle := words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))]
			if rng.IntN(2) == 0 {
				i := rng.IntN(len(text) - 8)
				needle = text[i : i+2+rng.IntN(6)]
			}
			for _, fold := range []bool{false, true} {
				want := strings.Contains(text, needle)
				if fold {
					want = strings.Contains(strings.ToLower(text), needle)
				}
				if got := f.contains(1, text, fold, needle); got != want {
					t.Fatalf("contains(%q, fold %v) = %v, want %v", needle, fold, got, want)
				}
				all := f.Subject + "\n" + text
				want = strings.Contains(all, needle)
				if fold {
					want = strings.Contains(strings.ToLower(all), needle)
				}
				if got := f.contains(2, f.text(), fold, needle); got != want {
					t.Fatalf("text contains(%q, fold %v) = %v, want %v", needle, fold, got, want)
				}
			}
		}
	}
	got := requiredLiterals(`request [0-9]*30 from`)
	if want := []needLit{{"request ", false}, {"30 from", false}}; !slices.Equal(got, want) {
		t.Errorf("requiredLiterals = %v, want %v", got, want)
	}
}

// A text prepared before the write (Prepare) answers every contains as
// the pass's own lowercasing does, for the body and the text field; one
// prepared from another value (the subject, a stale body) is not used.
func TestPreparedTextMatchesAsUnprepared(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	words := []string{"Printer", "queue", "stuck", "request", "12", "30", "from", "환불", "요청", "Outage", "İstanbul", "region", "\r\n", "contract", "No."}
	for i := range 200 {
		var b strings.Builder
		for n := rng.IntN(3 * gramMin); b.Len() < n; {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		text := b.String()
		subject := "Re: Printer 요청 " + words[rng.IntN(len(words))]
		prep := Prepare(text)
		if i%3 == 0 {
			prep = Prepare(text + "x") // stale: not this body
		}
		plain := &Facts{Subject: subject, Body: text}
		prepared := &Facts{Subject: subject, Body: text, Prepared: prep}
		for range 50 {
			needle := words[rng.IntN(len(words))] + " " + words[rng.IntN(len(words))]
			if rng.IntN(2) == 0 && len(text) > 8 {
				j := rng.IntN(len(text) - 8)
				needle = text[j : j+2+rng.IntN(6)]
			}
			for _, fold := range []bool{false, true} {
				for slot, v := range []string{subject, text, plain.text()} {
					want := plain.contains(slot, v, fold, needle)
					if got := prepared.contains(slot, v, fold, needle); got != want {
						t.Fatalf("slot %d contains(%q, fold %v) prepared = %v, unprepared %v (text %q)", slot, needle, fold, got, want, text)
					}
				}
			}
		}
	}
}
