package command

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func problemStrings(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%d %s", p.Line, p.Message))
	}
	return out
}

func TestValidateValid(t *testing.T) {
	valid := []string{
		"#status open", "#status pending", "#status waiting-customer", "#status waiting-third-party",
		"#status resolved", "#status closed", "#status solved", "#status on-hold", "#status Waiting Customer",
		"#status waiting_third_party", "#STATUS PENDING",
		"#open", "#pending", "#resolved", "#solved", "#closed", "#on-hold", "#waiting-customer",
		"#assign alice", "#assign me", "#assign none", "#assign alice@certs.example", "#assign Victoria Smith",
		"#group billing",
		"#priority low", "#priority normal", "#priority high", "#priority urgent", "#priority medium", "#priority URGENT",
		"#type question", "#type incident", "#type problem", "#type task",
		"#tag +a -b c", "#tag vip,urgent",
		"#cc +a@x.example -b@y.example c@z.example", "#cc <vendor@service>",
		"#follow", "#unfollow", "#follower +bob -carol dave",
		"#reply", "#note", "#note\n#notify bob carol@certs.example",
		"#requester ken@efun.example", "#requester <ken@efun.example>",
		"#requester Quinn <quinn@q.example>", `#requester "Quinn Q." <quinn@q.example>`, "#requester: Quinn <quinn@q.example>",
		"#forward finance@certs.example", "#forward a@x.example, b@y.example",
		"#forward a@x.example\n#include none", "#forward a@x.example\n#include last", "#forward a@x.example\n#include ALL",
		"#include all\n#forward a@x.example",
		"#forward a@x.example\n#subject Funds for e-Fun", "#child New cert", "#child\n#subject New cert",
		"#done",
		"#merge 12", "#merge #12 cc", "#merge 12 CC",
		"#parent 7", "#macro refund", "#available", "#away", "#ticket 42", "#ticket #42",
		"#list mine", "#list unassigned", "#list group", "#list open", "#list overdue", "#list due", "#list due 8h", "#list stale",
		"#spam", "#send",
		"#report", "#report month", "#report last week", "#report 30d", "#report 4w", "#report 2025",
		"#report 2025-05", "#report 2025-05-01", "#report 2025-05-01..2025-05-31", "#report last week groups", "#report tickets", "#report 2026-11 mailboxes", "#report 30d agent",
		"#help", "#end", "#end\n#bogus line after end is text",
		"#pending\n#status pending", "#solved\n#status resolved", "#tag a\n#tag b",
		"#assign me\n#assign ME",
		"Hello, no commands at all",
	}
	for _, in := range valid {
		if ps := Validate(Parse(in), RoleAgent); len(ps) != 0 {
			t.Errorf("%q: unexpected problems %q", in, problemStrings(ps))
		}
	}
}

func TestValidateInvalid(t *testing.T) {
	tests := []struct {
		in         string
		want       string // "line message" of the only problem
		suggestion string
	}{
		// unknown commands
		{"#asign alise", "1 unknown command #asign; did you mean #assign?", "assign"},
		{"#stauts closed", "1 unknown command #stauts; did you mean #status?", "status"},
		{"#pendng", "1 unknown command #pendng; did you mean #pending?", "pending"},
		{"#Priorty high", "1 unknown command #priorty; did you mean #priority?", "priority"},
		{"#unfolow", "1 unknown command #unfolow; did you mean #unfollow?", "unfollow"},
		{"#frobnicate", "1 unknown command #frobnicate; send #help for the list of commands", ""},
		{"#Summary of the call", "1 unknown command #summary; send #help for the list of commands", ""},
		// status
		{"#status", "1 #status needs a status: open, pending, waiting-customer, waiting-third-party, resolved or closed", ""},
		{"#status pendng", `1 unknown status "pendng"; did you mean pending?`, "pending"},
		{"#STATUS Pendng", `1 unknown status "pendng"; did you mean pending?`, "pending"},
		{"#status solvd", `1 unknown status "solvd"; did you mean solved?`, "solved"},
		{"#status wating customer", `1 unknown status "wating customer"; did you mean waiting-customer?`, "waiting-customer"},
		{"#status new", `1 unknown status "new"; use open, pending, waiting-customer, waiting-third-party, resolved or closed`, ""},
		{"#status pending now", "1 too many arguments: #status takes one of open, pending, waiting-customer, waiting-third-party, resolved or closed", ""},
		{"#pending now", "1 #pending takes no arguments", ""},
		// assign, group, macro
		{"#assign", "1 #assign needs an agent (address, name or alias), me or none", ""},
		{"#group", "1 #group needs a group name", ""},
		{"#macro", "1 #macro needs a macro name", ""},
		// priority, type
		{"#priority hihg", `1 unknown priority "hihg"; did you mean high?`, "high"},
		{"#priority", "1 #priority needs a priority: low, normal, high or urgent", ""},
		{"#priority high urgent", "1 too many arguments: #priority takes one of low, normal, high or urgent", ""},
		{"#priority critical", `1 unknown priority "critical"; use low, normal, high or urgent`, ""},
		{"#type incdent", `1 unknown type "incdent"; did you mean incident?`, "incident"},
		{"#type bug", `1 unknown type "bug"; use question, incident, problem or task`, ""},
		// tag, cc, follower, notify
		{"#tag", "1 #tag needs tags (+add -remove)", ""},
		{"#tag +", `1 invalid tag "+"`, ""},
		{"#tag " + strings.Repeat("x", 101), `1 invalid tag "` + strings.Repeat("x", 101) + `"`, ""},
		{"#tag +a -A", `1 "A" is both added and removed`, ""},
		{"#cc", "1 #cc needs addresses (+add -remove)", ""},
		{"#cc +bob", `1 invalid address "+bob"`, ""},
		{"#cc a@x.example bad1 -bad2 bad3 bad4", `1 invalid addresses "bad1", "-bad2", "bad3" and 1 more`, ""},
		{"#cc +a@x.example -a@x.example", `1 "a@x.example" is both added and removed`, ""},
		{"#follower", "1 #follower needs agents (+add -remove)", ""},
		{"#follower +", `1 invalid agent "+"`, ""},
		{"#note\n#notify", "2 #notify needs agents to notify", ""},
		// no-argument commands
		{"#follow me", "1 #follow takes no arguments", ""},
		{"#unfollow now", "1 #unfollow takes no arguments", ""},
		{"#reply now", "1 #reply takes no arguments", ""},
		{"#note please", "1 #note takes no arguments", ""},
		{"#done now", "1 #done takes no arguments", ""},
		{"#available today", "1 #available takes no arguments", ""},
		{"#away today", "1 #away takes no arguments", ""},
		{"#send it", "1 #send takes no arguments", ""},
		{"#help me", "1 #help takes no arguments", ""},
		{"#end now", "1 #end takes no arguments", ""},
		// addresses
		{"#requester", "1 #requester needs an address", ""},
		{"#requester a@x.example b@y.example", "1 too many arguments: #requester takes an address", ""},
		{"#requester ken", `1 invalid address "ken"`, ""},
		{"#requester ken@", `1 invalid address "ken@"`, ""},
		{"#requester Quinn <quinn@q.example> <ann@x.example>", "1 too many arguments: #requester takes an address", ""},
		{"#forward", "1 #forward needs one or more external addresses", ""},
		{"#forward finance", `1 invalid address "finance"`, ""},
		{"#forward a@b@c", `1 invalid address "a@b@c"`, ""},
		// include, subject, child
		{"#forward a@x.example\n#include some", `2 unknown include value "some"; use none, last or all`, ""},
		{"#forward a@x.example\n#include al", `2 unknown include value "al"; did you mean all?`, "all"},
		{"#forward a@x.example\n#include", "2 #include needs a value: none, last or all", ""},
		{"#forward a@x.example\n#subject", "2 #subject needs a subject", ""},
		{"#forward a@x.example\n#subject " + strings.Repeat("é", 251), "2 subject too long (at most 250 characters)", ""},
		{"#child", "1 #child needs a subject: #child <subject>, or #subject on its own line", ""},
		// numbers
		{"#merge", "1 #merge needs a ticket number", ""},
		{"#merge abc", `1 "abc" is not a ticket number`, ""},
		{"#merge 0", `1 "0" is not a ticket number`, ""},
		{"#merge -3", `1 "-3" is not a ticket number`, ""},
		{"#merge 99999999999999999999", `1 "99999999999999999999" is not a ticket number`, ""},
		{"#merge 12 please", `1 unexpected "please" after the ticket number; only cc may follow`, ""},
		{"#merge 12 cc now", `1 unexpected "cc now" after the ticket number; only cc may follow`, ""},
		{"#parent", "1 #parent needs a ticket number", ""},
		{"#parent 1 2", "1 too many arguments: #parent takes a ticket number", ""},
		{"#ticket x", `1 "x" is not a ticket number`, ""},
		{"#ticket 1.5", `1 "1.5" is not a ticket number`, ""},
		// list, spam, report
		{"#list", "1 #list needs a list: mine, unassigned, group, open, overdue, due or stale", ""},
		{"#list unasigned", `1 unknown list "unasigned"; did you mean unassigned?`, "unassigned"},
		{"#list due soon", `1 #list due takes a business time such as 8h or 30m, not "soon"`, ""},
		{"#list all", `1 unknown list "all"; use mine, unassigned, group, open, overdue, due or stale`, ""},
		{"#spam domian", `1 unexpected "domian"; did you mean domain?`, "domain"},
		{"#spam foo", `1 unexpected "foo"; #spam takes nothing or domain`, ""},
		{"#spam domain now", "1 too many arguments: #spam takes nothing or domain", ""},
		{"#spam domain", "1 #spam domain is for admins only", ""},
		{"#report mnth", `1 unknown period "mnth"; did you mean month?`, "month"},
		{"#report fortnight", `1 unknown period "fortnight"; use ` + PeriodHelp, ""},
		{"#report 2025-13", `1 unknown period "2025-13"; use ` + PeriodHelp, ""},
		{"#report a b c", "1 too many arguments: #report takes a period (" + PeriodHelp + ") and then agents, groups, mailboxes or tickets", ""},
		{"#report week agents tickets", "1 too many arguments: #report takes a period (" + PeriodHelp + ") and then agents, groups, mailboxes or tickets", ""},
		{"#report fortnight groups", `1 unknown period "fortnight"; use ` + PeriodHelp, ""},
	}
	for _, tt := range tests {
		ps := Validate(Parse(tt.in), RoleAgent)
		got := problemStrings(ps)
		if !reflect.DeepEqual(got, []string{tt.want}) {
			t.Errorf("%q:\n got %q\nwant %q", tt.in, got, tt.want)
			continue
		}
		if ps[0].Suggestion != tt.suggestion {
			t.Errorf("%q: suggestion %q, want %q", tt.in, ps[0].Suggestion, tt.suggestion)
		}
	}
}

func TestValidateTooManyArguments(t *testing.T) {
	in := "#cc " + strings.Repeat("a@x.example ", MaxArgs+1)
	got := problemStrings(Validate(Parse(in), RoleAgent))
	want := []string{fmt.Sprintf("1 too many arguments (at most %d)", MaxArgs)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestValidateTooManyCommands(t *testing.T) {
	in := strings.Repeat("#follow\n", MaxCommands+5)
	got := problemStrings(Validate(Parse(in), RoleAgent))
	want := []string{fmt.Sprintf("%d too many commands in one mail (at most %d); nothing after this line was read", MaxCommands+1, MaxCommands)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

const lightMsg = " is not allowed for light agents (they may use #note, #notify, #follow, #unfollow, #list and #help)"

func TestValidateRoles(t *testing.T) {
	tests := []struct {
		in   string
		role Role
		want []string
	}{
		{"#note\n#notify bob\n#follow\n#list mine\n#help\n#end", RoleLight, nil},
		{"#unfollow", RoleLight, nil},
		{"#reply", RoleLight, []string{"1 #reply" + lightMsg}},
		{"#status pending", RoleLight, []string{"1 #status" + lightMsg}},
		{"#pending", RoleLight, []string{"1 #pending" + lightMsg}},
		{"#assign me", RoleLight, []string{"1 #assign" + lightMsg}},
		{"#tag x", RoleLight, []string{"1 #tag" + lightMsg}},
		{"#macro x", RoleLight, []string{"1 #macro" + lightMsg}},
		{"#spam", RoleLight, []string{"1 #spam" + lightMsg}},
		{"#forward a@x.example", RoleLight, []string{"1 #forward" + lightMsg}},
		{"#available", RoleLight, []string{"1 #available" + lightMsg}},
		{"#report", RoleLight, []string{"1 #report" + lightMsg}},
		{"#note\n#cc a@x.example\n#follower +bob", RoleLight, []string{"2 #cc" + lightMsg, "3 #follower" + lightMsg}},
		{"#nte", RoleLight, []string{"1 unknown command #nte; did you mean #note?"}},
		{"#list mne", RoleLight, []string{`1 unknown list "mne"; did you mean mine?`}},
		{"#status pending", "", []string{"1 #status" + lightMsg}},
		{"#status pending", "root", []string{"1 #status" + lightMsg}},
		{"#spam domain", RoleAdmin, nil},
		{"#spam domain", RoleAgent, []string{"1 #spam domain is for admins only"}},
		{"#status pending\n#assign me\n#forward a@x.example", RoleAdmin, nil},
	}
	for _, tt := range tests {
		got := problemStrings(Validate(Parse(tt.in), tt.role))
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q as %q:\n got %q\nwant %q", tt.in, tt.role, got, tt.want)
		}
	}
}

func TestValidateConflicts(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"#reply\n#note", []string{"2 conflicts with #reply on line 1: a mail is either a public reply or a private note"}},
		{"#note\n\n#reply", []string{"3 conflicts with #note on line 1: a mail is either a public reply or a private note"}},
		{"#status pending\n#status closed", []string{"2 conflicts with #status pending on line 1"}},
		{"#pending\n#solved", []string{"2 conflicts with #pending on line 1"}},
		{"#assign alice\n#assign bob", []string{"2 conflicts with #assign alice on line 1"}},
		{"#priority high\n#priority low", []string{"2 conflicts with #priority high on line 1"}},
		{"#requester a@x.example\n#requester b@x.example", []string{"2 conflicts with #requester a@x.example on line 1"}},
		{"#follow\n#unfollow", []string{"2 conflicts with #follow on line 1"}},
		{"#available\n#away", []string{"2 conflicts with #available on line 1"}},
		{"#forward a@x.example\n#done", []string{"2 conflicts with #forward a@x.example on line 1: #done closes a side thread, #forward starts one"}},
		{"#done\n#forward a@x.example", []string{"2 conflicts with #done on line 1: #done closes a side thread, #forward starts one"}},
		{"#forward a@x.example\n#child C", []string{"2 conflicts with #forward a@x.example on line 1: send the side thread and the child ticket separately"}},
		{"#note\n#notify bob\n#reply", []string{
			"3 conflicts with #note on line 1: a mail is either a public reply or a private note",
			"3 conflicts with #notify bob on line 2: #notify is for private notes"}},
		{"#merge 5\n#status closed", []string{"2 conflicts with #merge 5 on line 1: #merge closes this ticket"}},
		{"#merge 5\n#parent 6", []string{"2 conflicts with #merge 5 on line 1"}},
		{"#spam\n#reply", []string{"2 conflicts with #spam on line 1: #spam closes the ticket without a reply"}},
		{"#spam\n#merge 4", []string{"2 conflicts with #spam on line 1"}},
		{"#include all", []string{"1 #include needs #forward in the same mail"}},
		{"#child C\n#include all", []string{"2 #include needs #forward in the same mail"}},
		{"#subject Hello", []string{"1 #subject needs #forward or #child in the same mail"}},
		{"#child C\n#subject S", []string{"2 #child already gives the subject"}},
		{"#forward a@x.example\n#subject A\n#subject B", []string{"3 conflicts with #subject A on line 2"}},
		// an invalid line takes part in no conflict
		{"#status pendng\n#status closed", []string{`1 unknown status "pendng"; did you mean pending?`}},
		// problems come in line order
		{"#include all\n#status pendng", []string{"1 #include needs #forward in the same mail", `2 unknown status "pendng"; did you mean pending?`}},
		{"#asign alise\n#priority hihg\n#reply\n#note", []string{
			"1 unknown command #asign; did you mean #assign?",
			`2 unknown priority "hihg"; did you mean high?`,
			"4 conflicts with #reply on line 3: a mail is either a public reply or a private note"}},
	}
	for _, tt := range tests {
		got := problemStrings(Validate(Parse(tt.in), RoleAgent))
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestProblemString(t *testing.T) {
	ps := Validate(Parse("#Solvd"), RoleAgent)
	if len(ps) != 1 || ps[0].String() != "#solvd: unknown command #solvd; did you mean #solved?" {
		t.Errorf("got %q", problemStrings(ps))
	}
}

func TestSuggest(t *testing.T) {
	agents := []string{"alice", "bob", "carol", "Victoria"}
	tests := []struct {
		word  string
		cands []string
		want  string
	}{
		{"alise", agents, "alice"},
		{"ALISE", agents, "alice"},
		{"victoira", agents, "Victoria"},
		{"bob", agents, "bob"},
		{"bbo", agents, "bob"},
		{"zed", agents, ""},
		{"", agents, ""},
		{"alise", nil, ""},
		{"hihg", priorities, "high"},
		{"pendng", statuses, "pending"},
		{"prio", Names(), "priority"},         // unique prefix
		{"fo", Names(), ""},                   // too short for a prefix, too far for an edit
		{"fol", Names(), ""},                  // prefix of follow and follower
		{"ab", []string{"abc", "abd"}, "abc"}, // tie: the earlier candidate
		{"abcdefgh", []string{"abcdefxy"}, "abcdefxy"},
		{"abcdefghi", []string{"abcxyzghi"}, "abcxyzghi"},
		{"abcd", []string{"abxy"}, ""},
		{strings.Repeat("a", 65), []string{strings.Repeat("a", 64)}, ""},
		{"aaa", []string{strings.Repeat("a", 65), "aab"}, "aab"},
		{"안녕하세여", []string{"안녕하세요"}, "안녕하세요"},
	}
	for _, tt := range tests {
		if got := Suggest(tt.word, tt.cands); got != tt.want {
			t.Errorf("Suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"ken@efun.example", "ken@efun.example", true},
		{"<ken@efun.example>", "ken@efun.example", true},
		{"vendor@service", "vendor@service", true},
		{"Ken.O'Neil+x@efun.example", "Ken.O'Neil+x@efun.example", true},
		{"ken", "", false},
		{"@efun.example", "", false},
		{"ken@", "", false},
		{"a@b@c", "", false},
		{"Ken <ken@efun.example>", "", false},
		{"ken@efun.example,", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := ParseAddr(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseAddr(%q) = %q, %v", tt.in, got, ok)
		}
	}
}

func TestTicketNumber(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"1", 1, true}, {"#42", 42, true}, {"18446744073709551615", 0, false},
		{"9999999999999999999", 9999999999999999999, true},
		{"0", 0, false}, {"", 0, false}, {"#", 0, false}, {"+1", 0, false}, {"1e3", 0, false}, {"١٢", 0, false},
	}
	for _, tt := range tests {
		got, ok := TicketNumber(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("TicketNumber(%q) = %d, %v", tt.in, got, ok)
		}
	}
}

func TestValueLists(t *testing.T) {
	if got := Statuses(); !reflect.DeepEqual(got, []string{"open", "pending", "waiting-customer", "waiting-third-party", "resolved", "closed"}) {
		t.Errorf("Statuses = %q", got)
	}
	p := Priorities()
	p[0] = "mutated"
	if Priorities()[0] != "low" {
		t.Error("Priorities shares its backing array")
	}
	if len(Types()) != 4 || len(Includes()) != 3 || len(Lists()) != 7 || len(Names()) != 32 {
		t.Errorf("lists: %q %q %q %q", Types(), Includes(), Lists(), Names())
	}
}
