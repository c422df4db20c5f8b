package command

import (
	"reflect"
	"testing"
)

var testMacros = map[string]struct {
	cmds []string
	text string
}{
	"refund":  {[]string{"#status resolved", "tag +refund", "", "priority low"}, "We have refunded your order.\r\n"},
	"quiet":   {[]string{"note"}, ""},
	"nested":  {[]string{"status pending", "#macro refund"}, "x"},
	"prose":   {[]string{"status pending", "1 apple", "# Summary"}, "x"},
	"ender":   {[]string{"#end"}, ""},
	"badline": {[]string{"status pendng"}, ""},
}

func lookup(name string) ([]string, string, bool) {
	m, ok := testMacros[name]
	return m.cmds, m.text, ok
}

var macroNames = []string{"refund", "quiet", "nested", "prose", "ender", "badline"}

func TestExpandMacro(t *testing.T) {
	b := Parse("#assign me\n#macro refund\n#follow\nHi Ken,")
	got, ps := ExpandMacro(b, lookup, macroNames...)
	if len(ps) != 0 {
		t.Fatalf("problems: %q", problemStrings(ps))
	}
	want := []string{"1 assign me", "2 status resolved", "2 tag +refund", "2 priority low", "3 follow"}
	if c := cmds(got); !reflect.DeepEqual(c, want) {
		t.Errorf("commands = %q, want %q", c, want)
	}
	if got.Commands[2].Macro != "refund" || got.Commands[2].Raw != "#tag +refund" || got.Commands[0].Macro != "" {
		t.Errorf("macro provenance: %+v", got.Commands)
	}
	if got.Text != "Hi Ken,\n\nWe have refunded your order." {
		t.Errorf("text = %q", got.Text)
	}
	if len(got.Commands) == 0 {
		t.Error("no commands")
	}
	if ps := Validate(got, RoleAgent); len(ps) != 0 {
		t.Errorf("validate: %q", problemStrings(ps))
	}
}

func TestExpandMacroTextOnlyFromMacro(t *testing.T) {
	got, ps := ExpandMacro(Parse("#macro refund"), lookup)
	if len(ps) != 0 || got.Text != "We have refunded your order." {
		t.Errorf("text %q, problems %q", got.Text, problemStrings(ps))
	}
	got, _ = ExpandMacro(Parse("#macro quiet\nHello"), lookup)
	if got.Text != "Hello" {
		t.Errorf("text %q", got.Text)
	}
}

func TestExpandMacroProblems(t *testing.T) {
	tests := []struct {
		in         string
		names      []string
		want       []string
		suggestion string
	}{
		{"#macro refnd", macroNames, []string{`1 unknown macro "refnd"; did you mean refund?`}, "refund"},
		{"#macro refnd", nil, []string{`1 unknown macro "refnd"`}, ""},
		{"#note\n#macro nested", nil, []string{`2 macro "nested": a macro cannot use #macro`}, ""},
		{"#macro prose", nil, []string{`1 macro "prose": "1 apple" is not a command; "# Summary" is not a command`}, ""},
		{"#macro ender", nil, []string{`1 macro "ender": a macro cannot use #end`}, ""},
	}
	for _, tt := range tests {
		b := Parse(tt.in)
		got, ps := ExpandMacro(b, lookup, tt.names...)
		if s := problemStrings(ps); !reflect.DeepEqual(s, tt.want) {
			t.Errorf("%q: got %q, want %q", tt.in, s, tt.want)
			continue
		}
		if ps[0].Suggestion != tt.suggestion {
			t.Errorf("%q: suggestion %q", tt.in, ps[0].Suggestion)
		}
		// The failed #macro stays in the block, so the transcript shows it.
		if !reflect.DeepEqual(cmds(got), cmds(b)) || got.Text != b.Text {
			t.Errorf("%q: block changed to %q", tt.in, cmds(got))
		}
		rs := Results(got, ps)
		if rs[len(rs)-1].OK || rs[len(rs)-1].Message != ps[0].Message {
			t.Errorf("%q: results %+v", tt.in, rs)
		}
	}
}

func TestExpandMacroThenValidate(t *testing.T) {
	got, ps := ExpandMacro(Parse("#macro badline\n#status closed"), lookup)
	if len(ps) != 0 {
		t.Fatalf("problems %q", problemStrings(ps))
	}
	vs := Validate(got, RoleAgent)
	want := []string{`1 unknown status "pendng"; did you mean pending?`}
	if s := problemStrings(vs); !reflect.DeepEqual(s, want) {
		t.Fatalf("got %q, want %q", s, want)
	}
	tr := FormatTranscript(Results(got, vs), false)
	wantTr := "> #status pendng   (from #macro badline)\nERROR: unknown status \"pendng\"; did you mean pending?\n> #status closed\nok\n\n" + SummaryRejected + "\n"
	if tr != wantTr {
		t.Errorf("transcript:\n%s\nwant:\n%s", tr, wantTr)
	}
	// A macro's commands conflict with the mail's like any others.
	got, _ = ExpandMacro(Parse("#macro refund\n#status pending"), lookup)
	vs = Validate(got, RoleAgent)
	if s := problemStrings(vs); !reflect.DeepEqual(s, []string{"2 conflicts with #status resolved on line 1"}) {
		t.Errorf("conflict: %q", s)
	}
}

func TestExpandMacroNoMacro(t *testing.T) {
	b := Parse("#note\nHi")
	got, ps := ExpandMacro(b, func(string) ([]string, string, bool) {
		t.Error("lookup called without #macro")
		return nil, "", false
	})
	if ps != nil || !reflect.DeepEqual(got, b) {
		t.Errorf("got %+v %q", got, problemStrings(ps))
	}
}

func TestExpandMacroLimit(t *testing.T) {
	many := make([]string, 3*MaxCommands)
	for i := range many {
		many[i] = "tag x"
	}
	got, _ := ExpandMacro(Parse("#macro big\n#macro big"), func(string) ([]string, string, bool) { return many, "", true })
	if len(got.Commands) != MaxCommands+1 {
		t.Fatalf("%d commands", len(got.Commands))
	}
	vs := Validate(got, RoleAgent)
	if len(vs) != 1 || vs[0].Line != 1 {
		t.Errorf("problems %q", problemStrings(vs))
	}
}
