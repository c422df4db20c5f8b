package acceptance

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var (
	_ = claim("#report [period] [agents|groups|mailboxes|tickets] mails the report as a CSV attachment (UTF-8 with a byte-order mark, a header row, RFC 4180 quoting, CRLF) with the transcript: an agent gets their own row and their groups' rows, an admin every row; resolved, reopened and received counts, resolution time as median and p90 by nearest rank in business minutes (the group's calendar) and calendar minutes, and the backlog by status at the period's end match what a week of tickets on the manual clock makes, computed independently; Korean agent, group and mailbox names arrive intact",
		"TestReportWeekByMail")
	_ = claim("report cells that a spreadsheet would run as a formula (starting with =, +, -, @) are neutralized with a leading apostrophe, in #report's tickets CSV and in helpdesk export --format csv",
		"TestReportWeekByMail")
	_ = claim("`helpdesk report --period P --by K [--format csv|json] [--out FILE]` prints (or writes to FILE) the same report as #report mails (byte for byte for CSV); `helpdesk export --from DAY --to DAY [--out FILE]` writes each ticket created in those days with its comments as a JSON line (--format csv: a ticket list under the same CSV rules)",
		"TestReportWeekByMail")
	_ = claim("#report with a period that does not parse is an error line: nothing is claimed, nothing is attached",
		"TestReportIsRefusedNotClaimed")
)

// reportTeam is a Korean team on a manual clock: one agent in group
// 기술지원 (Seoul office hours), an admin, reports in Seoul time.
const reportTeam = `
[reports]
time_zone = "Asia/Seoul"

[tickets]
auto_close_after = "720h"

[testing]
clock = "manual"

[[calendar]]
name = "seoul-office"
time_zone = "Asia/Seoul"
hours = ["mon-fri 09:00-18:00"]

[[group]]
name = "기술지원"
auto_assign = true
calendar = "seoul-office"

[[mailbox]]
address = "support@example.com"
name = "고객지원"
group = "기술지원"

[[agent]]
name = "김민준"
email = "victoria@certs.example"
role = "agent"
groups = ["기술지원"]

[[agent]]
name = "Ada"
email = "ada@certs.example"
role = "admin"
`

// nearestRank is the p-th percentile of vals by nearest rank, computed
// here apart from the daemon's code.
func nearestRank(vals []float64, p float64) float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	k := int(math.Ceil(p / 100 * float64(len(s))))
	return s[max(k, 1)-1]
}

// attachment is the one attachment of m (the test fails otherwise).
func attachment(t *testing.T, m *testkit.Received) (name string, data []byte) {
	t.Helper()
	if len(m.Env.Attachments) != 1 {
		t.Fatalf("mail %q has %d attachments, want 1:\n%s", m.Header("Subject"), len(m.Env.Attachments), Text(m))
	}
	a := m.Env.Attachments[0]
	return a.FileName, a.Content
}

// Issue 16 items 3, 4: a week of tickets with known times, reported by
// mail and by the CLI, exported.
func TestReportWeekByMail(t *testing.T) {
	e := Start(t, Options{Config: reportTeam})
	seoul, _ := time.LoadLocation("Asia/Seoul")
	at := func(day, hh, mm int) time.Time { return time.Date(2027, 1, day, hh, mm, 0, 0, seoul) } // Monday is the 4th
	set := func(t0 time.Time) { e.MustCLI("clock", "set", t0.Format(time.RFC3339)) }
	const vic = "victoria@certs.example"
	const ken = "ken@e-fun.example"
	injection := `=HYPERLINK("http://evil.example","x")`
	type tk struct {
		subject         string
		created, solved time.Time // solved zero: stays unresolved
		businessMinutes float64   // of the resolution, by hand from the office hours
	}
	tickets := []tk{
		{"주문 1 결제 오류", at(4, 9, 0), at(4, 9, 40), 40},
		{"주문 2 배송 지연", at(4, 17, 30), at(5, 9, 20), 30 + 20},
		{"주문 3 환불 요청", at(6, 10, 0), at(6, 12, 30), 150},
		{"주문 4 로그인", at(7, 8, 0), at(7, 9, 10), 10},    // before opening time
		{"주문 5 영수증", at(8, 16, 0), at(8, 18, 30), 120}, // past closing time
		{"주문 6 주말", at(9, 11, 0), at(9, 11, 5), 0},     // Saturday
		{"주문 7 일요일", at(10, 20, 0), time.Time{}, 0},
		{injection, at(10, 21, 0), time.Time{}, 0},
	}
	// The events in time order: arrivals, resolutions, a reopen (the
	// customer answers ticket 3 on Thursday noon), #pending on ticket 8.
	type step struct {
		at time.Time
		do func()
	}
	var steps []step
	notes := map[int]*testkit.Received{}
	for i, x := range tickets {
		steps = append(steps, step{x.created, func() {
			e.Customer(testkit.Mail{From: "Ken <" + ken + ">", To: []string{"support@example.com"}, Subject: x.subject, Body: "도와주세요: " + x.subject + "\n"})
			notes[i] = e.Find(vic, x.subject)
		}})
		if !x.solved.IsZero() {
			steps = append(steps, step{x.solved, func() { e.Reply(vicFr, notes[i], "#status resolved\n해결했습니다.\n") }})
		}
	}
	steps = append(steps, step{at(7, 12, 0), func() {
		answer := e.Find(ken, "[#3]")
		e.Customer(testkit.Mail{From: "Ken <" + ken + ">", To: []string{ReplyTo(answer)}, Subject: "Re: " + answer.Header("Subject"), Body: "아직 안 됩니다.\n"})
	}})
	steps = append(steps, step{at(10, 21, 10), func() { e.Reply(vicFr, notes[7], "#pending\n") }})
	slices.SortStableFunc(steps, func(a, b step) int { return a.at.Compare(b.at) })
	for _, s := range steps {
		set(s.at)
		s.do()
	}
	if st := e.Show(3).Status; st != "open" {
		t.Fatalf("ticket 3 after Ken's answer: %s, want open (reopened)", st)
	}
	set(at(11, 10, 0)) // Monday after: last-week is the 4th to the 10th

	// Figures computed here: resolution times in calendar and business
	// minutes; the backlog at Sunday midnight.
	var cal, biz []float64
	for _, x := range tickets {
		if !x.solved.IsZero() {
			cal = append(cal, x.solved.Sub(x.created).Minutes())
			biz = append(biz, x.businessMinutes)
		}
	}
	f1 := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	resolution := strings.Join([]string{fmt.Sprint(len(cal)), f1(nearestRank(biz, 50)), f1(nearestRank(biz, 90)), f1(nearestRank(cal, 50)), f1(nearestRank(cal, 90))}, ",")
	// open: 3 (reopened) and 7; pending: 8; resolved: the other five.
	backlog := "2,1,0,0,5"
	// Each resolving answer is also the ticket's first response.
	firstResponse := resolution
	period := "2027-01-04T00:00:00+09:00,2027-01-11T00:00:00+09:00"
	csat := "0,"          // no [survey] here, so no ratings (TestReportCountsBreachesAndRatings has them)
	breaches := "0,0,0,0" // no [[sla]] policy here (TestReportCountsBreachesAndRatings has one)
	figures := fmt.Sprintf("%s,8,6,1,%s,%s,%s,%s,%s", period, firstResponse, resolution, backlog, breaches, csat)
	header := "kind,key,name,period_from,period_to,received,resolved,reopened," +
		"first_response_count,first_response_business_median_min,first_response_business_p90_min,first_response_calendar_median_min,first_response_calendar_p90_min," +
		"resolution_count,resolution_business_median_min,resolution_business_p90_min,resolution_calendar_median_min,resolution_calendar_p90_min," +
		"backlog_open,backlog_pending,backlog_waiting_customer,backlog_waiting_third_party,backlog_resolved," +
		"sla_breaches_first_reply,sla_breaches_next_reply,sla_breaches_periodic_update,sla_breaches_resolution,csat_count,csat_good_percent\r\n"
	agentRow := "agent,victoria@certs.example,김민준," + figures + "\r\n"
	groupRow := "group,기술지원,기술지원," + figures + "\r\n"

	// The agent asks by mail: their row and their group's, nobody else's.
	e.Fresh(vicFr, "numbers", "#report last week\n")
	tr := e.Find(vic, "report by agents")
	name, data := attachment(t, tr)
	want := "\ufeff" + header + agentRow + groupRow
	if name != "report-agents-2027-01-04--2027-01-10.csv" || string(data) != want {
		t.Fatalf("the agent's report %q:\n%q\nwant\n%q", name, data, want)
	}
	if !bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}) || !bytes.Contains(data, []byte("김민준")) || !bytes.Contains(data, []byte{0xEA, 0xB8, 0xB0, 0xEC, 0x88, 0xA0}) { // 기술
		t.Errorf("BOM or Korean bytes missing: % x", data[:16])
	}
	if !strings.Contains(Text(tr), "> #report last week\nreport by agents, 2027-01-04 00:00 to 2027-01-10 23:59 (Asia/Seoul): attached as report-agents-2027-01-04--2027-01-10.csv (2 rows)") {
		t.Errorf("the transcript does not say what is attached:\n%s", Text(tr))
	}
	if ct := tr.Env.Attachments[0].ContentType; ct != "text/csv" {
		t.Errorf("attachment type %q", ct)
	}

	// The admin gets every ticket; a subject that is a formula arrives
	// as text.
	e.Fresh("Ada <ada@certs.example>", "tickets", "#report 2027-01-04..2027-01-10 tickets\n")
	_, data = attachment(t, e.Find("ada@certs.example", "report by tickets"))
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff")))).ReadAll()
	if err != nil || len(recs) != 9 {
		t.Fatalf("tickets CSV (%v): %d records\n%s", err, len(recs), data)
	}
	line8 := "8,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",pending,기술지원,support@example.com,ken@e-fun.example,victoria@certs.example,2027-01-10T21:00:00+09:00,,,,,,\r\n"
	if !bytes.Contains(data, []byte(line8)) {
		t.Errorf("ticket 8's row is not neutralized as expected:\n%s", data)
	}
	if recs[1][1] != "주문 1 결제 오류" || recs[1][11] != "2027-01-04T09:40:00+09:00" || recs[1][12] != "40.0" || recs[1][13] != "40.0" {
		t.Errorf("ticket 1's row: %q", recs[1])
	}

	// By mailboxes: its Korean name arrives intact; the CLI writes the
	// same bytes to --out.
	e.Fresh("Ada <ada@certs.example>", "mailboxes", "#report last week mailboxes\n")
	_, data = attachment(t, e.Find("ada@certs.example", "report by mailboxes"))
	mailboxRow := "mailbox,support@example.com,고객지원," + figures + "\r\n"
	if want := "\ufeff" + header + mailboxRow; string(data) != want {
		t.Errorf("the admin's report by mailboxes:\n%q\nwant\n%q", data, want)
	}
	outFile := filepath.Join(t.TempDir(), "mailboxes.csv")
	e.MustCLI("report", "--period", "last-week", "--by", "mailboxes", "--out", outFile)
	if b, err := os.ReadFile(outFile); err != nil || !bytes.Equal(b, data) {
		t.Errorf("helpdesk report --out wrote %q (%v), want the mailed CSV", b, err)
	}

	// The CLI prints the same CSV, and JSON with the same figures.
	out := e.MustCLI("report", "--period", "2027-01-04..2027-01-10", "--by", "groups")
	if out != "\ufeff"+header+groupRow {
		t.Errorf("helpdesk report --by groups:\n%q\nwant\n%q", out, "\ufeff"+header+groupRow)
	}
	var rep struct {
		By   string `json:"by"`
		Rows []struct {
			Kind, Key, Name              string
			Received, Resolved, Reopened int
			Resolution                   struct {
				Count          int      `json:"count"`
				BusinessMedian *float64 `json:"business_median_minutes"`
				CalendarP90    *float64 `json:"calendar_p90_minutes"`
			} `json:"resolution"`
			Backlog map[string]int `json:"backlog"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(e.MustCLI("report", "--period", "last-week", "--by", "agents", "--format", "json")), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 2 || rep.Rows[1].Key != vic || rep.Rows[1].Name != "김민준" || rep.Rows[1].Resolved != 6 || rep.Rows[1].Reopened != 1 ||
		*rep.Rows[1].Resolution.BusinessMedian != nearestRank(biz, 50) || *rep.Rows[1].Resolution.CalendarP90 != nearestRank(cal, 90) ||
		rep.Rows[1].Backlog["open"] != 2 || rep.Rows[1].Backlog["pending"] != 1 {
		t.Errorf("helpdesk report --format json: %+v", rep)
	}

	// Export: every ticket of the week with its comments.
	out = e.MustCLI("export", "--from", "2027-01-04", "--to", "2027-01-10")
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var x struct {
			ID       uint64 `json:"id"`
			Subject  string `json:"subject"`
			Comments []struct {
				Text string `json:"text"`
			} `json:"comments"`
		}
		if err := json.Unmarshal(sc.Bytes(), &x); err != nil {
			t.Fatalf("export line %d: %v\n%s", n+1, err, sc.Text())
		}
		n++
		if x.ID != uint64(n) || x.Subject != tickets[n-1].subject || len(x.Comments) == 0 || !strings.Contains(x.Comments[0].Text, "도와주세요") {
			t.Errorf("export line %d: %+v", n, x)
		}
	}
	if n != 8 {
		t.Errorf("export wrote %d tickets, want 8", n)
	}
	outFile = filepath.Join(t.TempDir(), "export.jsonl")
	e.MustCLI("export", "--from", "2027-01-04", "--to", "2027-01-10", "--out", outFile)
	if b, err := os.ReadFile(outFile); err != nil || string(b) != out {
		t.Errorf("helpdesk export --out wrote %d bytes (%v), want the %d it prints", len(b), err, len(out))
	}
	out = e.MustCLI("export", "--from", "2027-01-10", "--to", "2027-01-10", "--format", "csv")
	if !strings.HasPrefix(out, "\ufeffticket,subject,status,") || !strings.Contains(out, "\r\n8,\"'=HYPERLINK(") || strings.Count(out, "\r\n") != 3 {
		t.Errorf("export --format csv of Sunday:\n%s", out)
	}
}

// A #report whose period does not parse is an error line: the transcript
// claims nothing and carries no file.
func TestReportIsRefusedNotClaimed(t *testing.T) {
	e := Start(t, Options{})
	n := openTicket(t, e, "Ken <ken@e-fun.example>", "Need numbers")
	replyTo(e, n, "#report fortnight\n")
	tr := e.Find("victoria@certs.example", "Commands not applied")
	if strings.Contains(Text(tr), "applied.") && !strings.Contains(Text(tr), "not applied") {
		t.Errorf("transcript claims something was applied:\n%s", Text(tr))
	}
	if !strings.Contains(Text(tr), "> #report fortnight\nERROR: unknown period") {
		t.Errorf("#report fortnight is not an error line:\n%s", Text(tr))
	}
	if len(tr.Env.Attachments) != 0 {
		t.Errorf("a report was attached although none was made")
	}
}

var _ = claim("a store written before the report index existed gets it once when the daemon first opens it (issue 16): its tickets are counted as received, by group and mailbox, with their backlog by status, and a restart counts nothing twice",
	"TestReportIndexBackfilledOnUpgrade")

// Issue 16: the old fixture store (two tickets, one pending, one open,
// both of group support) reports them once the daemon has upgraded it.
func TestReportIndexBackfilledOnUpgrade(t *testing.T) {
	bboltOnly(t) // the fixture is a bbolt store of schema 1
	dir, _ := unpackFixture(t, 1)
	e := Start(t, Options{Dir: dir, SMTP: fixtureSMTP})
	check := func(when string) {
		t.Helper()
		out := e.MustCLI("report", "--period", "2026-12", "--by", "groups")
		want := "group,support,support,2026-12-01T00:00:00Z,2027-01-01T00:00:00Z,2,0,0,0,,,,,0,,,,,1,1,0,0,0,0,0,0,0,0,\r\n"
		if !strings.HasSuffix(out, want) {
			t.Errorf("%s: report by groups of the upgraded store:\n%q\nwant it to end with\n%q", when, out, want)
		}
	}
	check("after the upgrade")
	e.Restart()
	check("after a restart")
}
