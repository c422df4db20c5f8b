// Package lograte keeps a log line that repeats under load (a 451 for every
// mail while the disk is full) from flooding the log: the first occurrence
// of a key is logged at once, later ones within the interval are only
// counted, and at the end of the interval one line says how many were left
// out: "<msg> (N more since <time>)", with the count in the attribute
// "more" and the arguments of the latest occurrence.
package lograte

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Limiter rate-limits log lines by key. Keys come from a fixed set (one
// per call site), never from client data, so the map stays small.
type Limiter struct {
	interval time.Duration
	mu       sync.Mutex
	keys     map[string]*entry
}

type entry struct {
	last  time.Time // when a line for the key was last written
	more  int       // occurrences counted, not yet written
	since time.Time // the first of those
	// The latest counted occurrence, for the summary line.
	log   *slog.Logger
	level slog.Level
	msg   string
	args  []any
}

// New returns a Limiter writing at most one line per key per interval.
func New(interval time.Duration) *Limiter {
	return &Limiter{interval: interval, keys: map[string]*entry{}}
}

// Log writes msg with args at level to log, unless a line for key was
// written less than the interval ago; then it counts it for the summary.
func (l *Limiter) Log(log *slog.Logger, level slog.Level, key, msg string, args ...any) {
	now := time.Now()
	l.mu.Lock()
	e := l.keys[key]
	if e == nil {
		e = &entry{}
		l.keys[key] = e
	}
	if e.more == 0 && (e.last.IsZero() || now.Sub(e.last) >= l.interval) {
		e.last = now
		l.mu.Unlock()
		log.Log(context.Background(), level, msg, args...)
		return
	}
	if e.more == 0 {
		e.since = now
		time.AfterFunc(e.last.Add(l.interval).Sub(now), func() { l.flush(key) })
	}
	e.more++
	e.log, e.level, e.msg, e.args = log, level, msg, args
	l.mu.Unlock()
}

// flush writes the summary of the occurrences counted for key.
func (l *Limiter) flush(key string) {
	l.mu.Lock()
	e := l.keys[key]
	if e.more == 0 {
		l.mu.Unlock()
		return
	}
	log, level, more, since := e.log, e.level, e.more, e.since
	msg := fmt.Sprintf("%s (%d more since %s)", e.msg, more, since.UTC().Format(time.RFC3339))
	args := append(append([]any(nil), e.args...), "more", more)
	e.more, e.last, e.log, e.args = 0, time.Now(), nil, nil
	l.mu.Unlock()
	log.Log(context.Background(), level, msg, args...)
}
