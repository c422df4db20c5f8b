package acceptance

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("a holiday list with no date in the current year (somebody forgot to add the new year's) is a warning with file, line, key and fix from `helpdesk check-config` (exit 0) and in the daemon's start log, never a refusal to start: a daemon restarted on the first of January still runs",
	"TestOutdatedHolidaysWarnButStart")

var _ = claim("`helpdesk check-config` checks [[calendar]] (issue 14): an unknown calendar on a mailbox or group, a bad time zone, overlapping spans (also a night shift running into the next morning) are each named with file, line, key and fix (exit 1); a valid calendar with an .ics holiday file passes",
	"TestCheckConfigValidatesCalendars")

// Issue 14 items 1 and 8: calendars are validated before the daemon runs.
func TestCheckConfigValidatesCalendars(t *testing.T) {
	dir := t.TempDir()
	year := time.Now().Year()
	ics := filepath.Join(dir, "holidays.ics")
	os.WriteFile(ics, []byte(fmt.Sprintf("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:%d1225\r\nSUMMARY:Christmas\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", year)), 0o644)
	base := testkit.BaseConfig(dir, "", "127.0.0.1:53")
	good := base + `
[[group]]
name = "support"
calendar = "seoul-office"
[[mailbox]]
address = "support@example.com"
group = "support"
calendar = "berlin-nights"
[[agent]]
email = "victoria@certs.example"
role = "agent"
groups = ["support"]
[[calendar]]
name = "seoul-office"
time_zone = "Asia/Seoul"
hours = ["mon-fri 09:00-12:00, 13:00-18:00"]
holidays_file = "` + ics + `"
[[calendar]]
name = "berlin-nights"
time_zone = "Europe/Berlin"
hours = ["sun-thu 22:00-06:00"]
`
	write := func(text string) string {
		path := filepath.Join(dir, "helpdesk.toml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	path := write(good)
	if out, errs, code := runIn(t, dir, nil, "check-config", "-config", path); code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("valid calendars: exit %d\n%s%s", code, out, errs)
	}
	bad := strings.NewReplacer(
		`calendar = "seoul-office"`, `calendar = "seoul-ofice"`,
		`"Asia/Seoul"`, `"Asia/Soul"`,
		`hours = ["sun-thu 22:00-06:00"]`, `hours = ["mon-fri 09:00-18:00", "sun-thu 22:00-10:00"]`,
	).Replace(good)
	path = write(bad)
	out, errs, code := runIn(t, dir, nil, "check-config", "-config", path)
	lineOf := func(sub string) int {
		for i, l := range strings.Split(bad, "\n") {
			if strings.Contains(l, sub) {
				return i + 1
			}
		}
		t.Fatalf("no line %q", sub)
		return 0
	}
	for _, want := range []string{
		fmt.Sprintf(`%s:%d: group[0].calendar: no [[calendar]] is named "seoul-ofice" (fix: did you mean "seoul-office"?`, path, lineOf(`"seoul-ofice"`)),
		fmt.Sprintf(`%s:%d: calendar[0].time_zone: "Asia/Soul" is not an IANA time zone (fix: `, path, lineOf(`"Asia/Soul"`)),
		fmt.Sprintf(`%s:%d: calendar[1].hours[1]: sun-thu 22:00-10:00: sun 22:00-10:00 overlaps mon 09:00-18:00 of hours[0]`, path, lineOf(`22:00-10:00`)),
	} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("check-config: exit %d, output lacks\n  %s\nstdout:\n%s\nstderr: %s", code, want, out, errs)
		}
	}
	if !regexp.MustCompile(`overlaps .*fix: make the spans`).MatchString(out) {
		t.Errorf("the overlap is not explained:\n%s", out)
	}
}

// Holidays are written out year by year. A list that has run out is what
// every installation has on the first of January until somebody adds the
// new year's dates: the daemon says so, and still starts.
func TestOutdatedHolidaysWarnButStart(t *testing.T) {
	extra := Staff + `
[[calendar]]
name = "seoul-office"
time_zone = "Asia/Seoul"
hours = ["mon-fri 09:00-18:00"]
holidays = ["2001-01-01", "2001-12-25"]
`
	e := Start(t, Options{Config: extra})
	year := time.Now().In(time.FixedZone("KST", 9*3600)).Year()
	want := fmt.Sprintf("none of the 2 holidays is in %d, the current year", year)
	out, errs, code := runIn(t, filepath.Dir(e.Config), nil, "check-config", "-config", e.Config)
	line := 0
	b, _ := os.ReadFile(e.Config)
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "2001-12-25") {
			line = i + 1
		}
	}
	if code != 0 || !strings.Contains(out, fmt.Sprintf("warning: %s:%d: calendar[0].holidays: %s", e.Config, line, want)) ||
		!strings.Contains(out, fmt.Sprintf("fix: add the holidays of %d", year)) {
		t.Errorf("check-config: exit %d, want 0 and the warning on line %d:\n%s%s", code, line, out, errs)
	}
	if !strings.Contains(e.Logs(), want) {
		t.Errorf("the daemon's log does not warn about the holidays:\n%s", e.Logs())
	}
	e.Customer(testkit.Mail{From: "ana@customer.example", To: []string{"support@example.com"}, Subject: "printer", Body: "It jams."})
	e.Settle()
	if tk := e.Show(1); tk.Subject != "printer" {
		t.Errorf("the daemon with outdated holidays did not open the ticket: %v", tk)
	}
}
