package command

import (
	"testing"
)

func TestFormatTranscriptRejected(t *testing.T) {
	b := Parse("#assign alise\n#status pendng\n#priority high\n#tag +vip\n#reply\n\nHello Ken")
	problems := Validate(b, RoleAgent)
	// The engine's semantic check of #assign, and it stopped there for
	// #tag: its result is left empty ("not run").
	problems = append(problems, Problem{Command: b.Commands[0], Message: "unknown agent; did you mean alice?", Suggestion: "alice"})
	rs := Results(b, problems)
	rs[3] = Result{Command: b.Commands[3]}
	got := FormatTranscript(rs, false)
	want := `> #assign alise
ERROR: unknown agent; did you mean alice?
> #status pendng
ERROR: unknown status "pendng"; did you mean pending?
> #priority high
ok
> #tag +vip
not run
> #reply
ok

Nothing was applied: fix the lines marked ERROR and send again.
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormatTranscriptApplied(t *testing.T) {
	b := Parse("#assign me\n#Solved\n#tag +vip -new\nThanks")
	rs := Results(b, nil)
	rs[0].Message = "assigned to Victoria"
	rs[1].Message = "status set to resolved (was pending)"
	got := FormatTranscript(rs, true)
	want := `> #assign me
assigned to Victoria
> #Solved
status set to resolved (was pending)
> #tag +vip -new
ok

All 3 commands applied.
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestFormatTranscriptSmall(t *testing.T) {
	one := Results(Parse("#follow"), nil)
	tests := []struct {
		name    string
		rs      []Result
		applied bool
		want    string
	}{
		{"one applied", one, true, "> #follow\nok\n\n1 command applied.\n"},
		{"not applied without errors", one, false, "> #follow\nok\n\nNothing was applied.\n"},
		{"no commands", nil, false, "No commands were found.\n"},
		{"macro annotation and newline in message", []Result{{Command: Command{Raw: "#status resolved\nx", Macro: "refund"}, Message: "bad"}}, false,
			"> #status resolved x   (from #macro refund)\nERROR: bad\n\n" + SummaryRejected + "\n"},
	}
	for _, tt := range tests {
		if got := FormatTranscript(tt.rs, tt.applied); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestResults(t *testing.T) {
	b := Parse("#tag +a -a\n#cc bad\n#note")
	ps := Validate(b, RoleAgent)
	ps = append(ps,
		Problem{Command: b.Commands[0], Message: "second"},
		Problem{Command: Command{Line: 9, Raw: "#ghost"}, Message: "not in the block"})
	rs := Results(b, ps)
	want := []struct {
		ok  bool
		msg string
	}{
		{false, `"a" is both added and removed; second`},
		{false, `invalid address "bad"`},
		{true, ""},
		{false, "not in the block"},
	}
	if len(rs) != len(want) {
		t.Fatalf("got %d results: %+v", len(rs), rs)
	}
	for i, w := range want {
		if rs[i].OK != w.ok || rs[i].Message != w.msg {
			t.Errorf("result %d = %v %q, want %v %q", i, rs[i].OK, rs[i].Message, w.ok, w.msg)
		}
	}
}
