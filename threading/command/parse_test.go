package command

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// cmd is the compact form tests compare: "line name arg|arg".
func cmd(c Command) string {
	s := fmt.Sprintf("%d %s", c.Line, c.Name)
	if len(c.Args) > 0 {
		s += " " + strings.Join(c.Args, "|")
	}
	return s
}

func cmds(b Block) []string {
	var out []string
	for _, c := range b.Commands {
		out = append(out, cmd(c))
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		cmds []string
		text string
	}{
		{"empty", "", nil, ""},
		{"prose only", "Hello Ken,\n\nthanks.\n", nil, "Hello Ken,\n\nthanks."},
		{"blank lines before the block", "\n  \n\t\n#status pending\nHello", []string{"4 status pending"}, "Hello"},
		{"blank lines between commands", "#assign me\n\n#tag +vip\n\nHello", []string{"1 assign me", "3 tag +vip"}, "Hello"},
		{"#end is consumed", "#status pending\n#end\n#status closed\nHello", []string{"1 status pending", "2 end"}, "#status closed\nHello"},
		{"#END any case", "#note\n#END\n\n#tag x", []string{"1 note", "2 end"}, "#tag x"},
		{"# Summary is prose", "# Summary\n#status closed", nil, "# Summary\n#status closed"},
		{"#1 is prose", "#1 priority is the cert\n#status closed", nil, "#1 priority is the cert\n#status closed"},
		{"# alone is prose", "#\n#status closed", nil, "#\n#status closed"},
		{"#! is prose", "#!/bin/sh\necho", nil, "#!/bin/sh\necho"},
		{"prose ends the block", "#note\n# Summary\n#status closed", []string{"1 note"}, "# Summary\n#status closed"},
		{"#-lines after prose are text", "Hello\n#status closed\n#assign me", nil, "Hello\n#status closed\n#assign me"},
		{"quoted command is prose", "> #status closed\n#assign me", nil, "> #status closed\n#assign me"},
		{"quote ends the block", "#note\n> #status closed\nok", []string{"1 note"}, "> #status closed\nok"},
		{"indented # is prose", " #status closed\nHi", nil, " #status closed\nHi"},
		{"mixed case", "#STATUS Pending\n#Priority HIGH", []string{"1 status pending", "2 priority high"}, ""},
		{"CRLF", "#status pending\r\n#tag +a\r\n\r\nHello\r\nKen\r\n", []string{"1 status pending", "2 tag +a"}, "Hello\nKen"},
		{"lone CR", "#note\rHello\rKen", []string{"1 note"}, "Hello\nKen"},
		{"BOM", "\uFEFF#note\nHi", []string{"1 note"}, "Hi"},
		{"trailing spaces", "#status pending   \t\n#note \u00a0\nHi  ", []string{"1 status pending", "2 note"}, "Hi"},
		{"NBSP separates arguments", "#status\u00a0pending", []string{"1 status pending"}, ""},
		{"commands only", "#status pending\n#assign me\n\n\n", []string{"1 status pending", "2 assign me"}, ""},
		{"Outlook signature after commands", "#status resolved\r\n#tag +ssl\r\n\r\nVictoria Smith\r\nCerts Support | +1 555 0100\r\n\r\nFrom: Ken <ken@efun.example>\r\n",
			[]string{"1 status resolved", "2 tag +ssl"}, "Victoria Smith\nCerts Support | +1 555 0100\n\nFrom: Ken <ken@efun.example>"},
		{"subject keeps case and spaces", "#forward finance@certs.example\n#subject   SSL  Cert for e-Fun, Q3  \nfunds?",
			[]string{"1 forward finance@certs.example", "2 subject SSL  Cert for e-Fun, Q3"}, "funds?"},
		{"child keeps case", "#child Renew the Wildcard Cert", []string{"1 child Renew the Wildcard Cert"}, ""},
		{"text indentation kept", "#note\n\n    code\n  more", []string{"1 note"}, "    code\n  more"},
		{"solved short form", "#solved", []string{"1 status resolved"}, ""},
		{"short forms", "#Open\n#pending\n#resolved\n#closed\n#on-hold\n#waiting-customer\n#waiting_third_party",
			[]string{"1 status open", "2 status pending", "3 status resolved", "4 status closed", "5 status waiting-third-party", "6 status waiting-customer", "7 status waiting-third-party"}, ""},
		{"status aliases", "#status solved\n#status On-Hold", []string{"1 status resolved", "2 status waiting-third-party"}, ""},
		{"status in words", "#status waiting customer\n#status on hold\n#status Waiting Third Party",
			[]string{"1 status waiting-customer", "2 status waiting-third-party", "3 status waiting-third-party"}, ""},
		{"status unknown words kept", "#status pending now", []string{"1 status pending|now"}, ""},
		{"short form with argument kept", "#pending now", []string{"1 status pending|now"}, ""},
		{"colon after name", "#status: pending\n#priority:high", []string{"1 status pending", "2 priority high"}, ""},
		{"priority medium", "#priority Medium", []string{"1 priority normal"}, ""},
		{"assign me", "#assign ME", []string{"1 assign me"}, ""},
		{"assign by name with spaces", "#assign  Victoria   Smith", []string{"1 assign Victoria Smith"}, ""},
		{"group rest of line", "#group Tier 2", []string{"1 group Tier 2"}, ""},
		{"tag list", "#tag +VIP, -spam;ssl", []string{"1 tag +VIP|-spam|ssl"}, ""},
		{"cc list with brackets", "#cc +<a@x.example>, -b@y.example c@z.example", []string{"1 cc +a@x.example|-b@y.example|c@z.example"}, ""},
		{"forward list", "#forward <finance@certs.example>, legal@certs.example", []string{"1 forward finance@certs.example|legal@certs.example"}, ""},
		{"merge with hash and cc", "#merge #123 CC", []string{"1 merge 123|cc"}, ""},
		{"ticket with hash", "#ticket #42", []string{"1 ticket 42"}, ""},
		{"report words joined", "#report Last Week", []string{"1 report last-week"}, ""},
		{"report words joined before a kind", "#report last week Agents", []string{"1 report last-week|agents"}, ""},
		{"spam domain", "#spam DOMAIN", []string{"1 spam domain"}, ""},
		{"macro name with spaces", "#macro Refund  Approved", []string{"1 macro Refund Approved"}, ""},
		{"unknown command kept", "#asign alise\nHi", []string{"1 asign alise"}, "Hi"},
		{"unicode letter starts a command", "#상태 열림", []string{"1 상태 열림"}, ""},
		{"underscore in name", "#un_follow", []string{"1 un-follow"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Parse(tt.in)
			if got := cmds(b); !reflect.DeepEqual(got, tt.cmds) {
				t.Errorf("commands = %q, want %q", got, tt.cmds)
			}
			if b.Text != tt.text {
				t.Errorf("text = %q, want %q", b.Text, tt.text)
			}
		})
	}
}

func TestParseRawAndWritten(t *testing.T) {
	b := Parse("#Solved  \n#status: pending\n#STATUS Waiting Customer\r\n")
	wantRaw := []string{"#Solved", "#status: pending", "#STATUS Waiting Customer"}
	wantWritten := []string{"#solved", "#status", "#status"}
	for i, c := range b.Commands {
		if c.Raw != wantRaw[i] || c.Written() != wantWritten[i] {
			t.Errorf("command %d: raw %q written %q, want %q %q", i, c.Raw, c.Written(), wantRaw[i], wantWritten[i])
		}
	}
	if len(b.Commands) != 3 {
		t.Fatalf("got %d commands", len(b.Commands))
	}
}

func TestParseTooManyCommands(t *testing.T) {
	in := strings.Repeat("#follow\n", MaxCommands+50) + "#end\n#status closed\nHello"
	b := Parse(in)
	if len(b.Commands) != MaxCommands+1 {
		t.Fatalf("kept %d commands, want %d", len(b.Commands), MaxCommands+1)
	}
	if b.Text != "#status closed\nHello" {
		t.Errorf("text = %q", b.Text)
	}
	// Without #end, everything up to the prose is consumed.
	b = Parse(strings.Repeat("#tag x\n", 500) + "Hello")
	if b.Text != "Hello" || len(b.Commands) != MaxCommands+1 {
		t.Errorf("text = %q, %d commands", b.Text, len(b.Commands))
	}
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"status pending", "0 status pending", true},
		{"#status pending", "0 status pending", true},
		{"  tag +refund ", "0 tag +refund", true},
		{"Solved", "0 status resolved", true},
		{"hello world", "0 hello world", true},
		{"# Summary", "", false},
		{"1", "", false},
		{"", "", false},
		{"status pending\nassign me", "", false},
	}
	for _, tt := range tests {
		c, ok := ParseLine(tt.in)
		if ok != tt.ok || (ok && cmd(c) != tt.want) {
			t.Errorf("ParseLine(%q) = %q, %v; want %q, %v", tt.in, cmd(c), ok, tt.want, tt.ok)
		}
	}
}

func TestPlusMinus(t *testing.T) {
	add, remove := PlusMinus([]string{"+a", "-b", "c", "+", "-"})
	if !reflect.DeepEqual(add, []string{"a", "c", ""}) || !reflect.DeepEqual(remove, []string{"b", ""}) {
		t.Errorf("add %q remove %q", add, remove)
	}
}

func TestBlockHelpers(t *testing.T) {
	tests := []struct {
		in        string
		def, want bool
	}{
		{"Hello", true, true},
		{"Hello", false, false},
		{"#reply\nHello", false, true},
		{"#note\nHello", true, false},
		{"#status pending\nHello", true, true},
	}
	for _, tt := range tests {
		if got := Parse(tt.in).Public(tt.def); got != tt.want {
			t.Errorf("Public(%q, %v) = %v", tt.in, tt.def, got)
		}
	}
	b := Parse("#tag a\n#solved")
	c, ok := b.Find("status")
	if !ok || c.Line != 2 || c.Args[0] != "resolved" {
		t.Errorf("Find(status) = %+v, %v", c, ok)
	}
	if b.Has("assign") {
		t.Error("Has(assign) = true")
	}
}

// #requester keeps a display name apart from the address (issue 12).
func TestParseRequesterDisplayName(t *testing.T) {
	for _, c := range []struct{ line, addr, name string }{
		{"#requester Quinn <quinn@q.example>", "quinn@q.example", "Quinn"},
		{`#requester "Quinn Q." <quinn@q.example>`, "quinn@q.example", "Quinn Q."},
		{"#requester =?utf-8?q?J=C3=BCrgen?= <j@x.example>", "j@x.example", "Jürgen"},
		{"#requester 김철수 <kim@x.example>", "kim@x.example", "김철수"},
		{"#requester <quinn@q.example>", "quinn@q.example", ""},
		{"#requester quinn@q.example", "quinn@q.example", ""},
	} {
		b := Parse(c.line)
		if len(b.Commands) != 1 {
			t.Fatalf("%q: %d commands", c.line, len(b.Commands))
		}
		cmd := b.Commands[0]
		if len(cmd.Args) != 1 || cmd.Args[0] != c.addr || cmd.Display != c.name {
			t.Errorf("%q: args %q display %q, want %q %q", c.line, cmd.Args, cmd.Display, c.addr, c.name)
		}
	}
}
