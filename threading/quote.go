package threading

import (
	"strings"
)

// StripQuoted returns the new text of a reply: the text with quoted
// history removed (SPEC known failure mode 5). It removes
//
//   - ">" quoted lines, and the attribution line a client writes above
//     them ("On <date>, <name> wrote:", also wrapped over two or three
//     lines, "...님이 작성:", "... schrieb:", "... a écrit :", ...);
//   - unquoted history from its start to the end of the text: Outlook's
//     "-----Original Message-----" and its localized forms, a header block
//     of From/Sent/To/Subject (also "보낸 사람:/받는 사람:/보낸 날짜:/제목:",
//     "Von:/Gesendet:", "De :/Envoyé :", ...) possibly under an underscore
//     separator, and Yahoo's "--- On ... wrote:".
//
// Lines that are not quoted history are never dropped: answers written
// between quoted blocks and signatures stay. A header block right under a
// forward marker ("---------- Forwarded message ---------") is forwarded
// content, not history, and stays. The result has "\n" line ends and is
// trimmed.
func StripQuoted(text string) string {
	s, _ := stripQuotedLines(splitLines(text))
	return s
}

// stripQuotedLines is StripQuoted on split lines; it also reports
// whether it removed a line.
func stripQuotedLines(lines []string) (string, bool) {
	keep := quoteKeep(lines)
	removed := false
	for _, k := range keep {
		if !k {
			removed = true
			break
		}
	}
	return joinKept(lines, keep), removed
}

// normalizeNewlines turns CRLF and lone CR into LF.
func normalizeNewlines(s string) string {
	if !strings.Contains(s, "\r") {
		return s
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

func splitLines(text string) []string {
	return strings.Split(normalizeNewlines(text), "\n")
}

func isQuoted(l string) bool {
	return strings.HasPrefix(strings.TrimLeft(l, " \t"), ">")
}

func blank(l string) bool { return strings.TrimSpace(l) == "" }

// quoteKeep marks the lines the author wrote.
func quoteKeep(lines []string) []bool {
	n := len(lines)
	keep := make([]bool, n)
	h := historyStart(lines)
	for i := 0; i < h; i++ {
		keep[i] = !isQuoted(lines[i])
	}
	// The attribution above each quoted block.
	for i := 0; i < h; i++ {
		if !isQuoted(lines[i]) || i > 0 && isQuoted(lines[i-1]) {
			continue
		}
		j := i - 1
		for j >= 0 && i-j <= 3 && blank(lines[j]) {
			j--
		}
		if j < 0 || !keep[j] || blank(lines[j]) {
			continue
		}
		if s := attributionStart(lines, j); s >= 0 {
			for k := s; k <= j; k++ {
				keep[k] = false
			}
		}
	}
	return keep
}

// attributionStart returns the first line of the attribution that ends on
// line j, or -1 when line j is not the end of one.
func attributionStart(lines []string, j int) int {
	t := strings.TrimSpace(lines[j])
	if !isAttribution(t) {
		return -1
	}
	if attributionStartRe.MatchString(t) {
		return j
	}
	// Wrapped: "On Mon, Apr 2, 2012 at 6:26 PM, Megan One <" /
	// "xxx@gmail.com> wrote:". Take the lines above only when they begin
	// like an attribution and carry a time or a year, so a sentence of the
	// author above a short "X wrote:" is never taken.
	for k := j - 1; k >= 0 && k >= j-2; k-- {
		tk := strings.TrimSpace(lines[k])
		if tk == "" || isQuoted(lines[k]) {
			break
		}
		if attributionStartRe.MatchString(tk) {
			if timeOrYear.MatchString(strings.Join(lines[k:j], " ")) {
				return k
			}
			break
		}
	}
	return j
}

// historyStart returns the line where unquoted history begins (len(lines)
// when there is none).
func historyStart(lines []string) int {
	for i := 0; i < len(lines); i++ {
		if isQuoted(lines[i]) {
			continue
		}
		t := strings.TrimSpace(lines[i])
		if t == "" {
			continue
		}
		if c := t[0]; c == '-' || c == '_' || c == '=' || c == '*' { // cheap check before the patterns
			if originalMessageRe.MatchString(t) {
				return extendHistory(lines, i)
			}
			// Yahoo: "--- On Mon, 4/2/12, bob <bob@example.com> wrote:"
			// above unquoted history.
			if dashedStart.MatchString(t) && isAttribution(t) {
				return extendHistory(lines, i)
			}
		}
		if isAttribution(t) && forwardBelow(lines, i) {
			// "On <date>, X wrote:" over an unquoted forwarded message:
			// history a client did not quote, not a forward of this mail.
			return extendHistory(lines, i+1)
		}
		if unquotedOriginalBelow(lines, i) {
			// Gmail and Outlook on phones, Apple Mail, Yahoo: "On <date>,
			// X <addr> wrote:" above the original, which is not marked
			// with ">". Everything from the attribution on is history.
			return extendHistory(lines, attributionStart(lines, i))
		}
		if k, _ := headerField(t); k != hdrNone {
			end, ok := headerBlock(lines, i)
			if !ok {
				continue
			}
			if forwardAbove(lines, i) {
				i = end
				continue
			}
			return extendHistory(lines, i)
		}
	}
	return len(lines)
}

// unquotedOriginalBelow reports whether line i ends an attribution that
// carries a time, a year or an address, with the author's own text above
// it and unquoted text (not a forward marker) below it. The text above is
// required so that a mail that begins with such a line, which is how a
// customer relays someone else's words, is never emptied.
func unquotedOriginalBelow(lines []string, i int) bool {
	t := strings.TrimSpace(lines[i])
	if !isAttribution(t) {
		return false
	}
	s := attributionStart(lines, i)
	a := strings.Join(lines[s:i+1], " ")
	if !timeOrYear.MatchString(a) && !emailRe.MatchString(a) {
		return false
	}
	above := false
	for k := 0; k < s; k++ {
		if !blank(lines[k]) && !isQuoted(lines[k]) {
			above = true
			break
		}
	}
	if !above {
		return false
	}
	for k := i + 1; k < len(lines); k++ {
		if blank(lines[k]) {
			continue
		}
		return !isQuoted(lines[k]) && !isForwardMarker(lines[k])
	}
	return false
}

// headerBlock reports whether a quoted-message header block starts at
// line i, and where it ends: From, a date (Sent:, Date:, 보낸 날짜:, ...)
// and To or Subject. Every client writes the date; a customer who lists
// "From: / To: / Subject:" in a sentence does not.
func headerBlock(lines []string, i int) (int, bool) {
	seen := map[hdrKind]bool{}
	other := 0
	j := i
	for ; j < len(lines) && j < i+14; j++ {
		t := strings.TrimSpace(lines[j])
		if t == "" || isQuoted(lines[j]) {
			break
		}
		if k, _ := headerField(t); k != hdrNone {
			seen[k] = true
			other = 0
			continue
		}
		// A wrapped long To: or Cc: line.
		if other++; other > 2 {
			break
		}
	}
	n := 0
	for k := range seen {
		if k != hdrOther {
			n++
		}
	}
	return j, seen[hdrFrom] && seen[hdrDate] && (seen[hdrTo] || seen[hdrSubject]) && n >= 3
}

// forwardAbove reports whether a forward marker is right above line i.
func forwardAbove(lines []string, i int) bool {
	for k := i - 1; k >= 0 && k >= i-3; k-- {
		t := strings.TrimSpace(lines[k])
		if t == "" {
			continue
		}
		return isForwardMarker(t)
	}
	return false
}

// forwardBelow reports whether the attribution ending on line i is a
// real one (it carries a time, a year or an address) and a forward marker
// follows it, after blank lines at most.
func forwardBelow(lines []string, i int) bool {
	for k := i + 1; k < len(lines) && k <= i+3; k++ {
		t := strings.TrimSpace(lines[k])
		if t == "" {
			continue
		}
		if !isForwardMarker(t) {
			return false
		}
		a := strings.Join(lines[attributionStart(lines, i):i+1], " ")
		return timeOrYear.MatchString(a) || emailRe.MatchString(a)
	}
	return false
}

// extendHistory moves the start of history up over the separator,
// marker, attribution and blank lines that belong to it.
func extendHistory(lines []string, i int) int {
	for i > 0 {
		t := strings.TrimSpace(lines[i-1])
		if t == "" || separatorRe.MatchString(t) || originalMessageRe.MatchString(t) {
			i--
			continue
		}
		if !isQuoted(lines[i-1]) && isAttribution(t) {
			i = attributionStart(lines, i-1)
			continue
		}
		break
	}
	return i
}

// joinKept joins the kept lines. Where lines were removed, blank lines on
// both sides of the gap fold into one.
func joinKept(lines []string, keep []bool) string {
	var b strings.Builder
	n := 0
	for i, l := range lines {
		if keep[i] {
			n += len(l) + 1
		}
	}
	b.Grow(n)
	lastBlank := true // nothing written yet
	gap := false
	first := true
	for i, l := range lines {
		if !keep[i] {
			gap = true
			continue
		}
		isBlank := blank(l)
		if isBlank && lastBlank && gap {
			continue
		}
		if isBlank {
			l = ""
		} else {
			gap = false
		}
		if !first {
			b.WriteByte('\n')
		}
		first = false
		b.WriteString(l)
		lastBlank = isBlank
	}
	return strings.TrimSpace(b.String())
}

// CutAtMarker cuts text at the reply-marker line our notifications start
// with (SPEC 2: "##- Reply above this line -##", configurable) and returns
// what is above it, trimmed, with "\n" line ends. The marker is also found
// when the client quoted it ("> ##- Reply above ...") or it sits inside a
// quoted block; the cut is then made where that quoted block and its
// attribution ("On ... wrote:") or header block begin. Without the marker
// the text is returned whole (normalized and trimmed).
func CutAtMarker(text, marker string) string {
	s, _ := cutAtMarker(text, marker)
	return s
}

func cutAtMarker(text, marker string) (string, bool) {
	marker = strings.TrimSpace(marker)
	if marker == "" || !strings.Contains(text, marker) {
		// No line can hold it (unquoting only removes characters before
		// it): skip the split, the common case of a customer's mail.
		return strings.TrimSpace(normalizeNewlines(text)), false
	}
	lines := splitLines(text)
	at := -1
	for i, l := range lines {
		if strings.Contains(unquote(l), marker) {
			at = i
			break
		}
	}
	if at < 0 {
		return strings.TrimSpace(strings.Join(lines, "\n")), false
	}
	cut := at
	if isQuoted(lines[at]) {
		for cut > 0 && (isQuoted(lines[cut-1]) || blank(lines[cut-1])) {
			cut--
		}
	}
	// What introduces the quoted notification belongs to it: blank lines,
	// an attribution, an Outlook header block or separator.
	start := cut
	for cut > 0 {
		t := strings.TrimSpace(lines[cut-1])
		switch {
		case t == "" || separatorRe.MatchString(t) || originalMessageRe.MatchString(t):
			cut--
			continue
		case isAttribution(t):
			cut = attributionStart(lines, cut-1)
			continue
		case blankBetween(lines, cut, start):
			// Right above the marker, a line ending in a colon that starts
			// like an attribution or carries a date or address introduces
			// the notification, whatever the client's language.
			if (strings.HasSuffix(t, ":") || strings.HasSuffix(t, "：")) &&
				(attributionStartRe.MatchString(t) || timeOrYear.MatchString(t) || emailRe.MatchString(t)) {
				cut--
				continue
			}
		}
		if k, _ := headerField(t); k != hdrNone {
			// Walk up over a header block that ends right here.
			s := cut - 1
			for s > 0 && !blank(lines[s-1]) {
				if k, _ := headerField(lines[s-1]); k == hdrNone {
					break
				}
				s--
			}
			if _, ok := headerBlock(lines, s); ok {
				cut = s
				continue
			}
		}
		break
	}
	return strings.TrimSpace(strings.Join(lines[:cut], "\n")), true
}

// blankBetween reports whether lines[from:to] are all blank.
func blankBetween(lines []string, from, to int) bool {
	for _, l := range lines[from:to] {
		if !blank(l) {
			return false
		}
	}
	return true
}

// unquote removes quote marks ("> > ") from the start of a line.
func unquote(l string) string {
	for {
		t := strings.TrimLeft(l, " \t")
		if !strings.HasPrefix(t, ">") {
			return l
		}
		l = t[1:]
	}
}
