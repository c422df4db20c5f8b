package gateway

import (
	"context"
	"sync"
)

// budget bounds the bytes of mail being parsed and applied at once
// ([smtp] parse_budget, issue 11): parsing a mail costs several times its
// size in memory, so many mails parsed at once, each of an ordinary size,
// would otherwise take the daemon's memory. A mail takes its size from
// the budget (at most the whole budget, so a mail larger than the budget
// still goes through when it is alone) and waits, in arrival order, while
// the budget cannot give that much.
type budget struct {
	mu      sync.Mutex
	max     int64
	used    int64
	waiters []*budgetWaiter // first come, first served: a large mail is not starved by small ones
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when the bytes were granted
}

func newBudget(max int64) *budget { return &budget{max: max} }

// weight is what a mail of size bytes takes from the budget.
func (b *budget) weight(size int64) int64 { return max(1, min(size, b.max)) }

// acquire takes weight(size) bytes, waiting until they are free or ctx
// ends (then it returns ctx's error and holds nothing). It returns the
// bytes to give back to release.
func (b *budget) acquire(ctx context.Context, size int64) (int64, error) {
	n := b.weight(size)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.max {
		b.used += n
		b.mu.Unlock()
		return n, nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return n, nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready:
			// Granted while giving up: hand it back.
			b.used -= n
		default:
			for i, x := range b.waiters {
				if x == w {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
		}
		b.grant()
		b.mu.Unlock()
		return 0, ctx.Err()
	}
}

// release gives back n bytes taken by acquire.
func (b *budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

// grant wakes the waiters at the head of the line that now fit. b.mu is
// held.
func (b *budget) grant() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.max {
			return
		}
		b.used += w.n
		b.waiters = b.waiters[1:]
		close(w.ready)
	}
}

// inUse is the bytes taken now.
func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
