package plan

import (
	"fmt"
	"strings"

	"helpdesk/threading"
	"helpdesk/threading/command"
)

// The ticket's fields: #status (and its short forms), #assign, #group,
// #tag, #cc, #follow, #unfollow, #follower, #requester and #spam.
// (#priority and #type need no check beyond command.Validate's.)

// status: resolving or closing a parent with open children is refused
// while tickets.parent_blocks_resolve is on (SPEC 6).
func (r *planner) status(i int, c command.Command) {
	st := arg(c, 0)
	if st == "resolved" || st == "closed" {
		if open := r.openChildren(); len(open) > 0 && r.cfg.Tickets.ParentBlocksResolve {
			r.fail(c, "ticket #%d has open child tickets (%s); resolve them first", r.tk.ID, joinIDs(open))
			return
		}
	}
	r.ok(i, "status set to %s", st)
	r.add(SetStatus{st})
}

// openChildren lists the ticket's children that are not resolved or
// closed (nor merged away).
func (r *planner) openChildren() []uint64 {
	var out []uint64
	for _, id := range r.tk.Children {
		if ch, ok := r.in.View.Ticket(id); ok && ch.Status != "resolved" && ch.Status != "closed" && ch.MergedInto == 0 {
			out = append(out, ch.ID)
		}
	}
	return out
}

func joinIDs(ids []uint64) string {
	var parts []string
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf("#%d", id))
	}
	return strings.Join(parts, ", ")
}

// assign: me (not for light agents), none, or an agent by address, name
// or alias who may be assigned (role agent or admin).
func (r *planner) assign(i int, c command.Command) {
	v := arg(c, 0)
	switch strings.ToLower(v) {
	case "me":
		if r.role == Rule {
			r.fail(c, "#assign me acts for the person who sends it: a rule cannot use it")
			return
		}
		if r.role == Light {
			r.fail(c, "light agents cannot be assigned")
			return
		}
		r.ok(i, "assigned to you")
		r.add(Assign{r.me})
	case "none":
		r.ok(i, "unassigned")
		r.add(Unassign{})
	default:
		ag := r.cfg.AgentByNameOrAlias(v)
		if ag == nil {
			r.fail(c, "unknown agent %q%s", v, r.agentSuggestion(v))
			return
		}
		if !ag.IsAgent() {
			r.fail(c, "%s is a light agent and cannot be assigned", ag.Name)
			return
		}
		r.ok(i, "assigned to %s", ag.Name)
		r.add(Assign{staffEmail(ag)})
	}
}

// group: a configured group; the same mail's #assign keeps its choice.
func (r *planner) group(i int, c command.Command) {
	g := r.cfg.Group(arg(c, 0))
	if g == nil {
		var gs []string
		for _, x := range r.cfg.Groups {
			gs = append(gs, x.Name)
		}
		r.fail(c, "unknown group %q%s", arg(c, 0), didYouMean(arg(c, 0), gs))
		return
	}
	r.ok(i, "group set to %s", g.Name)
	r.add(SetGroup{Group: g.Name, KeepAssignee: r.p.Block.Has("assign")})
}

// tags: lowercase, + or bare adds, - removes.
func (r *planner) tags(i int, c command.Command) {
	add, remove := command.PlusMinus(c.Args)
	for j := range add {
		add[j] = strings.ToLower(add[j])
	}
	for j := range remove {
		remove[j] = strings.ToLower(remove[j])
	}
	r.ok(i, "tags: %s", DescribePlusMinus(add, remove))
	r.add(Tags{Add: add, Remove: remove})
}

// ccs: any address but our own (a staff address only this way, SPEC 1).
func (r *planner) ccs(i int, c command.Command) {
	add, remove := command.PlusMinus(c.Args)
	var adds, rems []string
	for _, x := range add {
		addr, _ := command.ParseAddr(x)
		addr = threading.NormalizeAddr(addr)
		if r.cfg.IsOwnAddress(addr) {
			r.fail(c, "%s is one of our own addresses and cannot be a CC", addr)
			return
		}
		adds = append(adds, addr)
	}
	for _, x := range remove {
		addr, _ := command.ParseAddr(x)
		rems = append(rems, threading.NormalizeAddr(addr))
	}
	r.ok(i, "CCs: %s", DescribePlusMinus(adds, rems))
	r.add(CCs{Add: adds, Remove: rems})
}

// follow: #follow and #unfollow, for the sender himself.
func (r *planner) follow(i int, c command.Command) {
	if c.Name == "follow" {
		r.ok(i, "you follow this ticket")
		r.add(Followers{Add: []string{r.me}})
		return
	}
	r.ok(i, "you no longer follow this ticket")
	r.add(Followers{Remove: []string{r.me}})
}

// followers: #follower +agent -agent, staff by address, name or alias.
func (r *planner) followers(i int, c command.Command) {
	add, remove := command.PlusMinus(c.Args)
	var adds, rems []string
	for _, list := range []struct {
		in  []string
		out *[]string
	}{{add, &adds}, {remove, &rems}} {
		for _, x := range list.in {
			ag := r.cfg.AgentByNameOrAlias(x)
			if ag == nil {
				r.fail(c, "unknown agent %q%s", x, r.agentSuggestion(x))
				return
			}
			*list.out = append(*list.out, staffEmail(ag))
		}
	}
	r.ok(i, "followers: %s", DescribePlusMinus(adds, rems))
	r.add(Followers{Add: adds, Remove: rems})
}

// requester: not one of our addresses. On a ticket this mail opens the
// engine reads #requester when it opens it: no change here.
func (r *planner) requester(i int, c command.Command) {
	addr, _ := command.ParseAddr(arg(c, 0))
	addr = threading.NormalizeAddr(addr)
	if r.cfg.IsOwnAddress(addr) {
		r.fail(c, "%s is one of our own addresses", addr)
		return
	}
	r.ok(i, "requester set to %s", RequesterLabel(addr, c.Display))
	if r.in.NewTicket {
		return
	}
	r.add(SetRequester{Addr: addr, Spelled: threading.SpellAddr(arg(c, 0)), Name: c.Display})
}

// RequesterLabel is "Name <addr>" or addr, for staff mail.
func RequesterLabel(addr, name string) string {
	if strings.TrimSpace(name) == "" {
		return addr
	}
	return threading.Address{Name: name, Addr: addr}.String()
}

// spam: never a staff member or our own address; "#spam domain" is for
// admins.
func (r *planner) spam(i int, c command.Command) {
	domain := len(c.Args) > 0 && c.Args[0] == "domain"
	if domain && r.role != Admin {
		r.fail(c, "#spam domain is for admins")
		return
	}
	if r.cfg.Agent(r.tk.Requester) != nil || r.cfg.IsOwnAddress(r.tk.Requester) {
		r.fail(c, "the requester %s is staff or one of our addresses and cannot be blocked", r.tk.Requester)
		return
	}
	r.ok(i, "closed as spam; sender blocked")
	r.add(MarkSpam{Domain: domain})
}

// DescribePlusMinus writes a list change as "+a +b -c".
func DescribePlusMinus(add, remove []string) string {
	var parts []string
	for _, x := range add {
		parts = append(parts, "+"+x)
	}
	for _, x := range remove {
		parts = append(parts, "-"+x)
	}
	return strings.Join(parts, " ")
}
