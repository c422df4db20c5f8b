package calendar

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustCal(t *testing.T, zone string, hours []string, holidays ...string) *Calendar {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	var hs []Hours
	for _, l := range hours {
		h, err := ParseHours(l)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	var ds []Date
	for _, s := range holidays {
		d, err := ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	c, err := New(zone, loc, hs, ds)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// at parses a wall-clock time of the zone: "2026-03-27 17:00".
func at(t *testing.T, zone, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v.UTC()
}

func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

const (
	seoul  = "Asia/Seoul"
	berlin = "Europe/Berlin"
	ny     = "America/New_York"
)

var office = []string{"mon-fri 09:00-18:00"}

// Business time between two instants, in the calendar's zone day by day.
func TestBetween(t *testing.T) {
	for _, tc := range []struct {
		name  string
		zone  string
		hours []string
		hol   []string
		a, b  string // wall clock of the zone, or RFC 3339 with a Z
		want  time.Duration
	}{
		{"same day", seoul, office, nil, "2026-12-07 10:00", "2026-12-07 12:30", 150 * time.Minute},
		{"before opening to after closing", seoul, office, nil, "2026-12-07 06:00", "2026-12-07 23:00", 9 * time.Hour},
		{"across a weekend", seoul, office, nil, "2026-12-04 17:00", "2026-12-07 09:30", 90 * time.Minute},
		{"whole weekend is nothing", seoul, office, nil, "2026-12-05 00:00", "2026-12-07 00:00", 0},
		{"a holiday on Friday", seoul, office, []string{"2026-12-25"}, "2026-12-24 17:00", "2026-12-28 10:00", 2 * time.Hour},
		{"a week with a holiday", seoul, office, []string{"2026-12-25"}, "2026-12-21 00:00", "2026-12-28 00:00", 36 * time.Hour},
		{"reversed is negative", seoul, office, nil, "2026-12-07 12:00", "2026-12-07 10:00", -2 * time.Hour},
		{"lunch break", seoul, []string{"mon-fri 09:00-12:00, 13:00-18:00"}, nil, "2026-12-07 11:00", "2026-12-07 14:00", 2 * time.Hour},
		{"two lines, weekend hours", seoul, []string{"mon-fri 09:00-18:00", "sat 10:00-14:00"}, nil, "2026-12-04 17:00", "2026-12-07 10:00", 6 * time.Hour},
		{"night shift across midnight", seoul, []string{"mon-fri 22:00-06:00"}, nil, "2026-12-07 23:00", "2026-12-08 05:00", 6 * time.Hour},
		{"night shift started the day before", seoul, []string{"fri 22:00-06:00"}, nil, "2026-12-05 01:00", "2026-12-05 12:00", 5 * time.Hour},
		{"a holiday keeps the shift that began the evening before", seoul, []string{"mon-sun 22:00-06:00"}, []string{"2026-12-25"}, "2026-12-24 21:00", "2026-12-26 07:00", 8 * time.Hour},
		{"always open by hours", seoul, []string{"mon-sun 00:00-24:00"}, nil, "2026-12-04 17:00", "2026-12-07 09:30", 64*time.Hour + 30*time.Minute},

		// Europe/Berlin: 2026-03-29 02:00 CET → 03:00 CEST, 2026-10-25 03:00 CEST → 02:00 CET.
		{"Berlin office over spring-forward weekend", berlin, office, nil, "2026-03-27 17:00", "2026-03-30 10:00", 2 * time.Hour},
		{"Berlin spring-forward night is 7h", berlin, []string{"mon-sun 22:00-06:00"}, nil, "2026-03-28 21:00", "2026-03-29 07:00", 7 * time.Hour},
		{"Berlin fall-back night is 9h", berlin, []string{"mon-sun 22:00-06:00"}, nil, "2026-10-24 21:00", "2026-10-25 07:00", 9 * time.Hour},
		{"Berlin office over fall-back weekend", berlin, office, nil, "2026-10-23 17:00", "2026-10-26 10:00", 2 * time.Hour},
		// Past dates use their own offset: a winter day and a summer day
		// each have 9 hours, whatever the offset is today.
		{"Berlin a winter day in UTC", berlin, office, nil, "2026-01-05T08:00:00Z", "2026-01-05T17:00:00Z", 9 * time.Hour},
		{"Berlin a summer day in UTC", berlin, office, nil, "2026-07-06T07:00:00Z", "2026-07-06T16:00:00Z", 9 * time.Hour},
		{"Berlin winter hours are not summer hours", berlin, office, nil, "2026-07-06T16:00:00Z", "2026-07-06T17:00:00Z", 0},

		// America/New_York: 2026-03-08 02:00 EST → 03:00 EDT, 2026-11-01 02:00 EDT → 01:00 EST.
		{"New York spring-forward night is 7h", ny, []string{"sat 20:00-04:00"}, nil, "2026-03-07 19:00", "2026-03-08 05:00", 7 * time.Hour},
		{"New York fall-back night is 9h", ny, []string{"sat 20:00-04:00"}, nil, "2026-10-31 19:00", "2026-11-01 05:00", 9 * time.Hour},
		{"New York office over spring-forward", ny, office, nil, "2026-03-06T22:00:00Z", "2026-03-09T14:00:00Z", 2 * time.Hour},
		{"New York office over fall-back", ny, office, nil, "2026-10-30T21:00:00Z", "2026-11-02T15:00:00Z", 2 * time.Hour},
		{"New York a span starting in the gap opens at the jump", ny, []string{"sun 02:30-05:00"}, nil, "2026-03-08 00:00", "2026-03-08 12:00", 2 * time.Hour},
		{"New York a span starting in the fold starts at its first occurrence", ny, []string{"sun 01:30-03:00"}, nil, "2026-11-01 00:00", "2026-11-01 12:00", 150 * time.Minute},

		// Asia/Seoul has no DST: the same nights are 8h.
		{"Seoul has no spring-forward", seoul, []string{"mon-sun 22:00-06:00"}, nil, "2026-03-28 21:00", "2026-03-29 07:00", 8 * time.Hour},
		{"Seoul has no fall-back", seoul, []string{"mon-sun 22:00-06:00"}, nil, "2026-10-24 21:00", "2026-10-25 07:00", 8 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCal(t, tc.zone, tc.hours, tc.hol...)
			parse := func(s string) time.Time {
				if strings.HasSuffix(s, "Z") {
					return utc(t, s)
				}
				return at(t, tc.zone, s)
			}
			if got := c.Between(parse(tc.a), parse(tc.b)); got != tc.want {
				t.Errorf("Between(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

// The instant after adding business time, and the next opening.
func TestAddAndNextOpen(t *testing.T) {
	for _, tc := range []struct {
		name  string
		zone  string
		hours []string
		hol   []string
		from  string
		add   time.Duration
		want  string // RFC 3339 UTC
		open  string // NextOpen(from), RFC 3339 UTC
	}{
		{"inside the day", seoul, office, nil, "2026-12-07 10:00", 2 * time.Hour, "2026-12-07T03:00:00Z", "2026-12-07T01:00:00Z"},
		{"ends exactly at closing", seoul, office, nil, "2026-12-04 17:00", time.Hour, "2026-12-04T09:00:00Z", "2026-12-04T08:00:00Z"},
		{"over the weekend", seoul, office, nil, "2026-12-04 17:00", 4 * time.Hour, "2026-12-07T03:00:00Z", "2026-12-04T08:00:00Z"},
		{"from a Saturday", seoul, office, nil, "2026-12-05 12:00", time.Hour, "2026-12-07T01:00:00Z", "2026-12-07T00:00:00Z"},
		{"over a holiday and a weekend", seoul, office, []string{"2026-12-25"}, "2026-12-24 17:00", 4 * time.Hour, "2026-12-28T03:00:00Z", "2026-12-24T08:00:00Z"},
		{"opening on a holiday waits", seoul, office, []string{"2026-12-25"}, "2026-12-25 10:00", 0, "2026-12-25T01:00:00Z", "2026-12-28T00:00:00Z"},
		{"zero is now", seoul, office, nil, "2026-12-05 12:00", 0, "2026-12-05T03:00:00Z", "2026-12-07T00:00:00Z"},
		{"night shift across midnight", seoul, []string{"mon-fri 22:00-06:00"}, nil, "2026-12-07 12:00", 3 * time.Hour, "2026-12-07T16:00:00Z", "2026-12-07T13:00:00Z"},
		{"Berlin across spring-forward", berlin, office, nil, "2026-03-27 17:00", 2 * time.Hour, "2026-03-30T08:00:00Z", "2026-03-27T16:00:00Z"},
		{"Berlin across fall-back", berlin, office, nil, "2026-10-23 17:00", 2 * time.Hour, "2026-10-26T09:00:00Z", "2026-10-23T15:00:00Z"},
		{"Berlin night shift over spring-forward", berlin, []string{"sat 22:00-06:00"}, nil, "2026-03-28 12:00", 7 * time.Hour, "2026-03-29T04:00:00Z", "2026-03-28T21:00:00Z"},
		{"New York fall-back night", ny, []string{"sat 20:00-04:00"}, nil, "2026-10-31 12:00", 9 * time.Hour, "2026-11-01T09:00:00Z", "2026-11-01T00:00:00Z"},
		{"New York across spring-forward", ny, office, nil, "2026-03-06 17:00", 2 * time.Hour, "2026-03-09T14:00:00Z", "2026-03-06T22:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCal(t, tc.zone, tc.hours, tc.hol...)
			from := at(t, tc.zone, tc.from)
			got, ok := c.Add(from, tc.add)
			if !ok || !got.Equal(utc(t, tc.want)) {
				t.Errorf("Add(%s, %v) = %v %v, want %s", tc.from, tc.add, got, ok, tc.want)
			}
			if got.Location() != time.UTC {
				t.Errorf("Add returned %v, not UTC", got.Location())
			}
			if back := c.Between(from, got); back != tc.add {
				t.Errorf("Between(from, Add(from, %v)) = %v", tc.add, back)
			}
			open, ok := c.NextOpen(from)
			if !ok || !open.Equal(utc(t, tc.open)) {
				t.Errorf("NextOpen(%s) = %v %v, want %s", tc.from, open, ok, tc.open)
			}
		})
	}
}

func TestAlways(t *testing.T) {
	a := utc(t, "2026-03-28T21:00:00Z")
	b := utc(t, "2026-03-30T07:00:00Z")
	if got := Always.Between(a, b); got != b.Sub(a) {
		t.Errorf("Between = %v", got)
	}
	if got, _ := Always.Add(a, 26*time.Hour); !got.Equal(a.Add(26 * time.Hour)) {
		t.Errorf("Add = %v", got)
	}
	if got, _ := Always.NextOpen(a); !got.Equal(a) || !Always.IsOpen(a) {
		t.Errorf("NextOpen = %v", got)
	}
}

func TestNoOpening(t *testing.T) {
	loc, _ := time.LoadLocation(seoul)
	c, err := New("empty", loc, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := utc(t, "2026-12-07T00:00:00Z")
	if _, ok := c.Add(now, time.Hour); ok {
		t.Error("Add on a calendar without hours succeeded")
	}
	if _, ok := c.NextOpen(now); ok {
		t.Error("NextOpen on a calendar without hours succeeded")
	}
	if got := c.Between(now, now.Add(100*time.Hour)); got != 0 {
		t.Errorf("Between = %v", got)
	}
}

func TestParseHours(t *testing.T) {
	h, err := ParseHours("fri-mon 22:00-06:00, 09:00-24:00")
	if err != nil {
		t.Fatal(err)
	}
	if want := [7]bool{true, true, false, false, false, true, true}; h.Days != want {
		t.Errorf("days = %v", h.Days)
	}
	if len(h.Spans) != 2 || h.Spans[0] != (Span{1320, 1800}) || h.Spans[1] != (Span{540, 1440}) {
		t.Errorf("spans = %v", h.Spans)
	}
	for _, bad := range []string{"mon-fri", "monday 09:00-18:00", "mon-fri 9:00-18:00", "mon 09:00-09:00",
		"mon 24:00-06:00", "mon 09:00-25:00", "mon 09:60-10:00", "mon 09:00"} {
		if _, err := ParseHours(bad); err == nil {
			t.Errorf("ParseHours(%q) accepted", bad)
		}
	}
}

func TestOverlap(t *testing.T) {
	loc, _ := time.LoadLocation(seoul)
	for _, tc := range []struct {
		lines []string
		ok    bool
		a, b  int
	}{
		{[]string{"mon-fri 09:00-12:00, 13:00-18:00"}, true, 0, 0},
		{[]string{"mon-fri 09:00-12:00, 11:00-18:00"}, false, 0, 0},
		{[]string{"mon-fri 09:00-18:00", "wed 17:00-20:00"}, false, 0, 1},
		{[]string{"mon 22:00-06:00", "tue 05:00-09:00"}, false, 0, 1},
		{[]string{"mon 22:00-06:00", "tue 06:00-09:00"}, true, 0, 0},
		{[]string{"sat 22:00-06:00", "sun 05:00-09:00"}, false, 0, 1}, // wraps the week
		{[]string{"sun 05:00-09:00", "sat 22:00-04:00"}, true, 0, 0},
		{[]string{"mon-sun 00:00-24:00"}, true, 0, 0},
	} {
		var hs []Hours
		for _, l := range tc.lines {
			h, err := ParseHours(l)
			if err != nil {
				t.Fatal(err)
			}
			hs = append(hs, h)
		}
		_, err := New("x", loc, hs, nil)
		var ov *Overlap
		switch {
		case tc.ok && err != nil:
			t.Errorf("%v: %v", tc.lines, err)
		case !tc.ok && !errors.As(err, &ov):
			t.Errorf("%v: no overlap reported (%v)", tc.lines, err)
		case !tc.ok && (ov.A != tc.a || ov.B != tc.b):
			t.Errorf("%v: overlap between lines %d and %d, want %d and %d (%v)", tc.lines, ov.A, ov.B, tc.a, tc.b, err)
		}
	}
}

func TestReadICS(t *testing.T) {
	src := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" +
		"BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20260101\r\nSUMMARY:New \r\n Year\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:2\r\nDTSTART;VALUE=DATE:20260216\r\nDTEND;VALUE=DATE:20260219\r\nSUMMARY:Seollal\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:3\r\nDTSTART;VALUE=DATE:\r\n 20261225\r\nEND:VEVENT\r\n" +
		"END:VCALENDAR\r\n"
	got, err := ReadICS(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, d := range got {
		s = append(s, d.String())
	}
	if want := "2026-01-01 2026-02-16 2026-02-17 2026-02-18 2026-12-25"; strings.Join(s, " ") != want {
		t.Errorf("dates = %v, want %s", s, want)
	}
	for _, bad := range []string{
		"BEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\nRRULE:FREQ=YEARLY\nEND:VEVENT\n",
		"BEGIN:VEVENT\nDTSTART;TZID=Asia/Seoul:20260101T090000\nEND:VEVENT\n",
		"BEGIN:VEVENT\nDTSTART:20260101T000000Z\nEND:VEVENT\n",
		"BEGIN:VEVENT\nSUMMARY:x\nEND:VEVENT\n",
	} {
		if _, err := ReadICS(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line ") {
			t.Errorf("ReadICS accepted or did not name the line: %q: %v", bad, err)
		}
	}
}

// NextClose: the end of the opening under way (touching openings are
// one), in the zone's wall time of that day.
func TestNextClose(t *testing.T) {
	for _, tc := range []struct {
		name  string
		zone  string
		hours []string
		from  string
		want  string // RFC 3339 UTC; "" closed at from (or never closes)
	}{
		{"inside the day", seoul, office, "2026-12-07 10:00", "2026-12-07T09:00:00Z"},
		{"at opening", seoul, office, "2026-12-07 09:00", "2026-12-07T09:00:00Z"},
		{"at closing: closed", seoul, office, "2026-12-07 18:00", ""},
		{"Saturday: closed", seoul, office, "2026-12-05 12:00", ""},
		{"lunch break", seoul, []string{"mon-fri 09:00-12:00, 13:00-18:00"}, "2026-12-07 11:00", "2026-12-07T03:00:00Z"},
		{"touching days are one opening", seoul, []string{"mon 09:00-24:00", "tue 00:00-06:00"}, "2026-12-07 20:00", "2026-12-07T21:00:00Z"},
		{"night shift over midnight", seoul, []string{"mon-fri 22:00-06:00"}, "2026-12-08 02:00", "2026-12-07T21:00:00Z"},
		{"New York after spring-forward", ny, office, "2026-03-09 10:00", "2026-03-09T22:00:00Z"},
		{"New York before spring-forward", ny, office, "2026-03-06 10:00", "2026-03-06T23:00:00Z"},
		{"around the clock: never", seoul, []string{"mon-sun 00:00-24:00"}, "2026-12-07 10:00", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCal(t, tc.zone, tc.hours)
			got, ok := c.NextClose(at(t, tc.zone, tc.from))
			if tc.want == "" {
				if ok {
					t.Errorf("NextClose(%s) = %v, want none", tc.from, got)
				}
				return
			}
			if !ok || !got.Equal(utc(t, tc.want)) {
				t.Errorf("NextClose(%s) = %v %v, want %s", tc.from, got, ok, tc.want)
			}
		})
	}
	if _, ok := Always.NextClose(utc(t, "2026-12-07T00:00:00Z")); ok {
		t.Error("24/7 closes")
	}
}

// Day numbers (the day cache's keys) count civil dates one by one,
// across month ends, leap days and 1970.
func TestDayNumbers(t *testing.T) {
	d := Date{1969, time.December, 1}
	n := d.dayNumber()
	for i := 0; i < 6*366*10; i++ {
		if got := dateOfNumber(n); got != d {
			t.Fatalf("dateOfNumber(%d) = %s, want %s", n, got, d)
		}
		if got := d.dayNumber(); got != n {
			t.Fatalf("%s.dayNumber() = %d, want %d", d, got, n)
		}
		d, n = d.add(1), n+1
	}
	if got := (Date{1970, time.January, 1}).dayNumber(); got != 0 {
		t.Errorf("1970-01-01 is day %d", got)
	}
}
