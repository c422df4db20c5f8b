package config

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Organization is one [[organization]] (SPEC 8): the customers whose
// address is in one of its domains (or a subdomain of one) belong to it.
type Organization struct {
	Name string `toml:"name"`
	// Domains are mail domains, e.g. "acme.example"; a subdomain
	// ("kr.acme.example") matches too, the longest declared domain
	// winning when two organizations could claim an address.
	Domains []string `toml:"domains"`
	// Tags are added to every new ticket its customers request.
	Tags []string `toml:"tags"`
	// Notes are shown to staff with each of its customers' profiles.
	Notes string `toml:"notes"`
}

// OrganizationFor is the organization an address (comparison form)
// belongs to by its domain, or nil.
func (c *Config) OrganizationFor(addr string) *Organization {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return nil
	}
	dom := strings.ToLower(strings.TrimSuffix(addr[at+1:], "."))
	var best *Organization
	bestLen := 0
	for i := range c.Organizations {
		o := &c.Organizations[i]
		for _, d := range o.Domains {
			d = lower(strings.TrimPrefix(strings.TrimSuffix(d, "."), "@"))
			if d == "" || len(d) <= bestLen {
				continue
			}
			if dom == d || strings.HasSuffix(dom, "."+d) {
				best, bestLen = o, len(d)
			}
		}
	}
	return best
}

// Organization finds a declared organization by name (any case), or nil.
func (c *Config) Organization(name string) *Organization {
	for i := range c.Organizations {
		if strings.EqualFold(strings.TrimSpace(c.Organizations[i].Name), strings.TrimSpace(name)) {
			return &c.Organizations[i]
		}
	}
	return nil
}

// validateOrganizations checks each [[organization]]: a unique name, at
// least one domain, each a domain name claimed by one organization only,
// tags a ticket can carry.
func (c *Config) validateOrganizations(v *validator) {
	names := map[string]string{}
	domains := map[string]string{}
	for i, o := range c.Organizations {
		key := fmt.Sprintf("organization[%d]", i)
		switch name := strings.TrimSpace(o.Name); {
		case name == "":
			v.add(key+".name", "missing", `name the organization, e.g. name = "Acme"`)
		case names[lower(name)] != "":
			v.add(key+".name", fmt.Sprintf("%q is already declared as %s", o.Name, names[lower(name)]), "remove one of the two [[organization]] entries or rename one")
		case hasUnsafe(name):
			v.add(key+".name", fmt.Sprintf("%q holds control or bidi characters", o.Name), "use plain text for the name")
		default:
			names[lower(name)] = key
		}
		if len(o.Domains) == 0 {
			v.add(key+".domains", "missing: no customer would belong to it", `list its mail domains, e.g. domains = ["acme.example"]`)
		}
		for j, d := range o.Domains {
			dk := fmt.Sprintf("%s.domains[%d]", key, j)
			ld := lower(strings.TrimPrefix(strings.TrimSuffix(d, "."), "@"))
			if why := checkHostname(ld); ld == "" || why != "" || !strings.Contains(ld, ".") {
				v.add(dk, fmt.Sprintf("%q is not a mail domain", d), `write the part after the @, e.g. "acme.example"`)
				continue
			}
			if prev := domains[ld]; prev != "" {
				v.add(dk, fmt.Sprintf("%q is already a domain of %s", d, prev), "a domain belongs to one organization: remove it from one of them")
				continue
			}
			domains[ld] = key
		}
		for j, t := range o.Tags {
			if !validTag(t) {
				v.add(fmt.Sprintf("%s.tags[%d]", key, j), fmt.Sprintf("%q is not a tag", t), `tags are one word without spaces, commas or control characters, e.g. "vip"`)
			}
		}
	}
}

// validTag accepts what #tag accepts: one word of at most 100
// characters, no separator, sign or control character.
func validTag(t string) bool {
	if t == "" || utf8.RuneCountInString(t) > 100 || hasUnsafe(t) || t[0] == '+' || t[0] == '-' {
		return false
	}
	return !strings.ContainsFunc(t, func(r rune) bool { return unicode.IsSpace(r) || r == ',' || r == ';' })
}

// hasUnsafe reports control and bidi characters (what would act on the
// terminal of whoever lists customers).
func hasUnsafe(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029'
	})
}
