package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"helpdesk/store"
	"helpdesk/store/model"
)

// Explain's write is always rolled back, also when the store groups it
// with concurrent deliveries into one commit: every delivery is kept
// (the group is retried without the explain), nothing of any explain is.
func TestExplainAmidConcurrentDeliveriesKeepsOnlyTheDeliveries(t *testing.T) {
	h := newHarness(t, "")
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			raw := mailFrom(fmt.Sprintf("Ken <ken%d@e-fun.example>", i), fmt.Sprintf("deliver%d", i), "Please call me back.")
			if _, err := h.e.InjectEnvelope(context.Background(), []byte(raw), InjectOptions{Rcpts: []string{"support@example.com"}}); err != nil {
				errs <- fmt.Errorf("deliver %d: %w", i, err)
			}
		}(i)
		go func(i int) {
			defer wg.Done()
			raw := mailFrom(fmt.Sprintf("Ann <ann%d@e-fun.example>", i), fmt.Sprintf("explain%d", i), "Only asking.")
			x, err := h.e.Explain(context.Background(), []byte(raw), InjectOptions{Rcpts: []string{"support@example.com"}})
			if err != nil {
				errs <- fmt.Errorf("explain %d: %w", i, err)
				return
			}
			if x.Result.Disposition != model.DispTicket || x.Result.Message != 0 || len(x.Mail) == 0 {
				errs <- fmt.Errorf("explain %d: %+v", i, x.Result)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var tickets []*model.Ticket
	h.db.View(func(tx store.Tx) error {
		for _, id := range tx.TicketIDs("", 0) {
			tk, err := tx.Ticket(id)
			if err != nil {
				return err
			}
			tickets = append(tickets, tk)
		}
		return nil
	})
	if len(tickets) != n {
		t.Fatalf("%d tickets, want the %d delivered", len(tickets), n)
	}
	for _, tk := range tickets {
		if tk.Requester[:3] != "ken" {
			t.Errorf("ticket %d of %s: an explained mail was kept", tk.ID, tk.Requester)
		}
	}
	if got := len(h.outbox("notification")); got != n {
		t.Errorf("%d notifications queued, want %d", got, n)
	}
}
