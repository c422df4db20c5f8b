package lograte

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// The first occurrence is logged at once; the rest within the interval are
// one summary line at its end with their count and the latest arguments;
// another key is not affected; after a quiet interval the next occurrence
// is logged at once again.
func TestLimiter(t *testing.T) {
	var buf syncBuf
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	const interval = 200 * time.Millisecond
	l := New(interval)
	start := time.Now()
	for i := 0; i < 100; i++ {
		l.Log(log, slog.LevelError, "store", "storing failed", "n", i)
	}
	l.Log(log, slog.LevelWarn, "other", "something else")
	if got := buf.lines(t); len(got) != 2 || got[0]["msg"] != "storing failed" || got[0]["n"] != 0.0 || got[1]["msg"] != "something else" {
		t.Fatalf("before the interval ends: %v", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(buf.lines(t)) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("no summary line")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if el := time.Since(start); el < interval {
		t.Errorf("summary after %s, before the interval", el)
	}
	sum := buf.lines(t)[2]
	if !strings.HasPrefix(sum["msg"].(string), "storing failed (99 more since ") || sum["more"] != 99.0 || sum["n"] != 99.0 || sum["level"] != "ERROR" {
		t.Errorf("summary: %v", sum)
	}
	time.Sleep(interval + 50*time.Millisecond)
	l.Log(log, slog.LevelError, "store", "storing failed", "n", 100)
	if got := buf.lines(t); len(got) != 4 || got[3]["n"] != 100.0 {
		t.Errorf("after a quiet interval: %v", got)
	}
	time.Sleep(interval + 50*time.Millisecond)
	if got := buf.lines(t); len(got) != 4 {
		t.Errorf("a summary with nothing counted: %v", got[4:])
	}
}

// Ok after failures writes the pending summary and then one Info line
// with the count of failures; without failures, or a second time, nothing.
func TestLimiterOk(t *testing.T) {
	var buf syncBuf
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	l := New(time.Hour)
	l.Ok(log, "read", "works again")
	for i := 0; i < 50; i++ {
		l.Log(log, slog.LevelError, "read", "reading failed", "n", i)
	}
	l.Ok(log, "read", "works again", "queue", "q")
	l.Ok(log, "read", "works again")
	got := buf.lines(t)
	if len(got) != 3 {
		t.Fatalf("lines: %v", got)
	}
	if got[0]["msg"] != "reading failed" || !strings.HasPrefix(got[1]["msg"].(string), "reading failed (49 more since ") {
		t.Errorf("the failure and its summary: %v", got[:2])
	}
	if got[2]["msg"] != "works again" || got[2]["level"] != "INFO" || got[2]["failures"] != 50.0 || got[2]["queue"] != "q" || got[2]["since"] == nil {
		t.Errorf("the line saying it is over: %v", got[2])
	}
	// A new failure after the Ok counts afresh.
	l.Log(log, slog.LevelError, "read", "reading failed", "n", 50)
	l.Ok(log, "read", "works again")
	if got := buf.lines(t); len(got) != 5 || got[4]["failures"] != 1.0 {
		t.Errorf("after a second failure: %v", got[3:])
	}
}
