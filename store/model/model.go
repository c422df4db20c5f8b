// Package model holds the records the helpdesk keeps (tickets, comments,
// messages, users, the outbound queue, quarantine, token keys) and their
// small pure helpers. It is a leaf: it imports nothing of the project's,
// so every storage engine (package store's interfaces, store/bolt) and
// every layer above them share one definition of what is stored.
package model

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Ticket statuses (SPEC section 7).
const (
	StatusOpen              = "open"
	StatusPending           = "pending"
	StatusWaitingCustomer   = "waiting-customer"
	StatusWaitingThirdParty = "waiting-third-party"
	StatusResolved          = "resolved"
	StatusClosed            = "closed"
)

// Statuses lists every status in lifecycle order.
var Statuses = []string{StatusOpen, StatusPending, StatusWaitingCustomer, StatusWaitingThirdParty, StatusResolved, StatusClosed}

// Visibility of a comment.
const (
	Public  = "public"
	Private = "private"
)

// Thread kinds.
const (
	ThreadMain = "main"
	ThreadSide = "side"
)

// Link kinds between tickets.
const (
	LinkRelated    = "possibly-related" // a stranger's reply to #N opened this ticket
	LinkFollowUpOf = "follow-up-of"     // this ticket follows up a closed one
	LinkFollowUp   = "follow-up"        // the follow-up opened for this closed ticket
	LinkMergedInto = "merged-into"
	LinkMergedFrom = "merged-from"
	LinkParent     = "parent" // the other ticket is this one's parent
	LinkChild      = "child"  // the other ticket is this one's child
)

// Comment kinds.
const (
	KindComment  = "comment"  // a message: public comment, private note or side-thread message
	KindEvent    = "event"    // a change: status, assignee, tags... (audit trail)
	KindRejected = "rejected" // a staff mail whose commands failed; hidden, nothing applied
	KindDelivery = "delivery" // a delivery status notification for our outbound mail
	KindHeld     = "held"     // an outgoing reply held by a guard until #send
	KindAuto     = "auto-reply"
)

// Ticket is one support case.
type Ticket struct {
	ID        uint64   `json:"id"`
	Subject   string   `json:"subject"`
	Status    string   `json:"status"`
	Priority  string   `json:"priority"`
	Type      string   `json:"type,omitempty"`
	Mailbox   string   `json:"mailbox"`
	Group     string   `json:"group,omitempty"`
	Requester string   `json:"requester"`
	Assignee  string   `json:"assignee,omitempty"`
	CCs       []string `json:"ccs"`
	Followers []string `json:"followers"`
	Tags      []string `json:"tags"`
	Links     []Link   `json:"links"`
	Threads   []Thread `json:"threads"`
	// MergedInto is the surviving ticket after #merge; mail to this one
	// lands there.
	MergedInto uint64 `json:"merged_into,omitempty"`
	// MergedThreads maps this ticket's side threads to their ids in the
	// survivor after a merge.
	MergedThreads map[uint32]uint32 `json:"merged_threads,omitempty"`
	// Flags are conditions staff should look at, e.g. "fanout-limited".
	Flags []string `json:"flags,omitempty"`

	Created    time.Time  `json:"created"`
	Updated    time.Time  `json:"updated"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	ClosedAt   *time.Time `json:"closed_at,omitempty"`

	// LastSeq is the id of the newest comment; comment ids are 1, 2, ...
	LastSeq uint32 `json:"last_seq"`
	// LastPublicSeq is the id of the newest public comment (collision
	// guard, SPEC 7).
	LastPublicSeq uint32 `json:"last_public_seq"`
	// RootMessageID is the Message-ID of the mail that opened the ticket
	// (References of public mail).
	RootMessageID string `json:"root_message_id,omitempty"`
	// Refs is each recipient's References chain on this ticket, keyed by
	// RefKey(address, thread): the first Message-ID of their conversation
	// and the newest ones we sent them or they sent us (bounded).
	Refs map[string][]string `json:"refs,omitempty"`
	// AckSent: the acknowledgement went out (at most one per ticket).
	AckSent bool `json:"ack_sent,omitempty"`
	// FanTimes are the recent comment times per outside author (the loop
	// guard of SPEC 3.7), kept here so counting costs no extra write.
	FanTimes map[string][]int64 `json:"fan_times,omitempty"`
	// Language is the customer's language chosen when the ticket opened
	// ("en", "ko"): later automatic mail to the customer (a merge notice)
	// speaks it too.
	Language string `json:"language,omitempty"`
	// Suggestions are the knowledge-base articles the acknowledgement
	// suggested (SPEC 7), best first.
	Suggestions []Suggestion `json:"kb_suggestions,omitempty"`
	// NoAutoMail: the mail that opened the ticket asked for no automatic
	// answer (machine or bulk mail, an upstream spam flag, SPEC 3.1), so
	// its requester gets none later either (the survey, a rule's mail).
	NoAutoMail bool `json:"no_auto_mail,omitempty"`
	// SurveyFor is the resolution (ResolvedAt) the satisfaction survey
	// was sent for: one survey per resolution (SPEC 7).
	SurveyFor *time.Time `json:"survey_for,omitempty"`
	// CSAT is the requester's satisfaction rating; a later one replaces
	// it (reports read it).
	CSAT *CSAT `json:"csat,omitempty"`

	// Responses (SPEC 7, issue 14): a response is a public reply from a
	// human agent that reaches the requester (main thread, or #reply from
	// a side thread), timed when it is sent (a held reply when #send
	// releases it). engine's markResponse is the one place that sets
	// these; SLA targets and reports read them.
	FirstResponseAt *time.Time `json:"first_response_at,omitempty"`
	LastResponseAt  *time.Time `json:"last_response_at,omitempty"`
	Responses       int        `json:"responses,omitempty"`
	// LastCustomerAt is the newest public comment of the requester or a
	// CC on the main thread (engine's markCustomer).
	LastCustomerAt *time.Time `json:"last_customer_at,omitempty"`
	// AwaitingSince is the first customer comment after the last
	// response: the start of the running next-reply target. nil while the
	// last word is ours, and before any response (first reply covers it).
	AwaitingSince *time.Time `json:"awaiting_since,omitempty"`
	// LastWaitStart is the start of the last next-reply wait a response
	// ended (AwaitingSince as it was), so the met target can be shown.
	LastWaitStart *time.Time `json:"last_wait_start,omitempty"`
	// SLAMarks are the notices sent per SLA target instance, so each goes
	// out once (also across restarts) and a breach stays recorded.
	SLAMarks []SLAMark `json:"sla_marks,omitempty"`
	// OnBehalf: an agent opened the ticket (on a customer's behalf, or a
	// #child): it has no first-reply target.
	OnBehalf bool `json:"on_behalf,omitempty"`
	// StatusLog is every status change after creation (the ticket opens
	// "open" at Created), oldest first: SLA pauses and resolution time
	// are computed from it. Compact: unix seconds and the status.
	StatusLog []StatusMark `json:"status_log,omitempty"`
	// Auto is what automations measure from and remember (issue 14
	// item 5); nil until the first of it happens.
	Auto *AutoState `json:"auto,omitempty"`
	// Erased is when the requester was erased (issue 16 item 2): the
	// ticket is a shell of figures, and no mail lands on it any more.
	Erased *time.Time `json:"erased,omitempty"`
	// EraseRequest is an admin's #customer erase waiting for its
	// confirmation code (issue 16): nil when none is.
	EraseRequest *EraseRequest `json:"erase_request,omitempty"`
}

// EraseRequest is a #customer erase waiting for the second mail that
// quotes its code: the code is bound to the admin who asked, the
// customer (the requester then) and an expiry. Only the code's hash is
// kept; the erase that it confirms removes the request with the rest.
type EraseRequest struct {
	Hash    string    `json:"hash"` // hex SHA-256 of the normalized code
	By      string    `json:"by"`
	Addr    string    `json:"addr"`
	Expires time.Time `json:"expires"`
}

// CSAT is a satisfaction rating given by replying to the survey.
type CSAT struct {
	Rating  int       `json:"rating"` // 1-5
	Comment string    `json:"comment"`
	At      time.Time `json:"at"`
}

// StatusMark is one status change: from At (unix seconds) on, the
// ticket was in status S.
type StatusMark struct {
	At int64  `json:"t"`
	S  string `json:"s"`
	// Ns is the nanoseconds of the instant (marks written before it was
	// kept have none): a timer counted from a status change must not
	// fall due up to a second before it.
	Ns int32 `json:"n,omitempty"`
}

// Time is the instant of the change.
func (m StatusMark) Time() time.Time { return time.Unix(m.At, int64(m.Ns)).UTC() }

// SLAMark records the notices of one SLA target instance: its kind and
// start (unix seconds) name it; Warned is the fingerprint of the target
// (policy, duration, calendar) a warning was sent for ("" none), so a
// changed deadline re-arms it; Breached is when the breach was recorded
// (0 none); Policy the policy then.
type SLAMark struct {
	Kind     string `json:"k"`
	Start    int64  `json:"s"`
	Warned   string `json:"w,omitempty"`
	Breached int64  `json:"b,omitempty"`
	Policy   string `json:"p,omitempty"`
}

// LogStatus records that the ticket entered status at at.
func (t *Ticket) LogStatus(status string, at time.Time) {
	t.StatusLog = append(t.StatusLog, StatusMark{At: at.Unix(), Ns: int32(at.Nanosecond()), S: status})
}

// Suggestion is a knowledge-base article suggested to the requester.
type Suggestion struct {
	// Article is the file's path inside the knowledge-base folder.
	Article string  `json:"article"`
	Title   string  `json:"title"`
	URL     string  `json:"url,omitempty"`
	Score   float64 `json:"score"`
}

// Thread is the main conversation or a side thread of a ticket.
type Thread struct {
	ID   uint32 `json:"id"`
	Kind string `json:"kind"` // main | side
	// Subject of a side thread (what collaborators see).
	Subject string `json:"subject,omitempty"`
	// Collaborators are the external addresses of a side thread.
	Collaborators []string `json:"collaborators,omitempty"`
	// Status of a side thread: open or done.
	Status    string    `json:"status,omitempty"`
	StartedBy string    `json:"started_by,omitempty"`
	Created   time.Time `json:"created"`
	// LastMessageID is the Message-ID of the newest mail sent to the
	// thread's collaborators (for their In-Reply-To).
	LastMessageID string `json:"last_message_id,omitempty"`
}

// Link points to another ticket.
type Link struct {
	Kind   string `json:"kind"`
	Ticket uint64 `json:"ticket"`
}

// Attachment is an attachment of a stored message.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Inline      bool   `json:"inline,omitempty"`
	// Part (the enmime part id) and Message (the stored raw message) say
	// where the bytes are: the outbound worker copies them from there, so
	// both must be persisted with the comment and the queued mail. Records
	// written before they were (the field was dropped from JSON) have
	// Message 0; the worker finds them again through the comment the mail
	// includes (outbound.recoverAttachments).
	Part    string `json:"part,omitempty"`
	Message uint64 `json:"message,omitempty"`
}

// Comment is an entry on a ticket: a message, an event or a record.
type Comment struct {
	ID         uint32    `json:"id"`
	Ticket     uint64    `json:"ticket"`
	Thread     uint32    `json:"thread"`
	Kind       string    `json:"kind"`
	Author     string    `json:"author"`
	AuthorName string    `json:"author_name,omitempty"`
	Visibility string    `json:"visibility"`
	Text       string    `json:"text"`
	Created    time.Time `json:"created"`
	MessageID  string    `json:"message_id,omitempty"`
	// Message is the stored raw message this comment came from (0: none).
	Message     uint64       `json:"message,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	// Hidden records (rejected command mail, held replies) are shown to
	// staff tools but never mailed.
	Hidden bool `json:"hidden,omitempty"`
	// Recipients are the addresses the inbound mail was already sent to
	// (To and Cc): they are not sent the comment again.
	Recipients []string `json:"recipients,omitempty"`
	// Reason explains a rejected, held or delivery record.
	Reason string `json:"reason,omitempty"`
	// Released marks a held comment that #send released.
	Released bool `json:"released,omitempty"`
}

// User is anyone who ever mailed us or was mailed by us (end users, staff,
// collaborators), keyed by normalized address. Its ID names the recipient
// in reply tokens.
type User struct {
	ID   uint64 `json:"id"`
	Addr string `json:"address"`
	// Spelling is the address as the user writes it when that differs
	// from Addr (the comparison form) only in case: mail is sent to it,
	// since only the receiving host may fold a local part's case
	// (RFC 5321 section 2.4). "" = Addr.
	Spelling string    `json:"spelling,omitempty"`
	Name     string    `json:"name,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Bouncing bool      `json:"bouncing,omitempty"`
	Bounce   string    `json:"bounce,omitempty"`
	Blocked  bool      `json:"blocked,omitempty"`
	// Away: a staff member is not available for automatic assignment.
	Away bool `json:"away,omitempty"`
	// AckTimes are when acknowledgements were last sent to this address
	// (at most N an hour, SPEC 7).
	AckTimes []int64 `json:"ack_times,omitempty"`
}

// SendAddr is the address to send the user mail at: as they write it.
func (u *User) SendAddr() string {
	if u.Spelling != "" && strings.EqualFold(u.Spelling, u.Addr) {
		return u.Spelling
	}
	return u.Addr
}

// Message dispositions: what became of an accepted mail.
const (
	DispTicket     = "ticket"     // opened a ticket
	DispComment    = "comment"    // added to a ticket
	DispCommands   = "commands"   // staff commands, no text
	DispRejected   = "rejected"   // staff commands refused (hidden record)
	DispDelivery   = "delivery"   // a DSN attached as a delivery event
	DispQuarantine = "quarantine" // kept aside, no effect
	DispHeld       = "held"       // reply held by a guard
)

// Message is one accepted mail: envelope, where it went, and where its raw
// bytes are.
type Message struct {
	ID        uint64    `json:"id"`
	Received  time.Time `json:"received"`
	MailFrom  string    `json:"mail_from"`
	Rcpts     []string  `json:"rcpts"`
	RemoteIP  string    `json:"remote_ip,omitempty"`
	Size      int64     `json:"size"`
	MessageID string    `json:"message_id,omitempty"`
	BodyHash  string    `json:"body_hash,omitempty"`
	// Blob is the path (relative to data_dir) of a spooled raw message;
	// "" means the raw bytes are in the raw bucket.
	Blob        string   `json:"blob,omitempty"`
	Ticket      uint64   `json:"ticket,omitempty"`
	Comment     uint32   `json:"comment,omitempty"`
	Disposition string   `json:"disposition"`
	Class       string   `json:"class,omitempty"`
	ParseErrors []string `json:"parse_errors,omitempty"`
}

// Ref says where a Message-ID belongs.
type Ref struct {
	Ticket  uint64 `json:"t"`
	Thread  uint32 `json:"th,omitempty"`
	Comment uint32 `json:"c,omitempty"`
	// Outbound: a Message-ID we generated. Party is its recipient and
	// Private whether it was a private notification.
	Outbound bool   `json:"o,omitempty"`
	Party    uint64 `json:"p,omitempty"`
	Private  bool   `json:"pr,omitempty"`
}

// Outbound queue states.
const (
	OutQueued = "queued"
	OutSent   = "sent"
	OutFailed = "failed" // gave up
)

// Header is one extra header of an outbound mail.
type Header struct {
	Name  string `json:"n"`
	Value string `json:"v"`
}

// Outbound is one queued mail to one envelope recipient. Its content is
// rendered to MIME by the outbound worker, outside any transaction.
type Outbound struct {
	ID     uint64 `json:"id"`
	Ticket uint64 `json:"ticket,omitempty"`
	// Kind: ack, notification, transcript, notice, side, list, help.
	Kind     string   `json:"kind"`
	MailFrom string   `json:"mail_from"` // envelope sender (a reply token address: VERP)
	Rcpt     string   `json:"rcpt"`      // envelope recipient
	From     string   `json:"from"`      // header From, formatted
	To       []string `json:"to"`        // header To, formatted
	Cc       []string `json:"cc,omitempty"`
	ReplyTo  string   `json:"reply_to,omitempty"`
	Subject  string   `json:"subject"`
	// MessageID is ours, without brackets, indexed to ticket and thread.
	MessageID  string   `json:"message_id"`
	InReplyTo  string   `json:"in_reply_to,omitempty"`
	References []string `json:"references,omitempty"`
	Headers    []Header `json:"headers,omitempty"`
	Text       string   `json:"text"`
	// Include names a comment whose text follows Text, then TextAfter:
	// a notification refers to the stored comment instead of copying it
	// (the comment is stored in the same write and never changes).
	Include   *CommentRef  `json:"include,omitempty"`
	TextAfter string       `json:"text_after,omitempty"`
	Attach    []Attachment `json:"attach,omitempty"`
	// AttachData carries small generated attachments (e.g. a CSV report).
	AttachData []InlineFile `json:"attach_data,omitempty"`

	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error,omitempty"`
	Created     time.Time `json:"created"`
	Done        time.Time `json:"done,omitempty"`
	// Started is set while a delivery attempt is under way: a crash then
	// may cause a logged duplicate (SPEC 11).
	Started time.Time `json:"started,omitempty"`
	// Requeued is when `helpdesk outbox retry` queued it again; give_up_after
	// counts from then.
	Requeued time.Time `json:"requeued,omitzero"`
	// LeaseHolder claimed the item for delivery (store.OutboundQueue.Claim)
	// and holds it until LeaseUntil: no other worker claims it meanwhile,
	// and once that has passed (the holder died) it is claimable again.
	LeaseHolder string    `json:"lease_holder,omitempty"`
	LeaseUntil  time.Time `json:"lease_until,omitzero"`
}

// Clone copies o without sharing its slices and pointers with it: a
// caller changing one copy in place (a settle that changes the mail, a
// store's memo, an item handed to a worker) must not change the other.
func (o *Outbound) Clone() Outbound {
	c := *o
	c.To, c.Cc, c.References = slices.Clone(o.To), slices.Clone(o.Cc), slices.Clone(o.References)
	c.Headers, c.Attach = slices.Clone(o.Headers), slices.Clone(o.Attach)
	if o.Include != nil {
		ref := *o.Include
		c.Include = &ref
	}
	if o.AttachData != nil {
		c.AttachData = make([]InlineFile, len(o.AttachData))
		for i, f := range o.AttachData {
			f.Data = slices.Clone(f.Data)
			c.AttachData[i] = f
		}
	}
	return c
}

// Erasure records that a customer was erased (issue 16 item 2): when,
// by whom, how much went, and what was kept. It names no one erased.
type Erasure struct {
	ID  uint64    `json:"id"`
	At  time.Time `json:"at"`
	By  string    `json:"by"`  // the admin's address, or "cli"
	Via string    `json:"via"` // cli | mail
	// Tickets are the erased person's tickets, now shells; Comments and
	// Attachments the texts and files removed from them.
	Tickets     int `json:"tickets"`
	Comments    int `json:"comments"`
	Attachments int `json:"attachments"`
	// Messages are raw mails removed (with Blobs of them kept as files).
	Messages int `json:"messages"`
	Blobs    int `json:"blobs"`
	// Outbound are queue items removed (queued, sent or failed), and
	// OutboxFiles their .eml copies in data_dir/outbox.
	Outbound    int `json:"outbound"`
	OutboxFiles int `json:"outbox_files"`
	Quarantine  int `json:"quarantine"`
	Webhooks    int `json:"webhooks"`
	// IndexEntries are Message-ID and address index entries removed.
	IndexEntries int `json:"index_entries"`
	// Profiles are customer records removed.
	Profiles int `json:"profiles"`
	// OtherTickets are other people's tickets on which the address was
	// replaced (a CC), Replaced the places it was replaced in (lists
	// and texts), and KeptRaw the raw mails of those tickets that still
	// name it in their headers (kept: they are the other people's mail).
	OtherTickets int `json:"other_tickets"`
	Replaced     int `json:"replaced"`
	KeptRaw      int `json:"kept_raw"`
	// State is "" once an erasure is complete. An erase confirmed by
	// mail is recorded in the confirming mail's write, ErasureConfirmed
	// (Pending names the requester and what the transcript needs); the
	// erase's own write makes it ErasureErased (the address leaves the
	// record; Pending keeps the files to remove, and the store is still
	// to be compacted); the write that queues the admin's transcript
	// completes it. An erase by the CLI is ErasureErased from its write
	// until its compaction is done. A daemon resumes the records not
	// complete when it starts, so a crash between those writes loses no
	// erase and no transcript (issue 16).
	State   string          `json:"state,omitempty"`
	Pending *PendingErasure `json:"pending,omitempty"`
}

// The states of an erasure record not complete.
const (
	ErasureConfirmed = "confirmed"
	ErasureErased    = "erased"
)

// PendingErasure is what an erasure not complete still needs.
type PendingErasure struct {
	// Addr is the requester to erase (ErasureConfirmed only) and Ticket
	// the ticket the code was confirmed on.
	Addr   string `json:"addr,omitempty"`
	Ticket uint64 `json:"ticket,omitempty"`
	// For the admin's transcript (By is the admin): their name, the
	// mailbox it is sent from, the confirming line and mail's
	// Message-ID; Line is empty for an erase by the CLI (no transcript).
	ByName    string `json:"by_name,omitempty"`
	Mailbox   string `json:"mailbox,omitempty"`
	Line      string `json:"line,omitempty"`
	MessageID string `json:"message_id,omitempty"`
	// Blobs (paths under data_dir) and Outbox (queue item ids, whose
	// data_dir/outbox/*.eml copies go) are the files the erase's write
	// orphaned, removed before the compaction.
	Blobs  []string `json:"blobs,omitempty"`
	Outbox []uint64 `json:"outbox,omitempty"`
}

// CommentRef names one comment.
type CommentRef struct {
	Ticket  uint64 `json:"ticket"`
	Comment uint32 `json:"comment"`
}

// InlineFile is a generated attachment carried in the queue item.
type InlineFile struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
}

// Quarantine reasons.
const (
	QLoop     = "loop"     // our own loop header or too many Received
	QAuth     = "auth"     // claimed a staff address, failed every check
	QUnwanted = "unwanted" // nothing wanted it (e.g. a DSN for unknown mail)
	QBlocked  = "blocked"  // a blocked sender (#spam)
)

// Quarantine is a mail kept aside with no effect on any ticket.
type Quarantine struct {
	ID         uint64     `json:"id"`
	Message    uint64     `json:"message"`
	Reason     string     `json:"reason"`
	Detail     string     `json:"detail"`
	From       string     `json:"from"`
	Subject    string     `json:"subject"`
	Created    time.Time  `json:"created"`
	Released   bool       `json:"released,omitempty"`
	ReleasedAt *time.Time `json:"released_at,omitempty"`
}

// TokenKey is one reply-token signing secret as the key ring is stored
// (meta "token_keys"). threading/token signs with it; the engine converts
// (store imports nothing of the project's, so the stored form is its own
// and a change to the token package cannot silently change the file).
type TokenKey struct {
	ID      uint8     `json:"id"`
	Secret  []byte    `json:"secret"`
	Created time.Time `json:"created"`
	// Retired is when a newer key replaced this one (zero: current).
	Retired time.Time `json:"retired,omitempty"`
}

// RefKey is the key of a recipient's References chain in Ticket.Refs.
func RefKey(addr string, thread uint32) string {
	return strings.ToLower(addr) + "|" + strconv.FormatUint(uint64(thread), 10)
}

// MaxRefs bounds a stored References chain: the first Message-ID and the
// newest MaxRefs-1.
const MaxRefs = 12

// AddRef appends id to the chain of key, keeping the first and the newest.
func (t *Ticket) AddRef(key, id string) {
	if id == "" {
		return
	}
	if t.Refs == nil {
		t.Refs = map[string][]string{}
	}
	c := t.Refs[key]
	if len(c) > 0 && c[len(c)-1] == id {
		return
	}
	c = append(c, id)
	if len(c) > MaxRefs {
		c = append(c[:1], c[len(c)-(MaxRefs-1):]...)
	}
	t.Refs[key] = c
}

// TicketRouting is the part of a ticket that says who should work on it.
type TicketRouting struct {
	Status     string `json:"status"`
	Group      string `json:"group,omitempty"`
	Assignee   string `json:"assignee,omitempty"`
	MergedInto uint64 `json:"merged_into,omitempty"`
}

// SlideWindow is a sliding-window limiter over a list of timestamps kept
// in a record (a user's acknowledgements, a ticket's comments per author):
// it drops stamps older than window and, when fewer than limit remain,
// records now and allows.
func SlideWindow(stamps []int64, now time.Time, window time.Duration, limit int) ([]int64, bool) {
	cut := now.Add(-window).UnixNano()
	kept := stamps[:0]
	for _, s := range stamps {
		if s > cut {
			kept = append(kept, s)
		}
	}
	if len(kept) >= limit {
		return kept, false
	}
	return append(kept, now.UnixNano()), true
}
