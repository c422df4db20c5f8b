package config

import (
	"reflect"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		ok   bool
	}{
		{"0", 0, true},
		{"1024", 1024, true},
		{"25MiB", 25 << 20, true},
		{"25 MiB", 25 << 20, true},
		{"25mib", 25 << 20, true},
		{"64KiB", 64 << 10, true},
		{"10MB", 10_000_000, true},
		{"10M", 10_000_000, true},
		{"1k", 1000, true},
		{"2GiB", 2 << 30, true},
		{"1GB", 1_000_000_000, true},
		{"100B", 100, true},
		{" 7 b ", 7, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1", 0, false},
		{"1.5MiB", 0, false},
		{"25XB", 0, false},
		{"25 MiBs", 0, false},
		{"99999999999999999999", 0, false},
		{"9999999999999GiB", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	for _, s := range []Size{25 << 20, 64 << 10, 3 << 30, 1000, 0} {
		b, _ := s.MarshalText()
		if back, err := ParseSize(string(b)); err != nil || back != s {
			t.Errorf("round trip %d → %q → %d, %v", s, b, back, err)
		}
	}
}

func TestSizeAndDurationFromTOML(t *testing.T) {
	c, err := Parse("[smtp]\nmax_message_bytes = 1048576\nmax_header_bytes = \"32 KiB\"\nread_timeout = \"1m30s\"\n" + people)
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTP.MaxMessageBytes != 1<<20 || c.SMTP.MaxHeaderBytes != 32<<10 || c.SMTP.ReadTimeout.D().Seconds() != 90 {
		t.Errorf("got %v %v %v", c.SMTP.MaxMessageBytes, c.SMTP.MaxHeaderBytes, c.SMTP.ReadTimeout)
	}
	for _, bad := range []string{`read_timeout = "10 minutes"`, `read_timeout = "10"`, `read_timeout = 10`, `read_timeout = true`, `max_message_bytes = "lots"`, `max_message_bytes = 1.5`} {
		if ps := problems(t, "[smtp]\n"+bad+"\n"+people); len(ps) != 1 || ps[0].Line != 2 {
			t.Errorf("%s: problems %v, want one on line 2", bad, ps)
		}
	}
}

func TestKeyLines(t *testing.T) {
	text := `top = 1 # comment
acks = [
  "a = b",   # not a key
  "[fake]",
]
text = """
[not.a.table]
key = "not a key"
"""
[smtp]
listen = "x"
inline = { a = 1, b = [1, 2] }

[[agent]]
email = 'a@x'
[[agent]]
  "email" = "b@x"
role = '''
multi'''
after = 1
[[macro]]
name.sub = 1
`
	want := map[string]int{
		"top": 1, "acks": 2, "text": 6, "smtp": 10, "smtp.listen": 11, "smtp.inline": 12,
		"agent[0]": 14, "agent[0].email": 15, "agent[1]": 16, "agent[1].email": 17,
		"agent[1].role": 18, "agent[1].after": 20, "macro[0]": 21, "macro[0].name.sub": 22,
	}
	got := keyLines(text)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("keyLines:\n got %v\nwant %v", got, want)
	}
}

func lookupConfig(t *testing.T, extra string) *Config {
	t.Helper()
	c, err := Parse(extra + "\n" + people + `
[[mailbox]]
address = "Billing@Example.com"
group = "billing"

[[agent]]
email = "alex.kim@example.com"
name = "Alex Kim"
role = "admin"
groups = ["billing"]

[[agent]]
email = "alex.lee@example.com"
name = "Alex Lee"
role = "agent"
`)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAgentLookup(t *testing.T) {
	c := lookupConfig(t, "")
	tests := []struct{ in, want string }{
		{"alice@example.com", "alice@example.com"},
		{"ALICE@Example.COM", "alice@example.com"},
		{"  alice@example.com ", "alice@example.com"},
		{"Alice <alice@home.example>", "alice@example.com"}, // alias
		{"bob@example.com", "bob@example.com"},
		{"alice+phone@example.com", ""}, // ignore_plus_tags is off
		{"carol@example.com", ""},
		{"support@example.com", ""},
		{"", ""},
	}
	for _, tt := range tests {
		a := c.Agent(tt.in)
		if got := emailOf(a); got != tt.want {
			t.Errorf("Agent(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	c = lookupConfig(t, "[threading]\nignore_plus_tags = true")
	if got := emailOf(c.Agent("Alice+Phone@example.com")); got != "alice@example.com" {
		t.Errorf("with ignore_plus_tags: %q", got)
	}
}

func emailOf(a *Agent) string {
	if a == nil {
		return ""
	}
	return a.Email
}

func TestAgentByNameOrAlias(t *testing.T) {
	c := lookupConfig(t, "")
	tests := []struct{ in, want string }{
		{"alice@example.com", "alice@example.com"},
		{"alice@home.example", "alice@example.com"},
		{"Alice Park", "alice@example.com"},
		{"alice  park", "alice@example.com"},
		{"alice", "alice@example.com"}, // unique first name
		{"BOB", "bob@example.com"},     // full name
		{"alex kim", "alex.kim@example.com"},
		{"alex", ""},                         // two Alexes
		{"alex.lee", "alex.lee@example.com"}, // local part
		{"alise", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := emailOf(c.AgentByNameOrAlias(tt.in)); got != tt.want {
			t.Errorf("AgentByNameOrAlias(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMailboxLookup(t *testing.T) {
	for _, sep := range []string{"+", "-"} {
		c := lookupConfig(t, "[threading]\ntoken_separator = \""+sep+"\"")
		tests := []struct {
			in, want, tag string
		}{
			{"support@example.com", "support@example.com", ""},
			{"SUPPORT@EXAMPLE.COM", "support@example.com", ""},
			{"Help <support@example.com>", "support@example.com", ""},
			{"support+xyz@example.com", "support@example.com", "xyz"},
			{"support+ABC@example.com", "support@example.com", "abc"},
			{"support" + sep + "k7q2@example.com", "support@example.com", "k7q2"},
			{"billing@example.com", "Billing@Example.com", ""},
			{"support+@example.com", "", ""},
			{"support@example.org", "", ""},
			{"supportx@example.com", "", ""},
			{"alice@example.com", "", ""},
			{"not an address", "", ""},
		}
		if sep == "+" {
			tests = append(tests, struct{ in, want, tag string }{"support-xyz@example.com", "", ""})
		}
		for _, tt := range tests {
			m, tag := c.MailboxTag(tt.in)
			got := ""
			if m != nil {
				got = m.Address
			}
			if got != tt.want || tag != tt.tag {
				t.Errorf("sep %s: MailboxTag(%q) = %q, %q; want %q, %q", sep, tt.in, got, tag, tt.want, tt.tag)
			}
			if (c.Mailbox(tt.in) != nil) != (tt.want != "") || c.IsOwnAddress(tt.in) != (tt.want != "") {
				t.Errorf("sep %s: Mailbox/IsOwnAddress(%q) disagree with MailboxTag", sep, tt.in)
			}
		}
	}
	// The longest mailbox wins when a local part contains the separator.
	c, err := Parse("[[mailbox]]\naddress = \"help@example.com\"\n[[mailbox]]\naddress = \"help+desk@example.com\"\n")
	if err == nil {
		t.Fatal("help+desk@ is a sub-address of help@ and must be a problem")
	}
	if m, tag := c.MailboxTag("help+desk+tok@example.com"); m == nil || m.Address != "help+desk@example.com" || tag != "tok" {
		t.Errorf("longest match: %v %q", m, tag)
	}
}

func TestGroupsAndMacros(t *testing.T) {
	c := lookupConfig(t, "")
	var names []string
	for _, a := range c.GroupAgents("SUPPORT") {
		names = append(names, a.Name)
	}
	if !reflect.DeepEqual(names, []string{"Alice Park", "Bob"}) {
		t.Errorf("GroupAgents(support) = %v", names)
	}
	if got := c.GroupAgents("billing"); len(got) != 2 || got[0].Name != "Bob" || got[1].Name != "Alex Kim" {
		t.Errorf("GroupAgents(billing) = %v", got)
	}
	if c.GroupAgents("nobody") != nil {
		t.Error("GroupAgents(nobody) not nil")
	}
	ga := c.GroupAgents("support")
	ga[0].Groups[0] = "changed"
	if c.Agents[0].Groups[0] != "support" {
		t.Error("GroupAgents returned shared slices")
	}
	if g := c.Group("Billing"); g == nil || g.Name != "billing" {
		t.Errorf("Group(Billing) = %v", g)
	}
	if c.Group("sales") != nil {
		t.Error("Group(sales) found")
	}
	if m := c.Macro("Refund"); m == nil || m.Text != "We have refunded you." {
		t.Errorf("Macro(Refund) = %v", m)
	}
	if c.Macro("nope") != nil {
		t.Error("Macro(nope) found")
	}
	if a := c.Agent("alex.kim@example.com"); !a.IsAdmin() || !a.IsAgent() || a.IsLight() {
		t.Errorf("role helpers on admin: %v", a)
	}
	if b := c.Agent("bob@example.com"); b.IsAgent() || !b.IsLight() {
		t.Error("role helpers on light")
	}
	if (*Agent)(nil).IsAgent() {
		t.Error("nil agent is an agent")
	}
}

func TestLookupsWithoutOrStaleIndex(t *testing.T) {
	// Built in code, never indexed.
	c := Default()
	c.Mailboxes = []Mailbox{{Address: "help@example.com"}}
	c.Agents = []Agent{{Email: "zed@example.com", Name: "Zed", Role: RoleAgent}}
	if c.Mailbox("help+x@example.com") == nil || c.AgentByNameOrAlias("zed") == nil {
		t.Error("lookups on an unindexed Config")
	}
	c.BuildIndex()
	// A copy changed afterwards must not answer from the old index.
	d := *c
	d.Agents = append([]Agent{{Email: "amy@example.com", Name: "Amy", Role: RoleAgent}}, c.Agents...)
	if a := d.Agent("zed@example.com"); a == nil || a != &d.Agents[1] {
		t.Errorf("stale index: %v", a)
	}
	if d.Agent("amy@example.com") == nil {
		t.Error("new agent not found in the changed copy")
	}
	if c.Agent("amy@example.com") != nil {
		t.Error("original changed")
	}
}
