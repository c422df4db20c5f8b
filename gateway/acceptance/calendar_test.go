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

var _ = claim("`helpdesk check-config` checks [[calendar]] (issue 14): an unknown calendar on a mailbox or group, a bad time zone, overlapping spans (also a night shift running into the next morning) and a holiday list with no date in the current year are each named with file, line, key and fix (exit 1); a valid calendar with an .ics holiday file passes",
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
		`[[calendar]]
name = "berlin-nights"`, `[[calendar]]
name = "berlin-nights"
holidays = ["2001-12-25"]`,
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
		fmt.Sprintf(`%s:%d: calendar[1].holidays: none of the 1 holidays is in %d, the current year`, path, lineOf(`2001-12-25`), year),
	} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("check-config: exit %d, output lacks\n  %s\nstdout:\n%s\nstderr: %s", code, want, out, errs)
		}
	}
	if !regexp.MustCompile(`overlaps .*fix: make the spans`).MatchString(out) {
		t.Errorf("the overlap is not explained:\n%s", out)
	}
}
