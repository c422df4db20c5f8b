package store

import (
	"errors"
	"fmt"
	"time"

	"helpdesk/store/model"
)

// Record-level export and import (issue 18 item 5): every engine can
// write out all it holds as a stream of Records and build itself from
// such a stream, so `helpdesk migrate` copies a store between engines
// and compares the two record by record. A Record is engine-neutral:
// no engine's keys, indexes or encodings, only what the roles'
// operations read and write. Indexes an engine derives from records (a
// ticket's status and requester index, a customer's addresses and
// organization, a queue's due order) are not records: the loader builds
// them.

// RecordKind names what a Record holds. The kinds are dumped in the
// order of Kinds.
type RecordKind string

// The kinds, and the Record field each one sets.
const (
	KindInstallation     RecordKind = "installation"      // Text: the installation id
	KindTokenKeys        RecordKind = "token_keys"        // Keys: the reply-token key ring
	KindManualClock      RecordKind = "manual_clock"      // Time
	KindTimerStamp       RecordKind = "timer_stamp"       // Text
	KindCustomerBackfill RecordKind = "customer_backfill" // Backfill
	// KindSequence: Name ("tickets", "messages", "users", "outbound",
	// "webhooks", "quarantine", "customers", "erasures") and N, the last
	// id given, so new ids continue after the copied ones.
	KindSequence RecordKind = "sequence"
	KindCounter  RecordKind = "counter" // Name, N (Rates.Counter)
	KindRate     RecordKind = "rate"    // Name: the key; Bytes: the window record (store/internal/ratewin)
	// KindBlob: a large body kept outside the records. Name is its
	// content's SHA-256 (hex); Bytes the body.
	KindBlob    RecordKind = "blob"
	KindTicket  RecordKind = "ticket"  // Ticket
	KindComment RecordKind = "comment" // Comment
	// KindMessage: Message, with Blob as the blob's Name (not an engine's
	// path); Raw the bytes kept inline (HasRaw false: none, a body in a
	// blob or one retention dropped).
	KindMessage RecordKind = "message"
	// KindIdentity: the duplicate check's entry, Identity.
	KindIdentity RecordKind = "identity"
	// KindMessageRef: the Message-ID index, Name (the normalized
	// Message-ID: lower case, no angle brackets) and Ref.
	KindMessageRef   RecordKind = "message_ref"
	KindUser         RecordKind = "user"          // User
	KindCustomer     RecordKind = "customer"      // Customer
	KindCustomerLink RecordKind = "customer_link" // Link
	// KindActivity: a timeline entry, Activity (its Seq orders entries of
	// one instant).
	KindActivity    RecordKind = "customer_activity"
	KindOutbound    RecordKind = "outbound"     // Outbound (with its lease)
	KindWebhook     RecordKind = "webhook"      // Webhook
	KindQuarantine  RecordKind = "quarantine"   // Quarantine
	KindTimer       RecordKind = "timer"        // Timer
	KindReportEvent RecordKind = "report_event" // Event, in the order they are read
	// KindBacklogMove: Move. Engines may group a move's keys differently
	// (one move of two keys, or two of one): the counts are what is kept.
	KindBacklogMove RecordKind = "backlog_move"
	KindErasure     RecordKind = "erasure" // Erasure
)

// Kinds are every kind, in dump order.
var Kinds = []RecordKind{
	KindInstallation, KindTokenKeys, KindManualClock, KindTimerStamp, KindCustomerBackfill,
	KindSequence, KindCounter, KindRate, KindBlob,
	KindTicket, KindComment, KindMessage, KindIdentity, KindMessageRef,
	KindUser, KindCustomer, KindCustomerLink, KindActivity,
	KindOutbound, KindWebhook, KindQuarantine, KindTimer,
	KindReportEvent, KindBacklogMove, KindErasure,
}

// Sequences are the named id sequences a dump carries.
var Sequences = []string{"tickets", "messages", "users", "outbound", "webhooks", "quarantine", "customers", "erasures"}

// Record is one record of a dump. Kind says which fields are set (see
// the kinds); the others are zero.
type Record struct {
	Kind RecordKind `json:"kind"`

	Name   string    `json:"name,omitempty"`
	Text   string    `json:"text,omitempty"`
	N      uint64    `json:"n,omitempty"`
	Time   time.Time `json:"time,omitzero"`
	Bytes  []byte    `json:"bytes,omitempty"`
	Raw    []byte    `json:"raw,omitempty"`
	HasRaw bool      `json:"has_raw,omitempty"`

	Keys       []model.TokenKey        `json:"keys,omitempty"`
	Backfill   *model.CustomerBackfill `json:"backfill,omitempty"`
	Ticket     *model.Ticket           `json:"ticket,omitempty"`
	Comment    *model.Comment          `json:"comment,omitempty"`
	Message    *model.Message          `json:"message,omitempty"`
	Identity   *Identity               `json:"identity,omitempty"`
	Ref        *model.Ref              `json:"ref,omitempty"`
	User       *model.User             `json:"user,omitempty"`
	Customer   *model.Customer         `json:"customer,omitempty"`
	Link       *CustomerLink           `json:"link,omitempty"`
	Activity   *Activity               `json:"activity,omitempty"`
	Outbound   *model.Outbound         `json:"outbound,omitempty"`
	Webhook    *model.WebhookDelivery  `json:"webhook,omitempty"`
	Quarantine *model.Quarantine       `json:"quarantine,omitempty"`
	Timer      *model.Timer            `json:"timer,omitempty"`
	Event      *model.ReportEvent      `json:"event,omitempty"`
	Move       *BacklogMove            `json:"move,omitempty"`
	Erasure    *model.Erasure          `json:"erasure,omitempty"`
}

// Identity is an entry of the duplicate check: the message stored with
// this (normalized) Message-ID and body hash.
type Identity struct {
	MessageID string `json:"message_id"`
	BodyHash  string `json:"body_hash"`
	Message   uint64 `json:"message"`
}

// CustomerLink is a customer's role on a ticket.
type CustomerLink struct {
	Customer uint64 `json:"customer"`
	Role     string `json:"role"`
	Ticket   uint64 `json:"ticket"`
}

// Activity is a timeline entry of a customer.
type Activity struct {
	Customer uint64                  `json:"customer"`
	Seq      uint64                  `json:"seq"`
	Entry    *model.CustomerActivity `json:"entry"`
}

// BacklogMove is one Reports.MoveBacklog.
type BacklogMove struct {
	At  time.Time `json:"at"`
	Dec []string  `json:"dec,omitempty"`
	Inc []string  `json:"inc,omitempty"`
}

// ID names the record within its kind (a ticket's number, a user's
// address...), for progress and for the differences a comparison finds.
func (r *Record) ID() string {
	switch {
	case r.Ticket != nil:
		return fmt.Sprint(r.Ticket.ID)
	case r.Comment != nil:
		return fmt.Sprintf("%d/%d", r.Comment.Ticket, r.Comment.ID)
	case r.Message != nil:
		return fmt.Sprint(r.Message.ID)
	case r.Identity != nil:
		return r.Identity.MessageID + " " + r.Identity.BodyHash
	case r.User != nil:
		return r.User.Addr
	case r.Customer != nil:
		return fmt.Sprint(r.Customer.ID)
	case r.Link != nil:
		return fmt.Sprintf("%d %s %d", r.Link.Customer, r.Link.Role, r.Link.Ticket)
	case r.Activity != nil:
		return fmt.Sprintf("%d/%d", r.Activity.Customer, r.Activity.Seq)
	case r.Outbound != nil:
		return fmt.Sprint(r.Outbound.ID)
	case r.Webhook != nil:
		return fmt.Sprint(r.Webhook.ID)
	case r.Quarantine != nil:
		return fmt.Sprint(r.Quarantine.ID)
	case r.Timer != nil:
		return fmt.Sprintf("%d %s", r.Timer.Ticket, r.Timer.Kind)
	case r.Event != nil:
		return fmt.Sprintf("%s %s %d", r.Event.At.UTC().Format(time.RFC3339Nano), r.Event.Kind, r.Event.Ticket)
	case r.Move != nil:
		return r.Move.At.UTC().Format(time.RFC3339Nano)
	case r.Erasure != nil:
		return fmt.Sprint(r.Erasure.ID)
	}
	return r.Name
}

// Size is about how many bytes the record holds (its bodies and texts
// dominate): loaders bound what they hold in memory by it.
func (r *Record) Size() int {
	n := 256 + len(r.Bytes) + len(r.Raw)
	if r.Comment != nil {
		n += len(r.Comment.Text)
	}
	if r.Outbound != nil {
		n += len(r.Outbound.Text)
	}
	if r.Webhook != nil {
		n += len(r.Webhook.Body)
	}
	return n
}

// Dumper is an engine's export.
type Dumper interface {
	// Dump calls fn for every record the store holds, kind by kind in the
	// order of Kinds, from one consistent snapshot. The record is fn's to
	// keep.
	Dump(fn func(*Record) error) error
}

// Loader is an engine's import.
type Loader interface {
	// Load builds an empty store from records (in the order Dump gives
	// them), reading them with next until it returns io.EOF. What
	// opening a store and starting a daemon write (the installation id,
	// the first token key, the timer stamp, counters) is replaced by the
	// records'; any other record already there refuses the load with
	// ErrNotEmpty, before anything is written. progress, when set, is
	// called now and then with the records stored so far.
	Load(next func() (*Record, error), progress func(n int)) error
}

// ErrNotEmpty refuses a load into a store that holds records.
var ErrNotEmpty = errors.New("the target store is not empty")

// ErrUnknownRecord is returned by a loader for a record it cannot store
// (a kind or sequence a newer binary dumped).
var ErrUnknownRecord = errors.New("unknown record")
