package command

import (
	"strconv"
	"strings"
	"time"
)

// periodKeywords are the named #report periods.
var periodKeywords = []string{
	"today", "yesterday", "week", "last-week", "month", "last-month",
	"quarter", "last-quarter", "year", "last-year",
}

// PeriodHelp lists the period forms, for error messages.
const PeriodHelp = "today, yesterday, week, last-week, month, last-month, quarter, last-quarter, year, last-year, 30d, 4w, 2025, 2025-05, 2025-05-01 or 2025-05-01..2025-05-31"

// DefaultPeriod is the period of a bare #report.
const DefaultPeriod = "30d"

func isPeriodKeyword(s string) bool {
	for _, k := range periodKeywords {
		if k == s {
			return true
		}
	}
	return false
}

// ParsePeriod interprets a #report period relative to now, in now's
// location, as the half-open interval [from, to). Forms: "" (DefaultPeriod);
// today, yesterday; week, month, quarter, year (the current one so far,
// weeks start on Monday) and last-week, last-month, last-quarter, last-year;
// Nd and Nw (the last N days or weeks, up to 10 years); a year 2025, a
// month 2025-05 or a day 2025-05-01; and a range A..B of those, both ends
// included.
func ParsePeriod(s string, now time.Time) (from, to time.Time, ok bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		s = DefaultPeriod
	}
	loc := now.Location()
	y, m, d := now.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, loc)
	monday := day.AddDate(0, 0, -((int(now.Weekday()) + 6) % 7))
	month := time.Date(y, m, 1, 0, 0, 0, 0, loc)
	quarter := time.Date(y, (m-1)/3*3+1, 1, 0, 0, 0, 0, loc)
	year := time.Date(y, 1, 1, 0, 0, 0, 0, loc)
	switch s {
	case "today":
		return day, now, true
	case "yesterday":
		return day.AddDate(0, 0, -1), day, true
	case "week":
		return monday, now, true
	case "last-week":
		return monday.AddDate(0, 0, -7), monday, true
	case "month":
		return month, now, true
	case "last-month":
		return month.AddDate(0, -1, 0), month, true
	case "quarter":
		return quarter, now, true
	case "last-quarter":
		return quarter.AddDate(0, -3, 0), quarter, true
	case "year":
		return year, now, true
	case "last-year":
		return year.AddDate(-1, 0, 0), year, true
	}
	if n := len(s); n >= 2 && (s[n-1] == 'd' || s[n-1] == 'w') && allDigits(s[:n-1]) {
		k, err := strconv.Atoi(s[:n-1])
		days := k
		if s[n-1] == 'w' {
			days = 7 * k
		}
		if err != nil || k <= 0 || days > 3660 {
			return time.Time{}, time.Time{}, false
		}
		return now.AddDate(0, 0, -days), now, true
	}
	if a, b, found := strings.Cut(s, ".."); found {
		f, _, ok1 := calendarPeriod(a, loc)
		_, t, ok2 := calendarPeriod(b, loc)
		if !ok1 || !ok2 || !f.Before(t) {
			return time.Time{}, time.Time{}, false
		}
		return f, t, true
	}
	return calendarPeriod(s, loc)
}

// calendarPeriod reads 2025, 2025-05 or 2025-05-01.
func calendarPeriod(s string, loc *time.Location) (from, to time.Time, ok bool) {
	for _, f := range []struct {
		layout  string
		y, m, d int
	}{{"2006", 1, 0, 0}, {"2006-01", 0, 1, 0}, {"2006-01-02", 0, 0, 1}} {
		if len(s) != len(f.layout) {
			continue
		}
		t, err := time.ParseInLocation(f.layout, s, loc)
		if err != nil || t.Year() < 1970 {
			return time.Time{}, time.Time{}, false
		}
		return t, t.AddDate(f.y, f.m, f.d), true
	}
	return time.Time{}, time.Time{}, false
}

func allDigits(s string) bool {
	if s == "" || len(s) > 9 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// reportKinds are what a report is by, with the singular forms allowed.
var reportKinds = map[string]string{
	"agents": "agents", "agent": "agents", "groups": "groups", "group": "groups",
	"mailboxes": "mailboxes", "mailbox": "mailboxes", "tickets": "tickets", "ticket": "tickets",
}

// ReportArgs reads #report's arguments, [period] [agents|groups|mailboxes|
// tickets] (either may be left out; "" = the default). problem is ""
// when they are fine, "period" when period does not parse, else what is
// wrong.
func ReportArgs(args []string) (period, by, problem string) {
	rest := args
	if len(rest) > 0 {
		if k, ok := reportKinds[rest[len(rest)-1]]; ok {
			by, rest = k, rest[:len(rest)-1]
		}
	}
	switch len(rest) {
	case 0:
		return "", by, ""
	case 1:
		period = rest[0]
		if _, _, ok := ParsePeriod(period, time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)); !ok {
			return period, by, "period"
		}
		return period, by, ""
	}
	return "", by, "too many arguments"
}
