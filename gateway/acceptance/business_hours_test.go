package acceptance

import (
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("\"inside business hours\" and \"outside business hours\" hold for every rule kind on the ticket's calendar: a trigger sees the instant of the event; an automation is looked at when the calendar opens AND when it closes, so a rule on \"outside business hours\" fires at closing time, once per epoch (not again over a weekend and a holiday), and again at the next closing after an opening ended its epoch; New York's spring-forward moves the opening by an hour in UTC",
	"TestBusinessHoursConditionsAcrossWeekendHolidayAndDST")

// nyOffice: a New York office, Mon–Fri 09:00–17:00, Monday 2027-03-15 a
// holiday (the day after the clocks spring forward). One automation per
// side of the hours, and a trigger that answers new tickets opened after
// hours.
const nyOffice = Staff + `
[[calendar]]
name = "ny"
time_zone = "America/New_York"
hours = ["mon-fri 09:00-17:00"]
holidays = ["2027-03-15"]

[[mailbox]]
address = "support-ny@example.com"
name = "Certs New York"
group = "support"
calendar = "ny"

[[automation]]
name = "closed for the night"
all = ["status is open", "outside business hours"]
notify = ["victoria@certs.example"]
text = "An open ticket waits for the office to open."

[[automation]]
name = "office open"
all = ["status is open", "inside business hours"]
notify = ["victoria@certs.example"]
text = "An open ticket during office hours."

[[trigger]]
name = "after hours"
all = ["event is created", "outside business hours"]
notify = ["victoria@certs.example"]
text = "A ticket came in after hours."

[testing]
clock = "manual"
`

// firedAt are the instants (UTC) of automation name's firings on ticket n.
func firedAt(e *Env, n uint64, name string) []time.Time {
	var out []time.Time
	for _, c := range autoFired(e.Show(n), name) {
		out = append(out, c.Created.UTC())
	}
	return out
}

func wantInstants(t *testing.T, step, what string, got []time.Time, want ...string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		w, err := time.Parse(time.RFC3339, want[i])
		if err != nil {
			t.Fatal(err)
		}
		ok = got[i].Equal(w)
	}
	if !ok {
		t.Errorf("%s: %s fired at %v, want %v", step, what, got, want)
	}
}

func TestBusinessHoursConditionsAcrossWeekendHolidayAndDST(t *testing.T) {
	e := Start(t, Options{Config: nyOffice})
	// Friday 2027-03-12 15:00 EST: the office is open.
	e.MustCLI("clock", "set", "2027-03-12T15:00:00-05:00")
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support-ny@example.com"}, Subject: "Friday question", Body: "Please help.\n"})
	e.Eventually(30*time.Second, func() bool { return len(firedAt(e, 1, "office open")) == 1 }, func() string { return e.MustCLI("show", "1") })
	wantInstants(t, "Friday 15:00", `"office open"`, firedAt(e, 1, "office open"), "2027-03-12T20:00:00Z")

	// 17:00 EST the office closes: "closed for the night" fires then,
	// and "office open"'s epoch ends.
	e.MustCLI("clock", "set", "2027-03-12T16:59:00-05:00")
	wantInstants(t, "Friday 16:59", `"closed for the night"`, firedAt(e, 1, "closed for the night"))
	e.MustCLI("clock", "set", "2027-03-12T17:00:00-05:00")
	wantInstants(t, "Friday 17:00", `"closed for the night"`, firedAt(e, 1, "closed for the night"), "2027-03-12T22:00:00Z")

	// Saturday a second ticket: the trigger sees the instant of its
	// event (after hours); the first ticket's had none.
	e.MustCLI("clock", "set", "2027-03-13T10:00:00-05:00")
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support-ny@example.com"}, Subject: "Weekend question", Body: "Still there?\n"})
	e.Settle()
	if n := e.autoMails(vic, "after hours"); n != 1 {
		t.Errorf("victoria got %d 'after hours' trigger mails, want 1 (the Saturday ticket's)", n)
	}
	if got := autoFired(e.Show(2), "office open"); len(got) != 0 {
		t.Errorf("the Saturday ticket: \"office open\" fired %+v", got)
	}

	// The weekend, the spring-forward (Sunday 02:00) and Monday's holiday
	// pass: nothing more fires. Tuesday 09:00 EDT is 13:00 UTC (an hour
	// earlier than in winter): "office open" fires again for both tickets,
	// and the night's epoch ends.
	e.MustCLI("clock", "set", "2027-03-16T08:59:00-04:00")
	wantInstants(t, "Tuesday 08:59", `"closed for the night"`, firedAt(e, 1, "closed for the night"), "2027-03-12T22:00:00Z")
	wantInstants(t, "Tuesday 08:59", `"office open"`, firedAt(e, 1, "office open"), "2027-03-12T20:00:00Z")
	e.MustCLI("clock", "set", "2027-03-16T09:00:00-04:00")
	wantInstants(t, "Tuesday 09:00", `"office open"`, firedAt(e, 1, "office open"), "2027-03-12T20:00:00Z", "2027-03-16T13:00:00Z")
	wantInstants(t, "Tuesday 09:00 (ticket 2)", `"office open"`, firedAt(e, 2, "office open"), "2027-03-16T13:00:00Z")

	// Tuesday 17:00 EDT (21:00 UTC): the night's rule fires again, a new
	// epoch.
	e.MustCLI("clock", "set", "2027-03-16T18:00:00-04:00")
	wantInstants(t, "Tuesday 18:00", `"closed for the night"`, firedAt(e, 1, "closed for the night"), "2027-03-12T22:00:00Z", "2027-03-16T21:00:00Z")
	// Ticket 2 was opened at night: its night rule fired then (the
	// condition held at once), and again Tuesday at closing.
	wantInstants(t, "Tuesday 18:00 (ticket 2)", `"closed for the night"`, firedAt(e, 2, "closed for the night"), "2027-03-13T15:00:00Z", "2027-03-16T21:00:00Z")

	e.Settle()
	if n := e.autoMails(vic, "closed for the night"); n != 4 {
		t.Errorf("victoria got %d 'closed for the night' mails, want 4 (two tickets, two nights)", n)
	}
	if n := e.autoMails(vic, "office open"); n != 3 {
		t.Errorf("victoria got %d 'office open' mails, want 3", n)
	}
}
