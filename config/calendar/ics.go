package calendar

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"
)

// ReadICS reads the holidays of an iCalendar file (RFC 5545): the dates of
// its all-day events, each VEVENT's DTSTART;VALUE=DATE up to (not
// including) its DTEND;VALUE=DATE, one day when it has none.
//
// Only these lines are read, by hand: no iCalendar parser is among the
// modules this project may use (the reviewed module list has none), and
// a holiday file needs nothing else. What would be misread is refused
// rather than skipped: a recurring event (RRULE, RDATE: list each year's
// date instead), and an event with a time of day (a holiday is a date).
func ReadICS(r io.Reader) ([]Date, error) {
	lines, err := unfold(r)
	if err != nil {
		return nil, fmt.Errorf("reading the iCalendar file: %w", err)
	}
	var out []Date
	var in bool
	var start, end *Date
	var startLine int
	for _, l := range lines {
		name, params, value := splitContentLine(l.text)
		switch {
		case name == "BEGIN" && strings.EqualFold(value, "VEVENT"):
			in, start, end, startLine = true, nil, nil, l.n
		case name == "END" && strings.EqualFold(value, "VEVENT"):
			if !in {
				continue
			}
			in = false
			if start == nil {
				return nil, fmt.Errorf("line %d: the event has no DTSTART", startLine)
			}
			out = append(out, *start)
			if end != nil {
				for d := start.add(1); d.String() < end.String(); d = d.add(1) {
					out = append(out, d)
				}
			}
		case !in:
		case name == "RRULE" || name == "RDATE":
			return nil, fmt.Errorf("line %d: %s: recurring events are not read; list each year's holiday as its own event", l.n, name)
		case name == "DTSTART" || name == "DTEND":
			d, err := icsDate(params, value)
			if err != nil {
				return nil, fmt.Errorf("line %d: %s: %w", l.n, name, err)
			}
			if name == "DTSTART" {
				start = &d
			} else {
				end = &d
			}
		}
	}
	return out, nil
}

type icsLine struct {
	n    int
	text string
}

// unfold joins folded lines (RFC 5545 section 3.1: a line starting with a
// space or tab continues the one before).
func unfold(r io.Reader) ([]icsLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []icsLine
	n := 0
	for sc.Scan() {
		n++
		t := strings.TrimRight(sc.Text(), "\r")
		if (strings.HasPrefix(t, " ") || strings.HasPrefix(t, "\t")) && len(out) > 0 {
			out[len(out)-1].text += t[1:]
			continue
		}
		out = append(out, icsLine{n, t})
	}
	return out, sc.Err()
}

// splitContentLine splits "NAME;P=V;Q=W:value" (parameter values may be
// quoted and contain ':' or ';').
func splitContentLine(l string) (name string, params map[string]string, value string) {
	params = map[string]string{}
	i := strings.IndexAny(l, ";:")
	if i < 0 {
		return strings.ToUpper(l), params, ""
	}
	name = strings.ToUpper(l[:i])
	rest := l[i:]
	for len(rest) > 0 && rest[0] == ';' {
		rest = rest[1:]
		j, quoted := 0, false
		for j < len(rest) && (quoted || (rest[j] != ';' && rest[j] != ':')) {
			if rest[j] == '"' {
				quoted = !quoted
			}
			j++
		}
		k, v, _ := strings.Cut(rest[:j], "=")
		params[strings.ToUpper(k)] = strings.Trim(v, `"`)
		rest = rest[j:]
	}
	if len(rest) > 0 && rest[0] == ':' {
		value = rest[1:]
	}
	return name, params, strings.TrimSpace(value)
}

func icsDate(params map[string]string, v string) (Date, error) {
	if t, ok := params["VALUE"]; ok && !strings.EqualFold(t, "DATE") {
		return Date{}, fmt.Errorf("%q is a date-time: a holiday must be an all-day event (VALUE=DATE)", v)
	}
	if len(v) != 8 {
		return Date{}, fmt.Errorf("%q is not a date (YYYYMMDD): a holiday must be an all-day event (VALUE=DATE)", v)
	}
	t, err := time.Parse("20060102", v)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date (YYYYMMDD)", v)
	}
	return dateOf(t), nil
}
