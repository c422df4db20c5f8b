package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helpdesk/config/calendar"
)

// thisYear is the current year's date d ("01-02"), for holidays that must
// be in the current year.
func thisYear(d string) string { return fmt.Sprintf("%d-%s", time.Now().Year(), d) }

func TestCalendarProblems(t *testing.T) {
	ics := filepath.Join(t.TempDir(), "bad.ics")
	os.WriteFile(ics, []byte("BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\nRRULE:FREQ=YEARLY\nEND:VEVENT\n"), 0o644)
	for _, tc := range []struct {
		name, text string
		key        string // the problem's key
		line       int
		msg, fix   string // substrings
	}{
		{"unknown calendar on a mailbox", `
[[mailbox]]
address = "sales@example.com"
calendar = "offise"

[[calendar]]
name = "office"
time_zone = "Asia/Seoul"
hours = ["mon-fri 09:00-18:00"]
`, "mailbox[1].calendar", 4, `no [[calendar]] is named "offise"`, `did you mean "office"?`},
		{"unknown calendar on a group", `
[[group]]
name = "nights"
calendar = "night"
`, "group[2].calendar", 4, `no [[calendar]] is named "night"`, `"24/7"`},
		{"bad zone", `
[[calendar]]
name = "office"
time_zone = "Asia/Soul"
hours = ["mon-fri 09:00-18:00"]
`, "calendar[0].time_zone", 4, `"Asia/Soul" is not an IANA time zone`, "Asia/Seoul"},
		{"bad report zone", `
[reports]
time_zone = "Korea/Seoul"
`, "reports.time_zone", 3, `"Korea/Seoul" is not an IANA time zone`, "Asia/Seoul"},
		{"missing zone", `
[[calendar]]
name = "office"
hours = ["mon-fri 09:00-18:00"]
`, "calendar[0].time_zone", 2, "missing", "IANA"},
		{"overlapping spans of a day", `
[[calendar]]
name = "office"
time_zone = "Asia/Seoul"
hours = ["mon-fri 09:00-12:30, 12:00-18:00"]
`, "calendar[0].hours[0]", 5, "mon 12:00-18:00 overlaps mon 09:00-12:30", "not overlap"},
		{"a night shift overlapping the next morning", `
[[calendar]]
name = "office"
time_zone = "Europe/Berlin"
hours = [
  "mon-fri 09:00-18:00",
  "sun-thu 22:00-10:00",
]
`, "calendar[0].hours[1]", 5, "sun 22:00-10:00 overlaps mon 09:00-18:00 of hours[0] (mon-fri 09:00-18:00)", "past midnight"},
		{"bad hours", `
[[calendar]]
name = "office"
time_zone = "Asia/Seoul"
hours = ["weekdays 9-6"]
`, "calendar[0].hours[0]", 5, `"weekdays" is not a day`, "mon-fri 09:00-12:00"},
		{"no hours", `
[[calendar]]
name = "office"
time_zone = "Asia/Seoul"
`, "calendar[0].hours", 2, "never opens", `"24/7"`},
		{"bad holiday", `
[[calendar]]
name = "office"
time_zone = "Asia/Seoul"
hours = ["mon-fri 09:00-18:00"]
holidays = ["2026-13-01"]
`, "calendar[0].holidays[0]", 6, "not a date", "YYYY-MM-DD"},
		{"bad holidays file", `
[[calendar]]
name = "office"
time_zone = "Asia/Seoul"
hours = ["mon-fri 09:00-18:00"]
holidays_file = ` + fmt.Sprintf("%q", ics) + `
`, "calendar[0].holidays_file", 6, "line 3: RRULE", ".ics"},
		{"reserved name", `
[[calendar]]
name = "24/7"
time_zone = "UTC"
hours = ["mon-sun 00:00-24:00"]
`, "calendar[0].name", 3, "built-in", "another name"},
		{"duplicate name", `
[[calendar]]
name = "office"
time_zone = "UTC"
hours = ["mon-fri 09:00-18:00"]
[[calendar]]
name = "Office"
time_zone = "UTC"
hours = ["mon-fri 09:00-18:00"]
`, "calendar[1].name", 7, "already declared as calendar[0]", "rename"},
		{"negative re-arming chunk", `
[testing]
rearm_chunk = -2
`, "testing.rearm_chunk", 3, "-2 is negative", "1 or more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := people + tc.text
			base := strings.Count(people, "\n")
			ps := problems(t, text)
			if len(ps) != 1 {
				t.Fatalf("problems = %v, want one on %s", ps, tc.key)
			}
			p := ps[0]
			if p.Key != tc.key || p.Line != base+tc.line || !strings.Contains(p.Msg, tc.msg) || !strings.Contains(p.Fix, tc.fix) {
				t.Errorf("problem = %s (line %d); want key %s, line %d, msg ~ %q, fix ~ %q", p, p.Line, tc.key, base+tc.line, tc.msg, tc.fix)
			}
		})
	}
}

// The ticket's group's calendar wins over its mailbox's; with neither,
// 24/7; "24/7" may be named to override a mailbox's calendar.
func TestCalendarFor(t *testing.T) {
	ics := filepath.Join(t.TempDir(), "h.ics")
	os.WriteFile(ics, []byte("BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:"+strings.ReplaceAll(thisYear("12-24"), "-", "")+"\r\nEND:VEVENT\r\n"), 0o644)
	c, err := Parse(`
[[mailbox]]
address = "support@example.com"
group = "support"
calendar = "seoul"
[[mailbox]]
address = "night@example.com"
group = "nights"
calendar = "seoul"
[[mailbox]]
address = "plain@example.com"
group = "plain"
[[group]]
name = "support"
[[group]]
name = "nights"
calendar = "berlin-nights"
[[group]]
name = "plain"
[[group]]
name = "always"
calendar = "24/7"
[[agent]]
email = "a@example.com"
role = "agent"
groups = ["support", "nights", "plain", "always"]
[[calendar]]
name = "seoul"
time_zone = "Asia/Seoul"
hours = ["mon-fri 09:00-18:00"]
holidays = ["` + thisYear("12-25") + `"]
holidays_file = ` + fmt.Sprintf("%q", ics) + `
[[calendar]]
name = "berlin-nights"
time_zone = "Europe/Berlin"
hours = ["sun-thu 22:00-06:00"]
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ mailbox, group, want string }{
		{"support@example.com", "support", "seoul"},
		{"night@example.com", "nights", "berlin-nights"},   // the group's wins
		{"support@example.com", "nights", "berlin-nights"}, // moved to another group
		{"support@example.com", "always", calendar.AlwaysName},
		{"plain@example.com", "plain", calendar.AlwaysName},
		{"unknown@example.com", "", calendar.AlwaysName},
	} {
		if got := c.CalendarFor(tc.mailbox, tc.group); got.Name != tc.want {
			t.Errorf("CalendarFor(%s, %s) = %s, want %s", tc.mailbox, tc.group, got.Name, tc.want)
		}
	}
	seoul := c.CalendarNamed("Seoul")
	if seoul == nil || seoul.Location().String() != "Asia/Seoul" || len(seoul.Holidays()) != 2 {
		t.Fatalf("CalendarNamed(Seoul) = %+v", seoul)
	}
	// A Config built in code builds its calendars on first use.
	code := &Config{Calendars: c.Calendars}
	if got := code.CalendarNamed("berlin-nights"); got == nil || got.Location().String() != "Europe/Berlin" {
		t.Errorf("CalendarNamed on a Config built in code = %v", got)
	}
}

// Holidays are written out year by year; a list with none in the current
// year is a warning with its line (check-config prints it, the daemon logs
// it), never an error: a daemon restarted on the first of January, before
// anybody added the new year's dates, must still start.
func TestHolidaysOfPastYearsWarn(t *testing.T) {
	text := people + `
[[calendar]]
name = "office"
time_zone = "Asia/Seoul"
hours = ["mon-fri 09:00-18:00"]
holidays = ["2001-01-01", "2001-12-25"]
`
	if ps := problems(t, text); len(ps) != 0 {
		t.Fatalf("problems = %v, want none (a warning only)", ps)
	}
	c, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	year := time.Now().In(c.CalendarNamed("office").Location()).Year()
	var found bool
	for _, w := range c.Warnings() {
		if w.Key != "calendar[0].holidays" {
			continue
		}
		found = true
		if want := strings.Count(people, "\n") + 6; w.Line != want ||
			!strings.Contains(w.Msg, fmt.Sprintf("none of the 2 holidays is in %d, the current year", year)) ||
			!strings.Contains(w.Fix, fmt.Sprintf("add the holidays of %d", year)) {
			t.Errorf("warning = %+v, want line %d and the year %d named", w, want, year)
		}
	}
	if !found {
		t.Errorf("no warning for holidays only in 2001: %+v", c.Warnings())
	}
	// A list that includes this year draws none.
	c, err = Parse(strings.Replace(text, `"2001-12-25"`, fmt.Sprintf(`"%d-12-25"`, year), 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range c.Warnings() {
		if strings.HasPrefix(w.Key, "calendar") {
			t.Errorf("unexpected warning %+v", w)
		}
	}
}
