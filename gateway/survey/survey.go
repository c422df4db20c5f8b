// Package survey holds the pure decisions of the satisfaction survey
// (SPEC 7, issue 15 item 3): which ticket is due a survey and when, and
// what rating a customer's reply gives. The engine sends the survey on a
// timer and records the reply; nothing here reads a store, a clock or a
// mail.
//
// A survey goes out Delay after a ticket's resolution, once per
// resolution (a ticket reopened and resolved again is asked again),
// never for a ticket tagged spam (#spam), merged into another, whose
// opening mail asked for no automatic answer (machine or bulk mail,
// Ticket.NoAutoMail), or whose requester bounces or is blocked (the
// engine's audience decision, since that is about the user's record).
//
// A reply to the survey's own reply address is a rating for ReplyWindow
// (28 days) after it was sent, whatever the ticket's status: it never
// reopens the ticket, never opens a follow-up and never a new ticket. So
// is the requester's mail that lost that address but still answers the
// survey mail (References) or begins with a rating (the engine decides
// which ticket; ParseRating what the text says).
package survey

import (
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"helpdesk/store/model"
)

// DefaultDelay is [survey] delay when none is set.
const DefaultDelay = 24 * time.Hour

// ReplyWindow is how long a reply to the survey counts as a rating.
const ReplyWindow = 28 * 24 * time.Hour

// BadRating is the highest rating that is a "bad rating" event.
const BadRating = 2

// SpamTag is the tag #spam puts on a ticket.
const SpamTag = "spam"

// Due returns when tk is due its survey: delay after its current
// resolution, unless it already had its survey for that resolution or
// gets none at all. ok is false when no survey is pending.
func Due(tk *model.Ticket, delay time.Duration) (at time.Time, ok bool) {
	if tk.ResolvedAt == nil || (tk.Status != model.StatusResolved && tk.Status != model.StatusClosed) {
		return time.Time{}, false
	}
	if tk.MergedInto != 0 || tk.NoAutoMail || slices.Contains(tk.Tags, SpamTag) {
		return time.Time{}, false
	}
	if tk.SurveyFor != nil && tk.SurveyFor.Equal(*tk.ResolvedAt) {
		return time.Time{}, false // once per resolution
	}
	return tk.ResolvedAt.Add(delay), true
}

// Rating is what a reply to the survey says.
type Rating struct {
	// Score is 1-5; 0 when the reply gives no recognisable rating.
	Score int
	// Word is the rating as the customer wrote it ("5", "좋아요", "👍").
	Word string
	// Comment is the rest of the text.
	Comment string
}

// Bad reports whether the rating is a bad one (≤ BadRating).
func (r Rating) Bad() bool { return r.Score > 0 && r.Score <= BadRating }

// words are the rating words, longest first where one begins another
// (불만족 before 만족). Korean words match as the start of the first
// word, so 만족합니다, 최고예요, 별로였어요 count; English ones as the
// whole word.
var words = []struct {
	w      string
	score  int
	prefix bool
}{
	{"불만족", 1, true}, {"나빠요", 1, true}, {"별로", 1, true},
	{"좋아요", 5, true}, {"만족", 5, true}, {"최고", 5, true},
	{"보통", 3, true},
	{"good", 5, false}, {"bad", 1, false},
	// The English survey asks for "1 (poor) to 5 (excellent)": its
	// own words are ratings too.
	{"excellent", 5, false}, {"poor", 1, false},
	{"👍", 5, true}, {"👎", 1, true},
}

// intensifiers may come before a rating word and change nothing: the
// Korean survey offers "1(매우 불만족)부터 5(매우 만족)", so customers
// answer "매우 만족"; "very good", "정말 좋아요", "아주 별로" likewise.
var intensifiers = []string{"매우", "아주", "정말", "정말로", "너무", "진짜", "참", "완전", "very", "really", "so", "extremely"}

// negations turn a Korean rating word into its opposite when they end
// it or begin the next word ("만족하지 않습니다", "만족 못 했어요"): a
// person should read such a reply, so no rating is recorded. (English
// negates before the word: "not good" starts with no rating word.)
func negated(word, rest string) bool {
	next, _ := firstWord(strings.TrimSpace(rest))
	return next == "안" || strings.HasPrefix(next, "않") || strings.HasPrefix(next, "못") ||
		strings.Contains(word, "않") || strings.Contains(word, "못")
}

// ParseRating reads the rating at the start of a reply's text: a digit
// 1-5 as written ("5", "4/5", "5점", "3 stars"), or one of the rating
// words (good/excellent/👍/좋아요/만족/최고 = 5, 보통 = 3,
// bad/poor/👎/별로/불만족/나빠요 = 1), possibly after an intensifier
// ("매우 만족", "very good"). What follows it is the comment. A text whose first word is none
// of these, or that negates its rating word, has Score 0: the whole text
// is the comment.
func ParseRating(text string) Rating {
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	whole := Rating{Comment: text}
	if text == "" {
		return whole
	}
	first, rest := firstWord(text)
	if first == "" {
		return whole
	}
	if slices.Contains(intensifiers, strings.ToLower(first)) {
		// "매우 만족", "very good": the rating is the next word.
		if next, after := firstWord(strings.TrimSpace(rest)); next != "" {
			if r := ParseRating(next + after); r.Score > 0 && !isDigitRating(r.Word) {
				r.Word = first + " " + r.Word
				return r
			}
		}
		return whole
	}
	core := strings.TrimRightFunc(first, isTrail)
	// A digit 1-5, alone or as "4/5", "5점", "5." — never 10 or 3.5.
	if r, size := utf8.DecodeRuneInString(core); r >= '1' && r <= '5' {
		tail := core[size:]
		if tail == "" || tail == "/5" || strings.HasPrefix(tail, "점") || strings.HasPrefix(tail, "/5점") {
			return Rating{Score: int(r - '0'), Word: core, Comment: comment(rest)}
		}
		return whole
	}
	low := strings.ToLower(stripEmojiModifiers(core))
	for _, w := range words {
		hit := low == w.w || w.prefix && strings.HasPrefix(low, w.w)
		if !hit {
			continue
		}
		if negated(core, rest) {
			return whole
		}
		return Rating{Score: w.score, Word: core, Comment: comment(rest)}
	}
	return whole
}

// isDigitRating reports whether a rating was written as a digit ("5",
// "4/5", "5점"): "very 5" is no way to rate.
func isDigitRating(w string) bool {
	r, _ := utf8.DecodeRuneInString(w)
	return r >= '1' && r <= '5'
}

// firstWord splits off the first word of s (up to white space).
func firstWord(s string) (string, string) {
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i:]
}

// isTrail is punctuation that may follow a rating ("5!", "good.", "좋아요~").
func isTrail(r rune) bool {
	return strings.ContainsRune("!.,~:;-)*^", r)
}

// stripEmojiModifiers drops skin tones and variation selectors (👍🏻, 👍️).
func stripEmojiModifiers(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0x1F3FB && r <= 0x1F3FF || r == 0xFE0F || r == 0xFE0E {
			return -1
		}
		return r
	}, s)
}

// comment is the text after the rating, without a leading separator.
func comment(rest string) string {
	rest = strings.TrimSpace(rest)
	rest = strings.TrimLeft(rest, "-–—:,.!~")
	return strings.TrimSpace(rest)
}
