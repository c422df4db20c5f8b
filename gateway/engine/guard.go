package engine

import (
	"fmt"
	"strings"

	"helpdesk/store"

	"helpdesk/threading/command"
)

// Guards run before a staff message leaves for end users or collaborators
// (SPEC 2, 7): the leak check holds a mail that contains the text of a
// private note or of another side thread; the collision guard holds a
// public reply written against a notification older than another agent's
// public reply. A held mail waits as a hidden comment; the author gets a
// transcript and releases it with #send.

// guard reports whether c must be held, and why.
func (a *applier) guard(tk *store.Ticket, c *store.Comment, side bool) (bool, string) {
	cs, err := a.tx.Comments(tk.ID)
	if err != nil {
		return false, ""
	}
	if !side && c.Visibility == store.Public {
		if seq, ok := a.notificationSeq(tk); ok {
			var meanwhile []string
			for _, x := range cs {
				if x.ID > seq && x.Kind == store.KindComment && x.Visibility == store.Public && x.Thread == 0 && !x.Hidden &&
					x.Author != a.staff.Email && a.cfg.Agent(x.Author) != nil {
					meanwhile = append(meanwhile, fmt.Sprintf("%s wrote (comment %d):\n%s", a.authorName(x), x.ID, quoteLines(x.Text)))
				}
			}
			if len(meanwhile) > 0 {
				return true, "another agent replied publicly after the notification you answered:\n\n" + strings.Join(meanwhile, "\n\n")
			}
		}
	}
	out := normalizeForLeak(c.Text)
	for _, x := range cs {
		if x.Kind != store.KindComment && x.Kind != store.KindHeld {
			continue
		}
		private := (x.Thread == 0 && x.Visibility == store.Private) || (x.Thread != 0 && x.Thread != c.Thread)
		if !private || strings.TrimSpace(x.Text) == "" {
			continue
		}
		if frag, ok := leaks(out, x.Text); ok {
			where := "a private note"
			if x.Thread != 0 {
				where = fmt.Sprintf("side thread %d", x.Thread)
			}
			return true, fmt.Sprintf("it contains text of %s (comment %d): %q", where, x.ID, frag)
		}
	}
	return false, ""
}

// notificationSeq is the comment sequence of the notification the staff
// member answered (from their reply token).
func (a *applier) notificationSeq(tk *store.Ticket) (uint32, bool) {
	u, err := a.user(a.staff.Email)
	if err != nil {
		return 0, false
	}
	for _, t := range a.in.tokens {
		if t.tok.Party == u.ID {
			return t.tok.Seq, true
		}
	}
	return 0, false
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

Your reply on ticket #%d was HELD and not sent: %s

Your text:
%s

To send it anyway, reply to this mail with the single line
#send
Otherwise write a new reply; the held one stays on the ticket as a hidden record.

%s`, a.cfg.Threading.ReplyMarker, tk.ID, why, quoteLines(c.Text), command.Footer(false))
	o := out{tk: tk, kind: "transcript", rcpt: a.staff.Email, rcptName: a.in.agent.Name, private: true, staffTok: true,
		seq: c.ID, thread: c.Thread, fromName: a.mailboxOf(tk).Name, subject: "Held: " + m.Subject, text: text,
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
		if c, err := a.tx.Comment(tk.ID, seq); err == nil && c.Kind == store.KindHeld && !c.Released {
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

// releaseHeld turns a held reply into the comment it was meant to be and
// sends it.
func (a *applier) releaseHeld(tk *store.Ticket, c *store.Comment) error {
	c.Kind, c.Hidden, c.Released = store.KindComment, false, true
	c.Reason = "held, released by #send: " + firstLine(c.Reason)
	if c.Visibility == store.Public && c.Thread == 0 && c.ID > tk.LastPublicSeq {
		tk.LastPublicSeq = c.ID
	}
	if err := a.tx.PutComment(c); err != nil {
		return err
	}
	side := c.Thread != 0
	if err := a.fanOut(tk, c, fanOpts{toCollaborators: side}); err != nil {
		return err
	}
	if th := threadByID(tk, c.Thread); side && th != nil {
		th.LastMessageID = a.lastSideMessageID
	}
	return a.event(tk, fmt.Sprintf("held reply %d released by %s", c.ID, a.staff.Email))
}
