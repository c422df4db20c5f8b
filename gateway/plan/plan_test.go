package plan

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/threading/command"
)

// The planner at its own level: for every command of the #help card and
// every role of SPEC 1, the changes it plans or the problems it names,
// with no store and no mail.

const (
	victoria = "victoria@certs.example" // agent
	alice    = "alice@certs.example"    // agent
	venkat   = "venkat@certs.example"   // light agent
	ada      = "ada@certs.example"      // admin
	ken      = "ken@efun.example"       // requester of #1
)

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse(`data_dir = "` + t.TempDir() + `"
hostname = "helpdesk.test"
[[mailbox]]
address = "support@certs.example"
group = "support"
[[group]]
name = "support"
[[group]]
name = "billing"
[[agent]]
email = "victoria@certs.example"
name = "Victoria"
role = "agent"
groups = ["support"]
[[agent]]
email = "alice@certs.example"
name = "Alice"
role = "agent"
groups = ["billing"]
aliases = ["a.w@certs.example"]
[[agent]]
email = "venkat@certs.example"
name = "Venkat"
role = "light"
[[agent]]
email = "ada@certs.example"
name = "Ada"
role = "admin"
[[macro]]
name = "need-info"
commands = ["#reply", "#status waiting-customer", "#tag +need-info"]
text = "Could you send us the log?"
`)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// view is a store of a few tickets, read-only, as the engine's view is.
type view struct {
	tickets map[uint64]Ticket
	held    uint32
}

func (v view) Ticket(id uint64) (Ticket, bool) { tk, ok := v.tickets[id]; return tk, ok }

func (v view) Resolve(n uint64) (Ticket, bool) {
	tk, ok := v.tickets[n]
	for ok && tk.MergedInto != 0 {
		tk, ok = v.tickets[tk.MergedInto]
	}
	return tk, ok
}

func (v view) HeldReply() (uint32, bool) { return v.held, v.held != 0 }

// CustomerOf: Ken's profile is 1 (with his second address), Min-jun's 2.
func (v view) CustomerOf(addr string) (uint64, bool) {
	id, ok := map[string]uint64{ken: 1, "ken@home.example": 1, "mj@home.example": 2, "quinn@q.example": 3}[addr]
	return id, ok
}

// tickets: #1 Ken's, with a CC and two children (#2 open, #6 resolved);
// #3 Quinn's; #4 Ken's; #5 merged into #4; #7 a staff member's; #8 a
// child of #6 (so #1's grandchild).
func tickets() view {
	return view{tickets: map[uint64]Ticket{
		1: {ID: 1, Requester: ken, CCs: []string{"vendor@service.example"}, Status: "open", Children: []uint64{2, 6}},
		2: {ID: 2, Requester: ken, Status: "pending", Parent: 1},
		3: {ID: 3, Requester: "quinn@q.example", Status: "open"},
		4: {ID: 4, Requester: ken, Status: "open"},
		5: {ID: 5, Requester: ken, Status: "closed", MergedInto: 4},
		6: {ID: 6, Requester: ken, Status: "resolved", Parent: 1, Children: []uint64{8}},
		7: {ID: 7, Requester: alice, Status: "open"},
		8: {ID: 8, Requester: ken, Status: "open", Parent: 6},
		// #9 Ken's with a #customer erase by Ada waiting for its code;
		// #10 the shell of an erased customer's ticket.
		9:  {ID: 9, Requester: ken, Status: "open", Erase: &PendingErase{Hash: EraseCodeHash("7KQ2-M9XD"), By: ada, Addr: ken, Expires: eraseExpires}},
		10: {ID: 10, Status: "resolved", Erased: true},
		11: {ID: 11, Requester: ken, Status: "open", Erase: &PendingErase{Hash: EraseCodeHash("7KQ2-M9XD"), By: "root@certs.example", Addr: ken, Expires: eraseExpires}},
		12: {ID: 12, Requester: "quinn@q.example", Status: "open", Erase: &PendingErase{Hash: EraseCodeHash("7KQ2-M9XD"), By: ada, Addr: ken, Expires: eraseExpires}},
	}}
}

// eraseExpires is when #9's erase code expires; plans are made 5 minutes
// before unless a case says otherwise.
var eraseExpires = time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)

var people = map[Role]Actor{
	Agent:        {Email: victoria, Name: "Victoria", Role: Agent},
	Light:        {Email: venkat, Name: "Venkat", Role: Light},
	Admin:        {Email: ada, Name: "Ada", Role: Admin},
	Requester:    {Email: ken, Role: Requester},
	CC:           {Email: "vendor@service.example", Role: CC},
	Collaborator: {Email: "finance@partner.example", Role: Collaborator},
	Unknown:      {Email: "stranger@elsewhere.example", Role: Unknown},
	Rule:         {Email: "rule:vip", Role: Rule},
}

// tc is one planning: a mail's text by an actor on a ticket.
type tc struct {
	name string
	text string
	role Role   // default Agent
	on   uint64 // the ticket; default 1
	// How the answered notification routes the text: a public reply on
	// the main thread unless set.
	private, side, replaying, newTicket, noTicket bool
	attachments                                   int
	held                                          uint32

	now      time.Time // default: 5 minutes before eraseExpires
	want     []Change
	problems []string // "#written: message", in order
	results  map[int]string
	confirm  bool
}

func (c tc) input(t *testing.T) Input {
	v := tickets()
	v.held = c.held
	role := c.role
	if role == "" {
		role = Agent
	}
	in := Input{
		Block: command.Parse(c.text), View: v, Config: testConfig(t), Actor: people[role],
		Answering:   Answering{DefaultPrivate: c.private},
		Replaying:   c.replaying,
		NewTicket:   c.newTicket,
		Attachments: c.attachments,
		Now:         c.now,
	}
	if in.Now.IsZero() {
		in.Now = eraseExpires.Add(-5 * time.Minute)
	}
	if c.side {
		in.Answering = Answering{Side: true, Thread: 2, DefaultPrivate: true}
	}
	switch {
	case c.noTicket:
	case c.newTicket:
		in.Ticket = &Ticket{Requester: ken}
	default:
		on := c.on
		if on == 0 {
			on = 1
		}
		tk := v.tickets[on]
		in.Ticket = &tk
	}
	return in
}

func check(t *testing.T, c tc) {
	t.Helper()
	p := Commands(c.input(t))
	var probs []string
	for _, pr := range p.Problems {
		probs = append(probs, pr.String())
	}
	if !reflect.DeepEqual(probs, c.problems) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(probs, "\n  "), strings.Join(c.problems, "\n  "))
	}
	if !reflect.DeepEqual(p.Changes, c.want) {
		t.Errorf("changes:\n  %#v\nwant:\n  %#v", p.Changes, c.want)
	}
	if len(probs) > 0 && p.Changes != nil {
		t.Errorf("a plan with problems has changes: %#v", p.Changes)
	}
	for i, want := range c.results {
		if got := p.Results[i]; got != want {
			t.Errorf("result of line %d: %q, want %q", i, got, want)
		}
	}
	if p.Confirm != c.confirm {
		t.Errorf("confirm %v, want %v", p.Confirm, c.confirm)
	}
}

// TestPlanCommands: every command of the #help card, as an agent on
// ticket #1 unless the case says otherwise.
func TestPlanCommands(t *testing.T) {
	none := NoComment{}
	covered := map[string]bool{}
	for _, c := range []tc{
		// #status and its short forms; a parent with open children.
		{name: "status", text: "#status pending", want: []Change{SetStatus{"pending"}, none},
			results: map[int]string{0: "status set to pending"}},
		{name: "short form", text: "#on-hold", want: []Change{SetStatus{"waiting-third-party"}, none}},
		{name: "resolve with an open child", text: "#solved",
			problems: []string{"#solved: ticket #1 has open child tickets (#2); resolve them first"}},
		{name: "resolve a ticket without children", text: "#resolved", on: 4, want: []Change{SetStatus{"resolved"}, none}},
		{name: "status with a syntax error", text: "#status pendng",
			problems: []string{`#status: unknown status "pendng"; did you mean pending?`}},
		// #assign.
		{name: "assign me", text: "#assign me", want: []Change{Assign{victoria}, none},
			results: map[int]string{0: "assigned to you"}},
		{name: "assign none", text: "#assign none", want: []Change{Unassign{}, none}},
		{name: "assign by name", text: "#assign Alice", want: []Change{Assign{alice}, none},
			results: map[int]string{0: "assigned to Alice"}},
		{name: "assign by alias", text: "#assign a.w@certs.example", want: []Change{Assign{alice}, none}},
		{name: "assign by address", text: "#assign ALICE@certs.example", want: []Change{Assign{alice}, none}},
		{name: "assign a typo", text: "#assign alise",
			problems: []string{`#assign: unknown agent "alise"; did you mean alice?`}},
		{name: "assign a light agent", text: "#assign venkat",
			problems: []string{"#assign: Venkat is a light agent and cannot be assigned"}},
		// #group.
		{name: "group", text: "#group billing", want: []Change{SetGroup{Group: "billing"}, none}},
		{name: "group with assign", text: "#group billing\n#assign alice",
			want: []Change{SetGroup{Group: "billing", KeepAssignee: true}, Assign{alice}, none}},
		{name: "group typo", text: "#group biling",
			problems: []string{`#group: unknown group "biling"; did you mean billing?`}},
		// #priority, #type.
		{name: "priority", text: "#priority medium", want: []Change{SetPriority{"normal"}, none}},
		{name: "type", text: "#type incident", want: []Change{SetType{"incident"}, none}},
		// #tag, #cc.
		{name: "tags", text: "#tag +Urgent, -old new", want: []Change{Tags{Add: []string{"urgent", "new"}, Remove: []string{"old"}}, none},
			results: map[int]string{0: "tags: +urgent +new -old"}},
		{name: "ccs", text: "#cc <Pat@X.example> -vendor@service.example",
			want: []Change{CCs{Add: []string{"pat@x.example"}, Remove: []string{"vendor@service.example"}}, none}},
		{name: "cc of our own address", text: "#cc support@certs.example",
			problems: []string{"#cc: support@certs.example is one of our own addresses and cannot be a CC"}},
		{name: "cc of a staff member", text: "#cc alice@certs.example",
			want: []Change{CCs{Add: []string{alice}}, none}},
		// #follow, #unfollow, #follower.
		{name: "follow", text: "#follow", want: []Change{Followers{Add: []string{victoria}}, none}},
		{name: "unfollow", text: "#unfollow", want: []Change{Followers{Remove: []string{victoria}}, none}},
		{name: "followers", text: "#follower +venkat -Ada", want: []Change{Followers{Add: []string{venkat}, Remove: []string{ada}}, none}},
		{name: "follower unknown", text: "#follower +venkatt",
			problems: []string{`#follower: unknown agent "venkatt"; did you mean venkat?`}},
		// #reply, #note, #notify and plain text.
		{name: "plain text, public by default", text: "Hello Ken", want: []Change{Reply{}}},
		{name: "plain text, private by default", text: "Hello team", private: true, want: []Change{Note{}}},
		{name: "reply", text: "#reply\nHello Ken", private: true, want: []Change{Reply{}},
			results: map[int]string{0: "this mail's text is a public reply"}},
		{name: "note", text: "#note\nFor staff", want: []Change{Note{}},
			results: map[int]string{0: "this mail's text is a private note"}},
		{name: "notify", text: "#notify venkat, alice\nHave a look", want: []Change{Note{Notify: []string{venkat, alice}}},
			results: map[int]string{0: "this mail's text is a private note; notifying venkat@certs.example, alice@certs.example"}},
		{name: "notify with note", text: "#note\n#notify venkat\nHave a look", want: []Change{Note{Notify: []string{venkat}}},
			results: map[int]string{1: "notifying venkat@certs.example"}},
		{name: "notify with reply", text: "#reply\n#notify venkat\nx",
			problems: []string{"#notify: conflicts with #reply on line 1: #notify is for private notes"}},
		// #requester.
		{name: "requester", text: "#requester Quinn <Quinn@Q.example>",
			want:    []Change{SetRequester{Addr: "quinn@q.example", Spelled: "Quinn@q.example", Name: "Quinn"}, none},
			results: map[int]string{0: `requester set to "Quinn" <quinn@q.example>`}},
		{name: "requester of a new ticket", text: "#requester quinn@q.example", newTicket: true, want: []Change{none}},
		{name: "requester is ours", text: "#requester support@certs.example",
			problems: []string{"#requester: support@certs.example is one of our own addresses"}},
		// #forward, #include, #subject, #done.
		{name: "forward", text: "#forward finance@partner.example\n#include last\n#subject Funds\nFunds OK?",
			want:    []Change{StartSideThread{Addrs: []string{"finance@partner.example"}, Include: "last", Subject: "Funds"}},
			results: map[int]string{0: "side thread started with finance@partner.example"}},
		{name: "forward attachments alone", text: "#forward finance@partner.example", attachments: 1,
			want: []Change{StartSideThread{Addrs: []string{"finance@partner.example"}, Include: "none"}}},
		{name: "forward nothing", text: "#forward finance@partner.example",
			problems: []string{"#forward: nothing to forward: write the message below the commands or use #include last|all"}},
		{name: "forward to the requester", text: "#forward ken@efun.example\nx",
			problems: []string{"#forward: ken@efun.example is already on the ticket (requester or CC): answer them publicly instead"}},
		{name: "forward to our mailbox", text: "#forward support@certs.example\nx",
			problems: []string{"#forward: support@certs.example is one of our own mailboxes: a side thread goes to an outside address"}},
		{name: "include without forward", text: "#include all\nx",
			problems: []string{"#include: #include needs #forward in the same mail"}},
		{name: "done in a side thread", text: "#done", side: true, want: []Change{MarkDone{2}, none},
			results: map[int]string{0: "side thread 2 marked done"}},
		{name: "done with text stays done", text: "#done\nThanks!", side: true,
			want: []Change{MarkDone{2}, SideMessage{Thread: 2, ToCollaborators: true, Reopen: false}}},
		{name: "done on the main thread", text: "#done",
			problems: []string{"#done: #done closes a side thread: use it in a reply to a side-thread notification"}},
		// Text in a side thread: to the collaborators, or moved to the
		// main thread by #reply or #note.
		{name: "side message", text: "Thanks, funds OK", side: true,
			want: []Change{SideMessage{Thread: 2, ToCollaborators: true, Reopen: true}}},
		{name: "side reply to the main thread", text: "#reply\nHere is the link", side: true, want: []Change{Reply{}},
			results: map[int]string{0: "this mail's text is a public reply to the requester and CCs on the main thread (side thread 2's collaborators do not get it)"}},
		{name: "side note to the main thread", text: "#note\nVendor says yes", side: true, want: []Change{Note{}},
			results: map[int]string{0: "this mail's text is a private note on the main thread, for staff only (side thread 2's collaborators do not get it)"}},
		// #merge.
		{name: "merge", text: "#merge 4", want: []Change{none, Merge{Into: 4}},
			results: map[int]string{0: "merged into #4"}},
		{name: "merge into a merged ticket", text: "#merge #5", want: []Change{none, Merge{Into: 4}}},
		{name: "merge is last", text: "#tag +dup\n#merge 4\nSee #4", want: []Change{Tags{Add: []string{"dup"}}, Reply{}, Merge{Into: 4}}},
		{name: "merge another requester", text: "#merge 3",
			problems: []string{`#merge: #3 has another requester (quinn@q.example); merge with "#merge 3 cc" to add ken@efun.example as a CC of #3`}},
		{name: "merge another requester with cc", text: "#merge 3 cc", want: []Change{none, Merge{Into: 3, CC: true}}},
		{name: "merge into itself", text: "#merge 1", problems: []string{"#merge: a ticket cannot be merged into itself"}},
		{name: "merge a missing ticket", text: "#merge 99", problems: []string{"#merge: ticket #99 does not exist"}},
		{name: "merge a new ticket", text: "#merge 4", newTicket: true, problems: []string{"#merge: a ticket cannot be merged into itself"}},
		{name: "merge and status", text: "#merge 4\n#closed",
			problems: []string{"#closed: conflicts with #merge 4 on line 1: #merge closes this ticket"}},
		// #parent, #child.
		{name: "parent", text: "#parent 3", want: []Change{SetParent{3}, none}, results: map[int]string{0: "parent set to #3"}},
		{name: "parent cycle", text: "#parent 8",
			problems: []string{"#parent: #8 cannot be the parent of #1 (that would make a cycle)"}},
		{name: "parent itself", text: "#parent 1",
			problems: []string{"#parent: #1 cannot be the parent of #1 (that would make a cycle)"}},
		{name: "parent missing", text: "#parent 99", problems: []string{"#parent: ticket #99 does not exist"}},
		{name: "child", text: "#child Renew the certificate\nDetails", want: []Change{OpenChild{"Renew the certificate"}},
			results: map[int]string{0: "child ticket opened: Renew the certificate"}},
		{name: "child with subject", text: "#child\n#subject Renew\nDetails", want: []Change{OpenChild{"Renew"}}},
		{name: "child without subject", text: "#child\nDetails",
			problems: []string{"#child: #child needs a subject: #child <subject>, or #subject on its own line"}},
		// #macro.
		{name: "macro", text: "#macro need-info",
			want:    []Change{SetStatus{"waiting-customer"}, Tags{Add: []string{"need-info"}}, Reply{}},
			results: map[int]string{1: "status set to waiting-customer"}},
		{name: "macro typo", text: "#macro need-inf",
			problems: []string{`#macro: unknown macro "need-inf"; did you mean need-info?`}},
		{name: "macro in a macro is refused by the config", text: "#macro need-info\n#macro need-info", want: []Change{
			SetStatus{"waiting-customer"}, Tags{Add: []string{"need-info"}}, SetStatus{"waiting-customer"}, Tags{Add: []string{"need-info"}}, Reply{}}},
		// #available, #away, #ticket, #list, #help, #report, #end.
		{name: "available", text: "#available", noTicket: true, want: []Change{SetAvailability{Away: false, Command: 0}},
			results: map[int]string{0: "you are available for automatic assignment"}},
		{name: "away", text: "#list mine\n#away", noTicket: true, want: []Change{ListTickets{Which: "mine"}, SetAvailability{Away: true, Command: 1}}, confirm: true},
		{name: "ticket", text: "#ticket 1\nNote", private: true, want: []Change{Note{}}, results: map[int]string{0: "acting on ticket #1"}},
		{name: "ticket of another", text: "#ticket 3",
			problems: []string{"#ticket: this mail answers a notification of ticket #1; #ticket 3 belongs in a new mail to the support address. Nothing was applied to either ticket"}},
		{name: "ticket missing", text: "#ticket 99", problems: []string{"#ticket: ticket #99 does not exist"}},
		{name: "list", text: "#list mine", noTicket: true, want: []Change{ListTickets{Which: "mine"}}, confirm: true},
		{name: "list comes first", text: "#status pending\n#list open", want: []Change{ListTickets{Which: "open"}, SetStatus{"pending"}, none}, confirm: true},
		{name: "help", text: "#help", noTicket: true, want: []Change{Answer{command.HelpCard()}}, confirm: true,
			results: map[int]string{0: "command card: see below"}},
		{name: "report", text: "#report", noTicket: true, want: []Change{MailReport{}}, confirm: true,
			results: map[int]string{0: "report: see the attached file"}},
		{name: "report of a period by groups", text: "#report last week groups", noTicket: true,
			want: []Change{MailReport{Period: "last-week", By: "groups"}}, confirm: true},
		{name: "end", text: "#end\n#status closed", want: []Change{Reply{}}},
		// #spam.
		{name: "spam", text: "#spam", want: []Change{MarkSpam{}, none}, results: map[int]string{0: "closed as spam; sender blocked"}},
		{name: "spam domain by an agent", text: "#spam domain", problems: []string{"#spam: #spam domain is for admins only"}},
		{name: "spam domain by an admin", text: "#spam domain", role: Admin, want: []Change{MarkSpam{Domain: true}, none}},
		{name: "spam of staff", text: "#spam", on: 7,
			problems: []string{"#spam: the requester alice@certs.example is staff or one of our addresses and cannot be blocked"}},
		// #send.
		{name: "send", text: "#send", held: 9, want: []Change{SendHeld{9}, none}, results: map[int]string{0: "held reply released"}},
		{name: "send nothing held", text: "#send",
			problems: []string{"#send: nothing to send: #send releases a held reply; use it in a reply to the held-mail transcript"}},
		{name: "send while replaying", text: "#send\nHi", replaying: true, held: 9, want: []Change{Reply{}},
			results: map[int]string{0: "ignored (already sending a held mail)"}},
		// #customer: the requester's profile; shown after the other changes.
		{name: "customer", text: "#customer", want: []Change{ShowCustomer{}, none}, confirm: true,
			results: map[int]string{0: "profile of " + ken + ": see below"}},
		{name: "customer shown after its changes", text: "#customer\n#customer tag +VIP -trial\n#customer note Call after 6pm KST",
			want: []Change{CustomerTags{Add: []string{"vip"}, Remove: []string{"trial"}}, CustomerNote{"Call after 6pm KST"}, ShowCustomer{}, none}, confirm: true,
			results: map[int]string{1: "customer tags: +vip -trial (added to their new tickets)"}},
		{name: "customer lang", text: "#customer lang ko", want: []Change{SetCustomerLanguage{"ko"}, none}},
		{name: "customer lang none", text: "#customer lang none", want: []Change{SetCustomerLanguage{}, none}},
		{name: "customer tz", text: "#customer tz Asia/Seoul", want: []Change{SetCustomerTimeZone{"Asia/Seoul"}, none}},
		{name: "customer tz unknown", text: "#customer tz Asia/Soul",
			problems: []string{`#customer: "Asia/Soul" is not an IANA time zone (e.g. Asia/Seoul, Europe/Berlin)`}},
		{name: "customer address", text: "#customer address +Ken@Work.example -ken@home.example",
			want: []Change{CustomerAddresses{Add: []string{"ken@work.example"}, Remove: []string{"ken@home.example"}}, none}},
		{name: "customer address of another customer", text: "#customer address +mj@home.example",
			problems: []string{"#customer: mj@home.example belongs to another customer's profile; an admin joins the two with #customer merge mj@home.example"}},
		{name: "customer address of staff", text: "#customer address +alice@certs.example",
			problems: []string{"#customer: alice@certs.example is a staff address or one of ours and cannot be a customer's"}},
		{name: "customer address: the requester stays", text: "#customer address -" + ken,
			problems: []string{"#customer: " + ken + " is the ticket's requester: it stays on the profile"}},
		{name: "customer merge by an agent", text: "#customer merge mj@home.example",
			problems: []string{"#customer: #customer merge is for admins only"}},
		{name: "customer merge by an admin", text: "#customer merge <MJ@home.example>", role: Admin,
			want: []Change{MergeCustomer{"mj@home.example"}, none}},
		{name: "customer merge of an address without a profile", text: "#customer merge new@x.example", role: Admin,
			problems: []string{"#customer: new@x.example has no customer profile; to add it as another address of " + ken + " use #customer address +new@x.example"}},
		{name: "customer merge of the same customer", text: "#customer merge ken@home.example", role: Admin,
			problems: []string{"#customer: ken@home.example is already on the profile of " + ken}},
		// #customer erase: a code, then its confirmation (admins only).
		{name: "customer erase asks for a code", text: "#customer erase", role: Admin,
			want: []Change{RequestErase{Command: 0}, none}, confirm: true, results: map[int]string{0: "confirmation code: see below"}},
		{name: "customer erase by an agent", text: "#customer erase",
			problems: []string{"#customer: #customer erase is for admins only"}},
		{name: "customer erase confirmed", text: "#customer erase confirm 7kq2 m9xd", role: Admin, on: 9,
			want:    []Change{ConfirmErase{Addr: ken, Hash: EraseCodeHash("7KQ2M9XD"), Command: 0}, none},
			results: map[int]string{0: "erasing " + ken + ": a transcript with the erasure record follows"}},
		{name: "customer erase confirmed by an agent", text: "#customer erase confirm 7KQ2-M9XD", on: 9,
			problems: []string{"#customer: #customer erase is for admins only"}},
		{name: "customer erase confirmed by another admin", text: "#customer erase confirm 7KQ2-M9XD", role: Admin, on: 11,
			problems: []string{"#customer: the code was given to root@certs.example: only they can confirm it (or send #customer erase for a code of your own)"}},
		{name: "customer erase for a requester since replaced", text: "#customer erase confirm 7KQ2-M9XD", role: Admin, on: 12,
			problems: []string{"#customer: the code was for " + ken + ", who is no longer the requester: nothing was erased; send #customer erase again"}},
		{name: "customer erase with a wrong code", text: "#customer erase confirm 7KQ2-M9XE", role: Admin, on: 9,
			problems: []string{"#customer: wrong confirmation code: nothing was erased (quote the code of the latest #customer erase answer, or send #customer erase again)"}},
		{name: "customer erase with an expired code", text: "#customer erase confirm 7KQ2-M9XD", role: Admin, on: 9, now: eraseExpires,
			problems: []string{"#customer: the code expired at 2026-12-07 13:00 UTC: nothing was erased; send #customer erase again for a new one"}},
		{name: "customer erase confirmed with none asked", text: "#customer erase confirm 7KQ2-M9XD", role: Admin, on: 4,
			problems: []string{"#customer: no erase is waiting for confirmation on #4: send #customer erase first for a code (a code works once)"}},
		{name: "customer erase confirmed on an erased ticket", text: "#customer erase confirm 7KQ2-M9XD", role: Admin, on: 10,
			problems: []string{"#customer: #10 is what is left of an erased customer's ticket: it has no customer any more (a confirmation code works once)"}},
		{name: "customer erase confirmed in a new mail", text: "#customer erase confirm 7KQ2-M9XD", role: Admin, newTicket: true,
			problems: []string{"#customer: #customer erase needs the customer's ticket, and this mail is about none: a reply about an erased customer's ticket lands on no ticket (a confirmation code works once); otherwise start with #ticket <n>"}},
		{name: "customer of a staff requester", text: "#customer", on: 7,
			problems: []string{"#customer: the requester alice@certs.example is staff, who have no customer profile"}},
		{name: "customer without a ticket", text: "#customer", noTicket: true,
			problems: []string{"#customer: #customer needs a ticket: reply to a notification of one of the customer's tickets, or start with #ticket <n>"}},
		// All or nothing: every bad line is named (command.Validate's
		// first, then the planner's), nothing is planned.
		{name: "every bad line", text: "#assign alise\n#statsu open\n#group billing\n#merge 99",
			problems: []string{
				"#statsu: unknown command #statsu; did you mean #status?",
				`#assign: unknown agent "alise"; did you mean alice?`,
				"#merge: ticket #99 does not exist",
			}},
	} {
		t.Run(c.name, func(t *testing.T) { check(t, c) })
		for _, x := range command.Parse(c.text).Commands {
			covered[x.Name] = true
		}
	}
	// Every command of the language has a row above.
	for _, name := range command.Names() {
		if !covered[name] {
			t.Errorf("no case plans #%s", name)
		}
	}
}

// TestPlanRoles: one block from every role of SPEC 1. Only staff and
// rules give commands; an end user's or collaborator's '#' lines are
// text. A light agent's text is always a private note.
func TestPlanRoles(t *testing.T) {
	const block = "#assign me\n#status pending\n\nHello"
	notForLight := func(w string) string {
		return w + ": " + w + " is not allowed for light agents (they may use #note, #notify, #follow, #unfollow, #list and #help)"
	}
	for _, c := range []tc{
		{name: "agent", role: Agent, text: block, want: []Change{Assign{victoria}, SetStatus{"pending"}, Reply{}}},
		{name: "admin", role: Admin, text: block, want: []Change{Assign{ada}, SetStatus{"pending"}, Reply{}}},
		{name: "light agent", role: Light, text: block, problems: []string{notForLight("#assign"), notForLight("#status")}},
		{name: "light agent's reply is a note", role: Light, text: "#follow\nLooks good", want: []Change{Followers{Add: []string{venkat}}, Note{}}},
		{name: "light agent's #reply", role: Light, text: "#reply\nx", problems: []string{notForLight("#reply")}},
		{name: "light agent's macro", role: Light, text: "#macro need-info",
			problems: []string{notForLight("#reply"), notForLight("#status"), notForLight("#tag")}},
		{name: "light agent in a side thread", role: Light, text: "Vendor is slow", side: true,
			want: []Change{SideMessage{Thread: 2, ToCollaborators: false, Reopen: true}}},
		{name: "light agent notifies", role: Light, text: "#notify victoria\nSee this", side: true,
			want: []Change{Note{Notify: []string{victoria}}}},
		{name: "light agent's #customer", role: Light, text: "#customer\n#customer tag +vip", problems: []string{notForLight("#customer"), notForLight("#customer")}},
		{name: "requester's #customer is text", role: Requester, text: "#customer tag +vip\nplease"},
		{name: "cc's #customer is text", role: CC, text: "#customer\nwho am I?"},
		{name: "requester", role: Requester, text: block},
		{name: "cc", role: CC, text: block},
		{name: "collaborator", role: Collaborator, text: block, side: true},
		{name: "unknown sender", role: Unknown, text: block},
		{name: "rule", role: Rule, text: "#status pending\n#tag +vip\n#assign alice",
			want: []Change{SetStatus{"pending"}, Tags{Add: []string{"vip"}}, Assign{alice}, NoComment{}}},
		{name: "rule has no me", role: Rule, text: "#assign me\n#follow\n#list mine",
			problems: []string{"#assign: #assign me acts for the person who sends it: a rule cannot use it",
				"#follow: #follow acts for the person who sends it: a rule cannot use it",
				"#list: #list acts for the person who sends it: a rule cannot use it"}},
	} {
		t.Run(c.name, func(t *testing.T) { check(t, c) })
	}
}

// An end user's '#' lines are the text of his comment, word for word.
func TestPlanEndUserLinesAreText(t *testing.T) {
	for _, role := range []Role{Requester, CC, Collaborator, Unknown} {
		p := Commands(tc{role: role, text: "#assign me\n\nHello"}.input(t))
		if p.Changes != nil || !p.OK() || len(p.Results) != 0 {
			t.Errorf("%s: changes %v, problems %v", role, p.Changes, p.Problems)
		}
	}
}

// A new mail holding only commands about the sender opens no ticket.
func TestTicketless(t *testing.T) {
	for text, want := range map[string]bool{
		"#list mine":               true,
		"#help\n#end":              true,
		"#available\n#report":      true,
		"#away\nback on Monday":    false,
		"#list mine\n#status open": false,
		"Hello":                    false,
	} {
		if got := Ticketless(command.Parse(text)); got != want {
			t.Errorf("Ticketless(%q) = %v, want %v", text, got, want)
		}
	}
}

// A ticket opened on someone's behalf keeps the agent's own words as its
// text (Input.Text); a macro's text is not added there.
func TestPlanTextOverride(t *testing.T) {
	c := tc{text: "#macro need-info\nFor the team", newTicket: true}
	in := c.input(t)
	note := "For the team"
	in.Text = &note
	p := Commands(in)
	if !p.OK() || p.Text != note || !reflect.DeepEqual(p.Changes[len(p.Changes)-1], Reply{}) {
		t.Errorf("text %q, changes %#v, problems %v", p.Text, p.Changes, p.Problems)
	}
	if want := "For the team\n\nCould you send us the log?"; p.Block.Text != want {
		t.Errorf("block text %q, want %q", p.Block.Text, want)
	}
}

// A staff member's new mail: on ticket N, about no ticket, refused, or a
// new ticket.
func TestNewMail(t *testing.T) {
	v := tickets()
	for _, c := range []struct {
		text   string
		role   Role
		kind   NewMailKind
		ticket uint64
	}{
		{"#ticket 3\nA note", Agent, OnTicket, 3},
		{"#ticket #5\nA note", Light, OnTicket, 4}, // merges followed; a light agent may note on it
		{"#ticket 99\nA note", Agent, OpenTicket, 0},
		{"#list mine", Agent, NoTicket, 0},
		{"#help", Light, NoTicket, 0},
		{"Please look at this", Agent, OpenTicket, 0},
		{"#requester quinn@q.example\nHelp", Admin, OpenTicket, 0},
		{"Please look at this", Light, Refused, 0},
	} {
		kind, n, p := NewMail(command.Parse(c.text), c.role, v)
		if kind != c.kind || n != c.ticket {
			t.Errorf("%s %q: kind %d ticket %d, want %d %d", c.role, c.text, kind, n, c.kind, c.ticket)
		}
		if (kind == Refused) != (p.Message != "") {
			t.Errorf("%s %q: problem %q", c.role, c.text, p.Message)
		}
	}
}

// #list names a [[view]] too; a misspelt one is suggested.
func TestListView(t *testing.T) {
	cfg, err := config.Parse(`
[[mailbox]]
address = "support@example.com"
[[agent]]
email = "vic@example.com"
role = "agent"
[[view]]
name = "urgent-open"
all = ["priority is urgent"]
`)
	if err != nil {
		t.Fatal(err)
	}
	in := func(text string) Input {
		return Input{Block: command.Parse(text), Config: cfg, Actor: Actor{Email: "vic@example.com", Role: Agent}}
	}
	p := Commands(in("#list Urgent-Open"))
	if !p.OK() || len(p.Changes) != 1 || p.Changes[0] != (ListTickets{Which: "urgent-open"}) {
		t.Errorf("#list of a view: %v %v", p.Problems, p.Changes)
	}
	p = Commands(in("#list urgent-opne"))
	if p.OK() || !strings.Contains(p.Problems[0].Message, "did you mean urgent-open?") {
		t.Errorf("misspelt view: %v", p.Problems)
	}
}
