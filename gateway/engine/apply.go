package engine

import (
	"fmt"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/audience"
	"helpdesk/gateway/report"
	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/threading"
	"helpdesk/threading/token"
)

// applier applies one mail inside one store write. It may run more than
// once (group commit retries), so it keeps all state in its own fields and
// touches nothing outside the transaction.
// inboundRef is who wrote the applied mail's comment, and in which thread
// (for their References chain).
type inboundRef struct {
	author string
	thread uint32
}

type applier struct {
	// inbound is set when the mail became a comment.
	inbound *inboundRef
	// sentIDs are the Message-IDs of the mail this write queued.
	sentIDs []string
	e       *Engine
	cfg     *config.Config
	tx      store.Tx
	in      *inbound
	now     time.Time
	// slaMemo keeps each ticket's SLA targets for this write (slaFor).
	slaMemo map[uint64]*slaMemo

	msg   *model.Message
	staff *threading.Staff
	// replaying: a held mail is being applied by #send (no guards).
	replaying bool
	// lastMessageID is the Message-ID of the newest mail enqueued.
	lastMessageID string
	res           Result
	enqueued      int
	// erasing: this mail confirmed a #customer erase, recorded in its
	// write; the erase runs once it has committed (erasures.go).
	erasing bool
	// release is set when an admin released a quarantined record: the
	// failed check is waived and the stored message reused.
	release *model.Quarantine

	// The tickets this write reads, creates and changes (tickets.go).
	tickets map[uint64]*model.Ticket
	created map[uint64]bool
	dirty   map[uint64]bool
	// reportBefore: each ticket as first read, for the report index
	// (tickets.go flush); created tickets have none.
	reportBefore map[uint64]report.State
	users        map[string]*model.User
	dirtyUsers   map[string]bool
	// intros: staff to tell why they get a ticket's mail (assign.go).
	intros map[uint64]map[string]intro
	// before: the tickets as first read, for the triggers' pass
	// (triggers.go); rule: the trigger being applied ("" none).
	before map[uint64]before
	rule   string
	// ruleWhat: "trigger" or "automation" (the rule being applied).
	ruleWhat string
	passed   map[uint64]bool // tickets whose pass ran
	// touched: tickets to re-arm though not saved; firing: the timers
	// this write fires (timers.go).
	touched map[uint64]bool
	firing  map[timerKey]bool
	// trace records the decisions of a write helpdesk explain rolls
	// back (explain.go); nil otherwise.
	trace *explainTrace
	// book holds the customer profiles this write reads and changes
	// (customers.go).
	book *book
}

func (a *applier) mail() *threading.Mail { return a.in.mail }

func (a *applier) run() error {
	m := a.mail()
	if a.release != nil {
		msg, err := a.tx.Message(a.release.Message)
		if err != nil {
			return fmt.Errorf("loading released message: %w", err)
		}
		a.msg = msg
		q, err := a.tx.QuarantineRecord(a.release.ID)
		if err != nil {
			return fmt.Errorf("loading quarantine record %d: %w", a.release.ID, err)
		}
		if q.Released {
			// Checked again inside the write: two releases apply once.
			return fmt.Errorf("quarantine record %d was already released", q.ID)
		}
		now := a.now
		q.Released, q.ReleasedAt = true, &now
		if err := a.tx.PutQuarantine(q); err != nil {
			return fmt.Errorf("marking quarantine record %d released: %w", q.ID, err)
		}
	} else {
		dup, err := a.tx.Duplicate(m.MessageID, m.BodyHash)
		if err != nil {
			return fmt.Errorf("looking for a duplicate: %w", err)
		}
		if dup != nil {
			// SPEC 3.6 / 11: the same mail twice is stored and applied once.
			a.res = Result{Message: dup.ID, Ticket: dup.Ticket, Disposition: dup.Disposition, Duplicate: true, Detail: "duplicate of message " + fmt.Sprint(dup.ID)}
			return nil
		}
		a.msg = &model.Message{
			Received: a.now, MailFrom: a.in.env.MailFrom, Rcpts: a.in.env.Rcpts, Size: a.in.size,
			MessageID: m.MessageID, BodyHash: m.BodyHash, Blob: a.in.blob, Class: string(m.Class),
			ParseErrors: capList(m.ParseErrors, 20),
		}
		if a.in.env.RemoteIP.IsValid() {
			a.msg.RemoteIP = a.in.env.RemoteIP.String()
		}
		// The record itself is stored once, at the end of run.
		if err := a.tx.ReserveMessage(a.msg, a.in.raw); err != nil {
			return fmt.Errorf("reserving the message record: %w", err)
		}
	}
	// Each step's error names the step, so the 451's log line says which
	// one failed.
	if err := a.route(); err != nil {
		return fmt.Errorf("threading: %w", err)
	}
	if err := a.triggers(); err != nil {
		return err
	}
	if err := a.flushIntros(); err != nil {
		return fmt.Errorf("enqueueing staff introductions: %w", err)
	}
	if err := a.recordInbound(); err != nil {
		return fmt.Errorf("recording the References chain: %w", err)
	}
	if err := a.recordCustomers(); err != nil {
		return fmt.Errorf("recording customer profiles: %w", err)
	}
	if err := a.flush(); err != nil {
		return fmt.Errorf("saving tickets: %w", err)
	}
	if err := a.flushUsers(); err != nil {
		return fmt.Errorf("saving users: %w", err)
	}
	a.res.Message = a.msg.ID
	a.msg.Ticket = a.res.Ticket
	a.msg.Disposition = a.res.Disposition
	if err := a.tx.PutMessage(a.msg); err != nil {
		return fmt.Errorf("saving the message record: %w", err)
	}
	return nil
}

func capList(l []string, n int) []string {
	if len(l) > n {
		return l[:n]
	}
	return l
}

// route applies SPEC section 3 in order: loops, authentication, machine
// mail, then threading of human mail.
func (a *applier) route() error {
	m := a.mail()
	// An admin releasing a quarantined mail vouches for it: the checks
	// that keep mail aside (loops, authentication, blocks) are waived.
	vouched := a.release != nil
	if !vouched {
		if detail := a.loopDetail(); detail != "" {
			a.res.Detail, a.res.Loop = detail, true
			return a.quarantine(model.QLoop, detail)
		}
	}
	if a.in.agent != nil {
		ok, failed := a.staffAuthenticated()
		a.trace.staffAuth(ok, failed)
		if !ok && !vouched {
			return a.authFailure(failed)
		}
		a.staff = &threading.Staff{Email: staffEmail(a.in.agent), Role: a.in.agent.Role}
	}
	if a.staff == nil && !vouched {
		if u, err := a.user(a.in.sender); err == nil && u.Blocked {
			return a.quarantine(model.QBlocked, "sender is blocked (#spam)")
		}
		if a.domainBlocked(threading.Domain(a.in.sender)) {
			return a.quarantine(model.QBlocked, "sender domain is blocked (#spam domain)")
		}
	}
	switch m.Class {
	case threading.ClassDeliveryStatus, threading.ClassFeedbackReport:
		return a.deliveryReport()
	case threading.ClassAutoReply:
		return a.autoReply()
	}
	// A reply to a satisfaction survey rates the ticket, whatever its
	// status: it is never threaded as a comment (SPEC 7).
	if tk, ok := a.surveyTicket(); ok {
		return a.surveyReply(tk)
	}
	d := threading.Decide(a.decideInput(), view{a.tx})
	a.trace.decided(d)
	if tk, ok := a.tokenlessSurveyTicket(d); ok {
		return a.surveyReply(tk)
	}
	a.res.Detail = d.Reason
	switch d.Outcome {
	case threading.OutPublicComment:
		return a.endUserComment(d)
	case threading.OutSideMessage:
		if a.staff != nil {
			// A light agent in a side thread: his commands run too; his
			// text stays a private message of the thread (commands.go).
			d.Outcome = threading.OutStaffSide
			return a.staffMail(d)
		}
		return a.sideMessage(d)
	case threading.OutStaff, threading.OutStaffSide, threading.OutNote:
		return a.staffMail(d)
	default:
		if d.FollowUpOf != 0 {
			return a.replyToClosed(d)
		}
		return a.newTicket(d)
	}
}

func (a *applier) decideInput() threading.Input {
	in := threading.Input{
		Mail:      a.mail(),
		Sender:    a.in.sender,
		Staff:     a.staff,
		DMARCFail: a.in.verdict.DMARC == "fail",
		TagPrefix: a.cfg.Threading.TagPrefix,
	}
	if len(a.in.tokens) > 0 {
		t := a.in.tokens[0].tok
		in.Token = &t
	}
	return in
}

// loopDetail reports why a mail is a loop (SPEC 3.1), or "".
func (a *applier) loopDetail() string {
	m := a.mail()
	id := a.e.db.InstallationID()
	for _, v := range m.LoopIDs {
		if strings.Contains(v, id) {
			return "carries our own loop header"
		}
	}
	if max := a.cfg.Threading.MaxReceived; max > 0 && m.ReceivedCount > max {
		return fmt.Sprintf("%d Received headers (limit %d)", m.ReceivedCount, max)
	}
	return ""
}

// staffAuthenticated applies the configured checks (SPEC 5): one must pass.
func (a *applier) staffAuthenticated() (bool, string) {
	return staffChecks(a.cfg.Auth.Staff, a.in.verdict, a.staffToken)
}

// staffChecks is auth.staff applied to a verdict: ok when one of checks
// passes ("dmarc": DMARC pass or an aligned DKIM pass; "authres": a
// trusted Authentication-Results pass; "token": tokenOK reports the mail
// went to a reply address issued to this staff member, young enough, or
// why not). When none does, failed names every check's failure
// ("; "-separated) for the notice.
func staffChecks(checks []string, v AuthVerdict, tokenOK func() (bool, string)) (ok bool, failed string) {
	var why []string
	for _, check := range checks {
		switch check {
		case "dmarc":
			if v.DMARC == "pass" || v.DKIMAligned {
				return true, ""
			}
			why = append(why, "dmarc: "+firstOr(filterPrefix(v.Failed, "dmarc"), "no DKIM signature aligned with the From domain (DMARC "+orNone(v.DMARC)+")"))
		case "authres":
			if v.AuthResPass {
				return true, ""
			}
			why = append(why, "authres: "+firstOr(filterPrefix(v.Failed, "authres"), "no trusted Authentication-Results header with a pass"))
		case "token":
			ok, whyNot := tokenOK()
			if ok {
				return true, ""
			}
			why = append(why, "token: "+whyNot)
		}
	}
	return false, strings.Join(why, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "not checked"
	}
	return s
}

func filterPrefix(l []string, p string) []string {
	var out []string
	for _, s := range l {
		if strings.HasPrefix(s, p) {
			out = append(out, strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(s, p), ":")))
		}
	}
	return out
}

func firstOr(l []string, def string) string {
	if len(l) > 0 {
		return l[0]
	}
	return def
}

// staffToken: the mail went to a reply token issued to this staff member
// no longer than auth.staff_token_max_age ago (by the daemon's clock).
func (a *applier) staffToken() (bool, string) {
	if a.mail().FromCount > 1 {
		return false, "the mail has several From addresses" // which one the token holder wrote is unknowable
	}
	u, err := a.user(staffEmail(a.in.agent))
	if err != nil {
		return false, notIssued
	}
	var mine []token.Token
	for _, t := range a.in.tokens {
		if t.tok.Party == u.ID {
			mine = append(mine, t.tok)
		}
	}
	return tokenFresh(mine, a.now, a.cfg.Auth.StaffTokenMaxAge.D())
}

const notIssued = "not sent to a reply address issued to this staff member"

// tokenFresh decides the "token" check from the valid tokens issued to
// the staff member among the recipients: one must be at most maxAge old
// at now (maxAge 0: no limit). A token without an issue time (signed
// before tokens carried one) has an unknown age and passes only without
// a limit. The issue time is rounded down to token.IssuedUnit, so a token
// may count as up to that much older than it is, never younger.
func tokenFresh(mine []token.Token, now time.Time, maxAge time.Duration) (bool, string) {
	if len(mine) == 0 {
		return false, notIssued
	}
	if maxAge <= 0 {
		return true, ""
	}
	var oldest time.Duration
	undated := false
	for _, t := range mine {
		if t.Issued.IsZero() {
			undated = true
			continue
		}
		age := now.Sub(t.Issued)
		if age <= maxAge {
			return true, ""
		}
		if age > oldest {
			oldest = age
		}
	}
	if oldest == 0 && undated {
		return false, "the reply address carries no issue time (it predates them), so its age is unknown; reply to a newer notification"
	}
	return false, fmt.Sprintf("the reply address was issued %s ago, more than auth.staff_token_max_age (%s); reply to a newer notification",
		oldest.Truncate(time.Hour), maxAge)
}

// authFailure quarantines a mail that claims a staff address and failed
// every check, and sends the real address one rate-limited notice (SPEC 5).
func (a *applier) authFailure(failed string) error {
	a.res.Detail = "staff authentication failed: " + failed
	a.res.Security = true
	if err := a.quarantine(model.QAuth, failed); err != nil {
		return err
	}
	ag := a.in.agent
	ok, err := a.tx.RateAllow("authnotice:"+staffEmail(ag), a.cfg.Auth.NoticeInterval.D(), 1)
	if err != nil || !ok {
		return err
	}
	m := a.mail()
	text := fmt.Sprintf(`A mail that claims to be from you was not accepted: it ran no command and reached no ticket.

  From:     %s
  Subject:  %s
  Received: %s from %s
  Failed:   %s

It is kept as quarantined record %d. If you sent it, an admin can release it
with:  helpdesk quarantine release %d
If you did not send it, someone is using your address; tell your admin.

Mail sent from your phone or a web mail often fails this check: reply to the
notification mails instead, or send from your usual mail client.`,
		m.From.String(), m.Subject, a.now.Format(time.RFC1123Z), a.msg.RemoteIP, failed, a.res.Quarantine, a.res.Quarantine)
	mb := a.mailbox()
	return a.enqueueSystem(staffEmail(ag), ag.Name, "notice", mb, "Mail from your address was not accepted", text, "", nil)
}

// quarantine keeps the mail aside with no effect (SPEC 3.1, 5).
func (a *applier) quarantine(reason, detail string) error {
	q := &model.Quarantine{Message: a.msg.ID, Reason: reason, Detail: detail, From: a.mail().From.Addr, Subject: a.mail().Subject}
	if err := a.tx.AddQuarantine(q); err != nil {
		return err
	}
	a.res.Disposition = model.DispQuarantine
	a.res.Quarantine = q.ID
	if a.res.Detail == "" {
		a.res.Detail = reason + ": " + detail
	}
	return nil
}

// mailbox is the mailbox the mail was addressed to: the first recipient
// that is one of ours, else the first configured mailbox.
func (a *applier) mailbox() *config.Mailbox {
	for _, r := range a.in.env.Rcpts {
		if mb := a.cfg.Mailbox(r); mb != nil {
			return mb
		}
	}
	for _, r := range a.mail().AllRecipients() {
		if mb := a.cfg.Mailbox(r.Addr); mb != nil {
			return mb
		}
	}
	return &a.cfg.Mailboxes[0]
}

func (a *applier) mailboxOf(tk *model.Ticket) *config.Mailbox {
	if mb := a.cfg.Mailbox(tk.Mailbox); mb != nil {
		return mb
	}
	return &a.cfg.Mailboxes[0]
}

func (a *applier) domainBlocked(domain string) bool {
	if domain == "" {
		return false
	}
	u, err := a.user("@" + domain)
	return err == nil && u.Blocked
}

// ---- machine mail ----

// deliveryReport attaches a DSN or feedback report to the ticket whose
// outbound mail it reports on, marks a bounced address, and tells the
// author. It never opens a ticket and never answers (SPEC 3.1).
func (a *applier) deliveryReport() error {
	m := a.mail()
	var ticket uint64
	var thread uint32
	var party uint64
	var comment uint32
	if len(a.in.tokens) > 0 {
		t := a.in.tokens[0].tok
		ticket, thread, party, comment = t.Ticket, t.Thread, t.Party, t.Seq
	}
	if ticket == 0 && m.DSN != nil && m.DSN.OriginalMessageID != "" {
		if r, ok := a.tx.LookupMessageID(m.DSN.OriginalMessageID); ok && r.Outbound {
			ticket, thread, party, comment = r.Ticket, r.Thread, r.Party, r.Comment
		}
	}
	if ticket == 0 {
		return a.quarantine(model.QUnwanted, "delivery report for mail we did not send or cannot find")
	}
	tk, th, err := a.resolveThread(ticket, thread)
	if err != nil {
		return a.quarantine(model.QUnwanted, "delivery report for a missing ticket")
	}
	dsn := m.DSN
	if dsn == nil {
		dsn = &threading.DSN{}
	}
	var bounced *model.User
	if party != 0 {
		if u, err := a.tx.UserByID(party); err == nil {
			bounced, _ = a.user(u.Addr) // the write's one copy of this user
		}
	}
	if bounced == nil && len(dsn.Recipients) > 0 {
		bounced, _ = a.user(threading.NormalizeAddr(dsn.Recipients[0]))
	}
	what := "delivery report"
	if m.Class == threading.ClassFeedbackReport {
		what = "abuse/feedback report"
	}
	reason := strings.TrimSpace(strings.Join(nonEmpty(dsn.Action, dsn.Status, dsn.Diagnostic), " "))
	target := ""
	if bounced != nil {
		target = bounced.Addr
	}
	c := &model.Comment{
		Kind: model.KindDelivery, Thread: th, Author: m.From.Norm(), AuthorName: m.From.Name,
		Visibility: model.Private, Hidden: true, Message: a.msg.ID, MessageID: m.MessageID,
		Text:   fmt.Sprintf("%s for %s: %s", what, orDash(target), orDash(reason)),
		Reason: reason,
	}
	if err := a.addComment(tk, c); err != nil {
		return err
	}
	a.res.Ticket, a.res.Disposition, a.res.Detail = tk.ID, model.DispDelivery, c.Text
	if bounced != nil && m.Class == threading.ClassDeliveryStatus && dsn.Permanent() {
		bounced.Bouncing = true
		bounced.Bounce = reason
		bounced.Updated = a.now
		if err := a.saveUser(bounced); err != nil {
			return err
		}
	}
	// Tell the author of the bounced mail: the staff member who wrote it,
	// else the assignee. Only permanent failures and complaints.
	if dsn.Permanent() || m.Class == threading.ClassFeedbackReport {
		ev := audience.Event{Kind: audience.Bounced}
		if comment != 0 {
			if orig, err := a.tx.Comment(ticket, comment); err == nil {
				ev.Wrote = orig.Author
			}
		}
		err := a.notifyDecided(tk, ev, func(*config.Agent) (string, string) {
			return "Undeliverable: " + tk.Subject, fmt.Sprintf("Mail for ticket #%d to %s could not be delivered.\n\n%s\n\nThe address is marked as bouncing: it gets no further notifications until it writes to us again.",
				tk.ID, orDash(target), orDash(reason))
		})
		if err != nil {
			return err
		}
	}
	if err := a.save(tk); err != nil {
		return err
	}
	return a.tx.IndexMessageID(m.MessageID, model.Ref{Ticket: tk.ID, Thread: th, Comment: c.ID})
}

func nonEmpty(l ...string) []string {
	var out []string
	for _, s := range l {
		if strings.TrimSpace(s) != "" {
			out = append(out, strings.TrimSpace(s))
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// autoReply attaches an auto-reply to its ticket without changing its
// status, or opens a ticket tagged "auto" with no acknowledgement.
func (a *applier) autoReply() error {
	m := a.mail()
	// The same keys and participant rule as human mail (a forged or
	// stranger's "auto-reply" must not plant text on a ticket), but an
	// auto-reply never opens a follow-up: it attaches to the closed one.
	d := threading.Decide(a.decideInput(), view{a.tx})
	ticket := d.Ticket
	if d.FollowUpOf != 0 {
		ticket = d.FollowUpOf
	}
	if ticket != 0 {
		tk, th, err := a.resolveThread(ticket, d.Thread)
		if err == nil {
			c := &model.Comment{
				Kind: model.KindAuto, Thread: th, Author: a.in.sender, AuthorName: m.From.Name,
				Visibility: model.Private, Text: a.bodyText(), Message: a.msg.ID, MessageID: m.MessageID,
				Attachments: a.attachments(),
			}
			if err := a.addComment(tk, c); err != nil {
				return err
			}
			if err := a.save(tk); err != nil {
				return err
			}
			a.res.Ticket, a.res.Disposition, a.res.Detail = tk.ID, model.DispComment, "auto-reply attached without status change"
			return a.tx.IndexMessageID(m.MessageID, model.Ref{Ticket: tk.ID, Thread: th, Comment: c.ID})
		}
	}
	return a.newTicket(threading.Decision{Outcome: threading.OutNewTicket, Role: threading.RoleNobody, Related: d.Related})
}

// bodyText is the stored text of a comment: the new text, or the whole
// text when stripping left nothing.
func (a *applier) bodyText() string { return bodyText(a.mail()) }

func bodyText(m *threading.Mail) string {
	if t := strings.TrimSpace(m.NewText); t != "" {
		return t
	}
	return strings.TrimSpace(m.Text)
}

func (a *applier) attachments() []model.Attachment {
	var out []model.Attachment
	for _, at := range a.mail().Attachments {
		out = append(out, model.Attachment{Name: at.Name, ContentType: at.ContentType, Size: at.Size, Inline: at.Inline, Part: at.Part, Message: a.msg.ID})
	}
	return out
}

// addComment stores a comment of this write. Its time is the write's
// instant a.now, the one its changes (resolved_at, a timer's instant)
// carry, not a later reading of the clock: an event and the change it
// records agree, and a timer counted from the change never looks as if
// it fired before its instant.
func (a *applier) addComment(tk *model.Ticket, c *model.Comment) error {
	if c.Created.IsZero() && !a.now.IsZero() {
		c.Created = a.now
	}
	return a.tx.AddComment(tk, c)
}
