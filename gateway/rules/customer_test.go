package rules

import (
	"strings"
	"testing"

	"helpdesk/config"
)

// The requester's profile in the vocabulary (SPEC 8): organization is
// NAME (or none), customer tags include/exclude; read lazily, once.
func TestCustomerVocabulary(t *testing.T) {
	cfg, err := config.Parse(`
[[mailbox]]
address = "support@example.com"
[[organization]]
name = "Acme"
domains = ["acme.example"]
[[organization]]
name = "Globex"
domains = ["globex.example"]
`)
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	acme := func() (string, []string) { reads++; return "Acme", []string{"vip", "beta"} }
	none := func() (string, []string) { return "", nil }
	for _, tc := range []struct {
		line     string
		customer func() (string, []string)
		want     bool
	}{
		{"organization is Acme", acme, true},
		{"organization is acme, globex", acme, true},
		{`organization = "Acme"`, acme, true},
		{"organization != Acme", acme, false},
		{"organization is not Globex", acme, true},
		{"organization is Globex", acme, false},
		{"organization is none", none, true},
		{"organization is none", nil, true},
		{"organization is Acme", nil, false},
		{"customer tags include VIP", acme, true},
		{"customer_tags include vip", acme, true},
		{"customer tag includes trial, beta", acme, true},
		{"customer tags exclude vip", acme, false},
		{"customer tags exclude vip", nil, true},
		{"customer tags include vip", none, false},
	} {
		c, probs := Compile([]string{tc.line}, nil, cfg)
		if len(probs) > 0 {
			t.Errorf("%q: %v", tc.line, probs)
			continue
		}
		f := facts()
		f.Customer = tc.customer
		if got := c.Match(f); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.line, got, tc.want)
		}
	}
	// Several conditions on one update read the profile once; conditions
	// that need no profile do not read it at all.
	c, _ := Compile([]string{"organization is Acme", "customer tags include vip", "customer tags exclude spam"}, nil, cfg)
	f := facts()
	reads = 0
	f.Customer = acme
	if !c.Match(f) || reads != 1 {
		t.Errorf("three profile conditions: match %v, %d reads, want true and 1", c.Match(f), reads)
	}
	c, _ = Compile([]string{"status is open"}, nil, cfg)
	reads = 0
	f = facts()
	f.Customer = acme
	if !c.Match(f) || reads != 0 {
		t.Errorf("no profile condition read the profile %d times", reads)
	}
	for _, tc := range []struct{ line, want string }{
		{"organization is Initech", `no [[organization]] is named "Initech"`},
		{"organization is Initech", "use one of: Acme, Globex"},
		{"organisation is Acme", `did you mean "organization"?`},
		{"customer tags changed", "no operator"},
	} {
		_, probs := Compile([]string{tc.line}, nil, cfg)
		var all []string
		for _, p := range probs {
			all = append(all, p.Msg+" / "+p.Fix)
		}
		if !strings.Contains(strings.Join(all, "\n"), tc.want) {
			t.Errorf("%q: problems %q, want %q", tc.line, all, tc.want)
		}
	}
	if _, probs := Compile([]string{"organization is Acme", "organization is Globex"}, nil, cfg); len(probs) == 0 {
		t.Error("two organizations in all: no contradiction reported")
	}
}
