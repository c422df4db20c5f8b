package audience

// The inputs and the answer of Decide. Everything here is plain data: the
// engine copies what it needs out of the ticket and the configuration, so
// that the decision can be read, and tested, without a store or a mail.

// Kind is what happened, as far as who may see it is concerned.
type Kind uint8

const (
	// Public is a public comment on the main thread: an end user's mail
	// (a new ticket, a reply, a CC's reply-all) or a staff reply (also a
	// merge notice on the surviving ticket, and a held reply that #send
	// released, which is the reply it was).
	Public Kind = iota + 1
	// Note is a private note on the main thread: staff only.
	Note
	// Side is a message in one side thread (Event.Thread): a staff
	// message to the collaborators, or a message from outside the
	// thread's staff (a collaborator's answer, the requester, a CC, a
	// follower, a light agent).
	Side
	// Notice is a change notice about the ticket that is not a comment
	// (a possibly related ticket, a new ticket opened on someone's
	// behalf): it goes to the ticket's agents.
	Notice
	// Assigned is "Assigned to you": a staff member set the ticket's
	// assignee (Ticket.Assignee, as it now is) to someone else.
	Assigned
	// Intro is an assignment intro: a ticket an agent opened on
	// someone's behalf, a #child's new ticket, a #group change; it goes
	// to the ticket's agents but the one Except names.
	Intro
	// Digest is #available's digest of the waiting tickets just
	// assigned to one agent (Ticket.Assignee).
	Digest
	// Bounced is the delivery-failure notice about a mail of the ticket
	// (Event.Wrote wrote it).
	Bounced
	// Trigger is a trigger's notify mail (Event.Targets).
	Trigger
	// Ack is the acknowledgement of a new ticket (SPEC 7), whether the
	// mail is answered at all (rate limits, auto mail, DMARC) being
	// decided before.
	Ack
	// Transcript is the answer to a staff mail's commands: the
	// transcript, a held-mail notice (Event.Wrote sent the mail).
	Transcript
	// Survey is the satisfaction survey after resolution (SPEC 7): like
	// the acknowledgement, for an end-user requester alone; whether the
	// ticket gets one at all (spam, merged, machine mail) is decided
	// before (gateway/survey).
	Survey
	// RuleMail is a trigger's mail to the requester from a template:
	// the requester alone, as for the acknowledgement.
	RuleMail
)

// ToRequester reports whether the kind is automatic mail for the
// requester alone (acknowledgement, survey, a rule's mail).
func (k Kind) ToRequester() bool { return k == Ack || k == Survey || k == RuleMail }

func (k Kind) String() string {
	switch k {
	case Public:
		return "public"
	case Note:
		return "note"
	case Side:
		return "side"
	case Notice:
		return "notice"
	case Assigned:
		return "assigned"
	case Intro:
		return "intro"
	case Digest:
		return "digest"
	case Bounced:
		return "bounced"
	case Trigger:
		return "trigger"
	case Ack:
		return "ack"
	case Transcript:
		return "transcript"
	case Survey:
		return "survey"
	case RuleMail:
		return "rule-mail"
	}
	return "unknown"
}

// Event is the comment or change whose recipients are decided.
type Event struct {
	Kind Kind
	// Author is the comparison form of the author's address (staff: the
	// address as the configuration spells it, lowercased). The author
	// never gets his own comment back. Empty for a Notice.
	Author string
	// Thread is the side thread of a Side event (its ID in
	// Ticket.Threads); 0 on the main thread.
	Thread uint32
	// ToCollaborators: a staff message in a side thread goes to the
	// thread's collaborators. The engine asks for it for an agent's
	// message; a light agent's is refused here as well (SPEC 1).
	ToCollaborators bool
	// Notify are the #notify targets of a private note.
	Notify []string
	// NoEndUsers keeps the requester and CCs out of a public comment
	// (the first comment of a ticket staff opened on someone's behalf:
	// the customer wrote it and has it).
	NoEndUsers bool
	// Except is one staff member who gets nothing (the agent who opened
	// the ticket on someone's behalf, and so knows it).
	Except string
	// AlreadyMailed are the addresses the inbound mail was already sent
	// to (its To and Cc). End users among them are not sent it again
	// when an end user wrote it (reply-all, SPEC 3.7).
	AlreadyMailed []string

	// Wrote is who wrote the mail a Bounced notice is about ("" when
	// unknown): told when he is staff, else the assignee is. For a
	// Transcript, the sender of the mail answered.
	Wrote string
	// Targets are a Trigger's notify targets: "assignee", "group" (every
	// member of the ticket's group) or a staff address.
	Targets []string
	// The guards' verdicts. Each is decided elsewhere, on the mail's
	// text or the ticket's history; here they only mean "nobody".

	// Held: the leak guard or the collision guard held the comment (a
	// hidden comment until its author says #send).
	Held bool
	// LoopLimited: the loop guard stopped mail caused by this outside
	// author on this ticket (more than threading.fanout_limit_per_hour
	// comments an hour, SPEC 3.7).
	LoopLimited bool
}

// Ticket is the read-only snapshot of the ticket's participants.
type Ticket struct {
	Requester string
	// CCs are the ticket's CCs: end users, and staff an agent made CC
	// with #cc (they get a staff view).
	CCs      []string
	Assignee string
	// Followers are staff following the ticket (a follower who left the
	// configuration is still listed here and gets nothing).
	Followers []string
	// GroupAgents are the agents (role agent or admin) of the ticket's
	// group, or every agent when the group has none: told while the
	// ticket has no (current) assignee. The engine may leave them out
	// when the ticket has a current assignee, as they are not read then.
	GroupAgents []string
	// GroupMembers are every staff member of the ticket's group, light
	// agents too: read only for a Trigger's "group" target.
	GroupMembers []string
	// Threads are the ticket's side threads.
	Threads []Thread
	// Unreachable are end-user and collaborator addresses that bounce or
	// are blocked: they get nothing until they write again. The engine
	// fills it for the addresses the event can reach.
	Unreachable []string
}

// Thread is one side thread.
type Thread struct {
	ID uint32
	// StartedBy is the staff member who started it with #forward.
	StartedBy string
	// Collaborators are the outside addresses it was started with.
	Collaborators []string
}

// Directory says who is staff now. A staff member removed from the
// configuration is not found, and so gets nothing from then on.
type Directory interface {
	// Staff returns the staff member an address names (his address, an
	// alias, a plus-address of either when plus tags are ignored).
	Staff(addr string) (Member, bool)
}

// Member is one staff member as the directory knows him.
type Member struct {
	// Addr is the comparison form of his address, where he is mailed.
	Addr string
	Name string
	// Light: role light (engineers, managers): private notes only.
	Light bool
}

// View is which mail a recipient gets.
type View uint8

const (
	// ViewCustomer is an end user's mail: from the mailbox, no staff
	// address in any header or generated text, a reply adds a public
	// comment.
	ViewCustomer View = iota + 1
	// ViewStaff is a staff notification: the reply marker, who wrote
	// what, the ticket's state, and a footer saying how a reply is
	// treated.
	ViewStaff
	// ViewCollaborator is a side-thread mail from the thread's own
	// signed address; nothing of the ticket goes along but what #include
	// chose.
	ViewCollaborator
)

func (v View) String() string {
	switch v {
	case ViewCustomer:
		return "customer"
	case ViewStaff:
		return "staff"
	case ViewCollaborator:
		return "collaborator"
	}
	return "none"
}

// Token is the kind of reply token a recipient's mail carries: what a
// reply to it will be taken for.
type Token struct {
	// Thread the reply lands in (0 the main thread).
	Thread uint32
	// Private: a reply is private by default (a note, a side thread).
	Private bool
	// Staff: the token was issued to staff (it authenticates a reply as
	// the staff member's, SPEC 5).
	Staff bool
}

// Recipient is one mail to send.
type Recipient struct {
	Addr string
	// Name is a staff member's name ("" for anyone else: the engine
	// knows end users' names from their records).
	Name string
	View View
	// Light: a light agent (his footer never promises a public reply).
	Light bool
	Token Token
}

// Reason says why a participant gets nothing.
type Reason string

const (
	Author         Reason = "the author"
	Excepted       Reason = "opened the ticket on someone's behalf and knows it"
	AlreadyMailed  Reason = "already got the inbound mail (reply-all)"
	NotStaff       Reason = "not staff (any more): removed staff get nothing"
	NoSender       Reason = "no address (the mail had no sender)"
	Unreachable    Reason = "bounces or is blocked"
	Held           Reason = "held by a guard until its author says #send"
	LoopLimited    Reason = "loop guard: too many comments an hour from this author"
	StaffOnly      Reason = "a private note is for staff only"
	SideIsPrivate  Reason = "a side thread is private to the ticket's staff"
	OwnThreadOnly  Reason = "a collaborator only gets staff messages of his own side thread"
	FromOutside    Reason = "a message from outside the thread's staff is private to the ticket"
	LightIsPrivate Reason = "a light agent's mail never reaches end users or collaborators"
	NotEndUsers    Reason = "this comment is not mailed to end users"
	NotInvolved    Reason = "not a recipient of this kind of event"
	NotByStaff     Reason = "no staff member made this change: nobody is told of it this way"
	StaffAnswer    Reason = "a transcript names staff and commands: only staff get one"
	NotAcked       Reason = "only an end-user requester gets automatic mail (acknowledgement, survey, a rule's mail)"
)

// Left is a participant who gets nothing, and why.
type Left struct {
	Addr string
	Why  Reason
}

// Decision is Decide's answer.
type Decision struct {
	// Recipients in the order their mail is queued.
	Recipients []Recipient
	// Left are the ticket's participants who get nothing, each once,
	// with the first reason that kept them out.
	Left []Left
}

// Of returns addr's recipient entry, if it gets a mail.
func (d Decision) Of(addr string) (Recipient, bool) {
	for _, r := range d.Recipients {
		if r.Addr == addr {
			return r, true
		}
	}
	return Recipient{}, false
}

// Why returns the reason addr gets nothing ("" when it gets a mail or is
// not a participant).
func (d Decision) Why(addr string) Reason {
	for _, l := range d.Left {
		if l.Addr == addr {
			return l.Why
		}
	}
	return ""
}
