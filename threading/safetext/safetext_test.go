package safetext

import "testing"

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, line, text string }{
		{"plain ünïcode", "plain ünïcode", "plain ünïcode"},
		{"a\x1b[2Jb", `a\x1b[2Jb`, `a\x1b[2Jb`},
		{"x\r\nForged: y", `x\r\nForged: y`, "x\nForged: y"},
		{"a\rb\tc\x7f\u0085", `a\rb\tc\x7f\x85`, "a\\rb\tc\\x7f\\x85"},
		{"\u202eevil\u2066\u200e\u200f\u061c", `\u202eevil\u2066\u200e\u200f\u061c`, `\u202eevil\u2066\u200e\u200f\u061c`},
		{"bad \x9b[2J", `bad \x9b[2J`, `bad \x9b[2J`},
	} {
		if got := Escape(c.in); got != c.line {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.line)
		}
		if got := EscapeText(c.in); got != c.text {
			t.Errorf("EscapeText(%q) = %q, want %q", c.in, got, c.text)
		}
	}
}

func TestStripC0(t *testing.T) {
	for in, want := range map[string]string{
		"Refund \x1b[2J now\r\nForged: line \u202eevil": "Refund [2J now Forged: line \u202eevil",
		"tab\there\x00\x7f":                             "tab here",
		"clean":                                         "clean",
	} {
		if got := StripC0(in); got != want {
			t.Errorf("StripC0(%q) = %q, want %q", in, got, want)
		}
	}
}
