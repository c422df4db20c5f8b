package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/audience"
	"helpdesk/gateway/mailtext"
	"helpdesk/gateway/survey"
	"helpdesk/store/model"
	"helpdesk/threading"
	"helpdesk/threading/token"
)

// The satisfaction survey (SPEC 7, issue 15 item 3): [survey] delay
// after a ticket's resolution the requester gets one survey mail (the
// survey template, in the customer's language) whose reply address
// carries a token of its own kind (token.FlagSurvey). A reply to that
// address within survey.ReplyWindow is a rating whatever the ticket's
// status: recorded as a private survey comment and Ticket.CSAT, never
// reopening the ticket, never a follow-up or a new ticket. Which ticket
// is due and what a reply rates are gateway/survey's pure decisions.

// kindSurvey is the survey's timer kind (timers.go): armed while a
// resolved (or since closed) ticket is due its survey, for the instant
// [survey] delay after its resolution.
const kindSurvey = "survey"

func init() {
	registerTimer(timerSource{
		kind: kindSurvey,
		stamp: func(cfg *config.Config) string {
			if !cfg.Survey.Enabled {
				return "off"
			}
			return cfg.Survey.Delay.D().String()
		},
		next: func(a *applier, tk *model.Ticket) (time.Time, bool) { return SurveyDue(a.cfg, tk) },
		fire: func(a *applier, tk *model.Ticket, _ time.Time) error {
			_, err := a.sendSurvey(tk)
			return err
		},
	})
}

// Markers in Comment.Reason: the triggers' pass reads a rating from its
// comment, and the survey's own event is no update by anyone.
const (
	surveySent    = "survey sent"
	surveyRated   = "survey rating "
	surveyUnrated = "survey reply without a rating"
	// surveyMailedText begins the event of a survey mailed.
	surveyMailedText = "satisfaction survey sent to "
)

// surveyTicket returns the ticket a reply rates: the mail went to a
// survey token no older than survey.ReplyWindow, from the person it was
// sent to or the ticket's requester. ok is false otherwise (the mail is
// then an ordinary one).
func (a *applier) surveyTicket() (*model.Ticket, bool) {
	if a.staff != nil {
		return nil, false
	}
	for _, rt := range a.in.tokens {
		t := rt.tok
		if !t.Survey() || t.Issued.IsZero() || a.now.Sub(t.Issued) > survey.ReplyWindow+token.IssuedUnit {
			continue
		}
		tk, err := a.resolve(t.Ticket)
		if err != nil {
			continue
		}
		if a.in.sender != tk.Requester {
			u, err := a.tx.UserByID(t.Party)
			if err != nil || u.Addr != a.in.sender {
				continue
			}
		}
		return tk, true
	}
	return nil, false
}

// tokenlessSurveyTicket returns the ticket a mail without the survey's
// reply token still rates. Customers' mail programs drop a Reply-To
// (answering the From address), and customers write a new mail quoting
// the survey's subject: such a mail reaches the ticket by its other keys
// (References, the subject tag; threading.Decide, which refuses them to
// a sender failing DMARC), and is a rating when it comes from the
// requester of a resolved or closed ticket whose survey for the current
// resolution went out no more than survey.ReplyWindow ago, and either
// answers the survey mail itself (In-Reply-To or References name it:
// then as the token's reply, a rating or a private survey comment) or
// begins with a rating ("5", "좋아요", "매우 만족"). Anything else is an
// ordinary mail: it reopens the ticket or opens a follow-up as before.
func (a *applier) tokenlessSurveyTicket(d threading.Decision) (*model.Ticket, bool) {
	if a.staff != nil || !a.cfg.Survey.Enabled {
		return nil, false
	}
	var id uint64
	switch {
	case d.Outcome == threading.OutPublicComment && d.Thread == 0:
		id = d.Ticket
	case d.FollowUpOf != 0:
		id = d.FollowUpOf
	default:
		return nil, false
	}
	tk, err := a.resolve(id)
	if err != nil || tk.Requester != a.in.sender || tk.ResolvedAt == nil || tk.SurveyFor == nil ||
		!tk.SurveyFor.Equal(*tk.ResolvedAt) || tk.Status != model.StatusResolved && tk.Status != model.StatusClosed {
		return nil, false
	}
	var sent time.Time
	m := a.mail()
	for _, mid := range slices.Concat(m.InReplyTo, m.References) {
		ref, ok := a.tx.LookupMessageID(mid)
		if !ok || ref.Ticket != tk.ID {
			continue
		}
		if c, err := a.tx.Comment(ref.Ticket, ref.Comment); err == nil && surveyMailed(c) {
			sent = c.Created
			break
		}
	}
	if sent.IsZero() {
		if survey.ParseRating(a.bodyText()).Score == 0 {
			return nil, false
		}
		sent = a.surveySentAt(tk)
	}
	if sent.IsZero() || a.now.Sub(sent) > survey.ReplyWindow {
		return nil, false
	}
	return tk, true
}

// surveyMailed reports whether c records a survey mailed to the
// requester (not one left unsent).
func surveyMailed(c *model.Comment) bool {
	return c.Reason == surveySent && strings.HasPrefix(c.Text, surveyMailedText)
}

// surveySentAt is when the ticket's latest survey was mailed (zero: its
// latest survey record says it was not sent, or none is found among the
// last 500 records).
func (a *applier) surveySentAt(tk *model.Ticket) time.Time {
	for seq := tk.LastSeq; seq > 0 && tk.LastSeq-seq < 500; seq-- {
		c, err := a.tx.Comment(tk.ID, seq)
		if err != nil || c.Reason != surveySent {
			continue
		}
		if surveyMailed(c) {
			return c.Created
		}
		return time.Time{}
	}
	return time.Time{}
}

// surveyReply records a reply to the survey: its rating (Ticket.CSAT,
// replacing an earlier one) or, with no rating to read, a private survey
// comment the ticket's agents are told of. The status stays as it is.
func (a *applier) surveyReply(tk *model.Ticket) error {
	m := a.mail()
	if _, err := a.ensureUser(a.in.sender, a.in.spelled, m.From.Name, true); err != nil {
		return err
	}
	r := survey.ParseRating(a.bodyText())
	c := a.inboundComment(0, model.Private)
	c.Reason = surveyUnrated
	if r.Score > 0 {
		c.Reason = fmt.Sprintf("%s%d", surveyRated, r.Score)
	}
	if err := a.addComment(tk, c); err != nil {
		return err
	}
	a.res.Ticket, a.res.Disposition = tk.ID, model.DispComment
	if r.Score > 0 {
		tk.CSAT = &model.CSAT{Rating: r.Score, Comment: r.Comment, At: a.now}
		a.res.Detail = fmt.Sprintf("satisfaction rating %d (%q)", r.Score, r.Word)
	} else {
		a.res.Detail = "reply to the satisfaction survey without a rating: kept as a private survey comment"
		ev := audience.Event{Kind: audience.Notice}
		err := a.notifyDecided(tk, ev, func(*config.Agent) (string, string) {
			return "Survey answer without a rating: " + tk.Subject,
				fmt.Sprintf("%s answered the satisfaction survey of ticket #%d without a rating we could read (1-5, good, bad, 좋아요, 별로, ...). It is kept on the ticket as a private survey comment; the ticket's status is unchanged.\n\n%s",
					a.in.sender, tk.ID, quoteLines(c.Text))
		})
		if err != nil {
			return err
		}
	}
	a.trace.surveyReply(tk, r)
	if err := a.save(tk); err != nil {
		return err
	}
	return a.tx.IndexMessageID(m.MessageID, model.Ref{Ticket: tk.ID, Comment: c.ID})
}

// surveyEvents are the trigger events of a survey comment: a rating,
// and a bad one when it is 2 or less; none for a reply without one.
func surveyEvents(c *model.Comment) (rating, bad bool) {
	n, ok := strings.CutPrefix(c.Reason, surveyRated)
	if !ok {
		return false, false
	}
	score := 0
	fmt.Sscan(n, &score)
	return true, score > 0 && score <= survey.BadRating
}

// SurveyDue is when tk is due its survey under cfg; ok false: none is
// pending (no [survey], or gateway/survey says none).
func SurveyDue(cfg *config.Config, tk *model.Ticket) (at time.Time, ok bool) {
	if !cfg.Survey.Enabled {
		return at, false
	}
	return survey.Due(tk, cfg.Survey.Delay.D())
}

// sendSurvey mails tk's requester the survey when it is due at the
// write's instant (the survey timer fired; it checks again, the ticket
// may have changed since it was armed), and marks the resolution as
// surveyed whether or not the requester can be mailed (a bouncing one is
// not tried again). It reports whether the ticket changed.
func (a *applier) sendSurvey(tk *model.Ticket) (bool, error) {
	at, ok := SurveyDue(a.cfg, tk)
	if !ok || at.After(a.now) {
		return false, nil
	}
	res := *tk.ResolvedAt
	tk.SurveyFor = &res
	why := ""
	ev := audience.Event{Kind: audience.Survey}
	d := audience.Decide(ev, a.participants(tk, ev), staffDir{a.cfg})
	switch {
	case a.cfg.IsOwnAddress(tk.Requester):
		why = "the requester is one of our own addresses"
	case len(d.Recipients) == 0:
		why = "the requester " + tk.Requester + " " + string(d.Why(tk.Requester))
	}
	if why != "" {
		return true, a.survey(tk, "satisfaction survey not sent: "+why)
	}
	rcpt := d.Recipients[0].Addr
	name := ""
	if u, err := a.user(rcpt); err == nil {
		name = u.Name
	}
	mb := a.mailboxOf(tk)
	text, err := a.e.texts().Templates.Render(mb.Address, a.ticketLanguage(tk), mailtext.Survey, a.publicData(tk, mb, name))
	if err != nil {
		return false, fmt.Errorf("rendering the survey of #%d: %w", tk.ID, err)
	}
	if err := a.survey(tk, surveyMailedText+rcpt); err != nil {
		return false, err
	}
	return true, a.enqueue(out{
		tk: tk, kind: "survey", rcpt: rcpt, rcptName: name, seq: tk.LastSeq, mb: mb, fromName: mb.Name,
		subject: threading.Tag(a.cfg.Threading.TagPrefix, tk.ID) + " " + tk.Subject, text: text,
		flags: token.FlagSurvey,
	})
}

// survey records what became of a ticket's survey: an event marked so
// the triggers' pass sees no update in it.
func (a *applier) survey(tk *model.Ticket, text string) error {
	if err := a.addComment(tk, &model.Comment{Kind: model.KindEvent, Visibility: model.Private, Author: "helpdesk", Text: text, Reason: surveySent}); err != nil {
		return err
	}
	return a.save(tk)
}
