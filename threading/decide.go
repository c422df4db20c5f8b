package threading

import (
	"regexp"
	"strconv"
	"strings"
	"sync"

	"helpdesk/threading/token"
)

// Role is who the sender is on the candidate ticket (SPEC 3.3).
type Role string

const (
	RoleNobody       Role = "nobody"
	RoleRequester    Role = "requester"
	RoleCC           Role = "cc"
	RoleAssignee     Role = "assignee"
	RoleAgent        Role = "agent" // another agent (or admin)
	RoleLight        Role = "light" // a light agent
	RoleFollower     Role = "follower"
	RoleCollaborator Role = "collaborator"
)

// Staff is how the caller describes the sender when the From address is a
// staff member who passed authentication (SPEC 5). Unauthenticated staff
// claims never reach Decide: they are quarantined before.
type Staff struct {
	Email string // canonical staff address
	Role  string // agent | light | admin
}

// ThreadInfo is what Decide needs of a thread.
type ThreadInfo struct {
	ID            uint32
	Side          bool
	Collaborators []string // normalized
}

// TicketInfo is what Decide needs of a ticket, already resolved through
// merges by the View.
type TicketInfo struct {
	ID        uint64
	Closed    bool
	Requester string
	CCs       []string
	Assignee  string
	Followers []string
	Threads   []ThreadInfo
}

// MsgRef says where a known Message-ID belongs.
type MsgRef struct {
	Ticket  uint64
	Thread  uint32
	Private bool // it was one of our private notifications
}

// View is the read access Decide needs, implemented over a store
// transaction by the engine. Lookups resolve merged tickets to survivors.
type View interface {
	LookupMessageID(id string) (MsgRef, bool)
	Ticket(id uint64) (*TicketInfo, bool)
	// ResolveToken maps a verified token to the surviving ticket/thread.
	ResolveToken(t token.Token) (ticket uint64, thread uint32, ok bool)
}

// Key names which thread key found the candidate.
type Key string

const (
	KeyNone       Key = "none"
	KeyToken      Key = "token"
	KeyInReplyTo  Key = "in-reply-to"
	KeyReferences Key = "references"
	KeySubjectTag Key = "subject-tag"
)

// Outcome is what becomes of a mail (SPEC 3.4).
type Outcome string

const (
	// OutNewTicket opens a ticket (Related names a candidate the sender
	// was no participant of; FollowUpOf a closed ticket).
	OutNewTicket Outcome = "new-ticket"
	// OutPublicComment: requester or CC on the main thread.
	OutPublicComment Outcome = "public-comment"
	// OutStaff: an agent's mail; the command language applies, with the
	// default visibility in DefaultPrivate.
	OutStaff Outcome = "staff"
	// OutNote: a light agent's mail on the main thread: a private note.
	OutNote Outcome = "note"
	// OutSideMessage: a private message of side thread Thread, from a
	// collaborator, requester, CC, follower or light agent.
	OutSideMessage Outcome = "side-message"
	// OutStaffSide: an agent's reply in a side thread: goes to the
	// thread's collaborators (commands apply too).
	OutStaffSide Outcome = "staff-side"
)

// Input is the facts Decide works from.
type Input struct {
	Mail *Mail
	// Sender is the normalized From address (plus tag removed when
	// configured).
	Sender string
	// Staff is set when the sender is authenticated staff.
	Staff *Staff
	// Token is the first valid reply token among the recipients.
	Token *token.Token
	// DMARCFail: the sender's domain failed DMARC; Message-ID and subject
	// tag keys are not used (SPEC 3.2).
	DMARCFail bool
	// TagPrefix is the subject tag prefix ("#" for "[#123]").
	TagPrefix string
}

// Decision is where a mail goes and why.
type Decision struct {
	Outcome Outcome
	Ticket  uint64 // the ticket it lands on (0 for a new ticket)
	Thread  uint32
	Role    Role
	Key     Key
	// DefaultPrivate: a staff reply defaults to a private note because
	// the notification replied to was private (SPEC 3.4).
	DefaultPrivate bool
	// Related is a candidate ticket the sender was not a participant of:
	// the new ticket links to it for staff; the sender is never told.
	Related uint64
	// FollowUpOf is the closed ticket an end user replied to.
	FollowUpOf uint64
	// Reason explains the decision for logs.
	Reason string
}

// Decide picks the ticket, thread and outcome for a human mail (SPEC 3.2–3.4).
func Decide(in Input, v View) Decision {
	cand, thread, key, private := findCandidate(in, v)
	if cand == 0 {
		return Decision{Outcome: OutNewTicket, Key: KeyNone, Role: RoleNobody, Reason: "no thread key matched"}
	}
	tk, ok := v.Ticket(cand)
	if !ok {
		return Decision{Outcome: OutNewTicket, Key: KeyNone, Role: RoleNobody, Reason: "candidate ticket not found"}
	}
	d := Decision{Ticket: tk.ID, Thread: thread, Key: key, DefaultPrivate: private}
	var th *ThreadInfo
	for i := range tk.Threads {
		if tk.Threads[i].ID == thread {
			th = &tk.Threads[i]
		}
	}
	if th == nil {
		d.Thread, thread = 0, 0
	}
	side := th != nil && th.Side
	d.Role = RoleOf(in.Sender, in.Staff, tk, th)
	switch {
	case d.Role == RoleNobody:
		return Decision{Outcome: OutNewTicket, Key: key, Role: RoleNobody, Related: tk.ID,
			Reason: "sender is not a participant of the candidate ticket"}
	case side && in.Staff != nil && in.Staff.Role != "light":
		d.Outcome, d.DefaultPrivate = OutStaffSide, true
	case side:
		d.Outcome = OutSideMessage
	case in.Staff != nil && in.Staff.Role == "light":
		d.Outcome, d.DefaultPrivate = OutNote, true
	case in.Staff != nil:
		d.Outcome = OutStaff
	case d.Role == RoleRequester || d.Role == RoleCC:
		if tk.Closed {
			return Decision{Outcome: OutNewTicket, Key: key, Role: d.Role, FollowUpOf: tk.ID,
				Reason: "reply to a closed ticket opens a follow-up"}
		}
		d.Outcome = OutPublicComment
	default:
		// A collaborator writing on the main thread (e.g. with a main
		// thread Message-ID they should never have had): not a
		// participant of it.
		return Decision{Outcome: OutNewTicket, Key: key, Role: RoleNobody, Related: tk.ID,
			Reason: "collaborator outside their side thread"}
	}
	d.Reason = "sender is " + string(d.Role) + " via " + string(key)
	return d
}

// RoleOf returns the sender's role on a ticket and, for a side thread, that
// thread (SPEC 3.3). Staff roles need authentication: staff is nil for an
// unauthenticated sender.
func RoleOf(sender string, staff *Staff, tk *TicketInfo, th *ThreadInfo) Role {
	if staff != nil {
		switch {
		case staff.Email == tk.Assignee:
			return RoleAssignee
		case contains(tk.Followers, staff.Email):
			return RoleFollower
		case staff.Role == "light":
			return RoleLight
		default:
			return RoleAgent
		}
	}
	switch {
	case sender == "":
		return RoleNobody
	case sender == tk.Requester:
		return RoleRequester
	case contains(tk.CCs, sender):
		return RoleCC
	case th != nil && th.Side && contains(th.Collaborators, sender):
		return RoleCollaborator
	}
	return RoleNobody
}

func findCandidate(in Input, v View) (ticket uint64, thread uint32, key Key, private bool) {
	if in.Token != nil {
		if t, th, ok := v.ResolveToken(*in.Token); ok {
			return t, th, KeyToken, in.Token.Private()
		}
	}
	if in.DMARCFail {
		return 0, 0, KeyNone, false
	}
	m := in.Mail
	for _, id := range m.InReplyTo {
		if r, ok := v.LookupMessageID(id); ok {
			return r.Ticket, r.Thread, KeyInReplyTo, r.Private
		}
	}
	for i := len(m.References) - 1; i >= 0; i-- {
		if r, ok := v.LookupMessageID(m.References[i]); ok {
			return r.Ticket, r.Thread, KeyReferences, r.Private
		}
	}
	if n := SubjectTag(m.Subject, in.TagPrefix); n != 0 {
		tk, ok := v.Ticket(n)
		if !ok {
			return 0, 0, KeyNone, false
		}
		// Guessing a number must not let anyone in: the tag is trusted
		// only for a participant of the main thread (SPEC 3.2c). It
		// still names a candidate, so Decide opens a new ticket for a
		// non-participant with a "possibly related" link (SPEC 3.4).
		return tk.ID, 0, KeySubjectTag, false
	}
	return 0, 0, KeyNone, false
}

var tagCache sync.Map // prefix -> *regexp.Regexp

// SubjectTag finds "[<prefix>N]" in a subject and returns N (0: none).
func SubjectTag(subject, prefix string) uint64 {
	if prefix == "" {
		prefix = "#"
	}
	mm := tagRegexp(prefix).FindStringSubmatch(subject)
	if mm == nil {
		return 0
	}
	n, err := strconv.ParseUint(mm[1], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func tagRegexp(prefix string) *regexp.Regexp {
	if prefix == "" {
		prefix = "#"
	}
	if v, ok := tagCache.Load(prefix); ok {
		return v.(*regexp.Regexp)
	}
	re := regexp.MustCompile(`\[\s*` + regexp.QuoteMeta(prefix) + `\s*(\d{1,18})\s*\]`)
	tagCache.Store(prefix, re)
	return re
}

// Tag formats the subject tag for ticket n.
func Tag(prefix string, n uint64) string {
	return "[" + prefix + strconv.FormatUint(n, 10) + "]"
}

var replyPrefix = regexp.MustCompile(`(?i)^\s*((re|aw|sv|vs|fw|fwd|wg|tr|antw|odp|rif|res|r|回复|回覆|答复|转发|답장|회신|전달)\s*(\[\d+\])?\s*[:：]\s*)+`)

// CleanSubject removes reply/forward prefixes in many languages (Re:, AW:,
// SV:, VS:, 回复:, 답장:, 회신:...) and our own tag, for a ticket subject.
func CleanSubject(subject, prefix string) string {
	s := strings.TrimSpace(subject)
	for i := 0; i < 5; i++ {
		before := s
		s = replyPrefix.ReplaceAllString(s, "")
		if loc := tagRegexp(prefix).FindStringIndex(s); loc != nil {
			s = strings.TrimSpace(s[:loc[0]] + s[loc[1]:])
		}
		if s == before {
			break
		}
	}
	return strings.TrimSpace(s)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
