package store

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"helpdesk/store/model"
)

// ErrNotFound is returned for a missing ticket, message or record.
var ErrNotFound = errors.New("not found")

// ErrDuplicate is returned when a message with the same identity
// (Message-ID and body hash) is stored already: several writers (or
// daemons) applying the same mail store it once.
var ErrDuplicate = errors.New("a message with this Message-ID and body hash is stored already")

// ErrLeaseLost is returned when a worker settles or extends an outbound
// item it no longer holds: its lease expired and another worker claimed
// it.
var ErrLeaseLost = errors.New("the lease on this outbound item was lost")

// ErrClosed is returned by Update after Close.
var ErrClosed = errors.New("store: closed")

// Store is an open storage engine: transactions over the records, the
// raw bytes of accepted mail, and what operators ask of the whole.
type Store interface {
	// Update runs fn in a write transaction and returns once it is
	// durable: the engine answers 250 only after that, and one mail's
	// every effect is one Update. An engine may group concurrent
	// Updates into one commit, and may run fn more than once (when
	// another request of its group fails, the group is retried without
	// it), so fn must have no effect outside tx. An error from fn rolls
	// back everything fn did.
	Update(fn func(Tx) error) error
	// View runs fn in a read-only transaction (a consistent snapshot,
	// concurrent with writes).
	View(fn func(Tx) error) error

	Blobs

	// InstallationID identifies this installation in loop headers.
	InstallationID() string
	// Stats are the engine's counters for /metrics.
	Stats() Stats
	// Backup writes a consistent online backup (a tar archive) to w and
	// returns how many files it holds.
	Backup(w io.Writer) (files int, err error)
	// Compact rewrites the store without free space (deleted records'
	// bytes leave the disk; issue 16 item 2), online: writes wait for it
	// and then commit as usual.
	Compact() (CompactResult, error)
	// Close finishes pending writes and releases the store.
	Close() error
}

// CompactResult is what Compact did: the store's size in bytes before
// and after, the free space it held before, and how long writes waited.
type CompactResult struct {
	Before     int64         `json:"before"`
	After      int64         `json:"after"`
	FreeBefore int64         `json:"free_before"`
	Took       time.Duration `json:"took_ns"`
}

// Hints name records a write is about to look up. An engine that reads
// from a database server fetches them for a whole group of writes in
// one round trip before the group runs; one that reads from memory
// ignores them. Only hints: the write reads what it reads, and sees what
// earlier writes of its group wrote, hinted or not.
type Hints struct {
	Users      []string          // User, EnsureUser, UserAway by address
	Customers  []string          // CustomerByAddr by address
	MessageIDs []string          // LookupMessageID
	Identities []MessageIdentity // Duplicate
	Outbound   []uint64          // Outbound, Settle, Extend by id
}

// MessageIdentity is what the duplicate check looks up: a message's
// Message-ID and body hash.
type MessageIdentity struct{ MessageID, BodyHash string }

// Hinted is a Store that takes Hints: UpdateHinted is Update, h naming
// what fn will look up.
type Hinted interface {
	UpdateHinted(h *Hints, fn func(Tx) error) error
}

// CommentTexter is a Store that reads the texts of several comments in
// one go, as one read of its own: the outbound worker reads what a
// round's mails include this way (a read transaction per mail was three
// statements each on PostgreSQL). A comment that does not exist is
// missing from the map; err is a failure of the read itself.
type CommentTexter interface {
	CommentTexts(refs []model.CommentRef) (map[model.CommentRef]string, error)
}

// Stats are cumulative counters of an engine's writer. An engine leaves
// zero what it does not measure.
type Stats struct {
	Commits int64 // write transactions committed
	Writes  int64 // Update requests committed (grouped into commits)
	// The writer's time, in nanoseconds: running write functions,
	// committing (page writes, fsyncs), and waiting for writes under way
	// to join a group.
	ApplyNanos, CommitNanos, GatherNanos int64
	// PageWrites are page writes by commits.
	PageWrites int64
	// A database server's engine: the statements sent and the round trips
	// they took, by the writer's transactions and by all connections.
	WriteQueries, WriteRoundTrips int64
	Queries, RoundTrips           int64
}

// Tx is one transaction: every role's operations. Values returned are
// copies that stay valid after the transaction. In a View, the writing
// operations fail.
type Tx interface {
	Tickets
	Messages
	Users
	Customers
	OutboundQueue
	WebhookQueue
	Quarantine
	Keys
	Rates
	Timers
	Reports
	Erasing
	// Now is the store clock.
	Now() time.Time
	// Writable reports whether this is a write transaction.
	Writable() bool
}

// Tickets are tickets and their comments.
type Tickets interface {
	// Ticket loads a ticket (ErrNotFound wrapped when there is none).
	Ticket(id uint64) (*model.Ticket, error)
	// Routing reads only a ticket's routing fields: cheaper than Ticket
	// for a scan that skips most tickets.
	Routing(id uint64) (model.TicketRouting, error)
	// Resolve follows merges: the ticket that mail for id lands in.
	Resolve(id uint64) (*model.Ticket, error)
	// ResolveThread follows merges for a ticket and thread.
	ResolveThread(id uint64, thread uint32) (*model.Ticket, uint32, error)
	// NewTicket assigns the next sequential id and stores the ticket.
	NewTicket(tk *model.Ticket) error
	// AllocTicketID assigns the next ticket id without storing anything;
	// the caller stores the ticket with InsertTicket in the same write.
	AllocTicketID() (uint64, error)
	// InsertTicket stores a ticket whose id came from AllocTicketID.
	InsertTicket(tk *model.Ticket) error
	// PutTicket stores a changed ticket and keeps its indexes current.
	PutTicket(tk *model.Ticket) error
	// TicketIDs lists ticket ids, newest first, optionally by status
	// ("" = all), at most limit (0 = no limit).
	TicketIDs(status string, limit int) []uint64
	// TicketsOfRequester lists the tickets an address requested, newest
	// first.
	TicketsOfRequester(addr string) []uint64
	// TicketCount is the number of tickets.
	TicketCount() int

	// AddComment appends c to tk (its id is tk.LastSeq+1) and stores it;
	// the caller stores tk afterwards.
	AddComment(tk *model.Ticket, c *model.Comment) error
	// AppendComment is AddComment for a record that may share its stored
	// record with the comment before it, when that one was also added by
	// AppendComment in this transaction: a trigger pass's events (issue
	// 15), one record instead of one per firing. Readers see no
	// difference: Comment, Comments, PutComment and Dump give each
	// comment as AddComment would have stored it.
	AppendComment(tk *model.Ticket, c *model.Comment) error
	// PutComment rewrites an existing comment.
	PutComment(c *model.Comment) error
	// Comment loads one comment.
	Comment(ticket uint64, id uint32) (*model.Comment, error)
	// Comments lists a ticket's comments, oldest first.
	Comments(ticket uint64) ([]*model.Comment, error)
}

// Messages are accepted mail's records, their raw bytes kept in the
// store, the duplicate check and the Message-ID index.
type Messages interface {
	// AddMessage stores a mail's record and, unless m.Blob names a
	// committed spool, its raw bytes.
	AddMessage(m *model.Message, raw []byte) error
	// AddPackedMessage is AddMessage with raw bytes prepared by
	// Blobs.PackRaw.
	AddPackedMessage(m *model.Message, packed []byte) error
	// ReserveMessage gives m its id and stores its raw bytes (packed)
	// and its identity (Message-ID and body hash), not the record: the
	// caller stores that with PutMessage in the same write. A second
	// message with the same identity is refused with ErrDuplicate.
	ReserveMessage(m *model.Message, packed []byte) error
	// PutMessage rewrites a message record.
	PutMessage(m *model.Message) error
	// Message loads a message record.
	Message(id uint64) (*model.Message, error)
	// RawInline returns the raw bytes of a message kept in the store (nil
	// when they are in a blob).
	RawInline(id uint64) []byte
	// Duplicate returns the message stored with this Message-ID and body
	// hash, or nil.
	Duplicate(msgID, hash string) (*model.Message, error)
	// MessageCount is the number of stored messages.
	MessageCount() int
	// ForEachMessage calls fn for every message record in order.
	ForEachMessage(fn func(*model.Message) error) error
	// IndexMessageID records where a Message-ID belongs; an existing
	// entry is kept (the first ticket to see an id owns it).
	IndexMessageID(id string, ref model.Ref) error
	// LookupMessageID finds where a Message-ID belongs.
	LookupMessageID(id string) (model.Ref, bool)
}

// Users are everyone who mailed us or whom we mailed, by normalized
// address.
type Users interface {
	// User finds a user by normalized address (ErrNotFound).
	User(addr string) (*model.User, error)
	// UserAway reports whether the user at addr is marked away (false
	// when there is none).
	UserAway(addr string) (bool, error)
	// UserByID loads a user.
	UserByID(id uint64) (*model.User, error)
	// EnsureUser returns the user for addr, creating it on first sight.
	EnsureUser(addr, name string) (*model.User, error)
	// NewUser registers a user for an address that has none and indexes
	// the address; the caller stores the record with PutUser.
	NewUser(addr, name string) (*model.User, error)
	// PutUser stores a changed user.
	PutUser(u *model.User) error
}

// ErrAddressTaken is returned when a customer is stored with an address
// that belongs to another customer.
var ErrAddressTaken = errors.New("the address belongs to another customer")

// Customers are end users' profiles (SPEC 8, model.Customer), indexed by
// each of their addresses and by organization, with the tickets they
// requested or were CC'd on and their activity timeline.
type Customers interface {
	// Customer loads a profile by id (ErrNotFound wrapped).
	Customer(id uint64) (*model.Customer, error)
	// CustomerByAddr finds the profile an address (normalized) belongs
	// to (ErrNotFound wrapped).
	CustomerByAddr(addr string) (*model.Customer, error)
	// NewCustomer gives c an id, sets Created and Updated to now when
	// zero, indexes its addresses and organization and stores it; an
	// address of another customer is refused with ErrAddressTaken.
	NewCustomer(c *model.Customer) error
	// PutCustomer stores a changed profile and keeps the indexes
	// current (addresses added and removed, organization); Updated is
	// the caller's. ErrAddressTaken as NewCustomer.
	PutCustomer(c *model.Customer) error
	// DeleteCustomer removes a profile with its index entries, ticket
	// links and timeline (merge, erase).
	DeleteCustomer(id uint64) error
	// CustomerIDs lists profiles, newest first, of one organization
	// (org "" = all; compared without case), at most limit (0: all).
	CustomerIDs(org string, limit int) []uint64
	// LinkCustomerTicket records that the customer has role
	// (model.CustomerRequester, model.CustomerCC) on a ticket and
	// reports whether the link is new (linking twice is one link, and
	// writes nothing the second time).
	LinkCustomerTicket(id, ticket uint64, role string) (bool, error)
	// UnlinkCustomerTicket removes such a link (none: no error).
	UnlinkCustomerTicket(id, ticket uint64, role string) error
	// CustomerTickets lists the tickets the customer has role on, newest
	// first.
	CustomerTickets(id uint64, role string) []uint64
	// AddCustomerActivity adds an entry to the customer's timeline.
	AddCustomerActivity(id uint64, a *model.CustomerActivity) error
	// CustomerActivity lists the timeline newest first (by At, then by
	// order added), skipping skip entries, at most limit (0: all).
	CustomerActivity(id uint64, skip, limit int) ([]*model.CustomerActivity, error)
	// CustomerBackfill is the progress of building profiles for tickets
	// stored before profiles existed (zero: not started).
	CustomerBackfill() (model.CustomerBackfill, error)
	// SetCustomerBackfill records that progress.
	SetCustomerBackfill(p model.CustomerBackfill) error
}

// MergeCustomers moves customer drop into keep (SPEC 8: an admin merges
// two records): drop's addresses (after keep's), tags, notes, ticket
// links and timeline join keep, whose name, language and time zone win
// where set; drop is deleted. It returns keep as stored. Any engine's Tx
// does it through the role's operations.
func MergeCustomers(tx Tx, keep, drop uint64, now time.Time) (*model.Customer, error) {
	if keep == drop {
		return nil, fmt.Errorf("merging customer %d into itself", keep)
	}
	k, err := tx.Customer(keep)
	if err != nil {
		return nil, fmt.Errorf("loading customer %d: %w", keep, err)
	}
	d, err := tx.Customer(drop)
	if err != nil {
		return nil, fmt.Errorf("loading customer %d: %w", drop, err)
	}
	acts, err := tx.CustomerActivity(drop, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("reading customer %d's timeline: %w", drop, err)
	}
	links := map[string][]uint64{}
	for _, role := range []string{model.CustomerRequester, model.CustomerCC} {
		links[role] = tx.CustomerTickets(drop, role)
	}
	// Deleted first: its addresses are free for keep then.
	if err := tx.DeleteCustomer(drop); err != nil {
		return nil, fmt.Errorf("deleting customer %d: %w", drop, err)
	}
	for _, a := range d.Addresses {
		if !k.HasAddress(a) {
			k.Addresses = append(k.Addresses, a)
		}
	}
	for _, t := range d.Tags {
		if !slices.Contains(k.Tags, t) {
			k.Tags = append(k.Tags, t)
		}
	}
	k.Notes = append(k.Notes, d.Notes...)
	slices.SortStableFunc(k.Notes, func(a, b model.CustomerNote) int { return a.At.Compare(b.At) })
	if k.Name == "" {
		k.Name = d.Name
	}
	if k.Language == "" {
		k.Language = d.Language
	}
	if k.TimeZone == "" {
		k.TimeZone = d.TimeZone
	}
	if k.Organization == "" {
		k.Organization = d.Organization
	}
	if d.Created.Before(k.Created) {
		k.Created = d.Created
	}
	k.Updated = now
	if err := tx.PutCustomer(k); err != nil {
		return nil, fmt.Errorf("storing customer %d: %w", keep, err)
	}
	for role, ids := range links {
		for _, id := range ids {
			if _, err := tx.LinkCustomerTicket(keep, id, role); err != nil {
				return nil, err
			}
		}
	}
	for i := len(acts) - 1; i >= 0; i-- {
		if err := tx.AddCustomerActivity(keep, acts[i]); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// OutboundQueue is the durable queue of outbound mail inside a
// transaction.
type OutboundQueue interface {
	// Enqueue adds an outbound mail (queued, due at NextAttempt or now).
	Enqueue(o *model.Outbound) error
	// Outbound loads a queue item.
	Outbound(id uint64) (*model.Outbound, error)
	// PutOutbound stores a changed item; prevDue is the NextAttempt it
	// was queued under.
	PutOutbound(o *model.Outbound, prevDue time.Time) error
	// Due returns queued items due at or before now, oldest first, at
	// most limit.
	Due(now time.Time, limit int) ([]*model.Outbound, error)
	// NextDue is the earliest next attempt of a queued item (zero: none).
	NextDue() time.Time
	// QueueDepth is the number of queued items.
	QueueDepth() int
	// OldestQueued is the queued item enqueued first (the lowest id), or
	// nil when none is queued.
	OldestQueued() (*model.Outbound, error)
	// ForEachOutbound calls fn for every item, newest first.
	ForEachOutbound(fn func(*model.Outbound) error) error

	OutboundLeases
}

// OutboundLeases let several workers (in one process, or daemons sharing
// a store) deliver from one queue: each claims due items for a lease,
// delivers them, and settles each; while a lease runs no other claim
// returns the item, and once it has expired (the worker died) the item
// is claimable again. Delivery stays at least once: a worker that lost
// its lease learns it when it settles.
type OutboundLeases interface {
	// Claim leases to holder, until now+lease, up to n queued items due at
	// now that no unexpired lease holds, oldest due first. With start,
	// each attempt is recorded as started (Started = now) in the same
	// write. The items come back as they were before the claim, with the
	// lease set: a Started set there means an earlier attempt was cut
	// short (SPEC 11).
	Claim(holder string, now time.Time, n int, lease time.Duration, start bool) ([]*model.Outbound, error)
	// Extend moves holder's lease on item id to until (ErrLeaseLost when
	// holder holds none).
	Extend(holder string, id uint64, until time.Time) error
	// Settle records the outcome of an item holder claimed and ends the
	// lease: o as the worker changed it, acknowledged (State sent), failed
	// for good (State failed) or to be retried (queued, a later
	// NextAttempt); prevDue is the NextAttempt it was claimed at.
	// ErrLeaseLost when holder no longer holds it.
	Settle(holder string, o *model.Outbound, prevDue time.Time) error
	// ReleaseLeases ends every lease holder holds and returns how many: a
	// worker starting again releases what it held when it died, so that
	// mail goes out at once instead of after the lease.
	ReleaseLeases(holder string) (int, error)
}

// Handoff makes a store's writes queue outbound mail already claimed by
// this process's delivery worker (issue 18): an item due at once is
// leased to Holder in the write that queues it (until the write's now
// plus Lease; Started set to that now when Take says so, as Claim with
// start does), and once the write has committed it is handed to the
// worker in memory. The worker then delivers it without a claim, a
// write and a query less per item; if the process dies first, the lease
// runs out (or ReleaseLeases of a restart ends it) and any worker claims
// it as usual, Started telling that its delivery may have begun.
type Handoff struct {
	Holder string
	Lease  time.Duration
	// Take reports, at each Enqueue of mail due at once, whether the item
	// is born claimed (false: the worker has enough in hand, and the item
	// is queued unclaimed) and whether its attempt is recorded as started
	// with the lease (the worker delivers to a relay). nil: claimed, not
	// started.
	Take func() (claim, start bool)
	// Hand gets the items a write queued this way, as stored, after the
	// write's outcome is known: committed, or unknown (false: the
	// connection to a database server was lost during its COMMIT, so
	// they may or may not exist; the worker reads them back before
	// delivering). A write that did not commit hands nothing.
	Hand func(items []*model.Outbound, committed bool)
}

// Claim leases o, being queued, to h's worker when it is due at now,
// recording its attempt as started when Take says so, and reports
// whether it did; a nil h claims nothing (both engines' Enqueue call it).
func (h *Handoff) Claim(o *model.Outbound, now time.Time) bool {
	if h == nil || o.NextAttempt.After(now) {
		return false
	}
	claim, start := true, false
	if h.Take != nil {
		claim, start = h.Take()
	}
	if !claim {
		return false
	}
	o.LeaseHolder, o.LeaseUntil = h.Holder, now.Add(h.Lease)
	if start {
		o.Started = now
	}
	return true
}

// HandsOff is a Store that takes a Handoff (both engines do).
type HandsOff interface {
	// SetHandoff makes h the store's handoff, for the writes that begin
	// from now on, and returns the function that removes it again; with
	// another handoff set already it sets nothing and returns nil (one
	// worker per store takes mail this way).
	SetHandoff(h *Handoff) (remove func())
}

// WebhookQueue is the durable queue of webhook deliveries (issue 15): a
// trigger's firing enqueues in the mail's own write, the webhook worker
// delivers.
type WebhookQueue interface {
	// EnqueueWebhook adds a delivery (queued, due at NextAttempt or now);
	// it sets ID, State and Created.
	EnqueueWebhook(d *model.WebhookDelivery) error
	// WebhookDelivery loads one (ErrNotFound wrapped when there is none).
	WebhookDelivery(id uint64) (*model.WebhookDelivery, error)
	// PutWebhook stores a changed delivery; prevDue is the NextAttempt it
	// was queued under. Only queued deliveries stay in the queue.
	PutWebhook(d *model.WebhookDelivery, prevDue time.Time) error
	// DueWebhooks returns queued deliveries due at or before now, oldest
	// first, at most limit.
	DueWebhooks(now time.Time, limit int) ([]*model.WebhookDelivery, error)
	// NextWebhookDue is the earliest next attempt of a queued delivery
	// (zero: none).
	NextWebhookDue() time.Time
	// ForEachWebhook calls fn for every delivery, newest first.
	ForEachWebhook(fn func(*model.WebhookDelivery) error) error
}

// Quarantine is mail kept aside with no effect on any ticket.
type Quarantine interface {
	AddQuarantine(q *model.Quarantine) error
	QuarantineRecord(id uint64) (*model.Quarantine, error)
	PutQuarantine(q *model.Quarantine) error
	// Quarantined lists records, newest first, at most limit (0: all).
	Quarantined(limit int) ([]*model.Quarantine, error)
}

// Keys are the reply-token key ring.
type Keys interface {
	// Keys returns the key ring as stored.
	Keys() ([]model.TokenKey, error)
	// RotateKey retires the current key and adds a new one; retired
	// keys are dropped once past grace.
	RotateKey(grace time.Duration) error
	// FirstStart is when the store was first opened, by its clock then
	// (the creation of its oldest key kept).
	FirstStart() (time.Time, error)
	// ManualClock returns the instant of a manual ticket clock ([testing]
	// clock = "manual", gateway/clock); ok is false when none was stored.
	ManualClock() (at time.Time, ok bool, err error)
	// SetManualClock stores the manual clock's instant.
	SetManualClock(at time.Time) error
}

// Rates are the state that limits and round robins keep across restarts.
type Rates interface {
	// RateAllow records an event for key when fewer than limit fell
	// within window (ending at the store clock's now) and reports
	// whether it did.
	RateAllow(key string, window time.Duration, limit int) (bool, error)
	// RateAllowAt is RateAllow at the caller's time.
	RateAllowAt(key string, now time.Time, window time.Duration, limit int) (bool, error)
	// RateAllowEach records one event under every key when each stays
	// within its limit; otherwise it records nothing and returns the
	// index of the first key at its limit (-1: all recorded).
	RateAllowEach(now time.Time, window time.Duration, keys []string, limits []int) (int, error)
	// RateCountAt returns how many events for key fell within the window
	// ending at now, without recording one.
	RateCountAt(key string, now time.Time, window time.Duration) int
	// Counter adds delta to a named counter and returns the new value.
	Counter(name string, delta uint64) (uint64, error)
}

// Timers are the scheduler's due-time index (issue 14 item 6): the
// engine arms one timer per ticket and kind, and asks for those due
// instead of scanning tickets. Engines keep it ordered by (At, Ticket,
// Kind) and keyed by (Ticket, Kind), so each operation costs a few key
// reads whatever the number of tickets.
type Timers interface {
	// SetTimer arms t, replacing the timer of t.Ticket and t.Kind if one
	// is armed (at most one per ticket and kind).
	SetTimer(t model.Timer) error
	// ClearTimer disarms the ticket's timer of kind (none armed: no-op).
	ClearTimer(ticket uint64, kind string) error
	// TimersOf lists the ticket's armed timers, by kind.
	TimersOf(ticket uint64) ([]model.Timer, error)
	// DueTimers returns armed timers with At at or before upTo, in due
	// order (At, then ticket, then kind), at most limit (0: all).
	DueTimers(upTo time.Time, limit int) ([]model.Timer, error)
	// NextTimerAt is the earliest At of any armed timer; ok is false
	// when none is armed.
	NextTimerAt() (at time.Time, ok bool, err error)
	// TimerStamp is the value SetTimerStamp last stored ("" when none):
	// the engine records which timer sources and settings the index was
	// built for, and re-arms every ticket when they change (a new binary
	// with a new source, an upgraded store, a reloaded configuration).
	TimerStamp() (string, error)
	SetTimerStamp(stamp string) error
	// RearmProgress is what SetRearmProgress last stored ("" and 0 when
	// nothing): how far a re-arming of every ticket for stamp got (the
	// tickets up to id done, in id order), so that a restart resumes it
	// instead of starting again from the first ticket. Stamp "" clears it.
	// (A dump does not carry it: a restored store re-arms from the start.)
	RearmProgress() (stamp string, done uint64, err error)
	SetRearmProgress(stamp string, done uint64) error
}

// Reports is the event index reports read (SPEC 9, issue 16): what
// happened to tickets, keyed by time and written by the write that made it
// happen, so a report reads its period's entries and never every ticket;
// and the backlog, counted under keys the caller chooses (status by
// group, by agent...), readable as of any past instant.
type Reports interface {
	// AddReportEvent records ev under ev.At.
	AddReportEvent(ev *model.ReportEvent) error
	// ReportEvents calls fn for every event with from <= At < to, in
	// time order (events of one instant in the order they were added).
	// The event is valid only during fn (an engine may reuse it: a
	// year's report reads millions); fn copies what it keeps.
	ReportEvents(from, to time.Time, fn func(*model.ReportEvent) error) error
	// MoveBacklog records that at instant at one ticket left the backlog
	// keys dec and entered inc (each count moves by one). at may lie
	// before moves already recorded (an import, a backfill): Backlog
	// stays exact.
	MoveBacklog(at time.Time, dec, inc []string) error
	// Backlog returns every key's count as of instant at (the moves
	// before at), leaving out zeros. Its cost is bounded by one day's
	// moves, not by the store.
	Backlog(at time.Time) (map[string]int, error)
}

// Erasing is what erasing a customer (GDPR, issue 16 item 2) and
// retention (issue 17 item 4) need beyond the other roles: records
// deleted for good, and the records that erasures happened. Deleting
// frees space in the file but leaves the bytes there until Compact.
type Erasing interface {
	// DeleteMessage removes a message record, its raw bytes kept in the
	// store and its duplicate-check entry (a blob file it names is the
	// caller's to remove once the write committed).
	DeleteMessage(id uint64) error
	// DeleteRaw removes only the raw bytes kept in the store of a
	// message (retention: the record stays).
	DeleteRaw(id uint64) error
	// DeleteOutbound removes a queue item in any state, with its queue
	// entry.
	DeleteOutbound(id uint64) error
	// DeleteQuarantine removes a quarantine record (not its message).
	DeleteQuarantine(id uint64) error
	// DeleteWebhook removes a webhook delivery in any state.
	DeleteWebhook(id uint64) error
	// DeleteUser removes the user at addr and its address key.
	DeleteUser(addr string) error
	// ForgetMessageIDs removes every Message-ID index entry whose ticket
	// is in tickets, and the entries of ids; it returns how many.
	ForgetMessageIDs(tickets map[uint64]bool, ids []string) (int, error)
	// SettledOutbound returns up to limit sent or failed items that
	// settled before before, oldest first (retention).
	SettledOutbound(before time.Time, limit int) ([]*model.Outbound, error)
	// OldQuarantine returns up to limit quarantine records created before
	// before, oldest first.
	OldQuarantine(before time.Time, limit int) ([]*model.Quarantine, error)
	// AddErasure stores the record of an erasure (it gets its id).
	AddErasure(r *model.Erasure) error
	// Erasures lists the erasure records, oldest first.
	Erasures() ([]*model.Erasure, error)
	// PutErasure rewrites a stored erasure record (r.ID) as it moves
	// through its states (model.Erasure.State).
	PutErasure(r *model.Erasure) error
	// DeleteErasure removes an erasure record: an erase confirmed by
	// mail that erased nothing (ErrNotFound when there is none).
	DeleteErasure(id uint64) error
}

// Blobs hold the raw bytes of accepted mail outside the records.
type Blobs interface {
	// NewSpool starts receiving one message body: up to threshold bytes
	// in memory, the rest where the engine keeps large bodies.
	NewSpool(threshold int64) Spool
	// PackRaw prepares raw bytes for AddPackedMessage (compression, say),
	// outside the write so the writer does not spend the CPU.
	PackRaw(raw []byte) []byte
	// OpenRaw opens the raw bytes of a stored message.
	OpenRaw(m *model.Message) (io.ReadCloser, error)
}

// Spool receives one message body while it streams in.
type Spool interface {
	io.Writer
	// Size is the number of bytes written.
	Size() int64
	// Spooled reports whether the body went out of memory.
	Spooled() bool
	// Bytes returns the in-memory body (nil when spooled); not to be used
	// after Close.
	Bytes() []byte
	// Reader reads the whole body from the start.
	Reader() (io.Reader, error)
	// Commit makes a spooled body durable before the record naming it is
	// committed, and returns its name for Message.Blob ("" when the body
	// stays in memory).
	Commit() (string, error)
	// Close releases the spool; an uncommitted body is discarded.
	Close() error
}

// ResolveWith follows merges from ticket id and thread, loading tickets
// with load (the engine passes its own per-write copies; engines use it
// for ResolveThread).
func ResolveWith(load func(uint64) (*model.Ticket, error), id uint64, thread uint32) (*model.Ticket, uint32, error) {
	for i := 0; i < 64; i++ {
		tk, err := load(id)
		if err != nil {
			return nil, 0, err
		}
		if tk.MergedInto == 0 {
			return tk, thread, nil
		}
		if nt, ok := tk.MergedThreads[thread]; ok {
			thread = nt
		} else if thread != 0 {
			thread = 0
		}
		id = tk.MergedInto
	}
	return nil, 0, fmt.Errorf("ticket %d: merge chain too long", id)
}
