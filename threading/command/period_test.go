package command

import (
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	seoul := time.FixedZone("KST", 9*3600)
	now := time.Date(2025, 6, 18, 15, 30, 0, 0, seoul) // a Wednesday
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, seoul) }
	tests := []struct {
		in       string
		from, to time.Time
	}{
		{"", now.AddDate(0, 0, -30), now},
		{"today", day(2025, 6, 18), now},
		{"Yesterday", day(2025, 6, 17), day(2025, 6, 18)},
		{"week", day(2025, 6, 16), now},
		{"last-week", day(2025, 6, 9), day(2025, 6, 16)},
		{"month", day(2025, 6, 1), now},
		{"last-month", day(2025, 5, 1), day(2025, 6, 1)},
		{"quarter", day(2025, 4, 1), now},
		{"last-quarter", day(2025, 1, 1), day(2025, 4, 1)},
		{"year", day(2025, 1, 1), now},
		{"last-year", day(2024, 1, 1), day(2025, 1, 1)},
		{"30d", now.AddDate(0, 0, -30), now},
		{"2w", now.AddDate(0, 0, -14), now},
		{"2024", day(2024, 1, 1), day(2025, 1, 1)},
		{"2025-02", day(2025, 2, 1), day(2025, 3, 1)},
		{"2025-02-28", day(2025, 2, 28), day(2025, 3, 1)},
		{"2025-05-01..2025-05-31", day(2025, 5, 1), day(2025, 6, 1)},
		{"2025-01..2025-03", day(2025, 1, 1), day(2025, 4, 1)},
	}
	for _, tt := range tests {
		from, to, ok := ParsePeriod(tt.in, now)
		if !ok || !from.Equal(tt.from) || !to.Equal(tt.to) {
			t.Errorf("ParsePeriod(%q) = %v, %v, %v; want %v, %v", tt.in, from, to, ok, tt.from, tt.to)
		}
	}
	// On a Sunday the week still starts on Monday.
	sunday := time.Date(2025, 6, 22, 10, 0, 0, 0, time.UTC)
	if from, _, _ := ParsePeriod("week", sunday); !from.Equal(time.Date(2025, 6, 16, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("week on Sunday starts %v", from)
	}
	for _, bad := range []string{"0d", "3661d", "523w", "d", "-3d", "2025-13", "2025-02-30", "1969", "2025-05-31..2025-05-01", "2025..", "..2025", "fortnight", "12345678901d"} {
		if _, _, ok := ParsePeriod(bad, now); ok {
			t.Errorf("ParsePeriod(%q) accepted", bad)
		}
	}
}
