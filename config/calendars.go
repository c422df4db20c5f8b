package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"helpdesk/config/calendar"
)

// validateCalendars checks every [[calendar]] and builds it, and checks
// the calendar names of mailboxes and groups.
func (c *Config) validateCalendars(v *validator) {
	c.cals = c.buildCalendars(v)
	var names []string
	for _, cal := range c.Calendars {
		if cal.Name != "" {
			names = append(names, cal.Name)
		}
	}
	ref := func(key, name string) {
		if name == "" || c.cals[lower(name)] != nil || strings.EqualFold(name, calendar.AlwaysName) {
			return
		}
		for _, cal := range c.Calendars {
			if strings.EqualFold(cal.Name, name) {
				return // declared but broken: reported on the calendar itself
			}
		}
		fix := fmt.Sprintf("declare [[calendar]] name = %q, or use %q for always open", name, calendar.AlwaysName)
		if len(names) > 0 {
			fix += "; declared: " + strings.Join(names, ", ")
			if s := closest(name, names); s != "" {
				fix = fmt.Sprintf("did you mean %q? Otherwise ", s) + fix
			}
		}
		v.add(key, fmt.Sprintf("no [[calendar]] is named %q", name), fix)
	}
	for i, m := range c.Mailboxes {
		ref(fmt.Sprintf("mailbox[%d].calendar", i), m.Calendar)
	}
	for i, g := range c.Groups {
		ref(fmt.Sprintf("group[%d].calendar", i), g.Calendar)
	}
}

// buildCalendars builds the declared calendars; with v non-nil it reports
// every problem (a calendar with problems is left out).
func (c *Config) buildCalendars(v *validator) map[string]*calendar.Calendar {
	add := func(key, msg, fix string) {
		if v != nil {
			v.add(key, msg, fix)
		}
	}
	out := map[string]*calendar.Calendar{}
	seen := map[string]string{}
	for i, cal := range c.Calendars {
		key := fmt.Sprintf("calendar[%d]", i)
		good := true
		switch {
		case strings.TrimSpace(cal.Name) == "":
			add(key+".name", "missing", `name the calendar, e.g. name = "office"`)
			good = false
		case strings.EqualFold(cal.Name, calendar.AlwaysName):
			add(key+".name", fmt.Sprintf("%q is the built-in always-open calendar", cal.Name), `choose another name, e.g. "office"; "24/7" needs no declaration`)
			good = false
		case seen[lower(cal.Name)] != "":
			add(key+".name", fmt.Sprintf("%q is already declared as %s", cal.Name, seen[lower(cal.Name)]), "remove one of the two [[calendar]] entries or rename one")
			good = false
		default:
			seen[lower(cal.Name)] = key
		}
		var loc *time.Location
		if cal.TimeZone == "" {
			add(key+".time_zone", "missing", `set the IANA time zone of these hours, e.g. time_zone = "Asia/Seoul"`)
			good = false
		} else if l, err := time.LoadLocation(cal.TimeZone); err != nil || strings.EqualFold(cal.TimeZone, "local") {
			add(key+".time_zone", fmt.Sprintf("%q is not an IANA time zone", cal.TimeZone), `use a name from the tz database such as "Asia/Seoul", "Europe/Berlin", "America/New_York" or "UTC"`)
			good = false
		} else {
			loc = l
		}
		var hours []calendar.Hours
		if len(cal.Hours) == 0 {
			add(key+".hours", "missing: a calendar without hours never opens", `list the weekly hours, e.g. hours = ["mon-fri 09:00-18:00"], or use calendar = "24/7"`)
			good = false
		}
		for j, line := range cal.Hours {
			h, err := calendar.ParseHours(line)
			if err != nil {
				add(fmt.Sprintf("%s.hours[%d]", key, j), err.Error(), `write days then spans, e.g. "mon-fri 09:00-12:00, 13:00-18:00" or "sat 22:00-06:00" (over midnight)`)
				good = false
				continue
			}
			hours = append(hours, h)
		}
		var hol []calendar.Date
		for j, s := range cal.Holidays {
			d, err := calendar.ParseDate(s)
			if err != nil {
				add(fmt.Sprintf("%s.holidays[%d]", key, j), err.Error(), `write each holiday as "YYYY-MM-DD"`)
				good = false
				continue
			}
			hol = append(hol, d)
		}
		if cal.HolidaysFile != "" {
			ds, err := readHolidays(cal.HolidaysFile)
			if err != nil {
				add(key+".holidays_file", fmt.Sprintf("%q: %v", cal.HolidaysFile, err), "point it at a readable iCalendar (.ics) file of all-day events, or remove it and list the dates in holidays")
				good = false
			}
			hol = append(hol, ds...)
		}
		if !good || loc == nil {
			continue
		}
		built, err := calendar.New(cal.Name, loc, hours, hol)
		var ov *calendar.Overlap
		if errors.As(err, &ov) {
			k := fmt.Sprintf("%s.hours[%d]", key, ov.B)
			msg := fmt.Sprintf("%s: %v", cal.Hours[ov.B], ov)
			if ov.A != ov.B {
				msg += fmt.Sprintf(" of hours[%d] (%s)", ov.A, cal.Hours[ov.A])
			}
			add(k, msg, "make the spans of each day (and shifts running past midnight) not overlap: end one where the next begins")
			continue
		}
		if err != nil {
			add(key, err.Error(), "correct the calendar")
			continue
		}
		out[lower(cal.Name)] = built
	}
	return out
}

func readHolidays(path string) ([]calendar.Date, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return calendar.ReadICS(f)
}

// CalendarNamed returns the calendar of that name: the built-in "24/7" or
// a declared [[calendar]]; nil when there is none.
func (c *Config) CalendarNamed(name string) *calendar.Calendar {
	if strings.EqualFold(strings.TrimSpace(name), calendar.AlwaysName) {
		return calendar.Always
	}
	if c.cals == nil {
		c.cals = c.buildCalendars(nil) // a Config built in code
	}
	return c.cals[lower(name)]
}

// CalendarFor returns the business calendar of a ticket of that mailbox
// address and group: the group's calendar wins over the mailbox's; with
// neither, the built-in 24/7 calendar.
func (c *Config) CalendarFor(mailbox, group string) *calendar.Calendar {
	if g := c.Group(group); g != nil && g.Calendar != "" {
		if cal := c.CalendarNamed(g.Calendar); cal != nil {
			return cal
		}
	}
	if m := c.Mailbox(mailbox); m != nil && m.Calendar != "" {
		if cal := c.CalendarNamed(m.Calendar); cal != nil {
			return cal
		}
	}
	return calendar.Always
}

// validateReports checks [reports].
func (c *Config) validateReports(v *validator) {
	tz := c.Reports.TimeZone
	if tz == "" {
		return
	}
	if _, err := time.LoadLocation(tz); err != nil || strings.EqualFold(tz, "local") {
		v.add("reports.time_zone", fmt.Sprintf("%q is not an IANA time zone", tz), `use a name from the tz database such as "Asia/Seoul", "Europe/Berlin" or "UTC" (the default)`)
	}
}

// validateTesting checks [testing]: a manual clock only where nobody but
// this machine can send mail to the daemon.
func (c *Config) validateTesting(v *validator) {
	switch c.Testing.Clock {
	case "", ClockWall:
	case ClockManual:
		for _, l := range []struct{ key, addr string }{{"smtp.listen", c.SMTP.Listen}, {"http.listen", c.HTTP.Listen}} {
			if l.addr == "" {
				continue
			}
			host, _, err := net.SplitHostPort(l.addr)
			if err == nil && isLoopback(host) {
				continue
			}
			v.add("testing.clock", fmt.Sprintf(`"manual" needs every listen address on loopback, and %s is %q: a clock that moves only when told must not run a helpdesk that real mail reaches`, l.key, l.addr),
				fmt.Sprintf(`set %s to a loopback address such as "127.0.0.1:2525", or remove clock = "manual"`, l.key))
		}
	default:
		v.add("testing.clock", fmt.Sprintf("%q is not a clock", c.Testing.Clock), `use "wall" (the default) or "manual"`)
	}
	if c.Testing.RearmChunk < 0 {
		v.add("testing.rearm_chunk", fmt.Sprintf("%d is negative", c.Testing.RearmChunk), "use a number of tickets of 1 or more, or remove it (the default, 500): it is for tests only")
	}
}

// holidayWarnings names each calendar whose holidays (written out year by
// year) include none in its current year: somebody forgot to extend the
// list, and every day of this year counts as a working day. It is a
// warning, not an error: a daemon restarted on the first of January must
// still start (and check-config and the start log say what to add).
func (c *Config) holidayWarnings(now time.Time) []Problem {
	var w []Problem
	for i, cal := range c.Calendars {
		built := c.CalendarNamed(cal.Name)
		if built == nil || len(built.Holidays()) == 0 {
			continue
		}
		year := now.In(built.Location()).Year()
		found := false
		for _, d := range built.Holidays() {
			found = found || d.Year == year
		}
		if found {
			continue
		}
		k := fmt.Sprintf("calendar[%d].holidays", i)
		if len(cal.Holidays) == 0 {
			k = fmt.Sprintf("calendar[%d].holidays_file", i)
		}
		n := len(built.Holidays())
		w = append(w, Problem{Key: k,
			Msg: fmt.Sprintf("none of the %d holidays is in %d, the current year: every day of %d counts as a working day", n, year, year),
			Fix: fmt.Sprintf("add the holidays of %d (and the next year), or remove the outdated ones", year)})
	}
	return w
}
