package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/plan"
	"helpdesk/store"
	"helpdesk/store/model"
)

// TimelinePage is how many timeline entries a profile shows at once.
const TimelinePage = 10

// maxProfileTickets bounds the ticket lists of a profile view (the
// counts say how many there are).
const maxProfileTickets = 100

// CustomerProfile is a profile as staff see it: `helpdesk customer ADDR
// --json` (a stable interface) and the text #customer mails.
type CustomerProfile struct {
	ID                uint64               `json:"id"`
	Name              string               `json:"name"`
	Primary           string               `json:"primary"`
	Addresses         []string             `json:"addresses"` // every address, the primary first
	Organization      string               `json:"organization"`
	OrganizationNotes string               `json:"organization_notes,omitempty"`
	Tags              []string             `json:"tags"`
	OrganizationTags  []string             `json:"organization_tags"`
	Notes             []model.CustomerNote `json:"notes"`
	Language          string               `json:"language"`
	TimeZone          string               `json:"time_zone"`
	Created           time.Time            `json:"created"`
	Updated           time.Time            `json:"updated"`
	// Requested and CCd are the tickets, newest first (at most 100 each;
	// the counts are complete).
	Requested      []ProfileTicket `json:"tickets_requested"`
	RequestedCount int             `json:"tickets_requested_count"`
	CCd            []ProfileTicket `json:"tickets_cc"`
	CCdCount       int             `json:"tickets_cc_count"`
	// Timeline is one page of activity, newest first: page 1 is the
	// newest 10; More says an older page exists.
	Timeline []model.CustomerActivity `json:"timeline"`
	Page     int                      `json:"timeline_page"`
	More     bool                     `json:"timeline_more"`
}

// ProfileTicket is one ticket of a profile.
type ProfileTicket struct {
	ID      uint64    `json:"id"`
	Subject string    `json:"subject"`
	Status  string    `json:"status"`
	Updated time.Time `json:"updated"`
}

// CustomerSummary is one line of `helpdesk customers`.
type CustomerSummary struct {
	ID           uint64    `json:"id"`
	Name         string    `json:"name"`
	Primary      string    `json:"primary"`
	Addresses    []string  `json:"addresses"`
	Organization string    `json:"organization"`
	Tags         []string  `json:"tags"`
	Updated      time.Time `json:"updated"`
}

// ErrNoProfile wraps store.ErrNotFound for an address without a profile.
var ErrNoProfile = fmt.Errorf("no customer profile: %w", store.ErrNotFound)

// Profile builds the profile of the customer with c's id (page: the
// timeline page, 1 = newest).
func Profile(tx store.Tx, cfg *config.Config, c *model.Customer, page int) (*CustomerProfile, error) {
	if page < 1 {
		page = 1
	}
	p := &CustomerProfile{
		ID: c.ID, Name: c.Name, Primary: c.Primary(), Addresses: nonNilStrings(c.Addresses), Organization: c.Organization,
		Tags: nonNilStrings(c.Tags), OrganizationTags: []string{}, Notes: c.Notes, Language: c.Language, TimeZone: c.TimeZone,
		Created: c.Created, Updated: c.Updated, Requested: []ProfileTicket{}, CCd: []ProfileTicket{},
		Timeline: []model.CustomerActivity{}, Page: page,
	}
	if p.Notes == nil {
		p.Notes = []model.CustomerNote{}
	}
	if o := cfg.Organization(c.Organization); o != nil {
		p.OrganizationNotes = o.Notes
		p.OrganizationTags = nonNilStrings(o.Tags)
	}
	list := func(role string) ([]ProfileTicket, int) {
		ids := tx.CustomerTickets(c.ID, role)
		out := []ProfileTicket{}
		for _, id := range ids {
			if len(out) == maxProfileTickets {
				break
			}
			if tk, err := tx.Ticket(id); err == nil {
				out = append(out, ProfileTicket{ID: tk.ID, Subject: tk.Subject, Status: tk.Status, Updated: tk.Updated})
			}
		}
		return out, len(ids)
	}
	p.Requested, p.RequestedCount = list(model.CustomerRequester)
	p.CCd, p.CCdCount = list(model.CustomerCC)
	acts, err := tx.CustomerActivity(c.ID, (page-1)*TimelinePage, TimelinePage+1)
	if err != nil {
		return nil, err
	}
	if len(acts) > TimelinePage {
		acts, p.More = acts[:TimelinePage], true
	}
	for _, a := range acts {
		p.Timeline = append(p.Timeline, *a)
	}
	return p, nil
}

func nonNilStrings(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// ProfileOf builds the profile an address belongs to (ErrNoProfile).
func ProfileOf(tx store.Tx, cfg *config.Config, addr string, page int) (*CustomerProfile, error) {
	c, err := tx.CustomerByAddr(addr)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", addr, ErrNoProfile)
	}
	if err != nil {
		return nil, err
	}
	return Profile(tx, cfg, c, page)
}

// Customers lists profiles newest first, of one organization or all.
func Customers(tx store.Tx, org string, limit int) ([]CustomerSummary, error) {
	out := []CustomerSummary{}
	for _, id := range tx.CustomerIDs(org, limit) {
		c, err := tx.Customer(id)
		if err != nil {
			return nil, err
		}
		out = append(out, CustomerSummary{ID: c.ID, Name: c.Name, Primary: c.Primary(), Addresses: nonNilStrings(c.Addresses),
			Organization: c.Organization, Tags: nonNilStrings(c.Tags), Updated: c.Updated})
	}
	return out, nil
}

// Text renders a profile for a staff mail or the terminal.
func (p *CustomerProfile) Text() string {
	var b strings.Builder
	name := p.Name
	if name == "" {
		name = "(no name)"
	}
	fmt.Fprintf(&b, "Customer %s <%s>\n", name, p.Primary)
	if len(p.Addresses) > 1 {
		fmt.Fprintf(&b, "  other addresses: %s\n", strings.Join(p.Addresses[1:], ", "))
	}
	if p.Organization != "" {
		fmt.Fprintf(&b, "  organization:    %s", p.Organization)
		if len(p.OrganizationTags) > 0 {
			fmt.Fprintf(&b, " (tags %s)", strings.Join(p.OrganizationTags, ", "))
		}
		b.WriteString("\n")
		if p.OrganizationNotes != "" {
			fmt.Fprintf(&b, "  about it:        %s\n", oneLine(p.OrganizationNotes))
		}
	}
	fmt.Fprintf(&b, "  tags:            %s\n", orDashList(p.Tags))
	fmt.Fprintf(&b, "  language:        %s\n", orDash(p.Language))
	fmt.Fprintf(&b, "  time zone:       %s\n", orDash(p.TimeZone))
	fmt.Fprintf(&b, "  created:         %s   updated: %s\n", p.Created.UTC().Format("2006-01-02 15:04 MST"), p.Updated.UTC().Format("2006-01-02 15:04 MST"))
	if len(p.Notes) > 0 {
		b.WriteString("Notes:\n")
		for _, n := range p.Notes {
			fmt.Fprintf(&b, "  %s %s: %s\n", n.At.UTC().Format("2006-01-02"), n.By, oneLine(n.Text))
		}
	}
	tickets := func(head string, l []ProfileTicket, n int) {
		fmt.Fprintf(&b, "%s: %d\n", head, n)
		for _, t := range l {
			fmt.Fprintf(&b, "  #%-6d %-20s %s\n", t.ID, t.Status, t.Subject)
		}
		if n > len(l) {
			fmt.Fprintf(&b, "  (%d more)\n", n-len(l))
		}
	}
	tickets("Tickets requested", p.Requested, p.RequestedCount)
	tickets("Tickets CC'd on", p.CCd, p.CCdCount)
	fmt.Fprintf(&b, "Activity (newest first, page %d):\n", p.Page)
	if len(p.Timeline) == 0 {
		b.WriteString("  (none)\n")
	}
	for _, a := range p.Timeline {
		fmt.Fprintf(&b, "  %s  %s\n", a.At.UTC().Format("2006-01-02 15:04"), oneLine(a.Text))
	}
	if p.More {
		fmt.Fprintf(&b, "  (older: helpdesk customer %s --page %d)\n", p.Primary, p.Page+1)
	}
	return strings.TrimRight(b.String(), "\n")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func orDashList(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ", ")
}

// MergeCustomers merges the profile of drop into the profile of keep
// (addresses of each; SPEC 8: an admin merges two records): drop's
// tickets, addresses, tags and notes move to keep, and later mail from
// either address lands on keep. by is who did it, for the timeline.
func (e *Engine) MergeCustomers(keep, drop, by string) (*CustomerProfile, error) {
	var p *CustomerProfile
	err := e.db.Update(func(tx store.Tx) error {
		cfg := e.Config()
		k, err := mergeCustomers(tx, cfg, keep, drop, by, tx.Now())
		if err != nil {
			return err
		}
		p, err = Profile(tx, cfg, k, 1)
		return err
	})
	return p, err
}

func mergeCustomers(tx store.Tx, cfg *config.Config, keep, drop, by string, now time.Time) (*model.Customer, error) {
	for _, a := range []string{keep, drop} {
		if !endUser(cfg, a) {
			return nil, fmt.Errorf("%s is a staff address or one of ours: staff have no customer profile", a)
		}
	}
	k, err := tx.CustomerByAddr(keep)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keep, ErrNoProfile)
	}
	d, err := tx.CustomerByAddr(drop)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", drop, ErrNoProfile)
	}
	if k.ID == d.ID {
		return nil, fmt.Errorf("%s and %s are already one customer's addresses", keep, drop)
	}
	merged, err := store.MergeCustomers(tx, k.ID, d.ID, now)
	if err != nil {
		return nil, err
	}
	b := newBook(tx, cfg, now)
	b.keep(merged)
	if org := b.orgOf(merged); org != merged.Organization {
		merged.Organization = org
		b.touch(merged)
	}
	if err := b.flush(); err != nil {
		return nil, err
	}
	text := fmt.Sprintf("merged with the profile of %s (%s)", orDash(d.Name), strings.Join(d.Addresses, ", "))
	if err := b.activity(merged, now, model.ActMerge, 0, by, text+" by "+by); err != nil {
		return nil, err
	}
	return merged, nil
}

// ---- #customer, applied ----

// CustomerOf (plan.CustomerView): the profile an address belongs to.
func (v *planView) CustomerOf(addr string) (uint64, bool) {
	c, err := v.a.customers().find(addr)
	if err != nil || c == nil {
		return 0, false
	}
	return c.ID, true
}

// applyCustomer makes a #customer change on the requester's profile.
func (a *applier) applyCustomer(r *cmdRun, ch plan.Change) error {
	tk := r.tk
	b := a.customers()
	c, err := b.ensure(tk.Requester, "")
	if err != nil {
		return err
	}
	if c == nil {
		return fmt.Errorf("engine: #customer on staff requester %s", tk.Requester)
	}
	me := a.staff.Email
	if a.rule != "" {
		me = "rule:" + a.rule
	}
	profile := func(text string) error {
		b.touch(c)
		if err := b.activity(c, a.now, model.ActProfile, tk.ID, me, text+" by "+me); err != nil {
			return err
		}
		return a.event(tk, "customer profile of "+tk.Requester+": "+text)
	}
	switch ch := ch.(type) {
	case plan.ShowCustomer:
		if err := b.flush(); err != nil {
			return err
		}
		p, err := Profile(a.tx, a.cfg, c, 1)
		if err != nil {
			return err
		}
		r.answer = append(r.answer, p.Text())
	case plan.CustomerTags:
		c.Tags = applyPlusMinus(c.Tags, ch.Add, ch.Remove)
		return profile("tags " + plan.DescribePlusMinus(ch.Add, ch.Remove))
	case plan.CustomerNote:
		c.Notes = append(c.Notes, model.CustomerNote{At: a.now, By: me, Text: ch.Text})
		return profile("note added")
	case plan.SetCustomerLanguage:
		c.Language = ch.Lang
		return profile("language " + orDash(ch.Lang))
	case plan.SetCustomerTimeZone:
		c.TimeZone = ch.Zone
		return profile("time zone " + orDash(ch.Zone))
	case plan.CustomerAddresses:
		for _, x := range ch.Add {
			if !c.HasAddress(x) {
				c.Addresses = append(c.Addresses, x)
				b.byAddr[x] = c.ID
			}
		}
		for _, x := range ch.Remove {
			c.Addresses = slices.DeleteFunc(c.Addresses, func(s string) bool { return s == x })
			delete(b.byAddr, x)
		}
		if org := b.orgOf(c); org != c.Organization {
			c.Organization = org
		}
		return profile("addresses " + plan.DescribePlusMinus(ch.Add, ch.Remove))
	case plan.MergeCustomer:
		// The store merges stored records: this write's changes go first,
		// and the book is read afresh after.
		if err := b.flush(); err != nil {
			return err
		}
		if _, err := mergeCustomers(a.tx, a.cfg, tk.Requester, ch.Addr, me, a.now); err != nil {
			return err
		}
		a.book = nil
		return a.event(tk, fmt.Sprintf("customer profile of %s merged into the profile of %s", ch.Addr, tk.Requester))
	}
	return nil
}

// customerChange reports a #customer change.
func customerChange(ch plan.Change) bool {
	switch ch.(type) {
	case plan.ShowCustomer, plan.CustomerTags, plan.CustomerNote, plan.SetCustomerLanguage,
		plan.SetCustomerTimeZone, plan.CustomerAddresses, plan.MergeCustomer:
		return true
	}
	return false
}
