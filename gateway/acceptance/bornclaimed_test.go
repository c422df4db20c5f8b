package acceptance

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("outbound mail a daemon queued (born claimed by its worker, issue 18) survives a kill -9 right after the 250: after the restart every queued mail reaches its recipient, one that reached the relay twice was logged as a possible duplicate, and no lease is left (bbolt and PostgreSQL)",
	"TestKilledDaemonsQueuedMailGoesOutAfterRestart")

// kill -9 right after each 250: the acknowledgement and the staff
// notifications are queued, leased to the worker in the mail's own write
// and handed to it in memory, and at most partly delivered. The restarted
// daemon releases its earlier leases and delivers them: each recipient
// gets each mail, twice only when the relay took it before the kill and
// then only with "may duplicate" logged for it (SPEC 11).
func TestKilledDaemonsQueuedMailGoesOutAfterRestart(t *testing.T) {
	e := Start(t, Options{})
	const n = 3
	for i := range n {
		m := testkit.Mail{From: fmt.Sprintf("Kim %d <kim%d@e-fun.example>", i, i), To: []string{"support@example.com"},
			Subject: fmt.Sprintf("Printer %d jams", i), Body: "It jams on every page.", MessageID: e.ID("kill")}
		if err := e.Send(Addr(m.From), OurRcpts(m), m.Build()); err != nil {
			t.Fatalf("mail %d: %v", i, err)
		}
		e.Crash()
		e.StartAgain()
	}
	e.Settle()

	// The queue as the CLI shows it: everything sent, no lease left.
	var box struct {
		Items []struct {
			ID          uint64 `json:"id"`
			State       string `json:"state"`
			Kind        string `json:"kind"`
			Rcpt        string `json:"rcpt"`
			MessageID   string `json:"message_id"`
			LeaseHolder string `json:"lease_holder"`
		} `json:"items"`
	}
	e.JSON(&box, "outbox", "--limit", "1000")
	acks := 0
	for _, it := range box.Items {
		if it.State != "sent" || it.LeaseHolder != "" {
			t.Errorf("outbound %d (%s to %s): %s, lease %q; want sent, no lease", it.ID, it.Kind, it.Rcpt, it.State, it.LeaseHolder)
		}
		if it.Kind == "ack" {
			acks++
		}
	}
	if acks != n {
		t.Errorf("%d acknowledgements queued for %d new tickets", acks, n)
	}

	// What the relay got: each queued mail, to its recipient; a second
	// copy only with a possible duplicate logged for it.
	logged := map[string]bool{}
	for _, line := range strings.Split(e.Logs(), "\n") {
		if !strings.Contains(line, "may duplicate") {
			continue
		}
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			if id, ok := rec["message_id"].(string); ok {
				logged[strings.ToLower(id)] = true
			}
		} else if i := strings.Index(line, "message_id="); i >= 0 {
			logged[strings.ToLower(strings.Fields(line[i+len("message_id="):])[0])] = true
		}
	}
	t.Logf("%d restarts released leases of the run before; %d mails logged as possible duplicates",
		strings.Count(e.Logs(), "released the leases of an earlier run"), len(logged))
	got := map[string][]string{}
	for _, r := range e.Sink.All() {
		id := strings.ToLower(strings.Trim(r.Header("Message-Id"), "<> "))
		got[id] = append(got[id], r.To...)
	}
	for _, it := range box.Items {
		id := strings.ToLower(it.MessageID)
		rcpts := got[id]
		switch {
		case len(rcpts) == 0:
			t.Errorf("outbound %d (%s to %s) is recorded as sent but the relay never got it", it.ID, it.Kind, it.Rcpt)
		case len(rcpts) > 1 && !logged[id]:
			t.Errorf("outbound %d (%s to %s) reached the relay %d times and no possible duplicate was logged", it.ID, it.Kind, it.Rcpt, len(rcpts))
		}
		for _, r := range rcpts {
			if !strings.EqualFold(r, it.Rcpt) {
				t.Errorf("outbound %d for %s reached %s", it.ID, it.Rcpt, r)
			}
		}
		delete(got, id)
	}
	for id, rcpts := range got {
		t.Errorf("the relay got %s (to %v), which is not in the outbound queue", id, rcpts)
	}
	for i := range n {
		if ms := e.Mailbox(fmt.Sprintf("kim%d@e-fun.example", i)); len(ms) == 0 || len(ms) > 2 {
			t.Errorf("kim%d got %d mails, want the acknowledgement (twice at most, logged)", i, len(ms))
		}
	}
}
