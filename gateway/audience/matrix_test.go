package audience

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The cast of every test here: one ticket with every kind of participant.
const (
	req   = "req@cust.example"   // the requester
	cc    = "cc@cust.example"    // an end-user CC
	asg   = "asg@staff.example"  // the assignee (agent); started side thread 1
	grp   = "grp@staff.example"  // an agent of the ticket's group; started side thread 2
	fol   = "fol@staff.example"  // an agent following the ticket
	lfol  = "lfol@staff.example" // a light agent following the ticket
	light = "light@staff.example"
	ntf   = "ntf@staff.example"  // an agent named by #notify (or made CC)
	gone  = "gone@staff.example" // removed from the configuration, still a follower
	col   = "col@vendor.example" // collaborator of side thread 1
	col2  = "col2@other.example" // collaborator of side thread 2
)

// columns of the matrix, in order.
var columns = []string{req, cc, asg, grp, fol, lfol, light, ntf, gone, col, col2}

var columnNames = []string{"req", "cc", "asg", "grp", "fol", "lfol", "light", "ntf", "gone", "col", "col2"}

// dir is the current staff; gone is not in it.
type dir map[string]Member

func (d dir) Staff(addr string) (Member, bool) {
	m, ok := d[strings.ToLower(addr)]
	return m, ok
}

var staff = dir{
	asg:   {Addr: asg, Name: "Asg"},
	grp:   {Addr: grp, Name: "Grp"},
	fol:   {Addr: fol, Name: "Fol"},
	lfol:  {Addr: lfol, Name: "Lfol", Light: true},
	light: {Addr: light, Name: "Light", Light: true},
	ntf:   {Addr: ntf, Name: "Ntf"},
}

// snapshots of the ticket by name.
func snapshot(name string) Ticket {
	t := Ticket{
		Requester:   req,
		CCs:         []string{cc},
		Assignee:    asg,
		Followers:   []string{fol, lfol, gone},
		GroupAgents: []string{grp},
		// Every member of the group, light agents too (a trigger's
		// "group").
		GroupMembers: []string{grp, light},
		Threads: []Thread{
			{ID: 1, StartedBy: asg, Collaborators: []string{col}},
			{ID: 2, StartedBy: grp, Collaborators: []string{col2}},
		},
	}
	switch name {
	case "assigned":
	case "unassigned":
		t.Assignee = ""
	case "alone": // unassigned, thread 1's starter and every follower gone
		t.Assignee = ""
		t.Followers = []string{gone}
		t.Threads[0].StartedBy = gone
	case "staff-cc": // an agent made CC with #cc
		t.CCs = []string{cc, ntf}
	case "cc-bounces":
		t.Unreachable = []string{cc}
	case "req-bounces":
		t.Unreachable = []string{req}
	case "staff-requester": // an agent opened a ticket for himself
		t.Requester = grp
	case "col-bounces":
		t.Unreachable = []string{col}
	default:
		panic("no snapshot " + name)
	}
	return t
}

// matrix is who sees what: a row per event and author (on a ticket in
// the named state), a column per participant; C the customer view, S the
// staff view, V the collaborator view (from the side thread's address),
// - nothing.
var matrix = []struct {
	want   string
	event  string
	author string
	ticket string
	ev     Event
}{
	// requester
	// | cc
	// | | assignee
	// | | | an agent of the group
	// | | | | follower (agent)
	// | | | | | follower (light agent)
	// | | | | | | light agent, not following
	// | | | | | | | #notify target or staff made CC
	// | | | | | | | | removed staff (still a follower)
	// | | | | | | | | | collaborator of side thread 1
	// | | | | | | | | | | collaborator of side thread 2
	// | | | | | | | | | | |
	{" - C S - S S - - - - -", "customer comment", "requester", "assigned", Event{Kind: Public, Author: req}},
	{" - C - S S S - - - - -", "customer comment", "requester", "unassigned", Event{Kind: Public, Author: req}},
	{" C - S - S S - - - - -", "customer comment", "cc", "assigned", Event{Kind: Public, Author: cc}},
	{" - - S - S S - - - - -", "customer reply-all", "requester", "assigned", Event{Kind: Public, Author: req, AlreadyMailed: []string{cc, asg}}},
	{" - - S - S S - - - - -", "customer comment", "requester", "cc-bounces", Event{Kind: Public, Author: req}},
	{" - C S - S S - S - - -", "customer comment", "requester", "staff-cc", Event{Kind: Public, Author: req}},
	{" - - - - - - - - - - -", "customer comment (loop guard)", "requester", "assigned", Event{Kind: Public, Author: req, LoopLimited: true}},
	{" - - - - S S - - - - -", "ticket opened on behalf (first comment)", "requester", "assigned", Event{Kind: Public, Author: req, NoEndUsers: true, Except: asg}},
	{" - - - S S S - - - - -", "ticket opened on behalf (first comment)", "requester", "unassigned", Event{Kind: Public, Author: req, NoEndUsers: true, Except: asg}},
	{" C C - - S S - - - - -", "public reply", "assignee", "assigned", Event{Kind: Public, Author: asg}},
	{" C C - - S S - S - - -", "public reply", "assignee", "staff-cc", Event{Kind: Public, Author: asg}},
	{" C C - - S S - - - - -", "public reply", "other agent", "assigned", Event{Kind: Public, Author: grp}},
	{" C C - - - S - - - - -", "public reply", "follower", "assigned", Event{Kind: Public, Author: fol}},
	{" C C - - S S - - - - -", "public reply (reply-all)", "assignee", "assigned", Event{Kind: Public, Author: asg, AlreadyMailed: []string{cc}}},
	{" C - - - S S - - - - -", "public reply", "assignee", "cc-bounces", Event{Kind: Public, Author: asg}},
	{" - - - - - - - - - - -", "public reply held (leak or collision guard)", "assignee", "assigned", Event{Kind: Public, Author: asg, Held: true}},
	{" C C - - S S - - - - -", "held reply released (#send)", "assignee", "assigned", Event{Kind: Public, Author: asg}},
	{" C C - - S S - - - - -", "merge notice on the survivor", "agent", "assigned", Event{Kind: Public, Author: grp}},
	{" - - - - S S - - - - -", "private note", "assignee", "assigned", Event{Kind: Note, Author: asg}},
	{" - - - - S S - - - - -", "private note", "assignee", "staff-cc", Event{Kind: Note, Author: asg}},
	{" - - S - S S - S - - -", "private note #notify", "other agent", "assigned", Event{Kind: Note, Author: grp, Notify: []string{ntf, gone}}},
	{" - - S - S S - - - - -", "private note", "light agent", "assigned", Event{Kind: Note, Author: light}},
	{" - - S - S - - - - - -", "private note", "light follower", "assigned", Event{Kind: Note, Author: lfol}},
	{" - - - - S S - - - - -", "private note", "agent", "unassigned", Event{Kind: Note, Author: grp}},
	{" - - - - - - - - - - -", "private note held (leak guard)", "assignee", "assigned", Event{Kind: Note, Author: asg, Held: true}},
	{" - - - - S S - - - V -", "side thread message to collaborators", "starter", "assigned", Event{Kind: Side, Thread: 1, Author: asg, ToCollaborators: true}},
	{" - - S - S S - - - V -", "side thread message to collaborators", "other agent", "assigned", Event{Kind: Side, Thread: 1, Author: grp, ToCollaborators: true}},
	{" - - - - S S - - - - -", "side thread message to collaborators", "starter", "col-bounces", Event{Kind: Side, Thread: 1, Author: asg, ToCollaborators: true}},
	{" - - S - S S - - - - -", "side thread message", "light agent", "assigned", Event{Kind: Side, Thread: 1, Author: light}},
	{" - - S - S S - - - - -", "side thread message (asks for collaborators)", "light agent", "assigned", Event{Kind: Side, Thread: 1, Author: light, ToCollaborators: true}},
	{" - - S - - S - - - - -", "side thread message (private)", "follower", "assigned", Event{Kind: Side, Thread: 1, Author: fol}},
	{" - - S - S S - - - - -", "vendor answer", "collaborator", "assigned", Event{Kind: Side, Thread: 1, Author: col}},
	{" - - S - S S - - - - -", "vendor answer", "collaborator", "unassigned", Event{Kind: Side, Thread: 1, Author: col}},
	{" - - - S - - - - - - -", "vendor answer", "collaborator", "alone", Event{Kind: Side, Thread: 1, Author: col}},
	{" - - S S S S - - - - -", "vendor answer (thread 2)", "collaborator", "assigned", Event{Kind: Side, Thread: 2, Author: col2}},
	{" - - - - - - - - - - -", "vendor answer (loop guard)", "collaborator", "assigned", Event{Kind: Side, Thread: 1, Author: col, LoopLimited: true}},
	{" - - S - S S - - - - -", "side thread message", "requester", "assigned", Event{Kind: Side, Thread: 1, Author: req}},
	{" - - S - - - - - - - -", "change notice", "", "assigned", Event{Kind: Notice}},
	{" - - - S - - - - - - -", "change notice", "", "unassigned", Event{Kind: Notice}},
	{" - - - - - - - - - - -", "change notice", "", "unassigned", Event{Kind: Notice, Except: grp}},
	{" - - S - - - - - - - -", "assigned to you (#assign)", "other agent", "assigned", Event{Kind: Assigned, Author: grp}},
	{" - - S - - - - - - - -", "assigned to you (#assign)", "light agent", "assigned", Event{Kind: Assigned, Author: light}},
	{" - - - - - - - - - - -", "assigned to you (#assign me)", "assignee", "assigned", Event{Kind: Assigned, Author: asg}},
	{" - - - - - - - - - - -", "assigned to you (a trigger, round-robin)", "requester", "assigned", Event{Kind: Assigned, Author: req}},
	{" - - - - - - - - - - -", "assigned to you (#assign nobody)", "other agent", "unassigned", Event{Kind: Assigned, Author: grp}},
	{" - - S - - - - - - - -", "assignment intro (opened on behalf, #child, #group)", "", "assigned", Event{Kind: Intro}},
	{" - - - S - - - - - - -", "assignment intro (opened on behalf, #child, #group)", "", "unassigned", Event{Kind: Intro}},
	{" - - - - - - - - - - -", "assignment intro to the agent who did it", "", "unassigned", Event{Kind: Intro, Except: grp}},
	{" - - S - - - - - - - -", "#available digest", "", "assigned", Event{Kind: Digest}},
	{" - - - S - - - - - - -", "delivery failure of an agent's mail", "", "assigned", Event{Kind: Bounced, Wrote: grp}},
	{" - - S - - - - - - - -", "delivery failure of an end user's mail", "", "assigned", Event{Kind: Bounced, Wrote: req}},
	{" - - S - - - - - - - -", "delivery failure of removed staff's mail", "", "assigned", Event{Kind: Bounced, Wrote: gone}},
	{" - - - - - - - - - - -", "delivery failure", "", "unassigned", Event{Kind: Bounced, Wrote: req}},
	{" - - S S - - S S - - -", "trigger notify", "", "assigned", Event{Kind: Trigger, Targets: []string{"assignee", "group", ntf, req, gone, col, "assignee"}}},
	{" - - - S - - S - - - -", "trigger notify", "", "unassigned", Event{Kind: Trigger, Targets: []string{"assignee", "group"}}},
	{" C - - - - - - - - - -", "acknowledgement", "", "assigned", Event{Kind: Ack}},
	{" - - - - - - - - - - -", "acknowledgement", "", "staff-requester", Event{Kind: Ack}},
	{" - - - - - - - - - - -", "acknowledgement", "", "req-bounces", Event{Kind: Ack}},
	{" C - - - - - - - - - -", "satisfaction survey", "", "assigned", Event{Kind: Survey}},
	{" - - - - - - - - - - -", "satisfaction survey", "", "staff-requester", Event{Kind: Survey}},
	{" - - - - - - - - - - -", "satisfaction survey", "", "req-bounces", Event{Kind: Survey}},
	{" C - - - - - - - - - -", "a rule's mail to the requester", "", "unassigned", Event{Kind: RuleMail}},
	{" - - - - - - - - - - -", "a rule's mail to the requester", "", "staff-requester", Event{Kind: RuleMail}},
	{" - - - - - - - - - - -", "a rule's mail to the requester", "", "req-bounces", Event{Kind: RuleMail}},
	{" - - - S - - - - - - -", "command transcript", "", "assigned", Event{Kind: Transcript, Wrote: grp}},
	{" - - - - - - S - - - -", "held-mail notice", "", "assigned", Event{Kind: Transcript, Wrote: light}},
	{" - - - - - - - - - - -", "command transcript to an end user", "", "assigned", Event{Kind: Transcript, Wrote: req}},
	{" - - - - - - - - - - -", "command transcript to removed staff", "", "assigned", Event{Kind: Transcript, Wrote: gone}},
}

func cell(d Decision, addr string) string {
	r, ok := d.Of(addr)
	if !ok {
		return "-"
	}
	switch r.View {
	case ViewCustomer:
		return "C"
	case ViewStaff:
		return "S"
	case ViewCollaborator:
		return "V"
	}
	return "?"
}

func row(d Decision) string {
	var cells []string
	for _, c := range columns {
		cells = append(cells, cell(d, c))
	}
	return strings.Join(cells, " ")
}

// TestMatrix: who sees what, for every kind of event and author.
func TestMatrix(t *testing.T) {
	for _, m := range matrix {
		d := Decide(m.ev, snapshot(m.ticket), staff)
		want := strings.Join(strings.Fields(m.want), " ")
		if got := row(d); got != want {
			t.Errorf("%s by %s (%s):\n      %s\n got  %s\n want %s\n left out: %v",
				m.event, m.author, m.ticket, strings.Join(columnNames, " "), got, want, d.Left)
		}
	}
}

// TestSpec6 checks the rules of SPEC 6 on every row of the matrix: end
// users never see notes, followers, side threads or staff addresses;
// collaborators only their own thread's staff messages; removed staff
// nothing; followers every update; each participant left out is told why.
func TestSpec6(t *testing.T) {
	for _, m := range matrix {
		name := fmt.Sprintf("%s by %s (%s)", m.event, m.author, m.ticket)
		tk := snapshot(m.ticket)
		d := Decide(m.ev, tk, staff)
		quiet := m.ev.Held || m.ev.LoopLimited
		for _, r := range d.Recipients {
			_, isStaff := staff.Staff(r.Addr)
			switch {
			case r.Addr == m.ev.Author:
				t.Errorf("%s: the author gets his own comment", name)
			case r.Addr == gone:
				t.Errorf("%s: removed staff get mail", name)
			case quiet:
				t.Errorf("%s: %s gets a mail although a guard stopped it", name, r.Addr)
			}
			switch r.View {
			case ViewCustomer:
				if isStaff {
					t.Errorf("%s: staff %s gets the customer view", name, r.Addr)
				}
				if m.ev.Kind != Public && !m.ev.Kind.ToRequester() {
					t.Errorf("%s: end user %s gets a %s", name, r.Addr, m.ev.Kind)
				}
				if m.ev.Kind.ToRequester() && r.Addr != tk.Requester {
					t.Errorf("%s: %s is acknowledged but is not the requester", name, r.Addr)
				}
				if r.Token != (Token{}) {
					t.Errorf("%s: end user %s gets token %+v, want a public main-thread token", name, r.Addr, r.Token)
				}
				if r.Addr != tk.Requester && !slices.Contains(tk.CCs, r.Addr) {
					t.Errorf("%s: %s gets the customer view but is neither requester nor CC", name, r.Addr)
				}
			case ViewCollaborator:
				th := tk.thread(m.ev.Thread)
				if m.ev.Kind != Side || th == nil || !slices.Contains(th.Collaborators, r.Addr) {
					t.Errorf("%s: %s gets the collaborator view outside its own side thread", name, r.Addr)
				}
				if a, ok := staff.Staff(m.ev.Author); !ok || a.Light {
					t.Errorf("%s: collaborator %s gets a message not written by an agent", name, r.Addr)
				}
				if r.Token != (Token{Thread: m.ev.Thread, Private: true}) {
					t.Errorf("%s: collaborator %s gets token %+v", name, r.Addr, r.Token)
				}
			case ViewStaff:
				if !isStaff {
					t.Errorf("%s: %s gets the staff view but is not staff", name, r.Addr)
				}
				want := Token{Staff: true, Private: m.ev.Kind != Public, Thread: m.ev.Thread}
				if r.Token != want {
					t.Errorf("%s: staff %s gets token %+v, want %+v", name, r.Addr, r.Token, want)
				}
			default:
				t.Errorf("%s: %s gets view %v", name, r.Addr, r.View)
			}
		}
		// Notices that are not comments (a change, an assignment, a
		// digest, a delivery failure, a trigger) are for staff only: an
		// end user or a collaborator never gets one.
		comment := m.ev.Kind == Public || m.ev.Kind == Note || m.ev.Kind == Side
		if !comment && !m.ev.Kind.ToRequester() {
			for _, r := range d.Recipients {
				if _, ok := staff.Staff(r.Addr); !ok || r.View != ViewStaff {
					t.Errorf("%s: %s gets a %s (view %v)", name, r.Addr, m.ev.Kind, r.View)
				}
			}
		}
		// Followers see every comment (but their own; notices go to
		// whom they concern).
		if !quiet && comment {
			for _, f := range tk.Followers {
				if _, ok := staff.Staff(f); ok && f != m.ev.Author {
					if _, got := d.Of(f); !got {
						t.Errorf("%s: follower %s gets nothing (%s)", name, f, d.Why(f))
					}
				}
			}
		}
		// Every participant left out is told why; nobody is both.
		part := append([]string{tk.Requester, tk.Assignee}, tk.CCs...)
		part = append(append(append(part, tk.Followers...), tk.GroupAgents...), m.ev.Notify...)
		for _, th := range tk.Threads {
			part = append(append(part, th.StartedBy), th.Collaborators...)
		}
		for _, c := range columns {
			_, got := d.Of(c)
			why := d.Why(c)
			if got && why != "" {
				t.Errorf("%s: %s gets a mail and is left out (%s)", name, c, why)
			}
			if !got && why == "" && slices.Contains(part, c) {
				t.Errorf("%s: %s gets nothing and no reason", name, c)
			}
		}
	}
	// No mail to an end user names staff (followers included).
	for _, s := range []string{"assigned", "staff-cc"} {
		to, ccs := PublicHeaders(snapshot(s), staff)
		for _, x := range append(to, ccs...) {
			if _, ok := staff.Staff(x); ok {
				t.Errorf("%s: PublicHeaders names staff %s", s, x)
			}
		}
		if !slices.Equal(to, []string{req}) || !slices.Equal(ccs, []string{cc}) {
			t.Errorf("%s: PublicHeaders = %v, %v; want [%s], [%s]", s, to, ccs, req, cc)
		}
	}
}

// TestLeftOut: the reasons Decide gives for who gets nothing, for the
// rules a reader asks about.
func TestLeftOut(t *testing.T) {
	cases := []struct {
		ev     Event
		ticket string
		addr   string
		want   Reason
	}{
		{Event{Kind: Public, Author: req}, "assigned", req, Author},
		{Event{Kind: Public, Author: req}, "assigned", gone, NotStaff},
		{Event{Kind: Public, Author: req}, "assigned", col, OwnThreadOnly},
		{Event{Kind: Public, Author: req}, "cc-bounces", cc, Unreachable},
		{Event{Kind: Public, Author: req, AlreadyMailed: []string{cc}}, "assigned", cc, AlreadyMailed},
		{Event{Kind: Public, Author: req, NoEndUsers: true, Except: asg}, "assigned", cc, NotEndUsers},
		{Event{Kind: Public, Author: req, NoEndUsers: true, Except: asg}, "assigned", asg, Excepted},
		{Event{Kind: Public, Author: asg, Held: true}, "assigned", req, Held},
		{Event{Kind: Public, Author: req, LoopLimited: true}, "assigned", fol, LoopLimited},
		{Event{Kind: Note, Author: asg}, "assigned", req, StaffOnly},
		{Event{Kind: Note, Author: asg}, "assigned", col, OwnThreadOnly},
		{Event{Kind: Side, Thread: 1, Author: col}, "assigned", req, SideIsPrivate},
		{Event{Kind: Side, Thread: 1, Author: col}, "assigned", col2, OwnThreadOnly},
		{Event{Kind: Side, Thread: 1, Author: req}, "assigned", col, FromOutside},
		{Event{Kind: Side, Thread: 1, Author: light, ToCollaborators: true}, "assigned", col, LightIsPrivate},
		{Event{Kind: Side, Thread: 1, Author: asg, ToCollaborators: true}, "col-bounces", col, Unreachable},
		{Event{Kind: Public, Author: asg}, "assigned", grp, NotInvolved},
	}
	for _, c := range cases {
		d := Decide(c.ev, snapshot(c.ticket), staff)
		if got := d.Why(c.addr); got != c.want {
			t.Errorf("%+v on %s: %s left out for %q, want %q", c.ev, c.ticket, c.addr, got, c.want)
		}
	}
}

// TestStaffByAlias: a participant written as a staff alias or in another
// case is mailed once, at the staff member's own address.
func TestStaffByAlias(t *testing.T) {
	d := dir{asg: staff[asg], "alias@staff.example": staff[asg], fol: staff[fol]}
	tk := Ticket{Requester: req, Assignee: "Alias@Staff.example", Followers: []string{asg, "FOL@staff.example"}}
	got := Decide(Event{Kind: Note, Author: "x@cust.example"}, tk, d)
	var addrs []string
	for _, r := range got.Recipients {
		addrs = append(addrs, r.Addr)
	}
	if want := []string{asg, fol}; !slices.Equal(addrs, want) {
		t.Errorf("recipients %v, want %v", addrs, want)
	}
}

// TestStaffNamedInInbound: an end user's reply-all naming staff in To or
// Cc does not keep the notification from them.
func TestStaffNamedInInbound(t *testing.T) {
	d := Decide(Event{Kind: Public, Author: req, AlreadyMailed: []string{asg, fol}}, snapshot("assigned"), staff)
	for _, a := range []string{asg, fol} {
		if r, ok := d.Of(a); !ok || r.View != ViewStaff {
			t.Errorf("%s: got %+v, %v; want a staff view", a, r, ok)
		}
	}
}

// BenchmarkDecide: a customer's new ticket, unassigned in a group of two
// (the engine's most frequent fan-out).
func BenchmarkDecide(b *testing.B) {
	tk := Ticket{Requester: req, GroupAgents: []string{asg, grp}}
	ev := Event{Kind: Public, Author: req, AlreadyMailed: []string{"support@example.com"}}
	b.ReportAllocs()
	for b.Loop() {
		Decide(ev, tk, staff)
	}
}
