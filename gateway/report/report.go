package report

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/config/calendar"
	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/threading/command"
)

// Row kinds: what a row of a report is about.
const (
	KindAll     = "all"
	KindAgent   = "agent"
	KindGroup   = "group"
	KindMailbox = "mailbox"
)

// What a report is by (--by, #report's second word).
const (
	ByAgents    = "agents"
	ByGroups    = "groups"
	ByMailboxes = "mailboxes"
	ByTickets   = "tickets"
)

// Bys lists the report kinds.
var Bys = []string{ByAgents, ByGroups, ByMailboxes, ByTickets}

// BacklogStatuses are the statuses the backlog counts, in lifecycle
// order (closed tickets have left it).
var BacklogStatuses = []string{model.StatusOpen, model.StatusPending, model.StatusWaitingCustomer, model.StatusWaitingThirdParty, model.StatusResolved}

// BreachTargets are the SLA targets whose breaches reports count (issue
// 14's, config.Target*).
var BreachTargets = []string{config.TargetFirstReply, config.TargetNextReply, config.TargetPeriodicUpdate, config.TargetResolution}

// Request asks for one report.
type Request struct {
	Period string // "" = command.DefaultPeriod (30d)
	By     string // "" = agents
	// Now is the ticket clock's instant; periods are read in the
	// configured [reports] time_zone.
	Now time.Time
	// Viewer is the agent asking by mail: an agent gets their own row
	// and their groups' rows, an admin (or nil: the CLI) everything.
	Viewer *config.Agent
}

// ErrPeriod is returned for a period that does not parse.
var ErrPeriod = errors.New("unknown period")

// Report is one report (its columns are documented in the package doc).
type Report struct {
	Period   string    `json:"period"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	TimeZone string    `json:"time_zone"`
	By       string    `json:"by"`
	// BacklogAt is the instant the backlog is counted at: the period's
	// end, or now for a period that has not ended.
	BacklogAt time.Time   `json:"backlog_at"`
	Rows      []Row       `json:"rows"`
	Tickets   []TicketRow `json:"tickets,omitempty"`
}

// Row is the figures of one agent, group or mailbox.
type Row struct {
	Kind string `json:"kind"`
	// Key is the agent's address, the group's name or the mailbox's
	// address; Name the configured display name (else Key).
	Key      string `json:"key"`
	Name     string `json:"name"`
	Received int    `json:"received"`
	Resolved int    `json:"resolved"`
	Reopened int    `json:"reopened"`
	// FirstResponse and Resolution are measured from the ticket's
	// creation, in minutes.
	FirstResponse Times `json:"first_response"`
	Resolution    Times `json:"resolution"`
	// Backlog counts tickets by status at BacklogAt.
	Backlog map[string]int `json:"backlog"`
	// Satisfaction: the ratings given in the period (each ticket's
	// latest) and the share of them that are 4 or 5, in percent (nil
	// without ratings).
	CSATCount       int      `json:"csat_count"`
	CSATGoodPercent *float64 `json:"csat_good_percent"`
	// Breaches counts the SLA breaches recorded in the period, by
	// target (first-reply, next-reply, periodic-update, resolution).
	Breaches map[string]int `json:"sla_breaches"`

	csatGood int

	fr, res durations
}

// Times are the median and 90th percentile (nearest rank) of a set of
// durations, in minutes of business time (the ticket's calendar) and of
// calendar time; nil when Count is 0.
type Times struct {
	Count          int      `json:"count"`
	BusinessMedian *float64 `json:"business_median_minutes"`
	BusinessP90    *float64 `json:"business_p90_minutes"`
	CalendarMedian *float64 `json:"calendar_median_minutes"`
	CalendarP90    *float64 `json:"calendar_p90_minutes"`
}

// TicketRow is one ticket of a tickets report: the tickets received in
// the period, as they are now.
type TicketRow struct {
	ID                 uint64     `json:"id"`
	Subject            string     `json:"subject"`
	Status             string     `json:"status"`
	Group              string     `json:"group"`
	Mailbox            string     `json:"mailbox"`
	Requester          string     `json:"requester"`
	Assignee           string     `json:"assignee"`
	Created            time.Time  `json:"created"`
	FirstResponseAt    *time.Time `json:"first_response_at"`
	FirstResponseBiz   *float64   `json:"first_response_business_minutes"`
	FirstResponseCal   *float64   `json:"first_response_calendar_minutes"`
	ResolvedAt         *time.Time `json:"resolved_at"`
	ResolutionBusiness *float64   `json:"resolution_business_minutes"`
	ResolutionCalendar *float64   `json:"resolution_calendar_minutes"`
}

// Percentile is the p-th percentile of sorted by nearest rank: the value
// at rank ceil(p/100 * n), 1-based (the median of an even count is the
// lower middle value).
func Percentile(sorted []int32, p float64) int32 {
	n := len(sorted)
	rank := int(math.Ceil(p / 100 * float64(n)))
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

func minutes(sec int32) *float64 {
	m := float64(sec) / 60
	return &m
}

func seconds(d time.Duration) int32 {
	s := d / time.Second
	if s < 0 {
		return 0
	}
	if s > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(s)
}

// Period reads a period in the report time zone as [from, to).
func Period(cfg *config.Config, period string, now time.Time) (from, to time.Time, err error) {
	if period == "" {
		period = command.DefaultPeriod
	}
	from, to, ok := command.ParsePeriod(period, now.In(cfg.Reports.Location()))
	if !ok {
		return from, to, fmt.Errorf("%w %q: use %s", ErrPeriod, period, command.PeriodHelp)
	}
	return from, to, nil
}

// calendars caches the business calendar of each mailbox and group.
type calendars struct {
	cfg *config.Config
	m   map[[2]string]*calendar.Calendar
}

func (c *calendars) of(mailbox, group string) *calendar.Calendar {
	k := [2]string{mailbox, group}
	if cal, ok := c.m[k]; ok {
		return cal
	}
	cal := c.cfg.CalendarFor(mailbox, group)
	c.m[k] = cal
	return cal
}

func (c *calendars) between(mailbox, group string, a, b time.Time) int32 {
	cal := c.of(mailbox, group)
	if cal == nil || cal.IsAlways() {
		return seconds(b.Sub(a))
	}
	return seconds(cal.Between(a, b))
}

// Source is what a report reads: a store transaction, or Paced.
type Source interface {
	ReportEvents(from, to time.Time, fn func(*model.ReportEvent) error) error
	Backlog(at time.Time) (map[string]int, error)
	Ticket(id uint64) (*model.Ticket, error)
}

// Paced reads a report in short read transactions, a day of events each,
// and calls Pace between them: a year's report neither holds one read
// transaction for seconds (in bbolt, a growing file's remap waits for
// every open read) nor takes the CPU from mail coming in (Pace sleeps
// while it does). The days of a past period are not written any more, so
// reading them one by one reads what one transaction would.
type Paced struct {
	View func(func(store.Tx) error) error
	Pace func()
	n    int // tickets read since the last Pace
}

// paceDay is the span of events Paced reads per transaction.
const paceDay = 24 * time.Hour

func (p *Paced) ReportEvents(from, to time.Time, fn func(*model.ReportEvent) error) error {
	for a := from; a.Before(to); {
		b := a.Add(paceDay)
		if b.After(to) {
			b = to
		}
		if err := p.View(func(tx store.Tx) error { return tx.ReportEvents(a, b, fn) }); err != nil {
			return err
		}
		if p.Pace != nil {
			p.Pace()
		}
		a = b
	}
	return nil
}

func (p *Paced) Backlog(at time.Time) (counts map[string]int, err error) {
	err = p.View(func(tx store.Tx) error {
		counts, err = tx.Backlog(at)
		return err
	})
	return counts, err
}

func (p *Paced) Ticket(id uint64) (tk *model.Ticket, err error) {
	if p.n++; p.n%256 == 0 && p.Pace != nil {
		p.Pace()
	}
	err = p.View(func(tx store.Tx) error {
		tk, err = tx.Ticket(id)
		return err
	})
	return tk, err
}

// Build computes a report from the event index in tx.
func Build(tx Source, cfg *config.Config, req Request) (*Report, error) {
	by := strings.ToLower(req.By)
	if by == "" {
		by = ByAgents
	}
	if !slices.Contains(Bys, by) {
		return nil, fmt.Errorf("unknown report %q: use %s", req.By, strings.Join(Bys, ", "))
	}
	period := req.Period
	if period == "" {
		period = command.DefaultPeriod
	}
	from, to, err := Period(cfg, period, req.Now)
	if err != nil {
		return nil, err
	}
	loc := cfg.Reports.Location()
	r := &Report{Period: period, From: from.In(loc), To: to.In(loc), TimeZone: loc.String(), By: by}
	r.BacklogAt = to
	if req.Now.Before(to) {
		r.BacklogAt = req.Now
	}
	r.BacklogAt = r.BacklogAt.In(loc)
	f := newFilter(cfg, req.Viewer)
	if by == ByTickets {
		return r, ticketRows(tx, cfg, r, f)
	}
	kinds := map[string]bool{}
	switch by {
	case ByAgents:
		kinds[KindAgent] = true
		if f.restricted {
			kinds[KindGroup] = true // an agent's own row and their groups'
		}
	case ByGroups:
		kinds[KindGroup] = true
	case ByMailboxes:
		kinds[KindMailbox] = true
	}
	rows := map[[2]string]*Row{}
	row := func(kind, key string) *Row {
		if !kinds[kind] || !f.row(kind, key) {
			return nil
		}
		k := [2]string{kind, strings.ToLower(key)}
		rw := rows[k]
		if rw == nil {
			rw = &Row{Kind: kind, Key: key, Name: displayName(cfg, kind, key), Backlog: map[string]int{}, Breaches: map[string]int{}}
			rows[k] = rw
		}
		return rw
	}
	// Every configured agent, group or mailbox has a row, figures or
	// not; others (staff who left, a group renamed) when they have any.
	for _, a := range cfg.Agents {
		row(KindAgent, a.Email)
	}
	for _, g := range cfg.Groups {
		row(KindGroup, g.Name)
	}
	for _, m := range cfg.Mailboxes {
		row(KindMailbox, strings.ToLower(m.Address))
	}
	cals := &calendars{cfg: cfg, m: map[[2]string]*calendar.Calendar{}}
	err = tx.ReportEvents(from, to, func(ev *model.ReportEvent) error {
		targets := [3]*Row{row(KindAgent, ev.Agent), row(KindGroup, ev.Group), row(KindMailbox, ev.Mailbox)}
		if ev.Agent == "" {
			targets[0] = nil
		}
		if ev.Group == "" {
			targets[1] = nil
		}
		if ev.Mailbox == "" {
			targets[2] = nil
		}
		var biz, cal int32
		if ev.Kind == model.EvFirstResponse || ev.Kind == model.EvResolved {
			cal = seconds(ev.At.Sub(ev.Since))
			biz = cals.between(ev.Mailbox, ev.Group, ev.Since, ev.At)
		}
		for _, rw := range targets {
			if rw == nil {
				continue
			}
			switch ev.Kind {
			case model.EvReceived:
				rw.Received++
			case model.EvResolved:
				rw.Resolved++
				rw.res.add(cal, biz)
			case model.EvReopened:
				rw.Reopened++
			case model.EvFirstResponse:
				rw.fr.add(cal, biz)
			case model.EvBreach:
				rw.Breaches[ev.Target]++
			case model.EvRating:
				r, n := ev.Rating, 1
				if r < 0 {
					// A withdrawn rating counts against the period it
					// was given in, if that is this one.
					if ev.Since.Before(from) || !ev.Since.Before(to) {
						continue
					}
					r, n = -r, -1
				}
				rw.CSATCount += n
				if r >= 4 {
					rw.csatGood += n
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the report events: %w", err)
	}
	backlog, err := tx.Backlog(r.BacklogAt)
	if err != nil {
		return nil, fmt.Errorf("reading the backlog: %w", err)
	}
	for key, n := range backlog {
		kind, rest, _ := strings.Cut(key, "\x00")
		name, status, _ := strings.Cut(rest, "\x00")
		if kind == KindAll {
			continue
		}
		if rw := row(kind, name); rw != nil {
			rw.Backlog[status] += n
		}
	}
	for _, rw := range rows {
		rw.FirstResponse = rw.fr.times()
		rw.Resolution = rw.res.times()
		if rw.CSATCount > 0 {
			p := 100 * float64(rw.csatGood) / float64(rw.CSATCount)
			rw.CSATGoodPercent = &p
		}
		for _, st := range BacklogStatuses {
			rw.Backlog[st] += 0 // every status, in JSON too
		}
		for _, tg := range BreachTargets {
			rw.Breaches[tg] += 0
		}
		r.Rows = append(r.Rows, *rw)
	}
	order := map[string]int{KindAgent: 0, KindGroup: 1, KindMailbox: 2}
	sort.Slice(r.Rows, func(i, j int) bool {
		a, b := r.Rows[i], r.Rows[j]
		if a.Kind != b.Kind {
			return order[a.Kind] < order[b.Kind]
		}
		return a.Key < b.Key
	})
	return r, nil
}

// displayName is the configured name of an agent or mailbox (else key).
func displayName(cfg *config.Config, kind, key string) string {
	switch kind {
	case KindAgent:
		if a := cfg.Agent(key); a != nil && a.Name != "" {
			return a.Name
		}
	case KindGroup:
		if g := cfg.Group(key); g != nil {
			return g.Name
		}
	case KindMailbox:
		if m := cfg.Mailbox(key); m != nil && m.Name != "" {
			return m.Name
		}
	}
	return key
}

// filter keeps what a viewer may see: an agent their own row and their
// groups' (mailboxes of their groups, tickets of their groups or assigned
// to them); an admin or the CLI everything.
type filter struct {
	restricted bool
	self       string
	groups     map[string]bool
	mailboxes  map[string]bool
}

func newFilter(cfg *config.Config, v *config.Agent) *filter {
	f := &filter{}
	if v == nil || v.Role == "admin" {
		return f
	}
	f.restricted, f.self = true, strings.ToLower(v.Email)
	f.groups, f.mailboxes = map[string]bool{}, map[string]bool{}
	for _, g := range v.Groups {
		f.groups[strings.ToLower(g)] = true
	}
	for _, m := range cfg.Mailboxes {
		if f.groups[strings.ToLower(m.Group)] {
			f.mailboxes[strings.ToLower(m.Address)] = true
		}
	}
	return f
}

func (f *filter) row(kind, name string) bool {
	if !f.restricted {
		return true
	}
	n := strings.ToLower(name)
	switch kind {
	case KindAgent:
		return n == f.self
	case KindGroup:
		return f.groups[n]
	case KindMailbox:
		return f.mailboxes[n]
	}
	return false
}

func (f *filter) ticket(tk *model.Ticket) bool {
	return !f.restricted || strings.EqualFold(tk.Assignee, f.self) || f.groups[strings.ToLower(tk.Group)]
}

// ticketRows lists the tickets received in the period, as they are now:
// loading each is proportional to the period, not to the store.
func ticketRows(tx Source, cfg *config.Config, r *Report, f *filter) error {
	var ids []uint64
	err := tx.ReportEvents(r.From, r.To, func(ev *model.ReportEvent) error {
		if ev.Kind == model.EvReceived {
			ids = append(ids, ev.Ticket)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading the report events: %w", err)
	}
	cals := &calendars{cfg: cfg, m: map[[2]string]*calendar.Calendar{}}
	loc := cfg.Reports.Location()
	for _, id := range ids {
		tk, err := tx.Ticket(id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("loading ticket %d: %w", id, err)
		}
		if !f.ticket(tk) {
			continue
		}
		row := TicketRow{ID: tk.ID, Subject: tk.Subject, Status: tk.Status, Group: tk.Group, Mailbox: tk.Mailbox,
			Requester: tk.Requester, Assignee: tk.Assignee, Created: tk.Created.In(loc)}
		if fr := firstResponse(tk); !fr.IsZero() {
			at := fr.In(loc)
			row.FirstResponseAt = &at
			row.FirstResponseBiz = minutes(cals.between(tk.Mailbox, tk.Group, tk.Created, fr))
			row.FirstResponseCal = minutes(seconds(fr.Sub(tk.Created)))
		}
		if tk.ResolvedAt != nil && Resolved(tk.Status) {
			at := tk.ResolvedAt.In(loc)
			row.ResolvedAt = &at
			row.ResolutionBusiness = minutes(cals.between(tk.Mailbox, tk.Group, tk.Created, *tk.ResolvedAt))
			row.ResolutionCalendar = minutes(seconds(tk.ResolvedAt.Sub(tk.Created)))
		}
		r.Tickets = append(r.Tickets, row)
	}
	return nil
}
