package rules

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// accel runs a "matches" condition whose expression begins with a
// literal (after \b or \B) without scanning the text from every
// position: Go's regexp skips ahead only to a case-sensitive literal at
// the very start, so "(?i)\bcontract\s+no\d+" tries each of a 4 KiB
// body's positions (about a millisecond). Here each occurrence of the
// literal is found with strings.Index, the leading assertions are
// checked there, and the rest runs anchored from it. A case-insensitive
// expression ((?i) for all of it) is run so on the lowercased text, with
// its literals lowercased, and only on ASCII text, where lowercasing is
// exact and every case-closed class and \b keep their answers.
type accel struct {
	lead []syntax.Op    // leading \b (OpWordBoundary) and \B (OpNoWordBoundary)
	lit  string         // the literal that follows (lowercase when fold)
	fold bool           // run on the lowercased text; ASCII text only
	rest *regexp.Regexp // the literal and the rest, anchored at its start
}

// newAccel returns the accelerator of expr, or nil when it has none.
func newAccel(expr string) *accel {
	fold := strings.HasPrefix(expr, "(?i)")
	if fold && strings.Contains(expr[4:], "(?") || !fold && strings.Contains(expr, "(?") {
		return nil // flags change inside: keep it simple
	}
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpConcat {
		return nil
	}
	a := &accel{fold: fold}
	i := 0
	for ; i < len(re.Sub) && (re.Sub[i].Op == syntax.OpWordBoundary || re.Sub[i].Op == syntax.OpNoWordBoundary); i++ {
		a.lead = append(a.lead, re.Sub[i].Op)
	}
	if i == len(re.Sub) || re.Sub[i].Op != syntax.OpLiteral || !fold && len(a.lead) == 0 {
		return nil // no literal to find, or regexp finds it alone
	}
	if fold && !lowerLiterals(re) {
		return nil
	}
	a.lit = string(re.Sub[i].Rune)
	rest := &syntax.Regexp{Op: syntax.OpConcat, Sub: append([]*syntax.Regexp{{Op: syntax.OpBeginText}}, re.Sub[i:]...)}
	if a.rest, err = regexp.Compile(rest.String()); err != nil {
		return nil
	}
	return a
}

// lowerLiterals turns every literal of a case-insensitive expression
// into its lowercase, case-sensitive form; false when one is not all
// case-insensitive or holds a cased letter outside ASCII (the Kelvin
// sign folds to k: no exact lowercase form on ASCII text).
func lowerLiterals(re *syntax.Regexp) bool {
	if re.Op == syntax.OpLiteral {
		if re.Flags&syntax.FoldCase == 0 {
			return false
		}
		for j, r := range re.Rune {
			if r >= utf8.RuneSelf && (unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) || unicode.SimpleFold(r) != r) {
				return false
			}
			re.Rune[j] = unicode.ToLower(r)
		}
		re.Flags &^= syntax.FoldCase
	}
	for _, s := range re.Sub {
		if !lowerLiterals(s) {
			return false
		}
	}
	return true
}

// match reports whether the expression matches v (low gives v
// lowercased and whether v is ASCII); ok is false when the accelerator
// does not apply (non-ASCII text for a case-insensitive expression).
func (a *accel) match(v string, low func() (string, bool)) (hit, ok bool) {
	t := v
	if a.fold {
		lt, ascii := low()
		if !ascii {
			return false, false
		}
		t = lt
	}
	for from := 0; ; {
		k := strings.Index(t[from:], a.lit)
		if k < 0 {
			return false, true
		}
		p := from + k
		if a.leadHolds(t, p) && a.rest.MatchString(t[p:]) {
			return true, true
		}
		from = p + 1
	}
}

// leadHolds checks the leading \b and \B at byte p of t (as regexp
// does: ASCII word characters; anything else, and the ends, is not).
func (a *accel) leadHolds(t string, p int) bool {
	before := p > 0 && isWordByte(t[p-1])
	after := p < len(t) && isWordByte(t[p])
	for _, op := range a.lead {
		if (before != after) != (op == syntax.OpWordBoundary) {
			return false
		}
	}
	return true
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
