package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"helpdesk/threading"
	"helpdesk/threading/command"
)

// #customer (SPEC 8): the ticket's requester's profile. Only staff give
// it (an end user's '#' lines are text, and light agents are refused by
// command.Validate); the profile itself is only ever mailed to the staff
// member who asked, in the transcript.

// CustomerView is what the planner may read of the profiles.
type CustomerView interface {
	// CustomerOf is the profile id an address (comparison form) belongs
	// to; ok is false when it has none.
	CustomerOf(addr string) (id uint64, ok bool)
}

// ShowCustomer mails the requester's profile to the sender, as it is
// after the mail's other changes.
type ShowCustomer struct{}

// CustomerTags adds and removes profile tags (lowercase).
type CustomerTags struct{ Add, Remove []string }

// CustomerNote adds a staff note.
type CustomerNote struct{ Text string }

// SetCustomerLanguage sets the profile language ("" clears it).
type SetCustomerLanguage struct{ Lang string }

// SetCustomerTimeZone sets the profile time zone ("" clears it).
type SetCustomerTimeZone struct{ Zone string }

// CustomerAddresses adds and removes other addresses of the requester
// (comparison form).
type CustomerAddresses struct{ Add, Remove []string }

// MergeCustomer merges the profile of Addr into the requester's.
type MergeCustomer struct{ Addr string }

// RequestErase asks for an erase of the requester: the engine makes a
// confirmation code, keeps its hash on the ticket (bound to the admin,
// the requester and EraseCodeTTL) and words command Command's line.
type RequestErase struct{ Command int }

// ConfirmErase erases Addr (the requester) once the mail's write has
// committed, as `helpdesk customer erase` does; the erase's own write
// consumes the code whose hash is Hash, so it works once.
type ConfirmErase struct {
	Addr, Hash string
	Command    int
}

// PendingErase is a #customer erase waiting for its code.
type PendingErase struct {
	Hash    string // EraseCodeHash of the code
	By      string // the admin who asked
	Addr    string // the requester then
	Expires time.Time
}

// EraseCodeTTL is how long a #customer erase code may be confirmed.
const EraseCodeTTL = 15 * time.Minute

// EraseCodeHash is the hash a confirmation code is kept as: of the code
// in capitals, without spaces and dashes (as it may be retyped).
func EraseCodeHash(code string) string {
	c := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(code))
	h := sha256.Sum256([]byte("helpdesk-erase:" + c))
	return hex.EncodeToString(h[:])
}

func (RequestErase) change()        {}
func (ConfirmErase) change()        {}
func (ShowCustomer) change()        {}
func (CustomerTags) change()        {}
func (CustomerNote) change()        {}
func (SetCustomerLanguage) change() {}
func (SetCustomerTimeZone) change() {}
func (CustomerAddresses) change()   {}
func (MergeCustomer) change()       {}

// customer plans one #customer line.
func (r *planner) customer(i int, c command.Command) {
	if r.tk == nil {
		r.fail(c, "#customer needs a ticket: reply to a notification of one of the customer's tickets, or start with #ticket <n>")
		return
	}
	if arg(c, 0) == "erase" && r.in.NewTicket {
		// A reply about an erased customer's ticket lands on none: the
		// likely case is a confirmation sent twice.
		r.fail(c, "#customer erase needs the customer's ticket, and this mail is about none: a reply about an erased customer's ticket lands on no ticket (a confirmation code works once); otherwise start with #ticket <n>")
		return
	}
	if r.tk.Erased {
		r.fail(c, "#%d is what is left of an erased customer's ticket: it has no customer any more (a confirmation code works once)", r.tk.ID)
		return
	}
	req := r.tk.Requester
	if r.cfg.Agent(req) != nil || r.cfg.IsOwnAddress(req) || req == "" {
		r.fail(c, "the requester %s is staff, who have no customer profile", orNobody(req))
		return
	}
	cv, _ := r.in.View.(CustomerView)
	owner := func(addr string) (uint64, bool) {
		if cv == nil {
			return 0, false
		}
		return cv.CustomerOf(addr)
	}
	mine, hasProfile := owner(req)
	op := arg(c, 0)
	switch op {
	case "":
		if r.role == Rule {
			r.fail(c, "#customer alone mails the profile to the person who sends it: a rule cannot use it")
			return
		}
		r.showCustomer = true
		r.ok(i, "profile of %s: see below", req)
		r.p.Confirm = true
		return
	case "tag":
		add, remove := command.PlusMinus(c.Args[1:])
		for j := range add {
			add[j] = strings.ToLower(add[j])
		}
		for j := range remove {
			remove[j] = strings.ToLower(remove[j])
		}
		r.ok(i, "customer tags: %s (added to their new tickets)", DescribePlusMinus(add, remove))
		r.add(CustomerTags{Add: add, Remove: remove})
	case "note":
		r.ok(i, "note added to the profile of %s", req)
		r.add(CustomerNote{Text: arg(c, 1)})
	case "lang":
		lang := arg(c, 1)
		if lang == "none" {
			r.ok(i, "customer language cleared (their mail's language decides)")
			r.add(SetCustomerLanguage{})
			return
		}
		r.ok(i, "customer language set to %s", lang)
		r.add(SetCustomerLanguage{Lang: lang})
	case "tz":
		zone := arg(c, 1)
		if strings.EqualFold(zone, "none") {
			r.ok(i, "customer time zone cleared")
			r.add(SetCustomerTimeZone{})
			return
		}
		loc, err := time.LoadLocation(zone)
		if err != nil || zone == "" || strings.EqualFold(zone, "local") {
			r.fail(c, "%q is not an IANA time zone (e.g. Asia/Seoul, Europe/Berlin)", zone)
			return
		}
		r.ok(i, "customer time zone set to %s", loc.String())
		r.add(SetCustomerTimeZone{Zone: loc.String()})
	case "address":
		add, remove := command.PlusMinus(c.Args[1:])
		var adds, rems []string
		for _, x := range add {
			a, _ := command.ParseAddr(x)
			a = threading.NormalizeAddr(a)
			switch id, ok := owner(a); {
			case r.cfg.Agent(a) != nil || r.cfg.IsOwnAddress(a):
				r.fail(c, "%s is a staff address or one of ours and cannot be a customer's", a)
				return
			case ok && (!hasProfile || id != mine):
				r.fail(c, "%s belongs to another customer's profile; an admin joins the two with #customer merge %s", a, a)
				return
			}
			adds = append(adds, a)
		}
		for _, x := range remove {
			a, _ := command.ParseAddr(x)
			a = threading.NormalizeAddr(a)
			if a == req {
				r.fail(c, "%s is the ticket's requester: it stays on the profile", a)
				return
			}
			rems = append(rems, a)
		}
		r.ok(i, "customer addresses: %s", DescribePlusMinus(adds, rems))
		r.add(CustomerAddresses{Add: adds, Remove: rems})
	case "merge":
		if r.role != Admin {
			r.fail(c, "#customer merge is for admins only")
			return
		}
		a, _ := command.ParseAddr(arg(c, 1))
		a = threading.NormalizeAddr(a)
		id, ok := owner(a)
		switch {
		case a == req || (ok && hasProfile && id == mine):
			r.fail(c, "%s is already on the profile of %s", a, req)
			return
		case !ok:
			r.fail(c, "%s has no customer profile; to add it as another address of %s use #customer address +%s", a, req, a)
			return
		}
		r.ok(i, "the profile of %s merged into the profile of %s (its tickets, addresses, tags and notes)", a, req)
		r.add(MergeCustomer{Addr: a})
	case "erase":
		r.erase(i, c, req)
	}
}

// erase plans #customer erase (a code is made) and #customer erase
// confirm <code> (checked against the ticket's pending request: the same
// admin, the same requester, in time, the right code).
func (r *planner) erase(i int, c command.Command, req string) {
	if r.role != Admin {
		r.fail(c, "#customer erase is for admins only")
		return
	}
	if len(c.Args) == 1 {
		r.ok(i, "confirmation code: see below")
		r.add(RequestErase{Command: i})
		r.p.Confirm = true
		return
	}
	pe := r.tk.Erase
	switch {
	case pe == nil:
		r.fail(c, "no erase is waiting for confirmation on #%d: send #customer erase first for a code (a code works once)", r.tk.ID)
		return
	case pe.By != r.in.Actor.Email:
		r.fail(c, "the code was given to %s: only they can confirm it (or send #customer erase for a code of your own)", pe.By)
		return
	case pe.Addr != req:
		r.fail(c, "the code was for %s, who is no longer the requester: nothing was erased; send #customer erase again", pe.Addr)
		return
	case !r.in.Now.Before(pe.Expires):
		r.fail(c, "the code expired at %s: nothing was erased; send #customer erase again for a new one", pe.Expires.UTC().Format("2006-01-02 15:04 MST"))
		return
	case EraseCodeHash(strings.Join(c.Args[2:], "")) != pe.Hash:
		r.fail(c, "wrong confirmation code: nothing was erased (quote the code of the latest #customer erase answer, or send #customer erase again)")
		return
	}
	r.ok(i, "erasing %s: a transcript with the erasure record follows", req)
	r.add(ConfirmErase{Addr: req, Hash: pe.Hash, Command: i})
}

func orNobody(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// customerShown appends the profile answer after the other changes.
func (r *planner) customerShown() {
	if r.showCustomer {
		r.changes = append(r.changes, ShowCustomer{})
	}
}
