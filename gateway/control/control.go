// Package control is how the CLI administers helpdesk: the same API either
// served by the running daemon on a unix socket in data_dir (mode 0600) or,
// when no daemon runs, implemented directly over the store.
package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/clock"
	"helpdesk/gateway/engine"
	"helpdesk/gateway/outbound"
	"helpdesk/gateway/report"
	"helpdesk/gateway/rules"
	"helpdesk/gateway/sla"
	"helpdesk/gateway/webhook"
	"helpdesk/store"
	"helpdesk/store/model"
)

// SocketName is the control socket's file name inside data_dir.
const SocketName = "helpdesk.sock"

// API is what the CLI can do.
type API interface {
	Tickets(status string, limit int) ([]TicketSummary, error)
	// View lists the tickets of the [[view]] named name, in its order.
	View(name string, limit int) ([]TicketSummary, error)
	Show(id uint64) (*TicketView, error)
	// SLA explains how each SLA deadline of a ticket was computed.
	SLA(id uint64) (*SLAView, error)
	Inject(raw []byte, opt engine.InjectOptions) (engine.Result, error)
	// Explain says what raw would do if it arrived now, storing and
	// sending nothing.
	Explain(raw []byte, opt engine.InjectOptions) (*engine.Explanation, error)
	Outbox(limit int) (*OutboxView, error)
	// OutboxRetry queues failed mail again (ids, or every failed item
	// with allFailed) and makes queued ids due now.
	OutboxRetry(ids []uint64, allFailed bool) (int, error)
	// Webhooks lists webhook deliveries, newest first, with counts.
	Webhooks(limit int) (*WebhooksView, error)
	Quarantine(limit int) ([]model.Quarantine, error)
	QuarantineShow(id uint64) (*QuarantineView, error)
	Release(id uint64) (engine.Result, error)
	Backup(w io.Writer) (int, error)
	RotateKey() (int, error)
	// Clock reads the ticket clock; SetClock and AdvanceClock move a
	// manual one, returning after every timer due up to the new instant
	// has fired and committed.
	Clock() (ClockView, error)
	SetClock(at time.Time) (ClockView, error)
	AdvanceClock(d time.Duration) (ClockView, error)
	// Compact rewrites the store without free space, online.
	Compact() (store.CompactResult, error)
	// Automations lists the automations that would fire up to at (the
	// tickets staying as they are), changing nothing.
	Automations(at time.Time) ([]engine.AutomationPreview, error)
	CustomerAPI
	// Report builds a report (SPEC 9) of period by agents, groups,
	// mailboxes or tickets ("" = 30d by agents).
	Report(period, by string) (*report.Report, error)
	// Export writes the tickets created in [from, to) to w as JSON lines
	// (format "jsonl", with their comments) or a CSV list ("csv").
	Export(w io.Writer, from, to time.Time, format string) (int, error)
	// Erase erases a customer (GDPR); dry only counts what would go.
	Erase(addr, by string, dry bool) (*engine.EraseResult, error)
	// Erasures lists the records of erasures, oldest first.
	Erasures() ([]*model.Erasure, error)
}

// ClockView is `helpdesk clock --json`.
type ClockView struct {
	Now  time.Time `json:"now"`
	Mode string    `json:"mode"` // wall | manual
	// Fired is how many things the move made fire (auto-closed tickets, ...).
	Fired int `json:"fired"`
}

// TicketSummary is one line of `helpdesk tickets`.
type TicketSummary struct {
	ID        uint64    `json:"id"`
	Subject   string    `json:"subject"`
	Status    string    `json:"status"`
	Priority  string    `json:"priority"`
	Requester string    `json:"requester"`
	Assignee  string    `json:"assignee"`
	Group     string    `json:"group"`
	Updated   time.Time `json:"updated"`
}

// TicketView is `helpdesk show N --json`: a stable, documented interface.
type TicketView struct {
	ID          uint64           `json:"id"`
	Subject     string           `json:"subject"`
	Status      string           `json:"status"`
	Priority    string           `json:"priority"`
	Type        string           `json:"type"`
	Mailbox     string           `json:"mailbox"`
	Requester   string           `json:"requester"`
	Assignee    string           `json:"assignee"`
	Group       string           `json:"group"`
	CCs         []string         `json:"ccs"`
	Followers   []string         `json:"followers"`
	Tags        []string         `json:"tags"`
	Links       []model.Link     `json:"links"`
	Threads     []ThreadView     `json:"threads"`
	Comments    []CommentView    `json:"comments"`
	Attachments []AttachmentView `json:"attachments"`
	MergedInto  uint64           `json:"merged_into,omitempty"`
	Flags       []string         `json:"flags"`
	// Erased is when the requester was erased: the ticket is a shell.
	Erased *time.Time `json:"erased,omitempty"`
	// Language of the customer's automatic mail; KBSuggestions are the
	// articles the acknowledgement suggested (issue 15 items 4, 5).
	Language      string             `json:"language,omitempty"`
	KBSuggestions []model.Suggestion `json:"kb_suggestions"`
	// CSAT is the requester's satisfaction rating (null: none yet).
	CSAT    *model.CSAT `json:"csat"`
	Created time.Time   `json:"created"`
	Updated time.Time   `json:"updated"`
	// Responses (issue 14): when agents' public replies reached the
	// requester (model.Ticket's fields of the same names), the newest
	// customer comment, and since when a customer waits for the next reply.
	FirstResponseAt *time.Time `json:"first_response_at"`
	LastResponseAt  *time.Time `json:"last_response_at"`
	Responses       int        `json:"responses"`
	LastCustomerAt  *time.Time `json:"last_customer_at"`
	AwaitingSince   *time.Time `json:"awaiting_since"`
	ResolvedAt      *time.Time `json:"resolved_at"`
	OnBehalf        bool       `json:"on_behalf"`
	// SLA is the ticket's policy and targets at the ticket clock's now
	// (package gateway/sla); null when no [[sla]] policy matches.
	SLA *sla.Result `json:"sla"`
}

// SLAView is `helpdesk sla N`: the targets and how they were computed.
type SLAView struct {
	Ticket      uint64      `json:"ticket"`
	Now         time.Time   `json:"now"`
	SLA         *sla.Result `json:"sla"`
	Explanation string      `json:"explanation"`
}

// ThreadView is one thread of a ticket.
type ThreadView struct {
	ID           uint32   `json:"id"`
	Kind         string   `json:"kind"` // main | side
	Subject      string   `json:"subject,omitempty"`
	Status       string   `json:"status,omitempty"`
	Participants []string `json:"participants"`
}

// CommentView is one comment, event or record of a ticket.
type CommentView struct {
	ID         uint32    `json:"id"`
	Thread     uint32    `json:"thread"`
	Kind       string    `json:"kind"`
	Author     string    `json:"author"`
	Visibility string    `json:"visibility"` // public | private
	Text       string    `json:"text"`
	Created    time.Time `json:"created"`
	MessageID  string    `json:"message_id"`
	Hidden     bool      `json:"hidden,omitempty"`
	Reason     string    `json:"reason,omitempty"`
}

// AttachmentView is an attachment of a comment.
type AttachmentView struct {
	Comment     uint32 `json:"comment"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// OutboxView is the queue state.
type OutboxView struct {
	Queued int               `json:"queued"`
	Sent   int               `json:"sent"`
	Failed int               `json:"failed"`
	Items  []*model.Outbound `json:"items"`
	// Relay is the running daemon's view of the relay; with no daemon
	// its state is "unknown".
	Relay outbound.RelayStatus `json:"relay"`
}

// WebhooksView is `helpdesk webhooks`: the delivery queue.
type WebhooksView struct {
	Queued    int                      `json:"queued"`
	Delivered int                      `json:"delivered"`
	Failed    int                      `json:"failed"`
	Items     []*model.WebhookDelivery `json:"items"`
}

// Webhooks lists the deliveries (bodies left out: they are the
// receiver's).
func (l *Local) Webhooks(limit int) (*WebhooksView, error) {
	v := &WebhooksView{Items: []*model.WebhookDelivery{}}
	err := l.DB.View(func(tx store.Tx) error {
		return tx.ForEachWebhook(func(d *model.WebhookDelivery) error {
			switch d.State {
			case model.HookQueued:
				v.Queued++
			case model.HookDelivered:
				v.Delivered++
			case model.HookFailed:
				v.Failed++
			}
			if limit <= 0 || len(v.Items) < limit {
				d.Body = nil
				v.Items = append(v.Items, d)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("reading the webhook queue: %w", err)
	}
	return v, nil
}

// QuarantineView is one record with its raw message.
type QuarantineView struct {
	Record model.Quarantine `json:"record"`
	Raw    string           `json:"raw"`
}

// Local implements API over an open store (and an engine for inject and
// release when the daemon is not running).
type Local struct {
	DB     store.Store
	Engine *engine.Engine
	// Worker is the daemon's outbound worker (nil in the CLI).
	Worker *outbound.Worker
	// Hooks is the daemon's webhook worker (nil in the CLI).
	Hooks *webhook.Worker
	// Relay is the configured relay, for the CLI without a daemon.
	Relay string
	// Config is the CLI's configuration, for views without a daemon
	// (the daemon's engine has the one it runs on).
	Config *config.Config
	// Manual is the manual ticket clock ([testing] clock = "manual"), nil
	// on the wall clock.
	Manual *clock.Manual
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// Tickets lists tickets, newest first.
func (l *Local) Tickets(status string, limit int) ([]TicketSummary, error) {
	var out []TicketSummary
	err := l.DB.View(func(tx store.Tx) error {
		for _, id := range tx.TicketIDs(status, limit) {
			tk, err := tx.Ticket(id)
			if err != nil {
				return err
			}
			out = append(out, TicketSummary{ID: tk.ID, Subject: tk.Subject, Status: tk.Status, Priority: tk.Priority,
				Requester: tk.Requester, Assignee: tk.Assignee, Group: tk.Group, Updated: tk.Updated})
		}
		return nil
	})
	return out, err
}

// View lists the tickets of a [[view]], as #list NAME does.
func (l *Local) View(name string, limit int) ([]TicketSummary, error) {
	cfg := l.Config
	if l.Engine != nil {
		cfg = l.Engine.Config()
	}
	set, _ := rules.Load(cfg)
	v := set.View(name)
	if v == nil {
		var names []string
		for _, x := range set.Views {
			names = append(names, x.Name)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("no view %q: helpdesk.toml defines no [[view]]", name)
		}
		return nil, fmt.Errorf("no view %q: use one of %s", name, strings.Join(names, ", "))
	}
	var inHours func(*model.Ticket) func(time.Time) bool
	if l.Engine != nil {
		inHours = l.Engine.InHours
	}
	var selected []*model.Ticket
	err := l.DB.View(func(tx store.Tx) error {
		var all []*model.Ticket
		for _, st := range rules.ViewStatuses {
			for _, id := range tx.TicketIDs(st, 0) {
				tk, err := tx.Ticket(id)
				if err != nil {
					return err
				}
				all = append(all, tk)
			}
		}
		// Selected inside the read: conditions on the requester's
		// profile (organization, customer tags) read it here.
		selected = v.Select(all, time.Now(), inHours, engine.CustomerFacts(tx, cfg))
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := []TicketSummary{}
	for _, tk := range selected {
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, TicketSummary{ID: tk.ID, Subject: tk.Subject, Status: tk.Status, Priority: tk.Priority,
			Requester: tk.Requester, Assignee: tk.Assignee, Group: tk.Group, Updated: tk.Updated})
	}
	return out, nil
}

// Show returns one ticket with its threads and comments.
func (l *Local) Show(id uint64) (*TicketView, error) {
	var v *TicketView
	err := l.DB.View(func(tx store.Tx) error {
		tk, err := tx.Ticket(id)
		if err != nil {
			return err
		}
		cs, err := tx.Comments(id)
		if err != nil {
			return err
		}
		v = BuildView(tk, cs)
		cfg, now := l.slaContext()
		v.SLA = sla.For(cfg, tk, now)
		return nil
	})
	return v, err
}

// slaContext is the configuration and the ticket clock's instant SLA
// targets are computed with: the daemon's, else the CLI's.
func (l *Local) slaContext() (*config.Config, time.Time) {
	cfg, now := l.Config, time.Now().UTC()
	if l.Engine != nil {
		cfg = l.Engine.Config()
	}
	if l.Manual != nil {
		now = l.Manual.Now()
	}
	return cfg, now
}

// SLA returns a ticket's targets with the explanation of each deadline.
func (l *Local) SLA(id uint64) (*SLAView, error) {
	var v *SLAView
	err := l.DB.View(func(tx store.Tx) error {
		tk, err := tx.Ticket(id)
		if err != nil {
			return err
		}
		cfg, now := l.slaContext()
		r := sla.For(cfg, tk, now)
		v = &SLAView{Ticket: tk.ID, Now: now, SLA: r, Explanation: r.Explain()}
		return nil
	})
	return v, err
}

// BuildView turns a ticket and its comments into the JSON view.
func BuildView(tk *model.Ticket, cs []*model.Comment) *TicketView {
	v := &TicketView{
		ID: tk.ID, Subject: tk.Subject, Status: tk.Status, Priority: tk.Priority, Type: tk.Type,
		Mailbox: tk.Mailbox, Requester: tk.Requester, Assignee: tk.Assignee, Group: tk.Group,
		CCs: nonNil(tk.CCs), Followers: nonNil(tk.Followers), Tags: nonNil(tk.Tags), Links: tk.Links,
		MergedInto: tk.MergedInto, Flags: nonNil(tk.Flags), Created: tk.Created, Updated: tk.Updated,
		Language: tk.Language, KBSuggestions: tk.Suggestions, CSAT: tk.CSAT, Erased: tk.Erased,
		FirstResponseAt: tk.FirstResponseAt, LastResponseAt: tk.LastResponseAt, Responses: tk.Responses,
		LastCustomerAt: tk.LastCustomerAt, AwaitingSince: tk.AwaitingSince, ResolvedAt: tk.ResolvedAt, OnBehalf: tk.OnBehalf,
		Threads: []ThreadView{}, Comments: []CommentView{}, Attachments: []AttachmentView{},
	}
	if v.Links == nil {
		v.Links = []model.Link{}
	}
	if v.KBSuggestions == nil {
		v.KBSuggestions = []model.Suggestion{}
	}
	for _, th := range tk.Threads {
		tv := ThreadView{ID: th.ID, Kind: th.Kind, Subject: th.Subject, Status: th.Status}
		if th.Kind == model.ThreadSide {
			tv.Participants = nonNil(th.Collaborators)
		} else {
			tv.Participants = participants(tk)
		}
		v.Threads = append(v.Threads, tv)
	}
	for _, c := range cs {
		v.Comments = append(v.Comments, CommentView{ID: c.ID, Thread: c.Thread, Kind: c.Kind, Author: c.Author,
			Visibility: c.Visibility, Text: c.Text, Created: c.Created, MessageID: c.MessageID, Hidden: c.Hidden, Reason: c.Reason})
		for _, a := range c.Attachments {
			v.Attachments = append(v.Attachments, AttachmentView{Comment: c.ID, Name: a.Name, ContentType: a.ContentType, Size: a.Size})
		}
	}
	return v
}

// participants of the main thread: requester, CCs, assignee, followers.
func participants(tk *model.Ticket) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(tk.Requester)
	for _, c := range tk.CCs {
		add(c)
	}
	add(tk.Assignee)
	for _, f := range tk.Followers {
		add(f)
	}
	return nonNil(out)
}

// Inject delivers a raw message.
func (l *Local) Inject(raw []byte, opt engine.InjectOptions) (engine.Result, error) {
	if l.Engine == nil {
		return engine.Result{}, fmt.Errorf("inject needs a writable store")
	}
	return l.Engine.InjectEnvelope(context.Background(), raw, opt)
}

// Explain runs the engine's apply path on raw in a write that is
// rolled back.
func (l *Local) Explain(raw []byte, opt engine.InjectOptions) (*engine.Explanation, error) {
	if l.Engine == nil {
		return nil, fmt.Errorf("explain needs the engine (open the store writable)")
	}
	return l.Engine.Explain(context.Background(), raw, opt)
}

// Outbox reports the queue.
func (l *Local) Outbox(limit int) (*OutboxView, error) {
	v := &OutboxView{Items: []*model.Outbound{}, Relay: outbound.RelayStatus{Relay: l.Relay, State: "unknown"}}
	if l.Worker != nil {
		v.Relay = l.Worker.Relay()
	}
	err := l.DB.View(func(tx store.Tx) error {
		return tx.ForEachOutbound(func(o *model.Outbound) error {
			switch o.State {
			case model.OutQueued:
				v.Queued++
			case model.OutSent:
				v.Sent++
			case model.OutFailed:
				v.Failed++
			}
			if limit <= 0 || len(v.Items) < limit {
				v.Items = append(v.Items, o)
			}
			return nil
		})
	})
	return v, err
}

// OutboxRetry requeues failed mail: through the worker when the daemon
// runs (it owns the queue), else in the store directly.
func (l *Local) OutboxRetry(ids []uint64, allFailed bool) (int, error) {
	if l.Worker != nil {
		return l.Worker.Requeue(ids, allFailed)
	}
	return outbound.Requeue(l.DB, time.Now(), ids, allFailed, nil)
}

// Quarantine lists quarantined records, newest first.
func (l *Local) Quarantine(limit int) ([]model.Quarantine, error) {
	var out []model.Quarantine
	err := l.DB.View(func(tx store.Tx) error {
		qs, err := tx.Quarantined(limit)
		for _, q := range qs {
			out = append(out, *q)
		}
		return err
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, err
}

// QuarantineShow returns a record with its raw message.
func (l *Local) QuarantineShow(id uint64) (*QuarantineView, error) {
	var q *model.Quarantine
	var m *model.Message
	err := l.DB.View(func(tx store.Tx) error {
		var err error
		if q, err = tx.QuarantineRecord(id); err != nil {
			return fmt.Errorf("quarantine record %d: %w", id, err)
		}
		m, err = tx.Message(q.Message)
		return err
	})
	if err != nil {
		return nil, err
	}
	rc, err := l.DB.OpenRaw(m)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	if err != nil {
		return nil, err
	}
	return &QuarantineView{Record: *q, Raw: string(raw)}, nil
}

// Release applies a quarantined mail.
func (l *Local) Release(id uint64) (engine.Result, error) {
	if l.Engine == nil {
		return engine.Result{}, fmt.Errorf("release needs a writable store")
	}
	return l.Engine.Release(context.Background(), id)
}

// RotateKey retires the current reply-token secret and starts a new one;
// tokens signed with the old one keep verifying for
// threading.secret_grace_period. It returns the number of keys kept.
func (l *Local) RotateKey() (int, error) {
	n := 0
	grace := 30 * 24 * time.Hour
	if l.Engine != nil {
		grace = l.Engine.Config().Threading.SecretGracePeriod.D()
	}
	err := l.DB.Update(func(tx store.Tx) error {
		if err := tx.RotateKey(grace); err != nil {
			return err
		}
		keys, err := tx.Keys()
		n = len(keys)
		return err
	})
	if err != nil {
		return 0, err
	}
	if l.Engine != nil {
		return n, l.Engine.ReloadKeys()
	}
	return n, nil
}

// Backup writes an online, consistent backup.
func (l *Local) Backup(w io.Writer) (int, error) { return l.DB.Backup(w) }

// Automations lists the automations that would fire up to at.
func (l *Local) Automations(at time.Time) ([]engine.AutomationPreview, error) {
	eng := l.Engine
	if eng == nil {
		// Read-only (no daemon): an engine only to read with.
		var err error
		if eng, err = engine.New(l.Config, l.DB, engine.Options{Now: l.now}); err != nil {
			return nil, err
		}
	}
	return eng.PreviewAutomations(at)
}

// now is the ticket clock.
func (l *Local) now() time.Time {
	if l.Manual != nil {
		return l.Manual.Now()
	}
	return time.Now()
}

// errWallClock answers a move of the wall clock.
var errWallClock = errors.New(`the ticket clock is the wall clock, which nobody moves: set clock = "manual" in [testing] (every listen address on loopback) and restart the daemon`)

// Clock reads the ticket clock.
func (l *Local) Clock() (ClockView, error) {
	if l.Manual == nil {
		return ClockView{Now: time.Now().UTC(), Mode: "wall"}, nil
	}
	return ClockView{Now: l.Manual.Now(), Mode: "manual"}, nil
}

// SetClock moves the manual clock to at.
func (l *Local) SetClock(at time.Time) (ClockView, error) {
	return l.move(func() (int, error) { return l.Manual.Set(at, l.DB, l.Engine) })
}

// AdvanceClock moves the manual clock d forward.
func (l *Local) AdvanceClock(d time.Duration) (ClockView, error) {
	return l.move(func() (int, error) { return l.Manual.Advance(d, l.DB, l.Engine) })
}

func (l *Local) move(f func() (int, error)) (ClockView, error) {
	if l.Manual == nil {
		return ClockView{}, errWallClock
	}
	if l.Engine == nil {
		return ClockView{}, errors.New("moving the clock needs the engine (a writable store)")
	}
	n, err := f()
	if err == nil {
		// The store-wide retention sweep reads the ticket clock too: a
		// move runs it as the daemon's hourly loop would have.
		_, err = l.Engine.Retain()
	}
	v := ClockView{Now: l.Manual.Now(), Mode: "manual", Fired: n}
	return v, err
}
