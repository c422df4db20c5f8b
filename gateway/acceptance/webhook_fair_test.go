package acceptance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("a hanging webhook receiver does not delay the deliveries of the other webhooks: a webhook holds at most 8 of the 16 attempts at once, 1 once its attempts fail, and while it fails its other deliveries wait for its retry instead of taking turns",
	"TestWebhookHangingReceiverDoesNotDelayOtherWebhooks")

// A Slack channel must not go quiet because a second receiver hangs.
// Before the per-webhook bound, eight deliveries to a hanging receiver held
// every attempt slot for the whole attempt timeout, and the answering
// receiver's delivery waited behind them.
func TestWebhookHangingReceiverDoesNotDelayOtherWebhooks(t *testing.T) {
	slow := newReceiver(t, nil, true)
	fast := newReceiver(t, nil, false)
	e := Start(t, Options{Config: Staff + fmt.Sprintf(`
[[webhook]]
name = "slow"
url = %q
format = "json"
allow_private = true
timeout = "20s"

[[webhook]]
name = "fast"
url = %q
format = "json"
allow_private = true

[[trigger]]
name = "to slow"
all = ["event is created"]
webhook = "slow"

[[trigger]]
name = "to fast"
all = ["event is created", "subject contains urgent"]
webhook = "fast"
`, slow.URL, fast.URL)})

	for i := range 12 {
		e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: fmt.Sprintf("Routine %d", i), Body: "Hello."})
	}
	// The slow receiver takes its attempts (and hangs in them) before the
	// urgent mail comes.
	e.Eventually(10*time.Second, func() bool { return len(slow.got()) >= 8 }, func() string {
		return fmt.Sprintf("the slow receiver got %d requests\n%s", len(slow.got()), e.MustCLI("webhooks"))
	})
	start := time.Now()
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Urgent: site down", Body: "Help."})
	// Well within the slow receiver's 20 s timeout.
	e.Eventually(10*time.Second, func() bool { return len(fast.got()) == 1 }, func() string {
		return fmt.Sprintf("the answering receiver got nothing %s after its delivery was queued; the slow one got %d requests\n%s",
			time.Since(start).Round(time.Second), len(slow.got()), e.MustCLI("webhooks"))
	})
	if n := len(slow.got()); n != 8 {
		t.Errorf("the hanging receiver got %d attempts at once, want 8 (a webhook's bound)", n)
	}
	if !strings.Contains(string(fast.got()[0].Body), "site down") {
		t.Errorf("the answering receiver got %q", fast.got()[0].Body)
	}

	// Once the eight attempts time out, the slow webhook is failing: its
	// five other deliveries wait for its retry (not attempted,
	// with the reason listed) rather than hanging one after the other.
	e.Eventually(60*time.Second, func() bool {
		v := e.hooks()
		waiting := 0
		for _, it := range v.Items {
			if it.Webhook == "slow" && it.State == "queued" && it.Attempts == 0 && strings.Contains(it.LastError, "not attempted") {
				waiting++
			}
		}
		return waiting >= 5
	}, func() string { return e.MustCLI("webhooks") })
	if n := len(slow.got()); n > 9 {
		t.Errorf("the failing receiver got %d attempts, want its 8 first and at most one probe", n)
	}
	v := e.hooks()
	for _, it := range v.Items {
		if it.Webhook == "fast" && it.State != "delivered" {
			t.Errorf("the answering webhook's delivery is %s (%s)", it.State, it.LastError)
		}
	}
}
