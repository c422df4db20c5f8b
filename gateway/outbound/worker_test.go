package outbound

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
)

// A shutdown with a backlog ends after the round under way: the rest stays
// queued for the next start (it must not take as long as the backlog).
func TestRunStopsAfterTheRoundUnderWay(t *testing.T) {
	dir := t.TempDir()
	db, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 6 * batchMax
	if err := db.Update(func(tx store.Tx) error {
		for i := 0; i < n; i++ {
			if err := tx.Enqueue(&model.Outbound{Kind: "ack", MailFrom: "support@example.com", Rcpt: "ken@example.net",
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
	db.View(func(tx store.Tx) error { queued = tx.QueueDepth(); return nil })
	if sent == 0 || sent > 2*batchMax || sent+queued != n {
		t.Errorf("after shutdown: %d sent, %d still queued of %d (want at most two rounds sent, the rest queued)", sent, queued, n)
	}
}

// Answers about our credentials or security are the relay's failure
// (retried, never bounced); other 5xx refuse the one mail.
func TestClassifyRelayAnswers(t *testing.T) {
	for _, c := range []struct {
		code  int
		enh   smtp.EnhancedCode
		relay bool
		perm  bool
	}{
		{535, smtp.EnhancedCode{5, 7, 8}, true, false},
		{530, smtp.EnhancedCode{5, 7, 0}, true, false},
		{534, smtp.EnhancedCode{5, 7, 9}, true, false},
		{538, smtp.EnhancedCode{5, 7, 11}, true, false},
		{523, smtp.EnhancedCode{5, 7, 10}, true, false},
		{550, smtp.EnhancedCode{5, 1, 1}, false, true},
		{552, smtp.EnhancedCode{5, 3, 4}, false, true},
		{451, smtp.EnhancedCode{4, 3, 0}, false, false},
	} {
		err := classify("MAIL FROM", &smtp.SMTPError{Code: c.code, EnhancedCode: c.enh, Message: "x"})
		var re *relayError
		var pe permanentError
		if got := errors.As(err, &re); got != c.relay {
			t.Errorf("%d: relay error %v, want %v", c.code, got, c.relay)
		}
		if got := errors.As(err, &pe); got != c.perm {
			t.Errorf("%d: permanent %v, want %v", c.code, got, c.perm)
		}
	}
	// A broken connection is the relay's failure too.
	if err := classify("DATA", io.ErrUnexpectedEOF); !errors.As(err, new(*relayError)) {
		t.Errorf("EOF: %v is not a relay error", err)
	}
}
