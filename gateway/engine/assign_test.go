package engine

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// #available assigns at most MaxWakeAssign waiting tickets per write; the
// rest wait for the next #available, and the sender is told so.
// HELPDESK_MEASURE_OPEN=n adds n open, assigned tickets first (the
// backlog the scan reads past) and logs how long the #available write
// took: go test ./gateway/engine -run TestAvailableIsBounded -v.
func TestAvailableIsBounded(t *testing.T) {
	h := newHarness(t, `
[[group]]
name = "sales"
auto_assign = true
[[agent]]
email = "sam@certs.example"
name = "Sam"
role = "agent"
groups = ["sales"]
`)
	busy, _ := strconv.Atoi(os.Getenv("HELPDESK_MEASURE_OPEN"))
	const waiting = MaxWakeAssign + 50
	put := func(n int, assignee string) {
		for done := 0; done < n; {
			k := min(5000, n-done)
			if err := h.db.Update(func(tx store.Tx) error {
				for i := 0; i < k; i++ {
					tk := &model.Ticket{Subject: fmt.Sprintf("Waiting %d", done+i), Status: model.StatusOpen, Priority: "normal",
						Mailbox: "support@example.com", Group: "sales", Requester: "ken@e-fun.example", Assignee: assignee,
						Threads: []model.Thread{{ID: 0, Kind: model.ThreadMain}}, CCs: []string{}, Followers: []string{}, Tags: []string{}, Links: []model.Link{}}
					if err := tx.NewTicket(tk); err != nil {
						return err
					}
					if err := tx.AddComment(tk, &model.Comment{Kind: model.KindComment, Author: "ken@e-fun.example", Visibility: model.Public, Text: strings.Repeat("text ", 200)}); err != nil {
						return err
					}
					if err := tx.PutTicket(tk); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			done += k
		}
	}
	put(busy, "sam@certs.example")
	put(waiting, "")
	staff := func(in *inbound) { in.verdict = AuthVerdict{Checked: true, DMARC: "pass"} }
	available := func() (Result, time.Duration) {
		start := time.Now()
		res, err := h.apply(Envelope{MailFrom: "sam@certs.example"}, mailFrom("Sam <sam@certs.example>", fmt.Sprint("back", time.Now().UnixNano()), "#available"), staff)
		if err != nil {
			t.Fatal(err)
		}
		return res, time.Since(start)
	}
	assigned := func() int {
		n := 0
		h.db.View(func(tx store.Tx) error {
			for _, id := range tx.TicketIDs(model.StatusOpen, 0) {
				if tk, _ := tx.Ticket(id); tk.Assignee != "" {
					n++
				}
			}
			return nil
		})
		return n - busy
	}
	scan := time.Now()
	h.db.View(func(tx store.Tx) error {
		for _, id := range tx.TicketIDs(model.StatusOpen, 0) {
			if _, err := tx.Routing(id); err != nil {
				return err
			}
		}
		return nil
	})
	t.Logf("reading the routing of %d open tickets: %v", busy+waiting, time.Since(scan))
	_, took := available()
	if got := assigned(); got != MaxWakeAssign {
		t.Fatalf("first #available assigned %d, want %d", got, MaxWakeAssign)
	}
	t.Logf("#available over %d open tickets (%d waiting): %v for the write", busy+waiting, waiting, took)
	var digest, transcript *model.Outbound
	for _, o := range h.outbox("") {
		switch {
		case strings.HasPrefix(o.Subject, "Assigned to you"):
			digest = o
		case o.Kind == "transcript":
			transcript = o
		}
	}
	if digest == nil || !strings.Contains(digest.Subject, fmt.Sprint(MaxWakeAssign)) || !strings.Contains(digest.Text, fmt.Sprintf("#%-6d", busy+1)) {
		t.Fatalf("digest missing or wrong: %+v", digest)
	}
	if transcript == nil || !strings.Contains(transcript.Text, "more wait") {
		t.Fatalf("the sender is not told that more wait: %+v", transcript)
	}
	available()
	if got := assigned(); got != waiting {
		t.Fatalf("after the second #available %d assigned, want %d", got, waiting)
	}
}
