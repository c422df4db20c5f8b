package engine

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/rules"
	"helpdesk/store"
	"helpdesk/store/model"
)

// Customer profiles (SPEC 8). Every end user who writes to us, or is CC'd
// on a ticket, has a profile (store.Customers), found by any of their
// addresses. The engine keeps them current in the same write as the mail:
//
//   - a new ticket's requester gets a profile first (its tags and their
//     organization's tags go on the ticket before the triggers run, and
//     its language wins for the automatic mail);
//   - once the mail is applied, every ticket the write changed links its
//     requester and end-user CCs to their profiles (the lists "tickets
//     requested" and "tickets CC'd on"), each new link an entry of the
//     timeline; an end user's comment is one too.
//
// Profiles are staff data: they are read into staff mail (#customer) and
// the CLI, never into anything an end user receives (SPEC 6).
//
// Stores written before profiles existed get them by a one-time backfill
// (Backfill, run by the daemon at start, in batches, resumable), not
// lazily: `customers --org` must list a customer who never writes again.

// book is one write's view of the profiles: one object per customer,
// stored once at the end (as tickets and users are).
type book struct {
	tx  store.Tx
	cfg *config.Config
	now time.Time

	byID   map[uint64]*model.Customer
	byAddr map[string]uint64
	dirty  map[uint64]bool
	// known is the last address ensure found to be an end user's: a new
	// ticket's requester is ensured twice (its profile's tags, then its
	// link), and the configuration's look-ups are not free.
	known string
}

func newBook(tx store.Tx, cfg *config.Config, now time.Time) *book {
	return &book{tx: tx, cfg: cfg, now: now, byID: map[uint64]*model.Customer{}, byAddr: map[string]uint64{}}
}

// endUser reports whether addr is someone a profile is kept for: not
// staff, not one of our addresses, not the placeholder of a mail without
// a sender.
func endUser(cfg *config.Config, addr string) bool {
	return addr != "" && addr != unknownSender && strings.Contains(addr, "@") &&
		!strings.HasPrefix(addr, "rule:") && cfg.Agent(addr) == nil && !cfg.IsOwnAddress(addr)
}

// find returns the profile of addr, or nil when there is none.
func (b *book) find(addr string) (*model.Customer, error) {
	if id, ok := b.byAddr[addr]; ok {
		return b.byID[id], nil
	}
	c, err := b.tx.CustomerByAddr(addr)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the profile of %s: %w", addr, err)
	}
	return b.keep(c), nil
}

func (b *book) keep(c *model.Customer) *model.Customer {
	if cur, ok := b.byID[c.ID]; ok {
		return cur
	}
	b.byID[c.ID] = c
	for _, a := range c.Addresses {
		b.byAddr[a] = c.ID
	}
	return c
}

// ensure returns the profile of an end user's address, creating it on
// first sight; name fills in a name not known yet. Its organization
// follows the configuration (a domain added to an [[organization]]
// claims its customers as they next appear). nil for staff.
func (b *book) ensure(addr, name string) (*model.Customer, error) {
	if addr == "" || addr != b.known {
		if !endUser(b.cfg, addr) {
			return nil, nil
		}
		b.known = addr
	}
	c, err := b.find(addr)
	if err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if c == nil {
		c = &model.Customer{Name: name, Addresses: []string{addr}, Created: b.now, Updated: b.now}
		c.Organization = b.orgOf(c)
		if err := b.tx.NewCustomer(c); err != nil {
			return nil, fmt.Errorf("creating the profile of %s: %w", addr, err)
		}
		return b.keep(c), nil
	}
	if c.Name == "" && name != "" {
		c.Name = name
		b.touch(c)
	}
	if org := b.orgOf(c); org != c.Organization {
		c.Organization = org
		b.touch(c)
	}
	return c, nil
}

// orgOf is the organization of the first of c's addresses that has one.
func (b *book) orgOf(c *model.Customer) string {
	for _, a := range c.Addresses {
		if o := b.cfg.OrganizationFor(a); o != nil {
			return o.Name
		}
	}
	return ""
}

// touch marks a profile changed.
func (b *book) touch(c *model.Customer) {
	c.Updated = b.now
	if b.dirty == nil {
		b.dirty = map[uint64]bool{}
	}
	b.dirty[c.ID] = true
}

// flush stores the changed profiles, in id order.
func (b *book) flush() error {
	if len(b.dirty) == 0 {
		return nil
	}
	for _, id := range slices.Sorted(maps.Keys(b.dirty)) {
		if c, ok := b.byID[id]; ok {
			if err := b.tx.PutCustomer(c); err != nil {
				return fmt.Errorf("storing the profile of %s: %w", c.Primary(), err)
			}
		}
	}
	clear(b.dirty)
	return nil
}

// ticketTags are the tags a new ticket of c gets: the profile's and its
// organization's.
func (b *book) ticketTags(c *model.Customer) []string {
	if c == nil {
		return nil
	}
	tags := slices.Clone(c.Tags)
	if o := b.cfg.Organization(c.Organization); o != nil {
		for _, t := range o.Tags {
			if t = strings.ToLower(t); !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
	}
	return tags
}

// activity adds a timeline entry.
func (b *book) activity(c *model.Customer, at time.Time, kind string, ticket uint64, by, text string) error {
	return b.tx.AddCustomerActivity(c.ID, &model.CustomerActivity{At: at, Kind: kind, Ticket: ticket, By: by, Text: text})
}

// linkTicket links tk's requester and end-user CCs to their profiles; a
// new link is a timeline entry at 'at' (now, or the ticket's creation in
// the backfill). opened says tk was opened by this write.
func (b *book) linkTicket(tk *model.Ticket, at time.Time, opened bool, names func(string) string) error {
	if tk.ID == 0 {
		return nil
	}
	link := func(addr, role string) error {
		c, err := b.ensure(addr, names(addr))
		if err != nil || c == nil {
			return err
		}
		added, err := b.tx.LinkCustomerTicket(c.ID, tk.ID, role)
		if err != nil || !added {
			return err
		}
		kind, what := model.ActCC, "CC'd on"
		if role == model.CustomerRequester {
			kind, what = model.ActTicket, "requested"
			if !opened {
				what = "became the requester of"
			}
		}
		text := what + " #" + strconv.FormatUint(tk.ID, 10) + ": " + tk.Subject
		return b.activity(c, at, kind, tk.ID, addr, text)
	}
	if err := link(tk.Requester, model.CustomerRequester); err != nil {
		return err
	}
	for _, cc := range tk.CCs {
		if err := link(cc, model.CustomerCC); err != nil {
			return err
		}
	}
	return nil
}

// ---- the applier's side ----

// customers is this write's book.
func (a *applier) customers() *book {
	if a.book == nil {
		a.book = newBook(a.tx, a.cfg, a.now)
	}
	return a.book
}

// profileLanguage is the customer's profile language ("" when none is
// set): it wins for the customer's automatic mail.
func (a *applier) profileLanguage(addr string) string {
	c, err := a.customers().find(addr)
	if err != nil || c == nil {
		return ""
	}
	return c.Language
}

// requesterProfile makes sure a new ticket's requester has a profile and
// adds its tags (and its organization's) to the ticket.
func (a *applier) requesterProfile(tk *model.Ticket, name string) error {
	c, err := a.customers().ensure(tk.Requester, name)
	if err != nil {
		return err
	}
	for _, t := range a.customers().ticketTags(c) {
		if !slices.Contains(tk.Tags, t) {
			tk.Tags = append(tk.Tags, t)
		}
	}
	return nil
}

// recordCustomers runs once the mail is applied: the tickets the write
// changed are linked to their customers' profiles, an end user's comment
// joins their timeline, and the profiles are stored.
func (a *applier) recordCustomers() error {
	if len(a.dirty) == 0 && a.book == nil {
		return nil
	}
	b := a.customers()
	names := func(addr string) string {
		if a.in != nil && addr == a.in.sender && a.staff == nil {
			return a.mail().From.Name
		}
		if u, ok := a.users[addr]; ok {
			return u.Name
		}
		return ""
	}
	for _, id := range slices.Sorted(maps.Keys(a.dirty)) {
		if err := b.linkTicket(a.tickets[id], a.now, a.created[id], names); err != nil {
			return err
		}
	}
	if a.in != nil && a.staff == nil && a.inbound != nil && a.res.Disposition == model.DispComment && a.res.Ticket != 0 {
		c, err := b.ensure(a.in.sender, names(a.in.sender))
		if err != nil {
			return err
		}
		if c != nil {
			subject := ""
			if tk, ok := a.tickets[a.res.Ticket]; ok {
				subject = tk.Subject
			}
			if err := b.activity(c, a.now, model.ActComment, a.res.Ticket, a.in.sender, fmt.Sprintf("wrote on #%d: %s", a.res.Ticket, subject)); err != nil {
				return err
			}
		}
	}
	return b.flush()
}

// customerFacts lets a rule's conditions read tk's requester's profile
// (organization, customer tags), looked up only when one asks.
func (a *applier) customerFacts(tk *model.Ticket, f *rules.Facts) {
	f.Customer = profileFacts(func(addr string) (*model.Customer, error) { return a.customers().find(addr) }, a.cfg, tk.Requester)
}

// profileFacts is rules.Facts.Customer over a way to find profiles.
// Without a profile (yet), the organization still follows the address's
// domain.
func profileFacts(find func(string) (*model.Customer, error), cfg *config.Config, requester string) func() (string, []string) {
	return func() (string, []string) {
		if c, err := find(requester); err == nil && c != nil {
			return c.Organization, c.Tags
		}
		if o := cfg.OrganizationFor(requester); o != nil && endUser(cfg, requester) {
			return o.Name, nil
		}
		return "", nil
	}
}

// CustomerFacts is rules' enrich for a view listed outside a mail's
// write (helpdesk tickets --view): the profiles read in tx.
func CustomerFacts(tx store.Tx, cfg *config.Config) func(*model.Ticket, *rules.Facts) {
	return func(tk *model.Ticket, f *rules.Facts) {
		f.Customer = profileFacts(func(addr string) (*model.Customer, error) {
			c, err := tx.CustomerByAddr(addr)
			if errors.Is(err, store.ErrNotFound) {
				return nil, nil
			}
			return c, err
		}, cfg, tk.Requester)
	}
}

// ---- the backfill ----

// BackfillBatch is how many tickets one write of the backfill looks at.
const BackfillBatch = 500

// Backfill builds the profiles of the requesters and CCs of tickets
// stored before profiles existed, BackfillBatch tickets per write, from
// where it stopped (it is resumable across restarts, and a no-op once
// done). New mail meanwhile keeps its own profiles current; linking is
// idempotent, so the two never count a ticket twice. It returns the
// number of tickets looked at.
func (e *Engine) Backfill(stop <-chan struct{}) (int, error) {
	var last uint64
	finished := false
	if err := e.db.View(func(tx store.Tx) error {
		p, err := tx.CustomerBackfill()
		finished = p.Done
		if ids := tx.TicketIDs("", 1); len(ids) > 0 {
			last = ids[0]
		}
		return err
	}); err != nil || finished {
		return 0, err
	}
	n := 0
	for {
		select {
		case <-stop:
			return n, nil
		default:
		}
		done := false
		looked := 0
		err := e.db.Update(func(tx store.Tx) error {
			looked = 0
			p, err := tx.CustomerBackfill()
			if err != nil {
				return err
			}
			if p.Done {
				done = true
				return nil
			}
			if p.Next == 0 {
				p.Next = 1
			}
			cfg := e.Config()
			b := newBook(tx, cfg, tx.Now())
			users := func(addr string) string {
				if u, err := tx.User(addr); err == nil {
					return u.Name
				}
				return ""
			}
			for ; p.Next <= last && looked < BackfillBatch; p.Next++ {
				tk, err := tx.Ticket(p.Next)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return fmt.Errorf("backfilling profiles: ticket %d: %w", p.Next, err)
				}
				looked++
				if err := b.linkTicket(tk, tk.Created, true, users); err != nil {
					return fmt.Errorf("backfilling profiles: ticket %d: %w", p.Next, err)
				}
			}
			if p.Next > last {
				p.Done, done = true, true
			}
			if err := b.flush(); err != nil {
				return err
			}
			return tx.SetCustomerBackfill(p)
		})
		n += looked
		if err != nil || done {
			return n, err
		}
	}
}
