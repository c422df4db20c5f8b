package plan

// The changes a plan can hold. Each is a value: it names what will change
// and never how (that is the engine's, in gateway/engine/changes.go). A
// plan lists them in the order they are applied (see Plan.Changes).

// Change is one planned change.
type Change interface{ change() }

// ---- answers mailed back to the sender (computed before anything changes) ----

// ListTickets answers #list: the engine renders the tickets of this view
// (mine, unassigned, group, open, overdue, due, stale) into the
// transcript. Within is the business time of "#list due 8h" ("" default).
type ListTickets struct{ Which, Within string }

// MailReport answers #report: the engine builds the report (SPEC 9) and
// attaches its CSV to the transcript, and words command Command's
// result line.
type MailReport struct {
	Period, By string // "" = the defaults (30d, agents)
	Command    int
}

// Answer is text for the transcript (#help's command card).
type Answer struct{ Text string }

// ---- the ticket's fields, in the order of the commands ----

// SetStatus sets the status (#status and its short forms).
type SetStatus struct{ Status string }

// Assign makes Agent (a staff address) the assignee.
type Assign struct{ Agent string }

// Unassign leaves the ticket without assignee (#assign none).
type Unassign struct{}

// SetGroup moves the ticket to Group. Unless KeepAssignee (the same mail
// says #assign), an assignee outside the group is unassigned and the
// group's assignment applies.
type SetGroup struct {
	Group        string
	KeepAssignee bool
}

// SetPriority sets the priority.
type SetPriority struct{ Priority string }

// SetType sets the type.
type SetType struct{ Type string }

// Tags adds and removes tags (lowercase), one #tag line.
type Tags struct{ Add, Remove []string }

// CCs adds and removes public CCs (comparison form), one #cc line.
type CCs struct{ Add, Remove []string }

// Followers adds and removes followers (staff addresses): #follow and
// #unfollow for the sender, #follower for anyone.
type Followers struct{ Add, Remove []string }

// SetRequester makes Addr (comparison form) the requester, spelled as
// Spelled, with the display name Name when one was written.
type SetRequester struct{ Addr, Spelled, Name string }

// MarkDone marks a side thread done (#done).
type MarkDone struct{ Thread uint32 }

// SetParent makes ticket Parent the parent of this one (#parent).
type SetParent struct{ Parent uint64 }

// SetAvailability marks the sender away or available for automatic
// assignment (#away, #available); available also assigns the tickets
// waiting in his groups, which the engine reports on the transcript's
// line Command (an index into Plan.Block.Commands).
type SetAvailability struct {
	Away    bool
	Command int
}

// MarkSpam closes the ticket as spam and blocks its requester, or the
// requester's whole domain.
type MarkSpam struct{ Domain bool }

// ---- the mail itself, after the ticket's fields ----

// SendHeld applies and sends the held mail stored as comment Comment
// (#send), as it was written, without the guards.
type SendHeld struct{ Comment uint32 }

// Exactly one of the next six says where the mail's text (Plan.Text) goes.

// Reply: the text is a public reply on the main thread.
type Reply struct{}

// Note: the text is a private note on the main thread; Notify are the
// staff addresses #notify named.
type Note struct{ Notify []string }

// SideMessage: the text is a message of side thread Thread. It goes to
// the thread's collaborators when ToCollaborators (never a light agent's
// text); then a thread marked done is reopened, unless Reopen is false
// (the same mail says #done).
type SideMessage struct {
	Thread          uint32
	ToCollaborators bool
	Reopen          bool
}

// StartSideThread: the text (with its attachments) opens a side thread
// with the outside addresses Addrs (#forward), with the public history
// Include chooses (none, last, all) and the subject Subject ("" for the
// default).
type StartSideThread struct {
	Addrs   []string
	Include string
	Subject string
}

// OpenChild: the text opens a child ticket with this subject (#child).
type OpenChild struct{ Subject string }

// NoComment: the mail adds no comment (it held only commands); it is
// still recorded on the ticket.
type NoComment struct{}

// ---- last ----

// Merge merges this ticket into ticket Into; CC adds this ticket's
// requester as a CC of Into (#merge N cc).
type Merge struct {
	Into uint64
	CC   bool
}

func (ListTickets) change()     {}
func (MailReport) change()      {}
func (Answer) change()          {}
func (SetStatus) change()       {}
func (Assign) change()          {}
func (Unassign) change()        {}
func (SetGroup) change()        {}
func (SetPriority) change()     {}
func (SetType) change()         {}
func (Tags) change()            {}
func (CCs) change()             {}
func (Followers) change()       {}
func (SetRequester) change()    {}
func (MarkDone) change()        {}
func (SetParent) change()       {}
func (SetAvailability) change() {}
func (MarkSpam) change()        {}
func (SendHeld) change()        {}
func (Reply) change()           {}
func (Note) change()            {}
func (SideMessage) change()     {}
func (StartSideThread) change() {}
func (OpenChild) change()       {}
func (NoComment) change()       {}
func (Merge) change()           {}
