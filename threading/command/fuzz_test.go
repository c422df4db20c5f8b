package command

import (
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	maxFuzzInput  = 1 << 20
	maxHeapGrowth = 64 << 20
)

// exercise runs the whole pipeline on one input and checks invariants.
func exercise(t *testing.T, in string) {
	b := Parse(in)
	if len(b.Commands) > MaxCommands+1 {
		t.Fatalf("%d commands", len(b.Commands))
	}
	if strings.ContainsRune(b.Text, '\r') {
		t.Fatal("CR in Text")
	}
	last := 0
	for _, c := range b.Commands {
		if !isCommandLine(c.Raw) || c.Line <= last || strings.ContainsAny(c.Raw, "\r\n") {
			t.Fatalf("bad command %+v after line %d", c, last)
		}
		last = c.Line
	}
	if len(b.Commands) == 0 && utf8.ValidString(in) && strings.TrimSpace(b.Text) != strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(strings.TrimPrefix(in, "\uFEFF"), "\r\n", "\n"), "\r", "\n")) {
		t.Fatalf("text without commands changed: %q", b.Text)
	}
	e, _ := ExpandMacro(b, func(name string) ([]string, string, bool) {
		return []string{"status pending", name}, "macro text", len(name)%2 == 0
	}, "a", "bb")
	for _, role := range []Role{RoleAgent, RoleLight, RoleAdmin} {
		ps := Validate(e, role)
		_ = FormatTranscript(Results(e, ps), len(ps) == 0)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "#", "#a", "#end", "#status pending\r\n#assign alise\n\nHello",
		"\uFEFF#STATUS: Pendng\r#macro bb\n> #status closed",
		"#cc +<a@b> -c@d, e;f\n#forward x@y\n#include al\n#subject  S  \n#done",
		"#merge #1 cc\n#parent 0\n#ticket 99999999999999999999\n#report 2025-01..2025-13",
		"#상태 열림\n#\u00a0x\n#spam domain", "\n\n\n#note\n\n#notify a b\n#reply\nx",
		strings.Repeat("#tag x\n", 300) + "#end\ntext",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if len(in) > maxFuzzInput {
			return
		}
		checkHeap(t, in)
	})
}

// checkHeap runs exercise and fails if it allocated more than
// maxHeapGrowth bytes in total (runtime.MemStats.TotalAlloc, which counts
// garbage too, so it bounds peak heap growth).
func checkHeap(t *testing.T, in string) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	exercise(t, in)
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > maxHeapGrowth {
		t.Fatalf("input of %d bytes allocated %d MiB", len(in), grew>>20)
	}
}

// TestLargeInputs runs adversarial 1 MiB inputs through the memory check
// (the same check as FuzzParse, deterministically).
func TestLargeInputs(t *testing.T) {
	fill := func(unit string) string {
		return strings.Repeat(unit, maxFuzzInput/len(unit))
	}
	inputs := map[string]string{
		"short command lines": fill("#a\n"),
		"end lines":           fill("#end\n"),
		"blank lines":         fill("\n"),
		"CRLF commands":       fill("#tag x\r\n"),
		"one long name":       "#" + fill("a"),
		"one long argument":   "#status " + fill("a"),
		"many cc arguments":   "#cc " + fill("a "),
		"many tag arguments":  "#tag " + fill("+a,"),
		"many bad addresses":  "#forward " + fill("x ")[:maxFuzzInput-10],
		"long subject":        "#forward a@b\n#subject " + fill("é"),
		"unicode name":        "#" + fill("가"),
		"typos":               fill("#asgn alise\n"),
		"macros":              fill("#macro bb\n"),
		"prose":               fill("hello world\n"),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			if len(in) > maxFuzzInput+64 {
				t.Fatalf("input is %d bytes", len(in))
			}
			checkHeap(t, in)
		})
	}
}
