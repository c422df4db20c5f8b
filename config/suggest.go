package config

import (
	"strings"
	"unicode/utf8"
)

// closest returns the candidate nearest to s ("did you mean ...?"), or ""
// when none is close enough. It follows threading/command.Suggest, the
// #command parser's rule, so a typo gets the same answer in the config
// file as in a mail: case-insensitive optimal-string-alignment distance
// (a transposition is one edit), at most 1 edit for words of up to 5
// letters, 2 up to 8, 3 beyond; failing that, a word of 3 or more
// letters that starts exactly one candidate suggests it; ties go to the
// earlier candidate. It is a copy, not an import, so that config depends
// on nothing of the project's (cmd/helpdesk's TestPackageBoundaries).
// Config runs it a few times at load, so it favours plainness over the
// allocation-free loop of the original.
func closest(s string, candidates []string) string {
	const maxRunes = 64 // as in Suggest: longer words are never typos of a key
	if utf8.RuneCountInString(s) > maxRunes {
		return ""
	}
	w := []rune(strings.ToLower(strings.TrimSpace(s)))
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
		if c == "" || utf8.RuneCountInString(c) > maxRunes {
			continue
		}
		lc := []rune(strings.ToLower(c))
		if d := osaDistance(w, lc); d < bestD {
			best, bestD = c, d
		}
		if len(w) >= 3 && len(lc) >= len(w) && string(lc[:len(w)]) == string(w) && !strings.EqualFold(prefix, c) {
			prefix = c
			prefixes++
		}
	}
	switch {
	case best != "":
		return best
	case prefixes == 1:
		return prefix
	}
	return ""
}

// osaDistance is the optimal-string-alignment distance between a and b.
func osaDistance(a, b []rune) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
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
	return prev[len(b)]
}
