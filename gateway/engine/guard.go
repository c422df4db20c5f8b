package engine

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"helpdesk/store"
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
func (a *applier) guard(tk *store.Ticket, c *store.Comment, side bool) (bool, string, error) {
	cs, err := a.tx.Comments(tk.ID)
	if err != nil {
		return false, "", fmt.Errorf("guard: reading the comments of ticket %d: %w", tk.ID, err)
	}
	if !side && c.Visibility == store.Public {
		// LastPublicSeq: no public reply at all since the notification.
		if seq, ok := a.notificationSeq(tk); ok && tk.LastPublicSeq > seq {
			var meanwhile []string
			for _, x := range cs {
				if x.ID > seq && x.Kind == store.KindComment && x.Visibility == store.Public && x.Thread == 0 && !x.Hidden &&
					!isMoved(x) && x.Author != a.staff.Email && a.cfg.Agent(x.Author) != nil {
					meanwhile = append(meanwhile, fmt.Sprintf("%s wrote (comment %d):\n%s", a.authorName(x), x.ID, quoteLines(x.Text)))
				}
			}
			if len(meanwhile) > 0 {
				return true, "another agent replied publicly after the notification you answered:\n\n" + strings.Join(meanwhile, "\n\n"), nil
			}
		}
	}
	out := normalizeForLeak(c.Text)
	for _, x := range cs {
		if x.Kind != store.KindComment && x.Kind != store.KindHeld {
			continue
		}
		private := (x.Thread == 0 && x.Visibility == store.Private) || (x.Thread != 0 && x.Thread != c.Thread)
		text := originalText(x)
		if !private || strings.TrimSpace(text) == "" {
			continue
		}
		if frag, ok := leaks(out, text); ok {
			where := "a private note"
			if x.Thread != 0 {
				where = fmt.Sprintf("side thread %d", x.Thread)
			}
			return true, fmt.Sprintf("it contains text of %s (comment %d): %q", where, x.ID, frag), nil
		}
	}
	return false, "", nil
}

// notificationSeq is the comment sequence of the notification the staff
// member answered (from their reply token). Only a token of tk itself
// counts: a token of a ticket merged into tk carries that ticket's
// comment numbers, which mean nothing here.
func (a *applier) notificationSeq(tk *store.Ticket) (uint32, bool) {
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

func isMoved(c *store.Comment) bool { return strings.HasPrefix(c.Reason, mergeMark) }

// originalText is a comment's text as written: a merge prefixes the text
// of the comments it moves with "[from #N] " (merge), which must not hide
// a moved private note from the leak check.
func originalText(c *store.Comment) string {
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

func normalizeForLeak(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// leaks reports whether private text p appears in outgoing text out (both
// compared with white space folded): the whole of p when it has at least
// 12 characters, or any of its lines with at least 20.
func leaks(out, p string) (string, bool) {
	whole := normalizeForLeak(p)
	if len(whole) >= 12 && strings.Contains(out, whole) {
		return whole, true
	}
	for _, line := range strings.Split(p, "\n") {
		l := normalizeForLeak(strings.TrimLeft(line, "> "))
		if len(l) >= 20 && strings.Contains(out, l) {
			return l, true
		}
	}
	return "", false
}

// hold keeps c as a hidden held comment and tells its author.
func (a *applier) hold(tk *store.Ticket, c *store.Comment, why string) error {
	c.Kind, c.Hidden, c.Reason = store.KindHeld, true, why
	if err := a.tx.AddComment(tk, c); err != nil {
		return err
	}
	if err := a.save(tk); err != nil {
		return err
	}
	if err := a.tx.IndexMessageID(a.mail().MessageID, store.Ref{Ticket: tk.ID, Thread: c.Thread, Comment: c.ID}); err != nil {
		return err
	}
	a.res.Ticket, a.res.Disposition, a.res.Detail = tk.ID, store.DispHeld, "reply held: "+firstLine(why)
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
	o := out{tk: tk, kind: "transcript", rcpt: a.staff.Email, rcptName: a.in.agent.Name, private: true, staffTok: true,
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
func (a *applier) heldComment(tk *store.Ticket) *store.Comment {
	if seq, ok := a.notificationSeq(tk); ok {
		if c, err := a.tx.Comment(tk.ID, seq); err == nil && c.Kind == store.KindHeld && !c.Released && c.Author == a.staff.Email {
			return c
		}
	}
	cs, err := a.tx.Comments(tk.ID)
	if err != nil {
		return nil
	}
	for i := len(cs) - 1; i >= 0; i-- {
		c := cs[i]
		if c.Kind == store.KindHeld && !c.Released && c.Author == a.staff.Email {
			return c
		}
	}
	return nil
}

// replayHeld applies a held mail as it was written (its commands and
// text), this time without the guards, and marks the held record
// released (SPEC 2, 7: #send sends it anyway).
func (a *applier) replayHeld(tk *store.Ticket, held *store.Comment) error {
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
	d := threading.Decision{Outcome: threading.OutStaff, Ticket: tk.ID, DefaultPrivate: held.Visibility == store.Private}
	if th := threadByID(tk, held.Thread); th != nil && th.Kind == store.ThreadSide {
		d.Outcome, d.Thread, d.DefaultPrivate = threading.OutStaffSide, th.ID, true
	}
	r := a.planCommands(tk, d, command.Parse(a.staffText()), false)
	if len(r.probs) > 0 {
		// The ticket changed since (e.g. the merge target is gone).
		err = a.reject(tk, r)
	} else {
		err = a.applyPlan(r)
	}
	a.res.Message = savedRes.Message
	return err
}
