package engine

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCommitHealth(t *testing.T) {
	var h CommitHealth
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := h.Check(t0); err != nil {
		t.Fatalf("no writes yet: %v", err)
	}
	h.Record(nil, t0)
	h.Record(errors.New("disk full"), t0.Add(time.Second))
	h.Record(errors.New("disk still full"), t0.Add(2*time.Second))
	err := h.Check(t0.Add(3 * time.Second))
	if err == nil || !strings.Contains(err.Error(), "the last 2 failed") || !strings.Contains(err.Error(), "disk still full") {
		t.Fatalf("after two failures: %v", err)
	}
	if err := h.Check(t0.Add(2*time.Second + commitFailWindow)); err != nil {
		t.Errorf("a failure older than the window with no write since: %v", err)
	}
	h.Record(nil, t0.Add(4*time.Second))
	if err := h.Check(t0.Add(5 * time.Second)); err != nil {
		t.Errorf("after a successful write: %v", err)
	}
}
