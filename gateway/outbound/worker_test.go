package outbound

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/store"
)

// A shutdown with a backlog ends after the round under way: the rest stays
// queued for the next start (it must not take as long as the backlog).
func TestRunStopsAfterTheRoundUnderWay(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 6 * batchMax
	if err := db.Update(func(tx *store.Tx) error {
		for i := 0; i < n; i++ {
			if err := tx.Enqueue(&store.Outbound{Kind: "ack", MailFrom: "support@example.com", Rcpt: "ken@example.net",
				From: "Support <support@example.com>", To: []string{"ken@example.net"}, Subject: "Re: x", MessageID: "id" + string(rune('a'+i%26)) + "@example.com",
				Text: "hello"}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = dir
	w := New(db, func() *config.Config { return cfg }, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	w.Parallel = 1
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	deadline := time.Now().Add(30 * time.Second)
	for w.Metrics.Sent.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	sent := int(w.Metrics.Sent.Load())
	var queued int
	db.View(func(tx *store.Tx) error { queued = tx.QueueDepth(); return nil })
	if sent == 0 || sent > 2*batchMax || sent+queued != n {
		t.Errorf("after shutdown: %d sent, %d still queued of %d (want at most two rounds sent, the rest queued)", sent, queued, n)
	}
}
