package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
)

func TestPrivate(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true,
		"169.254.169.254": true, "fe80::1": true, "fc00::1": true, "0.0.0.0": true, "::": true,
		"100.64.0.1": true, "::ffff:127.0.0.1": true, "::ffff:10.0.0.1": true, "224.0.0.1": true,
		"93.184.216.34": false, "2606:2800:220:1::1": false, "8.8.8.8": false,
	} {
		if got := Private(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Private(%s) = %v, want %v", addr, got, want)
		}
	}
}

// The check is on the address connected to, after DNS: a name that
// resolves to loopback is refused as a literal address is, and a
// redirect is not followed.
func TestClientRefusesLoopbackByName(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	}))
	defer srv.Close()
	byName := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	for _, u := range []string{srv.URL, byName} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, u, nil)
		_, err := client(false).Do(req)
		var ref *refusedError
		if !errors.As(err, &ref) {
			t.Errorf("POST %s without allow_private: %v, want a refusal", u, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the receiver got %d requests", hits.Load())
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, byName, nil)
	resp, err := client(true).Do(req)
	if err != nil {
		t.Fatalf("POST %s with allow_private: %v", byName, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits.Load() != 1 {
		t.Errorf("with allow_private: status %d after %d requests, want the 302 itself, not followed", resp.StatusCode, hits.Load())
	}
}

// A failing webhook's other deliveries are not attempted while it fails:
// they wait for its retry, and one queued longer than give_up_after is
// given up then, as an attempt would have been, so a receiver that stays
// down cannot keep its queue forever.
func TestFailingWebhookPostponesAndGivesUpItsOtherDeliveries(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	cfg, err := config.Parse(fmt.Sprintf(`
[[mailbox]]
address = "support@example.com"

[[webhook]]
name = "down"
url = %q
format = "json"
allow_private = true
`, srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(t.TempDir(), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	old := now.Add(-cfg.Outbound.GiveUpAfter.D() - time.Hour)
	ds := []*model.WebhookDelivery{
		{Webhook: "down", Ticket: 1, Created: now, NextAttempt: now.Add(-time.Minute), Body: []byte(`{}`)},
		{Webhook: "down", Ticket: 2, Created: now, NextAttempt: now.Add(-time.Second), Body: []byte(`{}`)},
		{Webhook: "down", Ticket: 3, Created: old, NextAttempt: now.Add(-time.Second), Body: []byte(`{}`)},
	}
	enqueue := func(ds ...*model.WebhookDelivery) {
		t.Helper()
		if err := db.Update(func(tx store.Tx) error {
			for _, d := range ds {
				if err := tx.EnqueueWebhook(d); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	w := New(db, func() *config.Config { return cfg }, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	enqueue(ds[0])
	w.round(ctx) // attempted: fails, retried later; the webhook is failing
	w.wg.Wait()
	enqueue(ds[1:]...)
	w.round(ctx) // the others wait for its retry, or are given up
	w.wg.Wait()
	if n := hits.Load(); n != 1 {
		t.Fatalf("the failing receiver got %d requests, want 1", n)
	}
	got := map[uint64]*model.WebhookDelivery{}
	db.View(func(tx store.Tx) error {
		for _, d := range ds {
			got[d.Ticket], _ = tx.WebhookDelivery(d.ID)
		}
		return nil
	})
	if d := got[1]; d.State != model.HookQueued || d.Attempts != 1 || !strings.Contains(d.LastError, "HTTP 500") {
		t.Errorf("the attempted delivery: %s, %d attempts, %q", d.State, d.Attempts, d.LastError)
	}
	if d := got[2]; d.State != model.HookQueued || d.Attempts != 0 || !d.NextAttempt.Equal(got[1].NextAttempt) || !strings.Contains(d.LastError, "not attempted") {
		t.Errorf("the fresh waiting delivery: %s, %d attempts, next %s (the failing one's retry %s), %q", d.State, d.Attempts, d.NextAttempt, got[1].NextAttempt, d.LastError)
	}
	if d := got[3]; d.State != model.HookFailed || d.Attempts != 0 || !strings.Contains(d.LastError, "given up") {
		t.Errorf("the delivery queued past give_up_after: %s, %d attempts, %q", d.State, d.Attempts, d.LastError)
	}
	if n := w.Metrics.Failed.Load(); n != 1 {
		t.Errorf("failed metric %d, want 1", n)
	}
}
