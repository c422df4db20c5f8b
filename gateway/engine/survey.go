package engine

import (
	"fmt"
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
	if err := a.tx.AddComment(tk, c); err != nil {
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
	if err := a.survey(tk, "satisfaction survey sent to "+rcpt); err != nil {
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
	if err := a.tx.AddComment(tk, &model.Comment{Kind: model.KindEvent, Visibility: model.Private, Author: "helpdesk", Text: text, Reason: surveySent}); err != nil {
		return err
	}
	return a.save(tk)
}
