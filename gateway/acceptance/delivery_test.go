package acceptance

import (
	"fmt"
	"sync"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("while the daemon runs, every queued mail is delivered exactly once (a repeat is possible only after a crash, and is then logged)",
	"TestNoDuplicateDeliveriesUnderLoad")

// A found defect: a round could read the queue from a snapshot taken
// before another round recorded its deliveries, see those mails still
// queued and no longer in flight, and send them again ("previous attempt
// was interrupted" logged without any crash).
func TestNoDuplicateDeliveriesUnderLoad(t *testing.T) {
	e := Start(t, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				m := testkit.Mail{From: fmt.Sprintf("c%d-%d@cust%d.example", c, i, c), To: []string{"support@example.com"},
					Subject: fmt.Sprintf("Load %d/%d", c, i), Body: "Hello.\n", MessageID: e.ID(fmt.Sprintf("l%d", c))}
				if err := e.Send(m.From, []string{"support@example.com"}, m.Build()); err != nil {
					errs <- err
					return
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e.Settle()
	seen := map[string]int{}
	for _, m := range e.Sink.All() {
		for _, to := range m.To {
			seen[msgID(m)+" "+to]++
		}
	}
	dups := 0
	for k, n := range seen {
		if n > 1 {
			dups++
			if dups < 5 {
				t.Errorf("%s delivered %d times", k, n)
			}
		}
	}
	if v := e.Metric("helpdesk_outbound_possible_duplicates_total"); v != 0 {
		t.Errorf("helpdesk_outbound_possible_duplicates_total = %v without any crash", v)
	}
	if len(seen) < 200 {
		t.Errorf("only %d distinct deliveries for 200 tickets", len(seen))
	}
}
