package report

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
)

func TestPercentileNearestRank(t *testing.T) {
	for _, tc := range []struct {
		vals []int32
		p    float64
		want int32
	}{
		{[]int32{10}, 50, 10},
		{[]int32{10}, 90, 10},
		{[]int32{1, 2, 3, 4}, 50, 2},    // rank ceil(2) = 2: the lower middle
		{[]int32{1, 2, 3, 4, 5}, 50, 3}, // rank ceil(2.5) = 3
		{[]int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9},
		{[]int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 90, 10}, // ceil(9.9) = 10
	} {
		if got := Percentile(tc.vals, tc.p); got != tc.want {
			t.Errorf("p%v of %v = %d, want %d", tc.p, tc.vals, got, tc.want)
		}
	}
}

func TestChanges(t *testing.T) {
	c0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	at := c0.Add(2 * time.Hour)
	open := State{Exists: true, Status: model.StatusOpen, Group: "billing", Mailbox: "billing@example.com", Assignee: "kim@example.com", Created: c0}
	resolved := open
	resolved.Status = model.StatusResolved
	closed := open
	closed.Status = model.StatusClosed
	merged := closed
	merged.Merged = true
	responded := open
	responded.FirstResponse = c0.Add(time.Hour)
	breached := open
	breached.Breaches = []breach{{target: "first-reply", start: c0.Unix(), at: c0.Add(30 * time.Minute).Unix()}}
	kinds := func(evs []model.ReportEvent) string {
		var out []string
		for _, e := range evs {
			out = append(out, fmt.Sprintf("%s@%s/%s", e.Kind, e.At.Sub(c0), e.Agent))
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		name          string
		before, after State
		responder     string
		events        string
		dec, inc      int
	}{
		{"new ticket", State{}, open, "", "received@0s/kim@example.com", 0, 4},
		{"resolved", open, resolved, "", "resolved@2h0m0s/kim@example.com", 4, 4},
		{"resolved to closed is no second resolution", resolved, closed, "", "", 4, 0},
		{"reopened from closed", closed, open, "", "reopened@2h0m0s/kim@example.com", 0, 4},
		{"straight to closed counts as resolved", open, closed, "", "resolved@2h0m0s/kim@example.com", 4, 0},
		{"merged is no resolution", open, merged, "", "", 4, 0},
		{"first response by the responder", open, responded, "lee@example.com", "first_response@1h0m0s/lee@example.com", 0, 0},
		{"no change", open, open, "", "", 0, 0},
		{"an SLA breach is counted once", open, breached, "", "sla_breach@30m0s/kim@example.com", 0, 0},
		{"a recorded breach again is no new one", breached, breached, "", "", 0, 0},
	} {
		evs, dec, inc := Changes(7, tc.before, tc.after, at, tc.responder)
		if got := kinds(evs); got != tc.events || len(dec) != tc.dec || len(inc) != tc.inc {
			t.Errorf("%s: events %q dec %v inc %v; want %q, %d, %d", tc.name, got, dec, inc, tc.events, tc.dec, tc.inc)
		}
	}
}

func TestNeutralize(t *testing.T) {
	for in, want := range map[string]string{"=1+1": "'=1+1", "+82 10": "'+82 10", "-x": "'-x", "@SUM(A1)": "'@SUM(A1)",
		"\t=x": "'\t=x", "김철수": "김철수", "": "", "a=b": "a=b"} {
		if got := Neutralize(in); got != want {
			t.Errorf("Neutralize(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBuild runs a report over a real store: the figures of each row,
// the backlog at the period's end, the viewer's rows, and the CSV bytes.
func TestBuild(t *testing.T) {
	db, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg, err := config.Parse(`
data_dir = "x"
hostname = "h.example.com"
[reports]
time_zone = "Asia/Seoul"
[[mailbox]]
address = "support@example.com"
group = "기술지원"
[[group]]
name = "기술지원"
[[group]]
name = "=evil"
[[agent]]
email = "kim@example.com"
name = "김철수"
role = "agent"
groups = ["기술지원"]
[[agent]]
email = "boss@example.com"
role = "admin"
`)
	if err != nil {
		t.Fatal(err)
	}
	seoul, _ := time.LoadLocation("Asia/Seoul")
	mon := time.Date(2026, 11, 2, 0, 0, 0, 0, seoul) // a Monday
	// Ticket i arrives Monday 09:00+i h, answered after (i+1)*10 min,
	// resolved after (i+1) hours; ticket 4 stays open.
	for i := 0; i < 5; i++ {
		created := mon.Add(time.Duration(9+i) * time.Hour)
		id := uint64(i + 1)
		st := State{Exists: true, Status: model.StatusOpen, Group: "기술지원", Mailbox: "support@example.com", Assignee: "kim@example.com", Created: created}
		steps := []struct {
			at          time.Time
			before, aft State
		}{{created, State{}, st}}
		resp := st
		resp.FirstResponse = created.Add(time.Duration(i+1) * 10 * time.Minute)
		steps = append(steps, struct {
			at          time.Time
			before, aft State
		}{resp.FirstResponse, st, resp})
		if i < 4 {
			res := resp
			res.Status = model.StatusResolved
			steps = append(steps, struct {
				at          time.Time
				before, aft State
			}{created.Add(time.Duration(i+1) * time.Hour), resp, res})
		}
		for _, s := range steps {
			if err := db.Update(func(tx store.Tx) error { return Record(tx, id, s.before, s.aft, s.at, "kim@example.com") }); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Ratings: ticket 1 rated 2 then 5 (the 2 is withdrawn), ticket 2
	// rated 4, ticket 3 rated 1.
	rate := func(id uint64, created time.Time, old, rating int, oldAt, at time.Time) {
		t.Helper()
		st := State{Exists: true, Status: model.StatusResolved, Group: "기술지원", Mailbox: "support@example.com", Assignee: "kim@example.com", Created: created,
			FirstResponse: created.Add(time.Hour)}
		before, after := st, st
		before.Rating, before.RatedAt = old, oldAt
		after.Rating, after.RatedAt = rating, at
		if err := db.Update(func(tx store.Tx) error { return Record(tx, id, before, after, at, "") }); err != nil {
			t.Fatal(err)
		}
	}
	noon := mon.Add(20 * time.Hour)
	rate(1, mon.Add(9*time.Hour), 0, 2, time.Time{}, noon)
	rate(1, mon.Add(9*time.Hour), 2, 5, noon, noon.Add(time.Minute))
	rate(2, mon.Add(10*time.Hour), 0, 4, time.Time{}, noon)
	rate(3, mon.Add(11*time.Hour), 0, 1, time.Time{}, noon)
	var r *Report
	build := func(req Request) {
		t.Helper()
		if err := db.View(func(tx store.Tx) error {
			var err error
			r, err = Build(tx, cfg, req)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	build(Request{Period: "2026-11-02", By: ByAgents, Now: mon.AddDate(0, 0, 10)})
	if len(r.Rows) != 2 || r.Rows[1].Key != "kim@example.com" || r.Rows[1].Name != "김철수" {
		t.Fatalf("rows: %+v", r.Rows)
	}
	kim := r.Rows[1]
	// First responses 10..50 min: median (rank 3) 30, p90 (rank 5) 50.
	// Resolutions 60..240: median rank 2 = 120, p90 rank 4 = 240.
	if kim.Received != 5 || kim.Resolved != 4 || *kim.FirstResponse.CalendarMedian != 30 || *kim.FirstResponse.CalendarP90 != 50 ||
		*kim.Resolution.CalendarMedian != 120 || *kim.Resolution.CalendarP90 != 240 || kim.Backlog[model.StatusOpen] != 1 || kim.Backlog[model.StatusResolved] != 4 ||
		kim.CSATCount != 3 || int(*kim.CSATGoodPercent*10) != 666 {
		t.Fatalf("kim's row: %+v %+v %+v", kim, kim.FirstResponse, kim.Resolution)
	}
	// The next day's report counts the withdrawal of no rating of its own.
	build(Request{Period: "2026-11-03", By: ByAgents, Now: mon.AddDate(0, 0, 10)})
	if r.Rows[1].CSATCount != 0 {
		t.Fatalf("the next day: %d ratings", r.Rows[1].CSATCount)
	}
	// The agent's own mail: their row and their group's, nobody else's.
	build(Request{Period: "2026-11-02", Now: mon.AddDate(0, 0, 10), Viewer: cfg.Agent("kim@example.com")})
	var names []string
	for _, rw := range r.Rows {
		names = append(names, rw.Kind+":"+rw.Key)
	}
	if !slices.Equal(names, []string{"agent:kim@example.com", "group:기술지원"}) {
		t.Fatalf("kim's rows: %v", names)
	}
	b, err := r.CSV()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\xEF\xBB\xBFkind,key,name,period_from,")) || !bytes.Contains(b, []byte("\r\ngroup,기술지원,기술지원,2026-11-02T00:00:00+09:00,2026-11-03T00:00:00+09:00,5,4,0,5,30.0,50.0,30.0,50.0,4,120.0,240.0,120.0,240.0,1,0,0,0,4,0,0,0,0,3,66.7\r\n")) {
		t.Fatalf("CSV:\n%q", b)
	}
	// Groups, as the admin: a group named like a formula is neutralized.
	build(Request{Period: "2026-11-02", By: ByGroups, Now: mon.AddDate(0, 0, 10)})
	b, _ = r.CSV()
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte(BOM)))).ReadAll()
	if err != nil || len(recs) != 3 || recs[1][1] != "'=evil" || recs[1][2] != "'=evil" {
		t.Fatalf("groups CSV %v: %q", err, b)
	}
	// Backlog at the end of the previous day: nothing yet.
	build(Request{Period: "2026-11-01", By: ByGroups, Now: mon.AddDate(0, 0, 10)})
	if r.Rows[1].Backlog[model.StatusOpen] != 0 || r.Rows[1].Received != 0 {
		t.Fatalf("the day before: %+v", r.Rows[1])
	}
	if _, _, err := Period(cfg, "fortnight", mon); err == nil {
		t.Fatal("a bad period was accepted")
	}
}

// TestBackfill: tickets written before the index get their history once;
// a second run (a restart) adds nothing.
func TestBackfill(t *testing.T) {
	db, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg, err := config.Parse("data_dir = \"x\"\nhostname = \"h.example.com\"\n[[group]]\nname = \"g\"\n[[mailbox]]\naddress = \"s@example.com\"\ngroup = \"g\"\n")
	if err != nil {
		t.Fatal(err)
	}
	c0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	at := func(h int) *time.Time { x := c0.Add(time.Duration(h) * time.Hour); return &x }
	tks := []*model.Ticket{
		{Status: model.StatusClosed, Group: "g", Assignee: "a@x", Created: c0, ResolvedAt: at(2), ClosedAt: at(50)},
		{Status: model.StatusPending, Group: "g", Created: *at(1), Updated: *at(3)},
		{Status: model.StatusResolved, Group: "g", Assignee: "a@x", Created: *at(4), ResolvedAt: at(10)},
		{Status: model.StatusClosed, Group: "g", Created: *at(5), Updated: *at(6), MergedInto: 1},
	}
	if err := db.Update(func(tx store.Tx) error {
		for _, tk := range tks {
			if err := tx.NewTicket(tk); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for run := 0; run < 2; run++ {
		n, err := Backfill(db, nil, 3)
		if err != nil || n != []int{4, 0}[run] {
			t.Fatalf("backfill run %d: %d tickets, %v", run, n, err)
		}
	}
	var r *Report
	db.View(func(tx store.Tx) error {
		r, err = Build(tx, cfg, Request{Period: "2026-11-02", By: ByGroups, Now: c0.AddDate(0, 0, 30)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	g := r.Rows[0]
	// At the day's end: #1 resolved (closed two days later), #2 pending,
	// #3 resolved, #4 merged away.
	if g.Received != 4 || g.Resolved != 2 || *g.Resolution.CalendarMedian != 120 || g.Backlog[model.StatusResolved] != 2 || g.Backlog[model.StatusPending] != 1 || g.Backlog[model.StatusOpen] != 0 {
		t.Fatalf("group row after the backfill: %+v %+v", g, g.Resolution)
	}
}

// TestBackfillReplaysStatusLog: a ticket that logged its status changes
// gets every resolution and reopen back from the log (issue 16 item 4),
// by the assignee it has now; one without the log gets its last state.
func TestBackfillReplaysStatusLog(t *testing.T) {
	db, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg, err := config.Parse("data_dir = \"x\"\nhostname = \"h.example.com\"\n[[group]]\nname = \"g\"\n[[mailbox]]\naddress = \"s@example.com\"\ngroup = \"g\"\n[[agent]]\nemail = \"a@x.example\"\nrole = \"agent\"\ngroups = [\"g\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	c0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return c0.Add(time.Duration(m) * time.Minute) }
	ptr := func(x time.Time) *time.Time { return &x }
	logged := &model.Ticket{Status: model.StatusResolved, Group: "g", Mailbox: "s@example.com", Assignee: "a@x.example",
		Created: c0, Updated: at(300), ResolvedAt: ptr(at(300).Add(400 * time.Millisecond))}
	// Resolved after 1 hour, reopened by the customer, pending, resolved
	// again after 5 hours.
	for _, m := range []struct {
		min int
		s   string
	}{{60, model.StatusResolved}, {120, model.StatusOpen}, {180, model.StatusPending}, {300, model.StatusResolved}} {
		logged.LogStatus(m.s, at(m.min))
	}
	unlogged := &model.Ticket{Status: model.StatusResolved, Group: "g", Mailbox: "s@example.com", Assignee: "a@x.example",
		Created: at(10), Updated: at(70), ResolvedAt: ptr(at(70))}
	if err := db.Update(func(tx store.Tx) error {
		for _, tk := range []*model.Ticket{logged, unlogged} {
			if err := tx.NewTicket(tk); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := Backfill(db, nil, 10); err != nil || n != 2 {
		t.Fatalf("backfill: %d tickets, %v", n, err)
	}
	var r *Report
	db.View(func(tx store.Tx) error {
		r, err = Build(tx, cfg, Request{Period: "2026-11-02", By: ByAgents, Now: c0.AddDate(0, 0, 30)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	a := r.Rows[0]
	// Resolutions: 60 minutes and 300 (the logged ticket twice), 60 (the
	// other): median 60, p90 300.
	if a.Key != "a@x.example" || a.Received != 2 || a.Resolved != 3 || a.Reopened != 1 ||
		*a.Resolution.CalendarMedian != 60 || *a.Resolution.CalendarP90 != 300 || a.Backlog[model.StatusResolved] != 2 {
		t.Fatalf("agent row after the backfill: %+v %+v", a, a.Resolution)
	}
	// The backlog in between: at 2:30 the logged ticket was open again.
	db.View(func(tx store.Tx) error {
		r, err = Build(tx, cfg, Request{Period: "2026-11-02", By: ByAgents, Now: at(150)})
		return err
	})
	if a := r.Rows[0]; err != nil || a.Backlog[model.StatusOpen] != 1 || a.Backlog[model.StatusResolved] != 1 || a.Reopened != 1 {
		t.Fatalf("agent row at 11:30: %+v, %v", a, err)
	}
}

// TestDurationsPercentiles: the block store gives the nearest-rank
// percentiles Percentile gives on one sorted slice, across several
// blocks, with business time kept apart only once it differs.
func TestDurationsPercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 10, blockLen - 1, blockLen, blockLen + 1, 3*blockLen + 17} {
		for _, differ := range []int{-1, 0, n / 2} { // the index from which biz differs (-1: never)
			var d durations
			var cal, biz []int32
			for i := 0; i < n; i++ {
				c := int32(rng.IntN(300000))
				b := c
				if differ >= 0 && i >= differ {
					b = c / 3
				}
				d.add(c, b)
				cal, biz = append(cal, c), append(biz, b)
			}
			got := d.times()
			slices.Sort(cal)
			slices.Sort(biz)
			want := func(v []int32, p float64) float64 { return float64(Percentile(v, p)) / 60 }
			if got.Count != n || *got.CalendarMedian != want(cal, 50) || *got.CalendarP90 != want(cal, 90) ||
				*got.BusinessMedian != want(biz, 50) || *got.BusinessP90 != want(biz, 90) {
				t.Errorf("n %d, differ %d: %+v: cal %v/%v biz %v/%v, want %v/%v %v/%v", n, differ, got,
					*got.CalendarMedian, *got.CalendarP90, *got.BusinessMedian, *got.BusinessP90,
					want(cal, 50), want(cal, 90), want(biz, 50), want(biz, 90))
			}
		}
	}
	var empty durations
	if tm := empty.times(); tm.Count != 0 || tm.CalendarMedian != nil {
		t.Errorf("no values: %+v", tm)
	}
}
