package ratewin

import (
	"encoding/json"
	"testing"
	"time"
)

// The rate window counts per 1/60 of the window: events leave it as it
// slides, a record stays at most 60 counters whatever the limit, and a
// list of stamps written by an earlier version is still counted.
func TestRateWindowBuckets(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r := Load(nil, t0, time.Hour)
	for i := 0; i < 5000; i++ {
		r.Add(t0.Add(time.Duration(i) * 600 * time.Millisecond)) // 50 minutes
	}
	if got := r.Count(); got != 5000 {
		t.Fatalf("count = %d, want 5000", got)
	}
	if len(r.Counts) > Buckets {
		t.Fatalf("%d counters, want at most %d", len(r.Counts), Buckets)
	}
	b, _ := json.Marshal(r)
	later := Load(b, t0.Add(90*time.Minute), time.Hour)
	// Events from minute 30 to 50 are still within the hour before 11:30.
	if got := later.Count(); got < 1900 || got > 2100 {
		t.Errorf("after 90 minutes count = %d, want about 2000", got)
	}
	if got := Load(b, t0.Add(3*time.Hour), time.Hour).Count(); got != 0 {
		t.Errorf("after 3 hours count = %d, want 0", got)
	}
	stamps, _ := json.Marshal([]int64{t0.Add(-2 * time.Hour).UnixNano(), t0.Add(-30 * time.Minute).UnixNano(), t0.UnixNano()})
	if got := Load(stamps, t0, time.Hour).Count(); got != 2 {
		t.Errorf("legacy stamps counted %d, want 2", got)
	}
}

// A record written in the binary form reads back the same, and one that is
// cut short starts afresh instead of failing.
func TestRateRecordBinary(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r := Load(nil, t0, time.Hour)
	for i := 0; i < 30; i++ {
		r.Add(t0.Add(time.Duration(i) * time.Minute))
	}
	b := r.Encode()
	if got := Load(b, t0.Add(29*time.Minute), time.Hour).Count(); got != 30 {
		t.Errorf("binary record counted %d, want 30", got)
	}
	if got := Load(b[:20], t0, time.Hour).Count(); got != 0 {
		t.Errorf("a cut record counted %d, want 0", got)
	}
}
