package command

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxSuggestRunes bounds the words Suggest compares (the cost is the
// product of the lengths).
const maxSuggestRunes = 64

// Suggest returns the candidate closest to word ("did you mean ...?"), or ""
// when none is close enough. Comparison is case-insensitive and uses the
// optimal-string-alignment Damerau–Levenshtein distance (a transposition
// counts as one edit): at most 1 edit for words of up to 5 letters, 2 up to
// 8, 3 beyond. Failing that, a word of 3 or more letters that starts
// exactly one candidate suggests it ("prio" → "priority"). Ties go to the
// earlier candidate. The candidate is returned as given.
func Suggest(word string, candidates []string) string {
	if utf8.RuneCountInString(word) > maxSuggestRunes {
		return ""
	}
	var wbuf, cbuf [maxSuggestRunes + 1]rune
	w := toRunes(wbuf[:0], strings.ToLower(strings.TrimSpace(word)))
	if len(w) == 0 {
		return ""
	}
	limit := 1
	switch {
	case len(w) > 8:
		limit = 3
	case len(w) > 5:
		limit = 2
	}
	best, bestD := "", limit+1
	prefix, prefixes := "", 0
	for _, c := range candidates {
		if c == "" || utf8.RuneCountInString(c) > maxSuggestRunes {
			continue
		}
		lc := toRunes(cbuf[:0], c)
		for i, r := range lc {
			lc[i] = unicode.ToLower(r)
		}
		if d := distance(w, lc, bestD); d < bestD {
			best, bestD = c, d
		}
		if len(w) >= 3 && hasPrefix(lc, w) && !strings.EqualFold(prefix, c) {
			prefix = c
			prefixes++
		}
	}
	if best != "" {
		return best
	}
	if prefixes == 1 {
		return prefix
	}
	return ""
}

func toRunes(buf []rune, s string) []rune {
	for _, r := range s {
		buf = append(buf, r)
	}
	return buf
}

func hasPrefix(s, prefix []rune) bool {
	if len(prefix) > len(s) {
		return false
	}
	for i, r := range prefix {
		if s[i] != r {
			return false
		}
	}
	return true
}

// distance is the OSA distance between a and b (each at most
// maxSuggestRunes long); anything ≥ cap may be returned as cap.
func distance(a, b []rune, cap int) int {
	if d := len(a) - len(b); d >= cap || -d >= cap {
		return cap
	}
	var rows [3][maxSuggestRunes + 2]int
	prev2, prev, cur := rows[0][:len(b)+1], rows[1][:len(b)+1], rows[2][:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], cap)
}
