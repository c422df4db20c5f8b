package gateway

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestParseBudget(t *testing.T) {
	b := newBudget(100)
	ctx := context.Background()

	// A mail larger than the whole budget takes all of it, alone.
	big, err := b.acquire(ctx, 1000)
	if err != nil || big != 100 || b.inUse() != 100 {
		t.Fatalf("oversized mail: took %d (err %v), in use %d; want all 100", big, err, b.inUse())
	}
	// Others wait for it, in arrival order, and give up at their deadline.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	if _, err := b.acquire(short, 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("acquire while full: %v, want the deadline", err)
	}
	cancel()
	got := make(chan int64, 2)
	go func() { n, _ := b.acquire(ctx, 60); got <- n }()
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 1 })
	go func() { n, _ := b.acquire(ctx, 30); got <- n }()
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.waiters) == 2 })
	// A small mail arriving now does not pass the two in line.
	short, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
	if _, err := b.acquire(short, 1); err == nil {
		t.Fatal("a later mail overtook the waiting ones")
	}
	cancel()
	b.release(big)
	a, c := <-got, <-got
	if a+c != 90 || b.inUse() != 90 {
		t.Fatalf("after release: granted %d and %d, in use %d; want 60 and 30", a, c, b.inUse())
	}
	b.release(a)
	b.release(c)
	if b.inUse() != 0 || len(b.waiters) != 0 {
		t.Fatalf("in use %d, %d waiting after every release", b.inUse(), len(b.waiters))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 30s")
		}
		time.Sleep(time.Millisecond)
	}
}
