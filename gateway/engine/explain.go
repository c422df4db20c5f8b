package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"helpdesk/config"
	"helpdesk/gateway/audience"
	"helpdesk/gateway/plan"
	"helpdesk/gateway/survey"
	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/threading"
	"helpdesk/threading/command"
	"helpdesk/threading/machine"
)

// Explanation is what a mail would do if it arrived now (helpdesk
// explain): the decisions of the daemon's own apply path, taken inside a
// store write that is always rolled back.
type Explanation struct {
	MailFrom string   `json:"mail_from"`
	Rcpts    []string `json:"rcpts"`
	From     string   `json:"from"`
	Subject  string   `json:"subject"`
	// Class is the machine classification (human, auto-reply, bounce…).
	Class string      `json:"class"`
	Auth  ExplainAuth `json:"auth"`
	// Result is what Deliver would answer: disposition, ticket, detail.
	Result Result `json:"result"`
	// Threading is threading.Decide's decision; nil when the mail never
	// got that far (a loop, an authentication failure, machine mail).
	Threading *ExplainThread `json:"threading,omitempty"`
	// Commands are the staff mail's planned command blocks.
	Commands []ExplainPlan `json:"commands"`
	// Triggers are the [[trigger]]s whose conditions matched, in order.
	Triggers []ExplainTrigger `json:"triggers"`
	// Audience is audience.Decide's answer for each comment fanned out.
	Audience []ExplainAudience `json:"audience"`
	// Mail is every mail that would be queued.
	Mail []ExplainMail `json:"mail"`
	// Webhooks are the webhook deliveries the firing triggers would
	// queue (none is sent).
	Webhooks []ExplainWebhook `json:"webhooks"`
}

// ExplainWebhook is one webhook delivery a trigger would queue.
type ExplainWebhook struct {
	Ticket  uint64 `json:"ticket"`
	Trigger string `json:"trigger"`
	Name    string `json:"name"`
	Format  string `json:"format"`
	// Host is the receiver's host (the URL's path is often its secret,
	// as in Slack's, so it is not shown).
	Host string `json:"host"`
	// Missing: the trigger names a webhook the configuration lacks.
	Missing bool `json:"missing,omitempty"`
}

// ExplainAuth is the authentication verdict as the daemon judges it.
type ExplainAuth struct {
	Checked     bool     `json:"checked"`
	DMARC       string   `json:"dmarc"`
	DKIMAligned bool     `json:"dkim_aligned"`
	AuthResPass bool     `json:"authres_pass"`
	Failed      []string `json:"failed"`
	// Staff is the staff member the From address names ("" none);
	// StaffAuthenticated says whether auth.staff let the mail act as
	// them, StaffFailure why not.
	Staff              string `json:"staff,omitempty"`
	StaffAuthenticated bool   `json:"staff_authenticated"`
	StaffFailure       string `json:"staff_failure,omitempty"`
}

// ExplainThread is the threading decision.
type ExplainThread struct {
	Outcome    string `json:"outcome"`
	Ticket     uint64 `json:"ticket"`
	Thread     uint32 `json:"thread"`
	Role       string `json:"role"`
	Key        string `json:"key"`
	Related    uint64 `json:"related,omitempty"`
	FollowUpOf uint64 `json:"follow_up_of,omitempty"`
	Private    bool   `json:"default_private,omitempty"`
	Reason     string `json:"reason"`
}

// ExplainPlan is one command block as package plan planned it.
type ExplainPlan struct {
	Ticket uint64 `json:"ticket"`
	OK     bool   `json:"ok"`
	// Transcript is the block as the sender's transcript would show it,
	// problems named.
	Transcript string   `json:"transcript"`
	Problems   []string `json:"problems"`
	Changes    []string `json:"changes"`
}

// ExplainTrigger is a trigger whose conditions matched a ticket.
type ExplainTrigger struct {
	Ticket uint64 `json:"ticket"`
	Name   string `json:"name"`
}

// ExplainAudience is who a comment goes to and who is left out.
type ExplainAudience struct {
	Ticket     uint64             `json:"ticket"`
	Comment    uint32             `json:"comment"`
	Kind       string             `json:"kind"` // public | note | side | notice
	Recipients []ExplainRecipient `json:"recipients"`
	Left       []ExplainLeft      `json:"left"`
}

// ExplainRecipient is one recipient of a comment and the view it gets.
type ExplainRecipient struct {
	Addr string `json:"addr"`
	View string `json:"view"` // customer | staff | collaborator
}

// ExplainLeft is a participant who gets nothing, and why.
type ExplainLeft struct {
	Addr string `json:"addr"`
	Why  string `json:"why"`
}

// ExplainMail is one mail that would be queued.
type ExplainMail struct {
	Ticket  uint64 `json:"ticket"`
	Kind    string `json:"kind"`
	Rcpt    string `json:"rcpt"`
	Subject string `json:"subject"`
	Private bool   `json:"private,omitempty"`
}

// explainTrace collects an applier's decisions. Its methods do nothing
// on a nil trace (every write but explain's).
type explainTrace struct{ x *Explanation }

func (t *explainTrace) staffAuth(ok bool, failed string) {
	if t == nil {
		return
	}
	t.x.Auth.StaffAuthenticated, t.x.Auth.StaffFailure = ok, failed
}

func (t *explainTrace) decided(d threading.Decision) {
	if t == nil {
		return
	}
	t.x.Threading = &ExplainThread{Outcome: string(d.Outcome), Ticket: d.Ticket, Thread: d.Thread, Role: string(d.Role),
		Key: string(d.Key), Related: d.Related, FollowUpOf: d.FollowUpOf, Private: d.DefaultPrivate, Reason: d.Reason}
}

func (t *explainTrace) planned(tk *model.Ticket, p *plan.Plan) {
	if t == nil {
		return
	}
	ep := ExplainPlan{OK: p.OK(), Problems: []string{}, Changes: []string{}}
	if tk != nil {
		ep.Ticket = tk.ID
	}
	results := command.Results(p.Block, p.Problems)
	for i := range results {
		if msg, ok := p.Results[i]; ok && p.OK() {
			results[i].Message = msg
		}
	}
	ep.Transcript = command.FormatTranscript(results, p.OK())
	for _, pr := range p.Problems {
		ep.Problems = append(ep.Problems, pr.String())
	}
	for _, ch := range p.Changes {
		ep.Changes = append(ep.Changes, changeText(ch))
	}
	t.x.Commands = append(t.x.Commands, ep)
}

// changeText names a planned change: its type and its fields.
func changeText(ch plan.Change) string {
	s := strings.TrimPrefix(fmt.Sprintf("%T %+v", ch, ch), "plan.")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func (t *explainTrace) fired(tk *model.Ticket, name string) {
	if t == nil {
		return
	}
	t.x.Triggers = append(t.x.Triggers, ExplainTrigger{Ticket: tk.ID, Name: name})
}

func (t *explainTrace) audience(tk *model.Ticket, c *model.Comment, ev audience.Event, d audience.Decision) {
	if t == nil {
		return
	}
	ea := ExplainAudience{Ticket: tk.ID, Comment: c.ID, Kind: kindName(ev.Kind), Recipients: []ExplainRecipient{}, Left: []ExplainLeft{}}
	for _, r := range d.Recipients {
		ea.Recipients = append(ea.Recipients, ExplainRecipient{Addr: r.Addr, View: viewName(r.View)})
	}
	for _, l := range d.Left {
		ea.Left = append(ea.Left, ExplainLeft{Addr: l.Addr, Why: string(l.Why)})
	}
	t.x.Audience = append(t.x.Audience, ea)
}

func (t *explainTrace) webhook(tk *model.Ticket, trigger, name string, wh *config.Webhook) {
	if t == nil {
		return
	}
	w := ExplainWebhook{Ticket: tk.ID, Trigger: trigger, Name: name, Missing: wh == nil}
	if wh != nil {
		w.Name, w.Format = wh.Name, wh.Format
		if u, err := url.Parse(wh.URL); err == nil {
			w.Host = u.Host
		}
	}
	t.x.Webhooks = append(t.x.Webhooks, w)
}

// surveyReply records that the mail answers a satisfaction survey: it
// rates the ticket instead of being threaded.
func (t *explainTrace) surveyReply(tk *model.Ticket, r survey.Rating) {
	if t == nil {
		return
	}
	why := "reply to the satisfaction survey without a rating: kept as a private survey comment, the ticket's agents told"
	if r.Score > 0 {
		why = fmt.Sprintf("reply to the satisfaction survey: rating %d (%q); the status stays %s", r.Score, r.Word, tk.Status)
	}
	t.x.Threading = &ExplainThread{Outcome: "survey-reply", Ticket: tk.ID, Role: "requester", Key: "token", Reason: why}
}

func (t *explainTrace) queued(ob *model.Outbound, private bool) {
	if t == nil {
		return
	}
	t.x.Mail = append(t.x.Mail, ExplainMail{Ticket: ob.Ticket, Kind: ob.Kind, Rcpt: ob.Rcpt, Subject: ob.Subject, Private: private})
}

func kindName(k audience.Kind) string {
	switch k {
	case audience.Public:
		return "public"
	case audience.Note:
		return "note"
	case audience.Side:
		return "side"
	case audience.Notice:
		return "notice"
	}
	return fmt.Sprint(k)
}

func viewName(v audience.View) string {
	switch v {
	case audience.ViewCustomer:
		return "customer"
	case audience.ViewStaff:
		return "staff"
	case audience.ViewCollaborator:
		return "collaborator"
	}
	return fmt.Sprint(v)
}

// errExplained ends explain's write: returning it rolls everything back.
var errExplained = errors.New("explain: write rolled back")

// Explain says what raw would do if it arrived now with the envelope in
// opt, storing and sending nothing. It runs the same steps as Deliver
// (parse, classify, identify, tokens, authentication outside the write)
// and then the daemon's own apply path inside a store write that is
// always rolled back, so what it reports cannot drift from what
// delivery does.
func (e *Engine) Explain(ctx context.Context, raw []byte, opt InjectOptions) (*Explanation, error) {
	cfg := e.Config()
	env, err := envelopeOf(cfg, raw, opt)
	if err != nil {
		return nil, err
	}
	env.Via = "explain"
	in := &inbound{env: env, size: int64(len(raw)), started: e.now()}
	in.mail = threading.ParseBytes(raw, threading.ParseOptions{ReplyMarker: cfg.Threading.ReplyMarker})
	in.mail.EnvelopeFrom = env.MailFrom
	machine.Classify(in.mail)
	e.identify(cfg, in)
	e.verifyTokens(cfg, in)
	// As in Deliver: DNS only when the answer matters, never inside the
	// write.
	e.authenticate(ctx, cfg, in, func() (io.ReaderAt, int64, bool) {
		return bytes.NewReader(raw), int64(len(raw)), true
	}, false)
	in.raw = e.db.PackRaw(raw)

	var x *Explanation
	err = e.db.Update(func(tx store.Tx) error {
		// The write may run more than once (group commit): start afresh.
		x = &Explanation{MailFrom: env.MailFrom, Rcpts: env.Rcpts, From: in.mail.From.Addr, Subject: in.mail.Subject,
			Class: string(in.mail.Class), Commands: []ExplainPlan{}, Triggers: []ExplainTrigger{},
			Audience: []ExplainAudience{}, Mail: []ExplainMail{}, Webhooks: []ExplainWebhook{}}
		v := in.verdict
		x.Auth = ExplainAuth{Checked: v.Checked, DMARC: v.DMARC, DKIMAligned: v.DKIMAligned, AuthResPass: v.AuthResPass,
			Failed: append([]string{}, v.Failed...)}
		if in.agent != nil {
			x.Auth.Staff = staffEmail(in.agent)
		}
		a := &applier{e: e, cfg: cfg, tx: tx, in: in, now: tx.Now(), trace: &explainTrace{x: x}}
		if err := a.run(); err != nil {
			return err
		}
		x.Result = a.res
		x.Result.Outbound = a.enqueued
		// Nothing of the write is kept: no message, ticket or queued mail.
		x.Result.Message = 0
		return errExplained
	})
	if !errors.Is(err, errExplained) {
		if err == nil {
			err = errors.New("the write was not rolled back")
		}
		return nil, fmt.Errorf("explaining the mail: %w", err)
	}
	return x, nil
}
