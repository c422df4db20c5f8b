package acceptance

import (
	"fmt"
	"testing"
	"time"
)

// Outside-in tests of responses (issue 14 item 2): what counts as an
// agent's response to the requester, recorded on the ticket as
// first_response_at, last_response_at, responses, and the customer side
// (last_customer_at, awaiting_since) in `show --json`.

var _ = claim("a response is a public reply from a human agent that reaches the requester (main thread, #reply from a side thread; a held reply when #send releases it), timed when sent: `show --json` has first_response_at, last_response_at, responses; private notes, side-thread messages, acknowledgements and trigger mail are not; a customer comment after a response sets awaiting_since (a bare thanks does not), the next response clears it; a ticket an agent opens has on_behalf",
	"TestResponsesWhatCounts")

// responsesConfig: Staff on a manual clock, with a trigger that mails
// the group whenever the ticket is updated (trigger mail is no response).
const responsesConfig = Staff + `
[[trigger]]
name = "ping staff"
any = ["event is note", "event is command", "event is side-message"]
notify = ["group"]
text = "The ticket changed."

[testing]
clock = "manual"
`

// respTimes is the response part of `show N --json`.
type respTimes struct {
	FirstResponseAt *time.Time `json:"first_response_at"`
	LastResponseAt  *time.Time `json:"last_response_at"`
	Responses       int        `json:"responses"`
	LastCustomerAt  *time.Time `json:"last_customer_at"`
	AwaitingSince   *time.Time `json:"awaiting_since"`
	OnBehalf        bool       `json:"on_behalf"`
}

func (e *Env) responses(n uint64) respTimes {
	e.T.Helper()
	var r respTimes
	e.JSON(&r, "show", fmt.Sprint(n))
	return r
}

func TestResponsesWhatCounts(t *testing.T) {
	e := Start(t, Options{Config: responsesConfig})
	t0 := time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)
	e.MustCLI("clock", "set", t0.Format(time.RFC3339))
	at := func(min int) time.Time {
		e.T.Helper()
		tm := t0.Add(time.Duration(min) * time.Minute)
		e.MustCLI("clock", "set", tm.Format(time.RFC3339))
		return tm
	}
	check := func(step string, want respTimes) {
		t.Helper()
		got := e.responses(1)
		eq := func(a, b *time.Time) bool { return (a == nil && b == nil) || (a != nil && b != nil && a.Equal(*b)) }
		if got.Responses != want.Responses || !eq(got.FirstResponseAt, want.FirstResponseAt) || !eq(got.LastResponseAt, want.LastResponseAt) ||
			!eq(got.LastCustomerAt, want.LastCustomerAt) || !eq(got.AwaitingSince, want.AwaitingSince) || got.OnBehalf {
			t.Errorf("%s:\n got  %s\n want %s", step, fmtResp(got), fmtResp(want))
		}
	}
	ptr := func(t time.Time) *time.Time { return &t }

	// Ken opens the ticket: an acknowledgement goes out, no response.
	n1 := e.Open(kenFr, "Install the certificate", "Please install it on www.", vic)
	vn := e.Find(venkat, "Please install it on www.")
	if e.Find(ken, "Install the certificate") == nil {
		t.Fatal("Ken got no acknowledgement")
	}
	want := respTimes{LastCustomerAt: ptr(t0)}
	check("new ticket with acknowledgement", want)

	// A private note (the trigger mails the group about the update).
	at(10)
	e.Reply(vicFr, n1, "#note\nChecking with the vendor first.\n")
	check("private note and trigger mail", want)
	if count(e, vic, "The ticket changed.") == 0 {
		t.Fatal("the trigger mailed nobody: the test would prove nothing about trigger mail")
	}

	// A side thread with a vendor, and the vendor's answer.
	at(20)
	e.Reply(vicFr, n1, "#assign me\n#forward "+vendor+"\nIs the SSL order paid?\n")
	v1 := e.Find(vendor, "Is the SSL order paid?")
	at(30)
	answerAs(e, "Orders <"+vendor+">", v1, "Paid yesterday.\n")
	check("side-thread messages", want)
	s1 := e.Find(vic, "Paid yesterday.")

	// #reply from the side thread reaches Ken: the first response.
	t4 := at(40)
	answerAs(e, vicFr, s1, "#reply\nHi Ken, the order is paid; installing now.\n")
	if count(e, ken, "installing now") != 1 {
		t.Fatalf("Ken did not get the #reply")
	}
	want.FirstResponseAt, want.LastResponseAt, want.Responses = ptr(t4), ptr(t4), 1
	check("#reply from a side thread", want)

	// Ken writes twice: the next-reply wait starts at the first.
	t5 := at(50)
	kn := e.Find(ken, "installing now")
	answerAs(e, kenFr, kn, "Which server will you use?\n")
	t6 := at(55)
	answerAs(e, kenFr, kn, "Also, please use the new key.\n")
	want.LastCustomerAt, want.AwaitingSince = ptr(t6), ptr(t5)
	check("two customer comments", want)

	// Victoria answers on the main thread.
	t7 := at(60)
	e.Reply(vicFr, e.Find(vic, "Also, please use the new key."), "We use www2 with the new key.\n")
	want.LastResponseAt, want.Responses, want.AwaitingSince = ptr(t7), 2, nil
	check("main-thread reply", want)

	// Venkat answers his old notification: held by the collision guard,
	// no response until #send releases it.
	at(70)
	e.Reply("Venkat <venkat@certs.example>", vn, "Ken, it is installed.\n")
	held := e.Find(venkat, "Held:")
	if held == nil {
		t.Fatal("Venkat's late reply was not held")
	}
	check("held reply", want)
	t9 := at(80)
	e.Reply("Venkat <venkat@certs.example>", held, "#send\n")
	if count(e, ken, "it is installed") != 1 {
		t.Fatal("#send did not release the held reply to Ken")
	}
	want.LastResponseAt, want.Responses = ptr(t9), 3
	check("held reply released by #send", want)

	// A bare thanks asks for nothing: no next-reply wait.
	t10 := at(90)
	answerAs(e, kenFr, e.Find(ken, "it is installed"), "Thanks!\n")
	want.LastCustomerAt = ptr(t10)
	check("customer's thanks", want)

	// A ticket an agent opens on a customer's behalf.
	at(100)
	e.Fresh(vicFr, "Renewal reminder", "#requester ken@e-fun.example\nCall Ken about the renewal.\n")
	if r := e.responses(2); !r.OnBehalf || r.Responses != 0 || r.FirstResponseAt != nil {
		t.Errorf("ticket opened on behalf: %s", fmtResp(r))
	}
}

func fmtResp(r respTimes) string {
	f := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format("15:04")
	}
	return "first=" + f(r.FirstResponseAt) + " last=" + f(r.LastResponseAt) + " n=" + fmt.Sprint(r.Responses) +
		" customer=" + f(r.LastCustomerAt) + " awaiting=" + f(r.AwaitingSince)
}
