package engine

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"helpdesk/store/model"
	"helpdesk/threading"

	"helpdesk/threading/command"
)

// Guards run before a staff message leaves for end users or collaborators
// (SPEC 2, 7): the leak check holds a mail that contains the text of a
// private note or of another side thread; the collision guard holds a
// public reply written against a notification older than another agent's
// public reply. A held mail waits as a hidden comment; the author gets a
// transcript and releases it with #send.

// guard reports whether c must be held, and why. When the ticket's
// comments cannot be read it returns the error: the mail is then not
// applied at all (the sender retries) rather than sent unchecked.
func (a *applier) guard(tk *model.Ticket, c *model.Comment, side bool) (bool, string, error) {
	cs, err := a.tx.Comments(tk.ID)
	if err != nil {
		return false, "", fmt.Errorf("guard: reading the comments of ticket %d: %w", tk.ID, err)
	}
	if !side && c.Visibility == model.Public {
		// LastPublicSeq: no public reply at all since the notification.
		if seq, ok := a.notificationSeq(tk); ok && tk.LastPublicSeq > seq {
			var meanwhile []string
			for _, x := range cs {
				if x.ID > seq && x.Kind == model.KindComment && x.Visibility == model.Public && x.Thread == 0 && !x.Hidden &&
					!isMoved(x) && x.Author != a.staff.Email && a.cfg.Agent(x.Author) != nil {
					meanwhile = append(meanwhile, fmt.Sprintf("%s wrote (comment %d):\n%s", a.authorName(x), x.ID, quoteLines(x.Text)))
				}
			}
			if len(meanwhile) > 0 {
				return true, "another agent replied publicly after the notification you answered:\n\n" + strings.Join(meanwhile, "\n\n"), nil
			}
		}
	}
	n := a.cfg.Commands.LeakGuardWords
	if n <= 0 {
		n = defaultLeakGuardWords
	}
	out, outChars := leakWords(c.Text), leakChars(c.Text)
	nc := leakCharsPerWord * n
	if len(out) < n && len(outChars.rs) < nc {
		return false, "", nil
	}
	for _, x := range cs {
		if x.Kind != model.KindComment && x.Kind != model.KindHeld {
			continue
		}
		private := (x.Thread == 0 && x.Visibility == model.Private) || (x.Thread != 0 && x.Thread != c.Thread)
		if !private {
			continue
		}
		where := "a private note"
		if x.Thread != 0 {
			where = fmt.Sprintf("side thread %d", x.Thread)
		}
		text := originalText(x)
		// Each check only when the outgoing text is long enough for it
		// (most mails have no Han, Kana or Hangul at all).
		if len(out) >= n {
			if frag, ok := sharedRun(out, leakWords(text), n); ok {
				return true, fmt.Sprintf("it shares %d or more words in a row with %s (comment %d): %q", n, where, x.ID, frag), nil
			}
		}
		if len(outChars.rs) < nc {
			continue
		}
		if frag, ok := outChars.sharedRun(leakChars(text), nc); ok {
			return true, fmt.Sprintf("it shares %d or more Chinese, Japanese or Korean characters in a row with %s (comment %d): %q", nc, where, x.ID, frag), nil
		}
	}
	return false, "", nil
}

// notificationSeq is the comment sequence of the notification the staff
// member answered (from their reply token). Only a token of tk itself
// counts: a token of a ticket merged into tk carries that ticket's
// comment numbers, which mean nothing here.
func (a *applier) notificationSeq(tk *model.Ticket) (uint32, bool) {
	u, err := a.user(a.staff.Email)
	if err != nil {
		return 0, false
	}
	for _, t := range a.in.tokens {
		if t.tok.Party == u.ID && t.tok.Ticket == tk.ID {
			return t.tok.Seq, true
		}
	}
	return 0, false
}

// mergeMark starts the Reason of a comment a merge moved into this ticket
// and of the merge notice (merge): history and bookkeeping, not a reply
// written after anyone's notification.
const mergeMark = "merge:"

func isMoved(c *model.Comment) bool { return strings.HasPrefix(c.Reason, mergeMark) }

// originalText is a comment's text as written: a merge prefixes the text
// of the comments it moves with "[from #N] " (merge), which must not hide
// a moved private note from the leak check.
func originalText(c *model.Comment) string {
	t := c.Text
	if !isMoved(c) {
		return t
	}
	// Each merge the comment went through added one prefix.
	for strings.HasPrefix(t, "[from #") {
		i := strings.Index(t, "] ")
		if i < 0 {
			break
		}
		t = t[i+2:]
	}
	return t
}

// defaultLeakGuardWords is [commands] leak_guard_words when a config
// built in code leaves it zero.
const defaultLeakGuardWords = 8

// leakWords splits text into the words the leak guard compares: NFKC
// (full-width forms, compatibility jamo and decomposed Hangul from some
// clients become the usual characters), lower case, and every rune that
// is not a letter, digit or combining mark separates words. So white
// space, line breaks, punctuation and quote markers (">", "|") never
// matter, and Hangul syllables, being letters, stay whole words.
func leakWords(s string) []string {
	s = strings.ToLower(norm.NFKC.String(s))
	return strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r)
	})
}

// sharedRun reports whether out and p (leakWords of the outgoing and the
// private text) share a run of at least n consecutive words, and returns
// the longest such run starting at the first match (sharedWindow).
func sharedRun(out, p []string, n int) (string, bool) {
	i, k, ok := sharedWindow(out, p, n, windowHash)
	if !ok {
		return "", false
	}
	return strings.Join(out[i:i+k], " "), true
}

// sharedWindow finds the first run of at least n equal elements that out
// and p share, for the word and the character checks alike: every
// n-element window of p is hashed once, a hash hit is confirmed element by
// element (collisions are possible) and extended as far as both go. It
// returns where the run starts in out and its length.
func sharedWindow[T comparable](out, p []T, n int, hash func([]T) uint64) (int, int, bool) {
	if n <= 0 || len(out) < n || len(p) < n {
		return 0, 0, false
	}
	windows := make(map[uint64][]int, len(p)-n+1)
	for j := 0; j+n <= len(p); j++ {
		h := hash(p[j : j+n])
		windows[h] = append(windows[h], j)
	}
	for i := 0; i+n <= len(out); i++ {
		for _, j := range windows[hash(out[i:i+n])] {
			if !slices.Equal(out[i:i+n], p[j:j+n]) {
				continue
			}
			k := n
			for i+k < len(out) && j+k < len(p) && out[i+k] == p[j+k] {
				k++
			}
			return i, k, true
		}
	}
	return 0, 0, false
}

// leakCharsPerWord: Chinese and Japanese, and Korean typed without
// spaces, have no word separators, so a whole sentence is one "word" to
// leakWords. For those scripts the guard compares characters instead: a
// run of leakCharsPerWord × leak_guard_words of them (24 by default,
// roughly the length of 8 words) holds the mail.
const leakCharsPerWord = 3

// unspaced is the sequence of characters of scripts written without
// spaces in a text (leakChars), with where each one starts in the
// normalized text, so a matched run can be quoted as written.
type unspaced struct {
	text string // NFKC of the text
	rs   []rune
	at   []int // byte offset of rs[i] in text
}

// leakChars keeps the characters of scripts written without spaces (Han,
// Hiragana, Katakana, Hangul syllables) of s, after NFKC (half-width
// Katakana and decomposed Hangul become the usual forms); everything
// else is dropped, so spacing, punctuation, Latin words and marks such
// as "ー" (script Common) in between never matter.
func leakChars(s string) unspaced {
	u := unspaced{text: norm.NFKC.String(s)}
	for i, r := range u.text {
		if isUnspacedScript(r) {
			u.rs = append(u.rs, r)
			u.at = append(u.at, i)
		}
	}
	return u
}

func isUnspacedScript(r rune) bool {
	if r < 0x2E80 {
		return false // fast path: nothing below the CJK radicals qualifies
	}
	return (r >= 0xAC00 && r <= 0xD7A3) || // Hangul syllables
		unicode.Is(unicode.Han, r) || unicode.Is(unicode.Hiragana, r) || unicode.Is(unicode.Katakana, r)
}

// sharedRun is sharedRun for the characters of leakChars: every
// n-character window of p is hashed once (FNV-1a), a hash hit is
// confirmed by comparison and extended to the longest run. The run is
// returned as it stands in the (normalized) outgoing text, from its
// first to its last character, with what was dropped in between.
func (u unspaced) sharedRun(pu unspaced, n int) (string, bool) {
	i, k, ok := sharedWindow(u.rs, pu.rs, n, runeWindowHash)
	if !ok {
		return "", false
	}
	last := u.at[i+k-1]
	_, size := utf8.DecodeRuneInString(u.text[last:])
	return u.text[u.at[i] : last+size], true
}

// runeWindowHash is FNV-1a over the runes' UTF-8 forms (self-delimiting:
// no separator needed), without allocating.
func runeWindowHash(rs []rune) uint64 {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	var b [4]byte
	for _, r := range rs {
		k := utf8.EncodeRune(b[:], r)
		for _, c := range b[:k] {
			h ^= uint64(c)
			h *= prime64
		}
	}
	return h
}

func windowHash(words []string) uint64 {
	h := fnv.New64a()
	for _, w := range words {
		h.Write([]byte(w))
		h.Write([]byte{0}) // words cannot contain NUL: no ambiguity
	}
	return h.Sum64()
}

// hold keeps c as a hidden held comment and tells its author.
func (a *applier) hold(tk *model.Ticket, c *model.Comment, why string) error {
	c.Kind, c.Hidden, c.Reason = model.KindHeld, true, why
	if err := a.addComment(tk, c); err != nil {
		return err
	}
	if err := a.save(tk); err != nil {
		return err
	}
	if err := a.tx.IndexMessageID(a.mail().MessageID, model.Ref{Ticket: tk.ID, Thread: c.Thread, Comment: c.ID}); err != nil {
		return err
	}
	a.res.Ticket, a.res.Disposition, a.res.Detail = tk.ID, model.DispHeld, "reply held: "+firstLine(why)
	m := a.mail()
	text := fmt.Sprintf(`%s

Your mail on ticket #%d was HELD: nothing of it was applied or sent
(its commands wait with it): %s

Your text:
%s

To apply and send it anyway, reply to this mail with the single line
#send
Otherwise write a new mail; the held one stays on the ticket as a hidden record.

%s`, a.cfg.Threading.ReplyMarker, tk.ID, why, quoteLines(c.Text), command.Footer(false))
	// Who gets it: audience.Decide (the sender, while he is staff).
	r, ok := a.transcriptTo()
	if !ok {
		return nil
	}
	o := out{tk: tk, kind: "transcript", rcpt: r.Addr, rcptName: r.Name, private: true, staffTok: true,
		seq: c.ID, thread: c.Thread, fromName: a.mailboxOf(tk).Name, subject: a.answerSubject("Held: ", tk), text: text,
		inReplyTo: m.MessageID, autoSub: "auto-replied"}
	return a.enqueue(o)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// heldComment finds the held reply a #send releases: the one named by the
// transcript's token, else this staff member's newest held reply.
func (a *applier) heldComment(tk *model.Ticket) *model.Comment {
	if seq, ok := a.notificationSeq(tk); ok {
		if c, err := a.tx.Comment(tk.ID, seq); err == nil && c.Kind == model.KindHeld && !c.Released && c.Author == a.staff.Email {
			return c
		}
	}
	cs, err := a.tx.Comments(tk.ID)
	if err != nil {
		return nil
	}
	for i := len(cs) - 1; i >= 0; i-- {
		c := cs[i]
		if c.Kind == model.KindHeld && !c.Released && c.Author == a.staff.Email {
			return c
		}
	}
	return nil
}

// replayHeld applies a held mail as it was written (its commands and
// text), this time without the guards, and marks the held record
// released (SPEC 2, 7: #send sends it anyway).
func (a *applier) replayHeld(tk *model.Ticket, held *model.Comment) error {
	msg, err := a.tx.Message(held.Message)
	if err != nil {
		return fmt.Errorf("held mail %d: %w", held.Message, err)
	}
	raw := a.tx.RawInline(msg.ID)
	if raw == nil {
		// A large mail spooled to a file: read it back (local disk).
		rc, err := a.e.db.OpenRaw(msg)
		if err != nil {
			return err
		}
		raw, err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	held.Released = true
	held.Reason = "released by #send: " + firstLine(held.Reason)
	if err := a.tx.PutComment(held); err != nil {
		return err
	}
	if err := a.event(tk, fmt.Sprintf("held mail (comment %d) released by %s", held.ID, a.staff.Email)); err != nil {
		return err
	}
	// Run the held mail in its own context, then come back.
	savedIn, savedMsg, savedRes := a.in, a.msg, a.res
	defer func() { a.in, a.msg, a.replaying = savedIn, savedMsg, false }()
	in := *savedIn
	in.mail = threading.Parse(bytes.NewReader(raw), threading.ParseOptions{ReplyMarker: a.cfg.Threading.ReplyMarker})
	in.tokens = nil
	a.in, a.msg, a.replaying = &in, msg, true
	d := threading.Decision{Outcome: threading.OutStaff, Ticket: tk.ID, DefaultPrivate: held.Visibility == model.Private}
	if th := threadByID(tk, held.Thread); th != nil && th.Kind == model.ThreadSide {
		d.Outcome, d.Thread, d.DefaultPrivate = threading.OutStaffSide, th.ID, true
	}
	r := a.planCommands(tk, d, command.Parse(a.staffText()), false, nil)
	if !r.OK() {
		// The ticket changed since (e.g. the merge target is gone).
		err = a.reject(tk, r)
	} else {
		err = a.applyPlan(r)
	}
	a.res.Message = savedRes.Message
	return err
}
