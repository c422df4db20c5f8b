// Package calendar is business-time arithmetic (SPEC 7, issue 14): a
// calendar is an IANA time zone, weekly opening hours (several intervals a
// day, shifts that cross midnight) and holidays. It answers the three
// questions SLA targets and automations ask: how much business time lies
// between two instants (Between), which instant is a business duration
// after another (Add), and when the calendar next opens (NextOpen).
//
// Instants go in and come out in UTC. The arithmetic walks the calendar's
// local days one by one and turns each day's wall-clock hours into instants
// with that day's own UTC offset, so DST changes and past dates (whose
// offset may differ from today's) come out right.
//
// The package is pure: the only I/O is ReadICS, called when the
// configuration is loaded. It lives under config because config, a leaf
// of the module, builds and validates calendars; the engine and later the
// SLA and automation code use them from there.
package calendar

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	// Zones must resolve the same on a host without /usr/share/zoneinfo
	// (a minimal container): a calendar that silently fell back to UTC
	// would shift every deadline.
	_ "time/tzdata"
)

// Date is a civil date of the calendar's zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// add returns the date days later (month and year lengths by time.Date).
func (d Date) add(days int) Date {
	return dateOf(time.Date(d.Year, d.Month, d.Day+days, 12, 0, 0, 0, time.UTC))
}

// dayNumber is the date's number of days since 1970-01-01.
func (d Date) dayNumber() int64 {
	return floorDiv(time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Unix(), 86400)
}

// dateOfNumber is the date of a dayNumber.
func dateOfNumber(n int64) Date { return dateOf(time.Unix(n*86400+43200, 0).UTC()) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

func (d Date) weekday() time.Weekday {
	return time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC).Weekday()
}

func dateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate parses "YYYY-MM-DD".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date: write YYYY-MM-DD, e.g. \"2026-12-25\"", s)
	}
	return dateOf(t), nil
}

// Span is one opening interval of a day, in minutes after the day's local
// midnight: 0 ≤ Start < 1440 and Start < End ≤ Start+1440. End > 1440 is a
// shift that crosses midnight into the next day.
type Span struct{ Start, End int }

func (s Span) String() string {
	return fmtMinute(s.Start) + "-" + fmtMinute(s.End%1440+boolInt(s.End == 1440)*1440)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func fmtMinute(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// Hours is one line of weekly hours: the days it applies to and their
// spans, e.g. "mon-fri 09:00-12:00, 13:00-18:00".
type Hours struct {
	Days  [7]bool // by time.Weekday
	Spans []Span
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseHours parses one line of weekly hours: days, then spans separated
// by commas. Days are mon … sun, ranges ("mon-fri", "fri-mon" wraps) and
// lists ("sat,sun"). A span is HH:MM-HH:MM; an end at or before the start
// crosses midnight ("22:00-06:00" ends at 06:00 the next day), "24:00"
// ends at midnight. "mon-sun 00:00-24:00" is always open.
func ParseHours(line string) (Hours, error) {
	var h Hours
	line = strings.TrimSpace(line)
	days, rest, ok := strings.Cut(line, " ")
	if !ok || strings.TrimSpace(rest) == "" {
		return h, fmt.Errorf("%q names no hours: write days then spans, e.g. \"mon-fri 09:00-18:00\"", line)
	}
	for _, part := range strings.Split(strings.ToLower(days), ",") {
		a, b, isRange := strings.Cut(part, "-")
		da, okA := dayNames[a]
		db, okB := dayNames[b]
		if !okA || (isRange && !okB) {
			return h, fmt.Errorf("%q: %q is not a day or a range of days: use mon, tue, wed, thu, fri, sat, sun, ranges such as mon-fri and lists such as sat,sun", line, part)
		}
		if !isRange {
			db = da
		}
		for d := da; ; d = (d + 1) % 7 {
			h.Days[d] = true
			if d == db {
				break
			}
		}
	}
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		a, b, ok := strings.Cut(part, "-")
		start, errA := parseClock(a, false)
		end, errB := parseClock(b, true)
		if !ok || errA != nil || errB != nil {
			return h, fmt.Errorf("%q: %q is not a span: write HH:MM-HH:MM, e.g. 09:00-18:00 (22:00-06:00 crosses midnight)", line, part)
		}
		if start == 1440 {
			return h, fmt.Errorf("%q: %q starts at 24:00: start at 00:00 instead", line, part)
		}
		if end == start {
			return h, fmt.Errorf("%q: %q is empty: for a whole day write 00:00-24:00", line, part)
		}
		if end < start {
			end += 1440 // crosses midnight
		}
		h.Spans = append(h.Spans, Span{start, end})
	}
	return h, nil
}

func parseClock(s string, end bool) (int, error) {
	s = strings.TrimSpace(s)
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) != 2 || len(mm) != 2 {
		return 0, errors.New("bad clock")
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && (m != 0 || !end)) {
		return 0, errors.New("bad clock")
	}
	return h*60 + m, nil
}

// Overlap is returned by New when two spans of the week overlap; A and B
// index the hours lines (A ≤ B).
type Overlap struct {
	A, B       int
	DayA, DayB time.Weekday // the days the spans begin on
	SA, SB     Span
}

func (o *Overlap) Error() string {
	return fmt.Sprintf("%s %s overlaps %s %s", dayName(o.DayB), o.SB, dayName(o.DayA), o.SA)
}

func dayName(d time.Weekday) string { return strings.ToLower(d.String()[:3]) }

// Calendar is an immutable business calendar. The zero value is not
// usable; use New or Always.
type Calendar struct {
	Name     string
	loc      *time.Location
	week     [7][]Span // by weekday, sorted by start
	holidays map[Date]bool
	always   bool
	// days caches the openings of each date by its dayNumber (day):
	// every ticket's targets walk the same days again (arming a store
	// of a million tickets walks months of days for each open one; each
	// new ticket's targets walk the next days), and working out a day's
	// wall times in its zone is the cost. Bounded by daysMax.
	daysMu sync.RWMutex
	days   map[int64][]interval
}

// daysMax bounds the day cache (about 80 years of days).
const daysMax = 30_000

// AlwaysName is the name of the built-in calendar that is always open.
const AlwaysName = "24/7"

// Always is the built-in 24/7 calendar: business time is elapsed time.
var Always = &Calendar{Name: AlwaysName, loc: time.UTC, always: true}

// New builds a calendar. Spans of the week must not overlap, also across
// midnight (a Monday 22:00-06:00 shift and a Tuesday 05:00-… span do);
// the error is then an *Overlap. A holiday closes the shifts that begin on
// it; a night shift that began the evening before runs to its end.
func New(name string, loc *time.Location, hours []Hours, holidays []Date) (*Calendar, error) {
	if loc == nil {
		return nil, errors.New("calendar has no time zone")
	}
	c := &Calendar{Name: name, loc: loc, holidays: map[Date]bool{}}
	type owned struct {
		s    Span
		line int
	}
	var week [7][]owned
	for i, h := range hours {
		for d := range 7 {
			if !h.Days[d] {
				continue
			}
			for _, s := range h.Spans {
				week[d] = append(week[d], owned{s, i})
			}
		}
	}
	// Overlaps: on a timeline of the week in minutes, each span placed at
	// its day; spans reaching past Sunday's end wrap to Monday (weekday 0
	// is Sunday, so the week runs 0 … 7*1440).
	type placed struct {
		start, end int
		o          owned
		day        time.Weekday
	}
	var all []placed
	for d := range 7 {
		for _, o := range week[d] {
			base := d * 1440
			all = append(all, placed{base + o.s.Start, base + o.s.End, o, time.Weekday(d)})
			if base+o.s.End > 7*1440 { // the wrapped part
				all = append(all, placed{base + o.s.Start - 7*1440, base + o.s.End - 7*1440, o, time.Weekday(d)})
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].start < all[j].start })
	for i := 1; i < len(all); i++ {
		for j := i - 1; j >= 0; j-- {
			if all[j].end > all[i].start && all[j].start < all[i].end {
				a, b := all[j], all[i]
				if a.o.line > b.o.line {
					a, b = b, a
				}
				return nil, &Overlap{A: a.o.line, B: b.o.line, DayA: a.day, DayB: b.day, SA: a.o.s, SB: b.o.s}
			}
		}
	}
	for d := range 7 {
		for _, o := range week[d] {
			c.week[d] = append(c.week[d], o.s)
		}
		sort.Slice(c.week[d], func(i, j int) bool { return c.week[d][i].Start < c.week[d][j].Start })
	}
	for _, h := range holidays {
		c.holidays[h] = true
	}
	return c, nil
}

// Location is the calendar's zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// IsAlways reports whether the calendar is always open.
func (c *Calendar) IsAlways() bool { return c.always }

// Holidays returns the holidays in date order.
func (c *Calendar) Holidays() []Date {
	out := make([]Date, 0, len(c.holidays))
	for d := range c.holidays {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// IsHoliday reports whether d is a holiday.
func (c *Calendar) IsHoliday(d Date) bool { return c.holidays[d] }

// hasHours reports whether the week has any opening at all.
func (c *Calendar) hasHours() bool {
	for _, w := range c.week {
		if len(w) > 0 {
			return true
		}
	}
	return false
}

// wall returns the first instant at which the calendar's clock reads
// minute m (which may be ≥ 1440: the next day) of date d. A wall time that
// a spring-forward gap skips maps to the instant of the jump; one that a
// fall-back repeats, to its first occurrence.
func (c *Calendar) wall(d Date, m int) time.Time {
	wd := d.add(m / 1440)
	h, mi := (m%1440)/60, m%60
	t := time.Date(wd.Year, wd.Month, wd.Day, h, mi, 0, 0, c.loc)
	if t.Hour() != h || t.Minute() != mi || dateOf(t) != wd {
		// In a gap: the wall time does not exist, and time.Date moved it
		// by the gap's length one way or the other. The jump is the
		// boundary of the zone period t fell in.
		start, end := t.ZoneBounds()
		got := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
		asked := time.Date(wd.Year, wd.Month, wd.Day, h, mi, 0, 0, time.UTC)
		if got.After(asked) && !start.IsZero() {
			return start.UTC()
		}
		if !got.After(asked) && !end.IsZero() {
			return end.UTC()
		}
		return t.UTC()
	}
	// In a fold the same wall time came earlier, under the larger offset
	// of the period before.
	if start, _ := t.ZoneBounds(); !start.IsZero() {
		_, off := t.Zone()
		_, prevOff := start.Add(-time.Second).Zone()
		if prevOff > off {
			if alt := t.Add(-time.Duration(prevOff-off) * time.Second); alt.Before(start) {
				return alt.UTC()
			}
		}
	}
	return t.UTC()
}

// interval is an opening as instants, [s, e).
type interval struct{ s, e time.Time }

// day returns the openings of the shifts that begin on the date of
// dayNumber n, in order.
func (c *Calendar) day(n int64) []interval {
	c.daysMu.RLock()
	v, ok := c.days[n]
	c.daysMu.RUnlock()
	if ok {
		return v
	}
	out := c.openings(dateOfNumber(n))
	c.daysMu.Lock()
	if c.days == nil {
		c.days = map[int64][]interval{}
	}
	if len(c.days) < daysMax {
		c.days[n] = out
	}
	c.daysMu.Unlock()
	return out
}

// openings works out the openings of date d (day caches it).
func (c *Calendar) openings(d Date) []interval {
	if c.holidays[d] {
		return nil
	}
	spans := c.week[d.weekday()]
	out := make([]interval, 0, len(spans))
	for _, s := range spans {
		a, b := c.wall(d, s.Start), c.wall(d, s.End)
		if b.After(a) {
			out = append(out, interval{a, b})
		}
	}
	return out
}

// searchDays bounds how far ahead Add and NextOpen look for an opening
// (a calendar whose every day is a holiday for years is a mistake).
const searchDays = 3 * 366

// walk calls f with the openings that end after from, in time order,
// the first clipped to start at from, until f returns false or searchDays
// have passed without an opening. Openings that touch (a day ending at
// 24:00, the next starting at 00:00) come one by one: no caller needs
// them merged.
func (c *Calendar) walk(from time.Time, f func(interval) bool) {
	// A shift of the day before may still be running.
	n := dateOf(from.In(c.loc)).dayNumber() - 1
	for idle := 0; idle < searchDays; n++ {
		idle++
		for _, iv := range c.day(n) {
			if !iv.e.After(from) {
				continue
			}
			if iv.s.Before(from) {
				iv.s = from
			}
			idle = 0
			if !f(iv) {
				return
			}
		}
	}
}

// Between returns the business time in [a, b); negative when b is before a.
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if b.Before(a) {
		return -c.Between(b, a)
	}
	if c.always {
		return b.Sub(a)
	}
	if !c.hasHours() {
		return 0
	}
	var sum time.Duration
	c.walk(a, func(iv interval) bool {
		if !iv.s.Before(b) {
			return false
		}
		e := iv.e
		if e.After(b) {
			e = b
		}
		sum += e.Sub(iv.s)
		return e.Before(b)
	})
	return sum
}

// Add returns the instant at which d of business time has passed since t
// (d ≤ 0 gives t). ok is false when the calendar does not open again
// within years.
func (c *Calendar) Add(t time.Time, d time.Duration) (due time.Time, ok bool) {
	if d <= 0 || c.always {
		return t.Add(max(d, 0)).UTC(), true
	}
	if !c.hasHours() {
		return time.Time{}, false
	}
	left := d
	c.walk(t, func(iv interval) bool {
		if n := iv.e.Sub(iv.s); n < left {
			left -= n
			return true
		}
		due, ok = iv.s.Add(left), true
		return false
	})
	return due.UTC(), ok
}

// NextOpen returns t when the calendar is open at t, else the instant it
// next opens. ok is false when it does not open again within years.
func (c *Calendar) NextOpen(t time.Time) (time.Time, bool) {
	if c.always {
		return t.UTC(), true
	}
	var at time.Time
	found := false
	c.walk(t, func(iv interval) bool {
		at, found = iv.s, true
		return false
	})
	return at.UTC(), found
}

// NextClose returns, when the calendar is open at t, the instant it next
// closes (openings that touch, a night shift running into the next day's,
// are one); ok is false when it is closed at t, or never closes (24/7,
// or open without end for years).
func (c *Calendar) NextClose(t time.Time) (time.Time, bool) {
	if c.always {
		return time.Time{}, false
	}
	var end time.Time
	open, endless := false, false
	limit := t.Add(searchDays * 24 * time.Hour)
	c.walk(t, func(iv interval) bool {
		if !open {
			if iv.s.After(t) {
				return false // closed at t
			}
			open, end = true, iv.e
			return true
		}
		if iv.s.After(end) {
			return false // a gap: it closes at end
		}
		if iv.e.After(end) {
			end = iv.e
		}
		if end.After(limit) {
			endless = true // open around the clock for years
			return false
		}
		return true
	})
	// (A walk that runs out of openings after end leaves closed time
	// after it too.)
	return end.UTC(), open && !endless
}

// IsOpen reports whether the calendar is open at t.
func (c *Calendar) IsOpen(t time.Time) bool {
	at, ok := c.NextOpen(t)
	return ok && at.Equal(t)
}
