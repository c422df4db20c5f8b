// Package lograte keeps a log line that repeats under load (a 451 for every
// mail while the disk is full) from flooding the log: the first occurrence
// of a key is logged at once, later ones within the interval are only
// counted, and at the end of the interval one line says how many were left
// out: "<msg> (N more since <time>)", with the count in the attribute
// "more" and the arguments of the latest occurrence. A failure that ends
// (a store that answers again) is closed with Ok: one line saying so,
// instead of silence after the last summary.
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
	// failures counts the occurrences since the last Ok, first is when
	// the first of them happened.
	failures int
	first    time.Time
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
	if e.failures == 0 {
		e.first = now
	}
	e.failures++
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

// Ok says the failure logged under key is over: when any occurred since
// the last Ok, the summary still pending is written now and then msg at
// level Info with "failures" (their count) and "since" (the first), once.
// Without failures it writes nothing, so it may be called on every
// success.
func (l *Limiter) Ok(log *slog.Logger, key, msg string, args ...any) {
	l.mu.Lock()
	e := l.keys[key]
	if e == nil || e.failures == 0 {
		l.mu.Unlock()
		return
	}
	failures, first := e.failures, e.first
	e.failures = 0
	l.mu.Unlock()
	// The pending summary belongs before the line saying it is over (its
	// timer then finds nothing to write).
	l.flush(key)
	args = append(append([]any(nil), args...), "failures", failures, "since", first.UTC().Format(time.RFC3339))
	log.Log(context.Background(), slog.LevelInfo, msg, args...)
}
