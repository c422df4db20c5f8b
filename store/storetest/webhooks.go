package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// testWebhooks: the webhook delivery queue keeps due order, leaves the
// queue on delivery or giving up, and survives a reopen.
func testWebhooks(t *testing.T, e *env) {
	now := Start
	e.update(func(tx store.Tx) error {
		for _, d := range []*model.WebhookDelivery{
			{Webhook: "a", NextAttempt: now.Add(time.Minute), Body: []byte(`{"a":1}`)},
			{Webhook: "b"},
			{Webhook: "c", NextAttempt: now.Add(-time.Minute)},
		} {
			if err := tx.EnqueueWebhook(d); err != nil {
				return err
			}
			if d.ID == 0 || d.State != model.HookQueued || d.Created.IsZero() || d.NextAttempt.IsZero() {
				t.Errorf("EnqueueWebhook left %+v", d)
			}
		}
		return nil
	})
	names := func(ds []*model.WebhookDelivery) string {
		var r []string
		for _, d := range ds {
			r = append(r, d.Webhook)
		}
		return fmt.Sprint(r)
	}
	e.reopen()
	var due []*model.WebhookDelivery
	e.view(func(tx store.Tx) error {
		var err error
		due, err = tx.DueWebhooks(now, 10)
		if got := names(due); got != "[c b]" {
			t.Errorf("due now %s, want [c b] (oldest first)", got)
		}
		if one, _ := tx.DueWebhooks(now, 1); names(one) != "[c]" {
			t.Errorf("due now, limit 1: %s", names(one))
		}
		if next := tx.NextWebhookDue(); !next.Equal(now.Add(-time.Minute)) {
			t.Errorf("NextWebhookDue %v, want %v", next, now.Add(-time.Minute))
		}
		if a, err := tx.WebhookDelivery(1); err != nil || string(a.Body) != `{"a":1}` {
			t.Errorf("WebhookDelivery(1): %+v, %v", a, err)
		}
		if _, err := tx.WebhookDelivery(99); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("WebhookDelivery(99): %v, want ErrNotFound", err)
		}
		return err
	})
	e.update(func(tx store.Tx) error {
		c, b := *due[0], *due[1]
		c.State, c.Done = model.HookDelivered, now
		if err := tx.PutWebhook(&c, due[0].NextAttempt); err != nil {
			return err
		}
		b.State, b.Done, b.LastError = model.HookFailed, now, "HTTP 410"
		if err := tx.PutWebhook(&b, due[1].NextAttempt); err != nil {
			return err
		}
		a, err := tx.WebhookDelivery(1)
		if err != nil {
			return err
		}
		prev := a.NextAttempt
		a.NextAttempt, a.Attempts = now.Add(time.Hour), 1
		return tx.PutWebhook(a, prev)
	})
	e.view(func(tx store.Tx) error {
		if d, _ := tx.DueWebhooks(now.Add(2*time.Hour), 10); names(d) != "[a]" {
			t.Errorf("due after delivering and failing: %s, want [a]", names(d))
		}
		if next := tx.NextWebhookDue(); !next.Equal(now.Add(time.Hour)) {
			t.Errorf("NextWebhookDue %v, want %v", next, now.Add(time.Hour))
		}
		var all []*model.WebhookDelivery
		if err := tx.ForEachWebhook(func(d *model.WebhookDelivery) error { all = append(all, d); return nil }); err != nil {
			return err
		}
		if names(all) != "[c b a]" || all[0].State != model.HookDelivered || all[1].State != model.HookFailed {
			t.Errorf("ForEachWebhook %s, want every delivery newest first", names(all))
		}
		return nil
	})
}
