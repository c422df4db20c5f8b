package engine

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/audience"
	"helpdesk/store/model"
	"helpdesk/threading"
	"helpdesk/threading/command"
	"helpdesk/threading/safetext"
	"helpdesk/threading/token"
)

// Every mail that leaves is decided in one place (SPEC 6): fanOut copies
// the ticket's participants into audience.Decide, which says who gets a
// mail, with which view and reply token, and fanOut then only renders and
// queues one mail per recipient, each with its own signed reply token.

// fanOpts tune one fan-out.
type fanOpts struct {
	// notify are extra staff for a private note (#notify).
	notify []string
	// collaborators receive a staff message in a side thread.
	toCollaborators bool
	// include is public history sent along to collaborators (#include).
	include []*model.Comment
	// noEndUsers suppresses mail to requester and CCs (e.g. #child).
	noEndUsers bool
	// sideParent is the side thread's last Message-ID before this
	// fan-out: every collaborator's mail answers it (fanOut sets it).
	sideParent string
	// except is a staff member who gets nothing (the agent who opened
	// the ticket on someone's behalf, and so knows it).
	except string
}

// staffDir is the configuration's staff as audience.Decide reads it: a
// staff member removed from the configuration is not found (SIGHUP).
type staffDir struct{ cfg *config.Config }

func (d staffDir) Staff(addr string) (audience.Member, bool) {
	ag := d.cfg.Agent(addr)
	if ag == nil {
		return audience.Member{}, false
	}
	return audience.Member{Addr: staffEmail(ag), Name: ag.Name, Light: ag.IsLight()}, true
}

// fanOut mails a comment to everyone who may see it (SPEC 6).
func (a *applier) fanOut(tk *model.Ticket, c *model.Comment, o fanOpts) error {
	ev := audience.Event{
		Kind: audience.Public, Author: c.Author, Held: c.Hidden,
		ToCollaborators: o.toCollaborators, Notify: o.notify, NoEndUsers: o.noEndUsers, Except: o.except,
		AlreadyMailed: c.Recipients,
	}
	th := threadByID(tk, c.Thread)
	switch {
	case th != nil && th.Kind == model.ThreadSide:
		ev.Kind, ev.Thread = audience.Side, th.ID
		o.sideParent = th.LastMessageID
	case c.Visibility == model.Private:
		ev.Kind = audience.Note
	}
	// The loop guard's count (SPEC 3.7): more than N comments an hour
	// from one outside address on one ticket stops fan-out for that
	// address. Counted here, where the ticket is written; Decide only
	// reads the verdict.
	if !c.Hidden && a.cfg.Agent(c.Author) == nil && a.cfg.Threading.FanoutLimitPerHour > 0 {
		limited, err := a.countFanOut(tk, c.Author)
		if err != nil {
			return err
		}
		ev.LoopLimited = limited
	}
	d := audience.Decide(ev, a.participants(tk, ev), staffDir{a.cfg})
	a.trace.audience(tk, c, ev, d)
	for _, r := range d.Recipients {
		var err error
		switch r.View {
		case audience.ViewCollaborator:
			err = a.sendCollaborator(tk, th, c, r, o)
		case audience.ViewStaff:
			err = a.sendStaff(tk, th, c, r)
		default:
			err = a.sendEndUser(tk, c, r)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// countFanOut counts a comment from the outside address author on tk
// for the loop guard and reports whether the limit is reached; the first
// time it is, the ticket is flagged and says why.
func (a *applier) countFanOut(tk *model.Ticket, author string) (limited bool, err error) {
	if tk.FanTimes == nil {
		tk.FanTimes = map[string][]int64{}
	}
	stamps, ok := model.SlideWindow(tk.FanTimes[author], a.now, hour, a.cfg.Threading.FanoutLimitPerHour)
	tk.FanTimes[author] = stamps
	for who, st := range tk.FanTimes {
		if len(st) == 0 || a.now.Sub(time.Unix(0, st[len(st)-1])) > hour {
			delete(tk.FanTimes, who) // keep only recent writers
		}
	}
	if err := a.save(tk); err != nil {
		return false, err
	}
	if ok {
		return false, nil
	}
	if !slices.Contains(tk.Flags, "fanout-limited") {
		tk.Flags = append(tk.Flags, "fanout-limited")
		if err := a.event(tk, "more than "+fmt.Sprint(a.cfg.Threading.FanoutLimitPerHour)+" comments an hour from "+author+": notifications for this address stopped (possible mail loop)"); err != nil {
			return true, err
		}
		return true, a.save(tk)
	}
	return true, nil
}

// participants copies the people of tk that audience.Decide reads for ev.
// The records of end users (and collaborators) the event can reach are
// read for whether they bounce or are blocked; the group's agents are
// listed only while the ticket has no current assignee, the only time
// they are told.
func (a *applier) participants(tk *model.Ticket, ev audience.Event) audience.Ticket {
	p := audience.Ticket{Requester: tk.Requester, CCs: tk.CCs, Assignee: tk.Assignee, Followers: tk.Followers}
	if tk.Assignee == "" || a.cfg.Agent(tk.Assignee) == nil {
		for _, ag := range a.groupAgents(tk) {
			p.GroupAgents = append(p.GroupAgents, ag.Email)
		}
	}
	for _, th := range tk.Threads {
		if th.Kind == model.ThreadSide {
			p.Threads = append(p.Threads, audience.Thread{ID: th.ID, StartedBy: th.StartedBy, Collaborators: th.Collaborators})
		}
	}
	if ev.Kind == audience.Trigger && slices.Contains(ev.Targets, "group") {
		for _, ag := range a.cfg.GroupAgents(tk.Group) {
			p.GroupMembers = append(p.GroupMembers, staffEmail(&ag))
		}
	}
	unreachable := func(addr string) {
		if addr == "" || a.cfg.Agent(addr) != nil {
			return
		}
		if u, err := a.user(addr); err == nil && (u.Bouncing || u.Blocked) {
			p.Unreachable = append(p.Unreachable, addr) // gets nothing until it writes again
		}
	}
	switch {
	case ev.Kind.ToRequester():
		unreachable(tk.Requester)
	case ev.Kind == audience.Public && !ev.NoEndUsers:
		unreachable(tk.Requester)
		for _, cc := range tk.CCs {
			unreachable(cc)
		}
	case ev.Kind == audience.Side && ev.ToCollaborators:
		if th := threadByID(tk, ev.Thread); th != nil {
			for _, col := range th.Collaborators {
				unreachable(col)
			}
		}
	}
	return p
}

// mailID generates one of our Message-IDs (SPEC 2).
//
// The ticket number is zero-padded so the ids of one ticket, and of
// consecutive tickets, sort together in the Message-ID index: a commit
// then touches one index page for all the mail it sends.
func (a *applier) mailID(ticket uint64) string {
	var r [9]byte
	rand.Read(r[:])
	return formatMailID(ticket, r, a.cfg.Hostname)
}

// formatMailID is fmt.Sprintf("hd.%012d.%s@%s", ticket, hex of r, host),
// built by appending: two ids per new ticket made Sprintf a visible part
// of the store writer's time.
func formatMailID(ticket uint64, r [9]byte, host string) string {
	var num [20]byte
	d := strconv.AppendUint(num[:0], ticket, 10)
	b := make([]byte, 0, len("hd.")+max(12, len(d))+1+2*len(r)+1+len(host))
	b = append(b, "hd."...)
	for i := len(d); i < 12; i++ {
		b = append(b, '0')
	}
	b = append(b, d...)
	b = append(b, '.')
	b = hex.AppendEncode(b, r[:])
	b = append(b, '@')
	b = append(b, host...)
	return string(b)
}

// tokenAddr signs a reply token for party and returns the mailbox
// plus-address carrying it.
func (a *applier) tokenAddr(mb *config.Mailbox, t token.Token) string {
	tok := a.e.keyring().Sign(t)
	return token.Address(strings.ToLower(mb.Address), a.cfg.Threading.TokenSeparator, tok)
}

// out is one mail being composed.
type out struct {
	tk       *model.Ticket
	kind     string
	rcpt     string
	rcptName string
	thread   uint32
	private  bool
	staffTok bool
	seq      uint32
	fromName string
	fromAddr string // "" = the mailbox; collaborators get the thread address
	to       []string
	cc       []string
	subject  string
	text     string
	// comment, when set, is included after text (by reference, not
	// copied), followed by after.
	comment   *model.Comment
	after     string
	inReplyTo string
	refs      []string
	attach    []model.Attachment
	files     []model.InlineFile
	autoSub   string
	// human: a person wrote it (a public reply, a side-thread message):
	// no Auto-Submitted header (RFC 3834 reserves it for automatic mail).
	human bool
	mb    *config.Mailbox
	// flags are added to the reply token's (token.FlagSurvey).
	flags uint8
}

// enqueue signs the recipient's token, indexes our Message-ID and queues
// the mail.
func (a *applier) enqueue(o out) error {
	if o.mb == nil {
		if o.tk != nil {
			o.mb = a.mailboxOf(o.tk)
		} else {
			o.mb = a.mailbox()
		}
	}
	var ticket uint64
	if o.tk != nil {
		ticket = o.tk.ID
	}
	u, err := a.ensure(o.rcpt, o.rcptName)
	if err != nil {
		return err
	}
	flags := o.flags
	if o.private {
		flags |= token.FlagPrivate
	}
	if o.staffTok {
		flags |= token.FlagStaff
	}
	replyTo := a.tokenAddr(o.mb, token.Token{Ticket: ticket, Thread: o.thread, Party: u.ID, Seq: o.seq, Flags: flags})
	from := threading.Address{Name: o.fromName, Addr: strings.ToLower(o.mb.Address)}
	if o.fromAddr != "" {
		from.Addr = o.fromAddr
	}
	if o.autoSub == "" {
		o.autoSub = "auto-generated"
	}
	// Sent to the address as its owner writes it (local part's case
	// kept); o.rcpt is the comparison form.
	rcpt := u.SendAddr()
	if len(o.to) == 0 {
		o.to = []string{threading.Address{Name: o.rcptName, Addr: rcpt}.String()}
	}
	id := a.mailID(ticket)
	attach, left := a.capAttachments(o.attach)
	if len(left) > 0 {
		// Say what is missing right below the text it belongs to.
		o.after = a.leftOutNote(left) + o.after
	}
	if o.inReplyTo, o.refs, err = a.chain(o, id); err != nil {
		return err
	}
	ob := &model.Outbound{
		Ticket: ticket, Kind: o.kind, MailFrom: replyTo, Rcpt: rcpt,
		From: from.String(), To: o.to, Cc: o.cc, ReplyTo: replyTo, Subject: safetext.StripC0(o.subject),
		MessageID: id, InReplyTo: o.inReplyTo, References: o.refs, Text: o.text, TextAfter: o.after,
		Attach: attach, AttachData: o.files,
		// The queue runs on the wall clock (delivery is I/O): a manual
		// ticket clock ahead of it must not hold mail back.
		NextAttempt: time.Now(),
		Headers: []model.Header{
			{Name: threading.LoopHeader, Value: a.e.db.InstallationID()},
		},
	}
	if !o.human {
		ob.Headers = append([]model.Header{{Name: "Auto-Submitted", Value: o.autoSub}}, ob.Headers...)
	}
	if o.comment != nil {
		ob.Include = &model.CommentRef{Ticket: o.comment.Ticket, Comment: o.comment.ID}
	}
	if o.autoSub == "auto-replied" && !o.human {
		// RFC 3834 section 5: ask other responders not to answer.
		ob.Headers = append(ob.Headers, model.Header{Name: "X-Auto-Response-Suppress", Value: "All"})
	}
	if err := a.tx.Enqueue(ob); err != nil {
		return fmt.Errorf("enqueueing %s to %s: %w", o.kind, rcpt, err)
	}
	a.trace.queued(ob, o.private)
	a.enqueued++
	a.lastMessageID = id
	if ticket != 0 {
		if err := a.tx.IndexMessageID(id, model.Ref{Ticket: ticket, Thread: o.thread, Comment: o.seq, Outbound: true, Party: u.ID, Private: o.private}); err != nil {
			return fmt.Errorf("indexing %s to %s: %w", o.kind, rcpt, err)
		}
	}
	return nil
}

// maxRefsLine bounds the References header line: RFC 5322 section 2.1.1
// allows 998 characters, and "References: " takes 12 of them.
const maxRefsLine = 998 - len("References: ")

// chain gives the mail its recipient's In-Reply-To and References (SPEC 2):
// the caller's (the ticket's first Message-ID, a side thread's parent, the
// mail answered) and then the recipient's own chain on this ticket and
// thread, newest last, within the line limit, keeping the first. The new
// mail joins the chain. On the main thread a mail answering the ticket's
// first message answers the recipient's newest one instead; a side-thread
// mail keeps answering the last one the collaborator got.
func (a *applier) chain(o out, id string) (string, []string, error) {
	if o.tk == nil || o.tk.ID == 0 {
		return o.inReplyTo, o.refs, nil
	}
	tk := o.tk
	if cur, ok := a.tickets[tk.ID]; ok {
		tk = cur
	}
	key := model.RefKey(o.rcpt, o.thread)
	mine := tk.Refs[key]
	// At most a caller's few and MaxRefs of the recipient's: a linear
	// search is cheaper than a set.
	var refs []string
	if n := len(o.refs) + len(mine); n > 0 {
		refs = make([]string, 0, n+1)
	}
	add := func(ids ...string) {
		for _, x := range ids {
			if x != "" && x != id && !slices.Contains(refs, x) {
				refs = append(refs, x)
			}
		}
	}
	add(o.refs...)
	add(mine...)
	inReplyTo := o.inReplyTo
	if len(mine) > 0 && o.thread == 0 && (inReplyTo == "" || inReplyTo == tk.RootMessageID) {
		inReplyTo = mine[len(mine)-1]
	}
	// The mail answered is the last of References (RFC 5322 3.6.4:
	// the parent's References followed by the parent's Message-ID).
	if inReplyTo != "" && len(refs) > 1 {
		if i := slices.Index(refs, inReplyTo); i > 0 {
			refs = append(slices.Delete(refs, i, i+1), inReplyTo)
		}
	}
	add(inReplyTo)
	refs = fitRefs(refs, maxRefsLine)
	tk.AddRef(key, id)
	a.sentIDs = append(a.sentIDs, id)
	return inReplyTo, refs, a.save(tk)
}

// fitRefs drops Message-IDs between the first and the last, oldest
// first, until "<id> <id> ..." fits in max characters.
func fitRefs(refs []string, max int) []string {
	size := func(l []string) int {
		n := 0
		for _, x := range l {
			n += len(x) + 3 // "<" ">" and a space
		}
		return n - 1
	}
	for len(refs) > 2 && size(refs) > max { // the first and the last stay
		refs = append(refs[:1], refs[2:]...)
	}
	return refs
}

// recordInbound adds the applied mail's Message-ID to its author's
// References chain on the ticket it landed on.
func (a *applier) recordInbound() error {
	m := a.mail()
	if a.inbound == nil || a.res.Ticket == 0 || m.MessageID == "" {
		return nil
	}
	tk, ok := a.tickets[a.res.Ticket]
	if !ok {
		return nil
	}
	// The mail came before everything this write sends in answer to it
	// (an acknowledgement): it goes in the chain before those.
	key := model.RefKey(a.inbound.author, a.inbound.thread)
	c := tk.Refs[key]
	pos := len(c)
	for i, id := range c {
		if slices.Contains(a.sentIDs, id) {
			pos = i
			break
		}
	}
	after := slices.Clone(c[pos:])
	if tk.Refs == nil {
		tk.Refs = map[string][]string{}
	}
	tk.Refs[key] = c[:pos]
	tk.AddRef(key, m.MessageID)
	for _, id := range after {
		tk.AddRef(key, id)
	}
	return a.save(tk)
}

// capAttachments keeps the author's attachments up to the configured
// total size, in order, skipping any file that does not fit; left are the
// ones skipped.
func (a *applier) capAttachments(in []model.Attachment) (kept, left []model.Attachment) {
	var total int64
	for _, at := range in {
		if total+at.Size > int64(a.cfg.Outbound.MaxAttachmentBytes) {
			left = append(left, at)
			continue
		}
		total += at.Size
		kept = append(kept, at)
	}
	return kept, left
}

// leftOutNote tells the recipient which files the size cap kept out of
// the mail, so nobody takes the mail for complete.
func (a *applier) leftOutNote(left []model.Attachment) string {
	var b strings.Builder
	for _, at := range left {
		fmt.Fprintf(&b, "\n\n[%s (%d bytes) is not attached: the files of one mail are limited to %d bytes.]", at.Name, at.Size, int64(a.cfg.Outbound.MaxAttachmentBytes))
	}
	return b.String()
}

func (a *applier) subjectFor(tk *model.Ticket) string {
	return threading.Tag(a.cfg.Threading.TagPrefix, tk.ID) + " " + tk.Subject
}

// answerPrefixes are the prefixes of our answers to staff, removed before
// one is added again so that answering an answer does not snowball.
var answerPrefixes = []string{"commands not applied:", "held:"}

// answerSubject is the subject of an answer to the sender (a transcript,
// a held-mail notice): one prefix and the ticket's subject, or, without a
// ticket, the mail's subject without reply prefixes and earlier ones of
// ours.
func (a *applier) answerSubject(prefix string, tk *model.Ticket) string {
	if tk != nil && tk.ID != 0 {
		return prefix + a.subjectFor(tk)
	}
	s := a.mail().Subject
	for {
		before := s
		s = threading.CleanSubject(s, a.cfg.Threading.TagPrefix)
		for _, p := range answerPrefixes {
			if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
				s = strings.TrimSpace(s[len(p):])
			}
		}
		if s == before {
			break
		}
	}
	if s == "" {
		s = "(no subject)"
	}
	return prefix + s
}

func (a *applier) authorName(c *model.Comment) string {
	if ag := a.cfg.Agent(c.Author); ag != nil {
		return ag.Name
	}
	if c.AuthorName != "" {
		return c.AuthorName
	}
	return c.Author
}

// rootID is the ticket's first inbound Message-ID, for References.
func (a *applier) rootID(tk *model.Ticket) string { return tk.RootMessageID }

// sendEndUser mails a public comment to the requester or a CC: from the
// mailbox, with no staff address anywhere (SPEC 2).
func (a *applier) sendEndUser(tk *model.Ticket, c *model.Comment, r audience.Recipient) error {
	mb := a.mailboxOf(tk)
	fromName := mb.Name
	if ag := a.cfg.Agent(c.Author); ag != nil {
		fromName = FromNameFor(a.cfg, ag.Name, mb.Name)
	}
	var b strings.Builder
	if a.cfg.Agent(c.Author) == nil && c.Author != r.Addr {
		// Another end user (a CC or the requester) wrote it.
		fmt.Fprintf(&b, "%s wrote:\n\n", a.authorName(c))
	}
	after := fmt.Sprintf("\n\n-- \nTicket %s: reply to this mail to add to it.\n", threading.Tag(a.cfg.Threading.TagPrefix, tk.ID))
	to, cc := a.publicHeaders(tk)
	root := a.rootID(tk)
	var refs []string
	if root != "" {
		refs = []string{root}
	}
	return a.enqueue(out{
		tk: tk, kind: "public", rcpt: r.Addr, rcptName: r.Name, seq: c.ID, mb: mb, human: true,
		thread: r.Token.Thread, private: r.Token.Private, staffTok: r.Token.Staff,
		fromName: fromName, to: to, cc: cc, subject: a.subjectFor(tk), text: b.String(), comment: c, after: after,
		inReplyTo: root, refs: refs, attach: c.Attachments,
	})
}

// publicHeaders are To and Cc of a public mail: the requester and the
// end-user CCs. Staff addresses never appear (SPEC 2).
func (a *applier) publicHeaders(tk *model.Ticket) (to, cc []string) {
	name := func(addr string) string {
		if u, err := a.user(addr); err == nil {
			return threading.Address{Name: u.Name, Addr: u.SendAddr()}.String()
		}
		return threading.Address{Addr: addr}.String()
	}
	toAddrs, ccAddrs := audience.PublicHeaders(audience.Ticket{Requester: tk.Requester, CCs: tk.CCs}, staffDir{a.cfg})
	for _, x := range toAddrs {
		to = append(to, name(x))
	}
	for _, x := range ccAddrs {
		cc = append(cc, name(x))
	}
	return to, cc
}

// sendStaff mails any comment to a staff member: marker line first, a
// header saying what it is, and a footer saying how a reply will be
// treated (SPEC 2, issue 4).
func (a *applier) sendStaff(tk *model.Ticket, th *model.Thread, c *model.Comment, r audience.Recipient) error {
	mb := a.mailboxOf(tk)
	private := r.Token.Private
	what := "a public comment"
	switch {
	case th != nil && th.Kind == model.ThreadSide:
		what = fmt.Sprintf("a message in side thread %d (%s)", th.ID, strings.Join(th.Collaborators, ", "))
	case c.Visibility == model.Private:
		what = "a private note"
	}
	var b strings.Builder
	b.WriteString(a.cfg.Threading.ReplyMarker)
	b.WriteString("\n\n")
	if in := a.takeIntro(tk, r.Addr); in != "" {
		b.WriteString(in)
		b.WriteString("\n\n")
	}
	fmt.Fprintf(&b, "%s wrote %s on ticket #%d \"%s\":\n\n", a.authorLabel(c), what, tk.ID, tk.Subject)
	before := b.String()
	b.Reset()
	if len(c.Attachments) > 0 {
		b.WriteString("\n\nAttachments:")
		for _, at := range c.Attachments {
			fmt.Fprintf(&b, "\n  %s (%s, %d bytes)", at.Name, at.ContentType, at.Size)
		}
	}
	b.WriteString("\n\n")
	b.WriteString(a.ticketSummary(tk))
	b.WriteString("\n")
	b.WriteString(a.staffFooter(private, th, a.cfg.Agent(r.Addr)))
	subject := a.subjectFor(tk)
	if th != nil && th.Kind == model.ThreadSide {
		subject = threading.Tag(a.cfg.Threading.TagPrefix, tk.ID) + " [side " + fmt.Sprint(th.ID) + "] " + orDefault(th.Subject, tk.Subject)
	}
	return a.enqueue(out{
		tk: tk, kind: "notification", rcpt: r.Addr, rcptName: r.Name, seq: c.ID, mb: mb, thread: r.Token.Thread,
		private: private, staffTok: r.Token.Staff, fromName: FromNameFor(a.cfg, a.authorName(c), mb.Name),
		subject: subject, text: before, comment: c, after: b.String(), inReplyTo: a.rootID(tk), attach: c.Attachments,
	})
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

func (a *applier) authorLabel(c *model.Comment) string {
	name := a.authorName(c)
	if name == c.Author || name == "" {
		return c.Author
	}
	return name + " <" + c.Author + ">"
}

// ticketSummary is a one-line state of the ticket for staff mail.
func (a *applier) ticketSummary(tk *model.Ticket) string {
	assignee := tk.Assignee
	if assignee == "" {
		assignee = "unassigned"
	}
	s := fmt.Sprintf("Ticket #%d · %s · priority %s · %s · group %s · requester %s", tk.ID, tk.Status, tk.Priority, assignee, orDash(tk.Group), tk.Requester)
	if len(tk.CCs) > 0 {
		s += " · cc " + strings.Join(tk.CCs, ", ")
	}
	if line := a.slaLine(tk); line != "" {
		s += "\n" + line
	}
	return s
}

// staffFooter says how a plain reply will be treated and lists the most
// useful commands (issue 4, item 6). It is the recipient's: a light
// agent's mail is always private (SPEC 1), so his footer never promises a
// public or collaborator reply.
func (a *applier) staffFooter(private bool, th *model.Thread, rcpt *config.Agent) string {
	light := rcpt.IsLight()
	if th != nil && th.Kind == model.ThreadSide {
		return command.SideFooter(th.Collaborators, light)
	}
	if light {
		return "-- \nA plain reply to this mail is PRIVATE: a note for staff only (a light agent's mail never reaches\nthe requester, CCs or collaborators). Send #help for the commands you can use.\n"
	}
	return command.Footer(!private)
}

// sendCollaborator mails a staff message of a side thread to an outside
// collaborator from the thread's own signed address. Nothing of the ticket
// goes along unless #include chose public history (SPEC 6).
func (a *applier) sendCollaborator(tk *model.Ticket, th *model.Thread, c *model.Comment, r audience.Recipient, o fanOpts) error {
	mb := a.mailboxOf(tk)
	u, err := a.ensure(r.Addr, "")
	if err != nil {
		return err
	}
	threadAddr := a.tokenAddr(mb, token.Token{Ticket: tk.ID, Thread: th.ID, Party: u.ID, Seq: c.ID})
	var b strings.Builder
	if len(o.include) > 0 {
		b.WriteString("\n\n---------- Earlier messages ----------\n")
		for _, h := range o.include {
			fmt.Fprintf(&b, "\nOn %s, %s wrote:\n%s\n", h.Created.Format("2006-01-02 15:04"), a.publicAuthor(h), quoteLines(h.Text))
		}
	}
	subject := threading.Tag(a.cfg.Threading.TagPrefix, tk.ID) + " " + orDefault(th.Subject, "Side conversation")
	var refs []string
	if o.sideParent != "" {
		refs = []string{o.sideParent}
	}
	fromName := FromNameFor(a.cfg, a.authorName(c), mb.Name)
	err = a.enqueue(out{
		tk: tk, kind: "side", rcpt: r.Addr, seq: c.ID, mb: mb, thread: r.Token.Thread, private: r.Token.Private, staffTok: r.Token.Staff, human: true,
		fromName: fromName, fromAddr: threadAddr, subject: subject, comment: c, after: b.String(),
		inReplyTo: o.sideParent, refs: refs, attach: c.Attachments,
	})
	if err != nil {
		return err
	}
	// Only a mail that was sent moves the thread on (the caller stores tk).
	th.LastMessageID = a.lastMessageID
	return nil
}

// publicAuthor names the author of included public history without
// exposing a staff address.
func (a *applier) publicAuthor(c *model.Comment) string {
	if ag := a.cfg.Agent(c.Author); ag != nil {
		return ag.Name
	}
	if c.AuthorName != "" {
		return c.AuthorName
	}
	return "the customer"
}

func quoteLines(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "> " + l
	}
	return strings.Join(lines, "\n")
}

// notifyStaffEvent mails one staff member about an event on a ticket.
func (a *applier) notifyStaffEvent(tk *model.Ticket, ag *config.Agent, subject, text string) error {
	mb := a.mailboxOf(tk)
	var b strings.Builder
	b.WriteString(a.cfg.Threading.ReplyMarker)
	b.WriteString("\n\n")
	if in := a.takeIntro(tk, staffEmail(ag)); in != "" {
		b.WriteString(in)
		b.WriteString("\n\n")
	}
	b.WriteString(text)
	b.WriteString("\n\n")
	b.WriteString(a.ticketSummary(tk))
	b.WriteString("\n")
	b.WriteString(a.staffFooter(true, nil, ag))
	return a.enqueue(out{
		tk: tk, kind: "notification", rcpt: staffEmail(ag), rcptName: ag.Name, seq: tk.LastSeq, mb: mb,
		private: true, staffTok: true, fromName: mb.Name,
		subject: threading.Tag(a.cfg.Threading.TagPrefix, tk.ID) + " " + subject, text: b.String(),
	})
}

// transcriptTo is who gets the answer to the applied mail's commands (a
// transcript, a held-mail notice), as audience.Decide says: its sender,
// while he is staff.
func (a *applier) transcriptTo() (audience.Recipient, bool) {
	if a.staff == nil {
		return audience.Recipient{}, false
	}
	d := audience.Decide(audience.Event{Kind: audience.Transcript, Wrote: a.staff.Email}, audience.Ticket{}, staffDir{a.cfg})
	if len(d.Recipients) == 0 {
		return audience.Recipient{}, false
	}
	return d.Recipients[0], true
}

// notifyDecided mails each staff member audience.Decide chooses for ev
// on tk a staff notice, worded by text for him.
func (a *applier) notifyDecided(tk *model.Ticket, ev audience.Event, text func(ag *config.Agent) (subject, body string)) error {
	d := audience.Decide(ev, a.participants(tk, ev), staffDir{a.cfg})
	for _, r := range d.Recipients {
		ag := a.cfg.Agent(r.Addr)
		if ag == nil {
			continue
		}
		subject, body := text(ag)
		if err := a.notifyStaffEvent(tk, ag, subject, body); err != nil {
			return err
		}
	}
	return nil
}

// enqueueSystem sends a mail not tied to a ticket (notices, lists, help).
func (a *applier) enqueueSystem(rcpt, name, kind string, mb *config.Mailbox, subject, text, inReplyTo string, files []model.InlineFile) error {
	return a.enqueue(out{
		kind: kind, rcpt: rcpt, rcptName: name, mb: mb, fromName: mb.Name, subject: subject, text: text,
		inReplyTo: inReplyTo, autoSub: "auto-replied", files: files, staffTok: a.cfg.Agent(rcpt) != nil, private: true,
	})
}

// tokenIssuedTo reports a valid reply token among the recipients that was
// issued to the user with this id.
func (a *applier) tokenIssuedTo(id uint64) bool {
	for _, t := range a.in.tokens {
		if t.tok.Party == id {
			return true
		}
	}
	return false
}

// acknowledge sends the new-ticket acknowledgement (SPEC 7, RFC 3834) and
// marks tk (the caller stores it): at
// most one per ticket and N per sender an hour, never to machine mail,
// to mail marked as spam, or to a sender whose DMARC failed or was not
// checked (SPEC 3.1: an answer to a forged From is backscatter). Mail on a
// reply-token address skips the check: it is answered only when the token
// was issued to the requester, an address we already mail (a requester
// replying to a closed ticket gets the follow-up's number, SPEC 3.4).
func (a *applier) acknowledge(tk *model.Ticket, c *model.Comment) error {
	m := a.mail()
	if tk.AckSent || m.SuppressAutoAnswer() || a.in.verdict.DMARC == "fail" || a.staff != nil {
		return nil
	}
	if m.EnvelopeFrom == "" {
		return nil // null sender, by any path: never answer (RFC 3834 section 2)
	}
	if a.cfg.IsOwnAddress(tk.Requester) {
		return nil // never answer ourselves (a loop)
	}
	// Who is acknowledged: audience.Decide (an end-user requester who
	// does not bounce and is not blocked).
	ev := audience.Event{Kind: audience.Ack}
	d := audience.Decide(ev, a.participants(tk, ev), staffDir{a.cfg})
	if len(d.Recipients) == 0 {
		return nil
	}
	u, err := a.user(d.Recipients[0].Addr)
	if err != nil {
		return err
	}
	if !a.in.verdict.Checked && !a.tokenIssuedTo(u.ID) {
		return nil
	}
	// The windows read the engine's clock (tests step it).
	now := a.e.now()
	stamps, ok := model.SlideWindow(u.AckTimes, now, hour, a.cfg.Tickets.AckPerSenderPerHour)
	limit := ""
	if !ok {
		limit = "sender"
	} else {
		// The per-client and total windows: checked and, when both
		// allow, counted in one pass.
		var keyA, nameA [2]string
		var limitA [2]int
		keys, names, limits := keyA[:0], nameA[:0], limitA[:0]
		if c := a.ackClient(); c != "" {
			keys, limits, names = append(keys, ackIPKeyPx+c), append(limits, a.cfg.Tickets.AckPerIPPerHour), append(names, "ip")
		}
		keys, limits, names = append(keys, ackAllKey), append(limits, a.cfg.Tickets.AckPerHour), append(names, "global")
		over, err := a.tx.RateAllowEach(now, hour, keys, limits)
		if err != nil {
			return fmt.Errorf("counting the acknowledgement: %w", err)
		}
		if over >= 0 {
			limit = names[over]
			stamps = stamps[:len(stamps)-1] // not sent: not counted for the sender either
		}
	}
	u.AckTimes = stamps
	if err := a.saveUser(u); err != nil {
		return err
	}
	if limit != "" {
		// The ticket stands; only the answer is skipped. Counted and
		// logged after the commit (this function may run again).
		a.res.AckLimit = limit
		return nil
	}
	tk.AckSent = true // the caller stores tk
	mb := a.mailboxOf(tk)
	tag := threading.Tag(a.cfg.Threading.TagPrefix, tk.ID)
	text, err := a.ackText(tk, mb, m.From.Name)
	if err != nil {
		return err
	}
	root := m.MessageID
	var refs []string
	if root != "" {
		refs = []string{root}
	}
	return a.enqueue(out{
		tk: tk, kind: "ack", rcpt: d.Recipients[0].Addr, rcptName: m.From.Name, seq: c.ID, mb: mb, fromName: mb.Name,
		subject: tag + " " + tk.Subject, text: text, inReplyTo: root, refs: refs, autoSub: "auto-replied",
	})
}

// Keys of the acknowledgement windows kept in the store's rate bucket.
const (
	ackAllKey  = "ack-all"
	ackIPKeyPx = "ack-ip:"
)

// ackClient is the SMTP client the per-IP acknowledgement limit counts
// for this mail, or "" when none applies: mail without a client address
// (inject, a released quarantine record) and mail from a trusted relay.
// A front MTA relays everyone's mail from its one address, so counting it
// as "the client" would stop acknowledgements for all customers after
// ack_per_ip_per_hour mails; there the total and per-sender limits apply
// (the front MTA limits its own clients). An IPv6 client counts by its
// /64, which one host usually holds in full.
func (a *applier) ackClient() string {
	ip := a.in.env.RemoteIP.Unmap()
	if !ip.IsValid() || trustedRelay(a.cfg, ip) {
		return ""
	}
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// trustedRelay reports whether ip is in [auth] trusted_relays (validated
// by config: CIDR prefixes or single addresses).
func trustedRelay(cfg *config.Config, ip netip.Addr) bool {
	for _, r := range cfg.Auth.TrustedRelays {
		if p, err := netip.ParsePrefix(r); err == nil {
			if p.Masked().Contains(ip) {
				return true
			}
		} else if b, err := netip.ParseAddr(r); err == nil && b.Unmap() == ip {
			return true
		}
	}
	return false
}

func greetName(n string) string {
	if strings.TrimSpace(n) == "" {
		return ""
	}
	return " " + strings.TrimSpace(n)
}
