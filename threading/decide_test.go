package threading

import (
	"testing"

	"helpdesk/threading/token"
)

// fixture is an in-memory View: the pure decision is driven by table tests
// against it (the engine implements View over the store).
type fixture struct {
	tickets map[uint64]*TicketInfo
	ids     map[string]MsgRef
	merged  map[uint64]uint64 // ticket -> survivor
}

func (f fixture) resolve(id uint64) uint64 {
	for i := 0; i < 10; i++ {
		if s, ok := f.merged[id]; ok {
			id = s
			continue
		}
		break
	}
	return id
}

func (f fixture) LookupMessageID(id string) (MsgRef, bool) {
	r, ok := f.ids[NormalizeAddr(id)]
	if ok {
		r.Ticket = f.resolve(r.Ticket)
	}
	return r, ok
}

func (f fixture) Ticket(id uint64) (*TicketInfo, bool) {
	t, ok := f.tickets[f.resolve(id)]
	return t, ok
}

func (f fixture) ResolveToken(t token.Token) (uint64, uint32, bool) {
	if _, ok := f.tickets[f.resolve(t.Ticket)]; !ok {
		return 0, 0, false
	}
	return f.resolve(t.Ticket), t.Thread, true
}

func newFixture() fixture {
	return fixture{
		tickets: map[uint64]*TicketInfo{
			7: {ID: 7, Requester: "ken@e-fun.example", CCs: []string{"boss@e-fun.example"}, Assignee: "victoria@certs.example",
				Followers: []string{"venkat@certs.example"},
				Threads:   []ThreadInfo{{ID: 0}, {ID: 1, Side: true, Collaborators: []string{"finance@certs.example"}}}},
			8:  {ID: 8, Requester: "amy@x.example", Closed: true, Threads: []ThreadInfo{{ID: 0}}},
			20: {ID: 20, Requester: "ken@e-fun.example", Threads: []ThreadInfo{{ID: 0}}},
		},
		ids: map[string]MsgRef{
			"ken-1@e-fun.example":   {Ticket: 7},
			"hd.7.aaa@helpdesk":     {Ticket: 7},
			"hd.7.note@helpdesk":    {Ticket: 7, Private: true},
			"hd.7.side@helpdesk":    {Ticket: 7, Thread: 1, Private: true},
			"amy-1@x.example":       {Ticket: 8},
			"old-merged@e-fun.test": {Ticket: 3},
		},
		merged: map[uint64]uint64{3: 20},
	}
}

func TestDecide(t *testing.T) {
	agent := &Staff{Email: "victoria@certs.example", Role: "agent"}
	other := &Staff{Email: "bob@certs.example", Role: "agent"}
	light := &Staff{Email: "venkat@certs.example", Role: "light"}
	lightNotFollower := &Staff{Email: "lena@certs.example", Role: "light"}
	tok := func(ticket uint64, thread uint32, flags uint8) *token.Token {
		return &token.Token{Ticket: ticket, Thread: thread, Party: 1, Flags: flags}
	}
	cases := []struct {
		name     string
		in       Input
		outcome  Outcome
		ticket   uint64
		thread   uint32
		role     Role
		key      Key
		private  bool
		related  uint64
		followUp uint64
	}{
		{name: "no keys opens a ticket",
			in:      Input{Mail: &Mail{Subject: "help"}, Sender: "ken@e-fun.example"},
			outcome: OutNewTicket, role: RoleNobody, key: KeyNone},
		{name: "requester via token",
			in:      Input{Mail: &Mail{}, Sender: "ken@e-fun.example", Token: tok(7, 0, 0)},
			outcome: OutPublicComment, ticket: 7, role: RoleRequester, key: KeyToken},
		{name: "cc via In-Reply-To",
			in:      Input{Mail: &Mail{InReplyTo: []string{"hd.7.aaa@helpdesk"}}, Sender: "boss@e-fun.example"},
			outcome: OutPublicComment, ticket: 7, role: RoleCC, key: KeyInReplyTo},
		{name: "References newest first",
			in:      Input{Mail: &Mail{References: []string{"amy-1@x.example", "unknown@x", "ken-1@e-fun.example"}}, Sender: "ken@e-fun.example"},
			outcome: OutPublicComment, ticket: 7, role: RoleRequester, key: KeyReferences},
		{name: "In-Reply-To before References",
			in:      Input{Mail: &Mail{InReplyTo: []string{"ken-1@e-fun.example"}, References: []string{"amy-1@x.example"}}, Sender: "ken@e-fun.example"},
			outcome: OutPublicComment, ticket: 7, role: RoleRequester, key: KeyInReplyTo},
		{name: "token wins over Message-IDs",
			in:      Input{Mail: &Mail{InReplyTo: []string{"amy-1@x.example"}}, Sender: "ken@e-fun.example", Token: tok(7, 0, 0)},
			outcome: OutPublicComment, ticket: 7, role: RoleRequester, key: KeyToken},
		{name: "subject tag from a participant",
			in:      Input{Mail: &Mail{Subject: "AW: [#7] certificate"}, Sender: "boss@e-fun.example", TagPrefix: "#"},
			outcome: OutPublicComment, ticket: 7, role: RoleCC, key: KeySubjectTag},
		{name: "subject tag from a stranger opens a new ticket related to 7 (for staff only)",
			in:      Input{Mail: &Mail{Subject: "Re: [#7] certificate"}, Sender: "eve@evil.example", TagPrefix: "#"},
			outcome: OutNewTicket, role: RoleNobody, key: KeySubjectTag, related: 7},
		{name: "stranger with a real Message-ID: new ticket related to 7",
			in:      Input{Mail: &Mail{InReplyTo: []string{"hd.7.aaa@helpdesk"}}, Sender: "eve@evil.example"},
			outcome: OutNewTicket, role: RoleNobody, key: KeyInReplyTo, related: 7},
		{name: "stranger with a token: new ticket related to 7",
			in:      Input{Mail: &Mail{}, Sender: "eve@evil.example", Token: tok(7, 0, 0)},
			outcome: OutNewTicket, role: RoleNobody, key: KeyToken, related: 7},
		{name: "DMARC fail skips Message-ID",
			in:      Input{Mail: &Mail{InReplyTo: []string{"hd.7.aaa@helpdesk"}}, Sender: "ken@e-fun.example", DMARCFail: true},
			outcome: OutNewTicket, role: RoleNobody, key: KeyNone},
		{name: "DMARC fail skips the subject tag",
			in:      Input{Mail: &Mail{Subject: "[#7] x"}, Sender: "ken@e-fun.example", DMARCFail: true, TagPrefix: "#"},
			outcome: OutNewTicket, role: RoleNobody, key: KeyNone},
		{name: "DMARC fail still honours a signed token",
			in:      Input{Mail: &Mail{}, Sender: "ken@e-fun.example", DMARCFail: true, Token: tok(7, 0, 0)},
			outcome: OutPublicComment, ticket: 7, role: RoleRequester, key: KeyToken},
		{name: "assignee reply to a public notification",
			in:      Input{Mail: &Mail{}, Sender: agent.Email, Staff: agent, Token: tok(7, 0, token.FlagStaff)},
			outcome: OutStaff, ticket: 7, role: RoleAssignee, key: KeyToken},
		{name: "agent reply to a private notification defaults private",
			in:      Input{Mail: &Mail{}, Sender: other.Email, Staff: other, Token: tok(7, 0, token.FlagStaff|token.FlagPrivate)},
			outcome: OutStaff, ticket: 7, role: RoleAgent, key: KeyToken, private: true},
		{name: "agent reply to a note by Message-ID defaults private",
			in:      Input{Mail: &Mail{InReplyTo: []string{"hd.7.note@helpdesk"}}, Sender: other.Email, Staff: other},
			outcome: OutStaff, ticket: 7, role: RoleAgent, key: KeyInReplyTo, private: true},
		{name: "agent may use the subject tag",
			in:      Input{Mail: &Mail{Subject: "[#7]"}, Sender: other.Email, Staff: other, TagPrefix: "#"},
			outcome: OutStaff, ticket: 7, role: RoleAgent, key: KeySubjectTag},
		{name: "light agent follower: always a note",
			in:      Input{Mail: &Mail{}, Sender: light.Email, Staff: light, Token: tok(7, 0, 0)},
			outcome: OutNote, ticket: 7, role: RoleFollower, key: KeyToken, private: true},
		{name: "light agent not following: still a note",
			in:      Input{Mail: &Mail{}, Sender: lightNotFollower.Email, Staff: lightNotFollower, Token: tok(7, 0, 0)},
			outcome: OutNote, ticket: 7, role: RoleLight, key: KeyToken, private: true},
		{name: "collaborator in their side thread",
			in:      Input{Mail: &Mail{}, Sender: "finance@certs.example", Token: tok(7, 1, token.FlagPrivate)},
			outcome: OutSideMessage, ticket: 7, thread: 1, role: RoleCollaborator, key: KeyToken, private: true},
		{name: "collaborator by the side thread's Message-ID",
			in:      Input{Mail: &Mail{InReplyTo: []string{"hd.7.side@helpdesk"}}, Sender: "finance@certs.example"},
			outcome: OutSideMessage, ticket: 7, thread: 1, role: RoleCollaborator, key: KeyInReplyTo, private: true},
		{name: "collaborator on the main thread is nobody",
			in:      Input{Mail: &Mail{InReplyTo: []string{"hd.7.aaa@helpdesk"}}, Sender: "finance@certs.example"},
			outcome: OutNewTicket, role: RoleNobody, key: KeyInReplyTo, related: 7},
		{name: "requester replying in the side thread: private message of it",
			in:      Input{Mail: &Mail{}, Sender: "ken@e-fun.example", Token: tok(7, 1, 0)},
			outcome: OutSideMessage, ticket: 7, thread: 1, role: RoleRequester, key: KeyToken},
		{name: "agent in the side thread writes to its collaborators",
			in:      Input{Mail: &Mail{}, Sender: agent.Email, Staff: agent, Token: tok(7, 1, token.FlagPrivate)},
			outcome: OutStaffSide, ticket: 7, thread: 1, role: RoleAssignee, key: KeyToken, private: true},
		{name: "light agent in the side thread: private message, not to collaborators",
			in:      Input{Mail: &Mail{}, Sender: light.Email, Staff: light, Token: tok(7, 1, 0)},
			outcome: OutSideMessage, ticket: 7, thread: 1, role: RoleFollower, key: KeyToken},
		{name: "a thread that does not exist falls back to the main thread",
			in:      Input{Mail: &Mail{}, Sender: "ken@e-fun.example", Token: tok(7, 9, 0)},
			outcome: OutPublicComment, ticket: 7, role: RoleRequester, key: KeyToken},
		{name: "reply to a closed ticket opens a follow-up",
			in:      Input{Mail: &Mail{InReplyTo: []string{"amy-1@x.example"}}, Sender: "amy@x.example"},
			outcome: OutNewTicket, role: RoleRequester, key: KeyInReplyTo, followUp: 8},
		{name: "agent on a closed ticket still acts on it",
			in:      Input{Mail: &Mail{InReplyTo: []string{"amy-1@x.example"}}, Sender: agent.Email, Staff: agent},
			outcome: OutStaff, ticket: 8, role: RoleAgent, key: KeyInReplyTo},
		{name: "merged ticket's Message-ID lands in the survivor",
			in:      Input{Mail: &Mail{InReplyTo: []string{"old-merged@e-fun.test"}}, Sender: "ken@e-fun.example"},
			outcome: OutPublicComment, ticket: 20, role: RoleRequester, key: KeyInReplyTo},
		{name: "merged ticket's token lands in the survivor",
			in:      Input{Mail: &Mail{}, Sender: "ken@e-fun.example", Token: tok(3, 0, 0)},
			outcome: OutPublicComment, ticket: 20, role: RoleRequester, key: KeyToken},
		{name: "unknown tag number: new ticket",
			in:      Input{Mail: &Mail{Subject: "[#999] hi"}, Sender: "ken@e-fun.example", TagPrefix: "#"},
			outcome: OutNewTicket, role: RoleNobody, key: KeyNone},
		{name: "configured tag prefix",
			in:      Input{Mail: &Mail{Subject: "Re: [Certs #7] hi"}, Sender: "ken@e-fun.example", TagPrefix: "Certs #"},
			outcome: OutPublicComment, ticket: 7, role: RoleRequester, key: KeySubjectTag},
		{name: "another prefix is not our tag",
			in:      Input{Mail: &Mail{Subject: "Re: [#7] hi"}, Sender: "ken@e-fun.example", TagPrefix: "Certs #"},
			outcome: OutNewTicket, role: RoleNobody, key: KeyNone},
	}
	f := newFixture()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.in, f)
			if d.Outcome != c.outcome || d.Ticket != c.ticket || d.Thread != c.thread || d.Role != c.role ||
				d.Key != c.key || d.DefaultPrivate != c.private || d.Related != c.related || d.FollowUpOf != c.followUp {
				t.Errorf("Decide = %+v\nwant outcome=%s ticket=%d thread=%d role=%s key=%s private=%v related=%d followup=%d",
					d, c.outcome, c.ticket, c.thread, c.role, c.key, c.private, c.related, c.followUp)
			}
		})
	}
}

func TestSubjectTagAndClean(t *testing.T) {
	for _, c := range []struct {
		subject, prefix string
		n               uint64
		clean           string
	}{
		{"[#123] Printer", "#", 123, "Printer"},
		{"Re: [#123] Printer", "#", 123, "Printer"},
		{"AW: WG: [ #45 ] Drucker", "#", 45, "Drucker"},
		{"SV: VS: Re: x", "#", 0, "x"},
		{"回复: [#9] 打印机", "#", 9, "打印机"},
		{"답장: 회신: [#9] 프린터", "#", 9, "프린터"},
		{"RE: [Certs #77] cert", "Certs #", 77, "cert"},
		{"[#abc] nothing", "#", 0, "[#abc] nothing"},
		{"Issue #12 without brackets", "#", 0, "Issue #12 without brackets"},
		{"Re: Re: Re:", "#", 0, ""},
	} {
		if n := SubjectTag(c.subject, c.prefix); n != c.n {
			t.Errorf("SubjectTag(%q) = %d, want %d", c.subject, n, c.n)
		}
		if s := CleanSubject(c.subject, c.prefix); s != c.clean {
			t.Errorf("CleanSubject(%q) = %q, want %q", c.subject, s, c.clean)
		}
	}
}
