package engine

import (
	"fmt"
	"sync"
	"time"
)

// commitFailWindow is how long after the last failed store write /healthz
// still reports it when no write has succeeded since: long enough for a
// monitor polling every minute or so to see it, short enough that one
// failure on a quiet night does not stay red until the next mail.
const commitFailWindow = 5 * time.Minute

// CommitHealth follows whether deliveries' store writes (spooling the
// body, the store commit) succeed, for /healthz: a store that answers reads
// may still fail every write, and then every mail gets 451.
type CommitHealth struct {
	mu        sync.Mutex
	failing   int // failed writes since the last success
	firstFail time.Time
	lastFail  time.Time
	lastErr   string
}

// Record notes the outcome of one delivery's store write.
func (h *CommitHealth) Record(err error, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.failing = 0
		return
	}
	if h.failing == 0 {
		h.firstFail = now
	}
	h.failing++
	h.lastFail, h.lastErr = now, err.Error()
}

// Check returns why the store is unhealthy, or nil: the last write failed,
// less than commitFailWindow before now.
func (h *CommitHealth) Check(now time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failing == 0 || now.Sub(h.lastFail) >= commitFailWindow {
		return nil
	}
	return fmt.Errorf("store writes failing: the last %d failed (first at %s, last %s ago; every mail is answered 451): %s",
		h.failing, h.firstFail.UTC().Format(time.RFC3339), now.Sub(h.lastFail).Round(time.Second), h.lastErr)
}
