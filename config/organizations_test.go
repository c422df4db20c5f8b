package config

import (
	"strings"
	"testing"
)

// Each [[organization]] problem names its key, line and fix.
func TestOrganizationProblems(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		key        string
		line       int
		msg, fix   string
	}{
		{"missing name", `
[[organization]]
domains = ["acme.example"]
`, "organization[0].name", 2, "missing", `name = "Acme"`},
		{"no domains", `
[[organization]]
name = "Acme"
`, "organization[0].domains", 2, "no customer would belong", `domains = ["acme.example"]`},
		{"a domain that is an address", `
[[organization]]
name = "Acme"
domains = ["ken@acme.example"]
`, "organization[0].domains[0]", 4, `"ken@acme.example" is not a mail domain`, "the part after the @"},
		{"a domain claimed twice", `
[[organization]]
name = "Acme"
domains = ["acme.example"]
[[organization]]
name = "Acme Korea"
domains = ["ACME.example"]
`, "organization[1].domains[0]", 7, "already a domain of organization[0]", "one organization"},
		{"duplicate name", `
[[organization]]
name = "Acme"
domains = ["acme.example"]
[[organization]]
name = "acme"
domains = ["acme.co.kr"]
`, "organization[1].name", 6, "already declared as organization[0]", "rename"},
		{"a tag with a space", `
[[organization]]
name = "Acme"
domains = ["acme.example"]
tags = ["key account"]
`, "organization[0].tags[0]", 5, `"key account" is not a tag`, "one word"},
		{"an unknown key", `
[[organization]]
name = "Acme"
domain = ["acme.example"]
`, "organization[0].domain", 4, "unknown key", "domains"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := strings.Count(people, "\n")
			ps := problems(t, people+tc.text)
			if tc.key == "organization[0].domain" {
				// The misspelt key also leaves the organization without domains.
				if len(ps) != 2 {
					t.Fatalf("problems = %v, want the unknown key and the missing domains", ps)
				}
			} else if len(ps) != 1 {
				t.Fatalf("problems = %v, want one on %s", ps, tc.key)
			}
			p := ps[0]
			for _, q := range ps {
				if q.Key == tc.key {
					p = q
				}
			}
			if p.Key != tc.key || p.Line != base+tc.line || !strings.Contains(p.Msg, tc.msg) || !strings.Contains(p.Fix, tc.fix) {
				t.Errorf("problem = %s (line %d); want key %s, line %d, msg ~ %q, fix ~ %q", p, p.Line, tc.key, base+tc.line, tc.msg, tc.fix)
			}
		})
	}
}

// An address belongs to the organization of its domain or of the nearest
// declared parent domain; none otherwise.
func TestOrganizationFor(t *testing.T) {
	c, err := Parse(people + `
[[organization]]
name = "Acme"
domains = ["acme.example", "acme-corp.example"]
tags = ["acme"]
[[organization]]
name = "Acme Korea"
domains = ["kr.acme.example"]
`)
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]string{
		"ken@acme.example":         "Acme",
		"ken@ACME-corp.example":    "Acme",
		"minjun@kr.acme.example":   "Acme Korea",
		"ops@mail.kr.acme.example": "Acme Korea",
		"x@eu.acme.example":        "Acme",
		"x@notacme.example":        "",
		"x@acme.example.org":       "",
		"no-at-sign":               "",
	} {
		got := ""
		if o := c.OrganizationFor(addr); o != nil {
			got = o.Name
		}
		if got != want {
			t.Errorf("OrganizationFor(%s) = %q, want %q", addr, got, want)
		}
	}
	if o := c.Organization("acme korea"); o == nil || o.Name != "Acme Korea" {
		t.Errorf("Organization(acme korea) = %v", o)
	}
}
