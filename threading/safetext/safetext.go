// Package safetext keeps text from mail (subjects, names, tags, bodies)
// from acting on the terminal or the headers it is written to: C0 and C1
// controls and DEL drive terminals (ESC[2J clears the screen; a CR LF
// forges a line), and the bidirectional formatting characters reorder
// what is shown (U+202E displays "evil" as "live").
package safetext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Unsafe reports whether r is a control or bidi formatting character:
// C0, DEL, C1, U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C.
func Unsafe(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}

// HasUnsafe reports whether s holds an Unsafe character or bytes that
// are not UTF-8.
func HasUnsafe(s string) bool {
	for _, r := range s {
		if Unsafe(r) || r == utf8.RuneError {
			return true
		}
	}
	return false
}

// Escape writes every Unsafe character of s as a Go-style escape (\x1b,
// \r, \u202e) and every byte that is not UTF-8 as \xHH, for one line of
// human output.
func Escape(s string) string { return escape(s, false) }

// EscapeText is Escape for multi-line text: line feeds and tabs are
// kept, a CR LF is a line end.
func EscapeText(s string) string {
	return escape(strings.ReplaceAll(s, "\r\n", "\n"), true)
}

func escape(s string, text bool) string {
	if !needsEscape(s, text) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case text && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case Unsafe(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case Unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string, text bool) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || (Unsafe(r) && !(text && (r == '\n' || r == '\t'))) {
			return true
		}
		i += n
	}
	return false
}

// StripC0 removes the C0 controls and DEL from s, for a header we write
// (a subject, a display name): line breaks and tabs become a space, the
// rest is dropped. Bidi characters are left alone: they are text in a
// mail client, which shows them as the sender meant.
func StripC0(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\r' || r == '\n' || r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, strings.ReplaceAll(s, "\r\n", " "))
}
