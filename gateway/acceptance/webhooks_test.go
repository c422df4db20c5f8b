package acceptance

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

// Outside-in tests of webhooks (issue 15 item 2): a trigger's firing
// queues a delivery in the mail's own store write; a separate worker
// POSTs it to local httptest receivers (on 127.0.0.1, hence
// allow_private = true, except where the refusal is the point).

var _ = claim("[[webhook]] + a trigger's webhook = NAME: the firing POSTs the ticket's public fields (json), Slack's {\"text\"} or a Teams Adaptive Card message, with X-Helpdesk-Delivery and, with a secret, X-Helpdesk-Signature: sha256=<HMAC of the body>; never a private note, a customer's, CC's or staff address; `helpdesk webhooks` and the metrics show it delivered",
	"TestWebhookDeliversSignedPublicFields")
var _ = claim("a failing (HTTP 500) webhook receiver is retried with backoff under the same delivery id until it accepts, and the failures are listed with their last error",
	"TestWebhookRetriesFailingReceiver")
var _ = claim("a hanging webhook receiver does not delay the SMTP 250 of new mail (deliveries have their own worker and timeout)",
	"TestWebhookHangingReceiverDoesNotSlowIntake")
var _ = claim("a webhook without allow_private refuses a loopback destination, checked on the address connected to; the delivery is listed as failed with the reason and the receiver gets nothing",
	"TestWebhookRefusesLoopbackWithoutAllowPrivate")
var _ = claim("queued webhook deliveries survive a restart and are delivered after it, under the same delivery id",
	"TestWebhookQueueSurvivesRestart")
var _ = claim("`helpdesk check-config` refuses a trigger naming no [[webhook]], a webhook url that is not absolute http(s) and an unknown format, with key, line and fix",
	"TestCheckConfigRefusesBadWebhooks")

// hookReq is one request a receiver got.
type hookReq struct {
	Header http.Header
	Body   []byte
}

// receiver is a local webhook receiver; answer says the status of the
// n-th request (from 1); hang, when set, blocks every request until the
// test ends.
type receiver struct {
	mu     sync.Mutex
	reqs   []hookReq
	answer func(n int) int
	URL    string
}

func newReceiver(t *testing.T, answer func(n int) int, hang bool) *receiver {
	r := &receiver{answer: answer}
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, hookReq{Header: req.Header.Clone(), Body: body})
		n := len(r.reqs)
		r.mu.Unlock()
		if hang {
			select {
			case <-release:
			case <-req.Context().Done():
			}
			return
		}
		code := http.StatusOK
		if r.answer != nil {
			code = r.answer(n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: lets hanging handlers end
	r.URL = srv.URL
	return r
}

func (r *receiver) got() []hookReq {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookReq(nil), r.reqs...)
}

// webhookConfig is Staff plus one [[webhook]] and a trigger on new
// tickets that fires it.
func webhookConfig(url, format, extra string) string {
	return Staff + fmt.Sprintf(`
[[webhook]]
name = "hook"
url = %q
format = %q
%s

[[trigger]]
name = "announce"
all = ["event is created"]
webhook = "hook"
`, url, format, extra)
}

// hooksView is `helpdesk webhooks --json`.
type hooksView struct {
	Queued, Delivered, Failed int
	Items                     []struct {
		ID        uint64 `json:"id"`
		Webhook   string `json:"webhook"`
		Ticket    uint64 `json:"ticket"`
		Trigger   string `json:"trigger"`
		State     string `json:"state"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"last_error"`
	}
}

func (e *Env) hooks() hooksView {
	var v hooksView
	e.JSON(&v, "webhooks")
	return v
}

func TestWebhookDeliversSignedPublicFields(t *testing.T) {
	js := newReceiver(t, nil, false)
	slack := newReceiver(t, nil, false)
	teams := newReceiver(t, nil, false)
	cfg := Staff + fmt.Sprintf(`
[[webhook]]
name = "json"
url = %q
format = "json"
secret = "s3cret"
allow_private = true

[[webhook]]
name = "slack"
url = %q
format = "slack"
allow_private = true

[[webhook]]
name = "teams"
url = %q
format = "teams"
allow_private = true
timeout = "5s"

[[trigger]]
name = "announce json"
any = ["event is created", "event is note"]
actions = ["#tag announced"]
webhook = "json"

[[trigger]]
name = "announce slack"
all = ["event is created"]
webhook = "slack"

[[trigger]]
name = "announce teams"
all = ["event is created"]
webhook = "teams"
`, js.URL, slack.URL, teams.URL)
	e := Start(t, Options{Config: cfg})
	n1 := e.Open(kenFr, "Certificate <renewal> & DNS", "Please renew; my phone is 555-0100.", vic)
	e.Reply(vicFr, n1, "#assign me\n")
	e.Reply(vicFr, n1, "#note\nInternal: PRIVATE-MARKER the customer owes us money.")

	e.Eventually(30*time.Second, func() bool { return len(js.got()) >= 2 && len(slack.got()) >= 1 && len(teams.got()) >= 1 },
		func() string {
			return fmt.Sprintf("json %d, slack %d, teams %d requests\n%s", len(js.got()), len(slack.got()), len(teams.got()), e.MustCLI("webhooks"))
		})

	// Deliveries go out in parallel, so they may arrive in any order:
	// taken in the order they were queued (their ids).
	jsReqs := js.got()
	slices.SortFunc(jsReqs, func(a, b hookReq) int {
		x, _ := strconv.Atoi(a.Header.Get("X-Helpdesk-Delivery"))
		y, _ := strconv.Atoi(b.Header.Get("X-Helpdesk-Delivery"))
		return x - y
	})
	ids := map[string]bool{}
	for i, r := range jsReqs {
		mac := hmac.New(sha256.New, []byte("s3cret"))
		mac.Write(r.Body)
		if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); r.Header.Get("X-Helpdesk-Signature") != want {
			t.Errorf("json request %d: signature %q, want %q", i, r.Header.Get("X-Helpdesk-Signature"), want)
		}
		id := r.Header.Get("X-Helpdesk-Delivery")
		if _, err := strconv.ParseUint(id, 10, 64); err != nil || ids[id] {
			t.Errorf("json request %d: X-Helpdesk-Delivery %q (a fresh number per delivery)", i, id)
		}
		ids[id] = true
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("json request %d: Content-Type %q", i, ct)
		}
		var p struct {
			Event, Trigger string
			Events         []string
			Ticket         struct {
				Number                                     uint64
				Subject, Status, Priority, Group, Assignee string
				Tags                                       []string
			}
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("json request %d: %v\n%s", i, err, r.Body)
		}
		if p.Event != "trigger" || p.Trigger != "announce json" || p.Ticket.Number != 1 || p.Ticket.Subject != "Certificate <renewal> & DNS" ||
			p.Ticket.Status == "" || !hasTag(p.Ticket.Tags, "announced") {
			t.Errorf("json request %d: %s", i, r.Body)
		}
		want := "created"
		if i == 1 {
			want = "note"
			if p.Ticket.Assignee != "Victoria" {
				t.Errorf("json request 1: assignee %q, want the agent's name Victoria", p.Ticket.Assignee)
			}
		}
		if !slices.Contains(p.Events, want) {
			t.Errorf("json request %d: events %v, want %s among them", i, p.Events, want)
		}
	}
	for _, r := range append(append(js.got(), slack.got()...), teams.got()...) {
		for _, secret := range []string{"PRIVATE-MARKER", "owes us money", "555-0100", "ken@", "e-fun.example", "victoria@", "certs.example", "Internal:"} {
			if strings.Contains(string(r.Body), secret) {
				t.Errorf("a webhook carried %q:\n%s", secret, r.Body)
			}
		}
	}
	if s := slack.got()[0]; s.Header.Get("X-Helpdesk-Signature") != "" || s.Header.Get("X-Helpdesk-Delivery") == "" {
		t.Errorf("slack headers: %v (no secret: no signature; always a delivery id)", s.Header)
	} else {
		var p map[string]string
		if err := json.Unmarshal(s.Body, &p); err != nil || !strings.Contains(p["text"], "Ticket #1: Certificate &lt;renewal&gt; &amp; DNS") || len(p) != 1 {
			t.Errorf("slack body: %s (%v)", s.Body, err)
		}
	}
	var card struct {
		Type        string
		Attachments []struct {
			ContentType string
			Content     struct {
				Type, Version string
				Body          []struct{ Type, Text string }
			}
		}
	}
	if err := json.Unmarshal(teams.got()[0].Body, &card); err != nil || card.Type != "message" || len(card.Attachments) != 1 ||
		card.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" || card.Attachments[0].Content.Type != "AdaptiveCard" ||
		len(card.Attachments[0].Content.Body) == 0 || card.Attachments[0].Content.Body[0].Text != "Ticket #1: Certificate <renewal> & DNS" {
		t.Errorf("teams body: %s (%v)", teams.got()[0].Body, err)
	}
	e.Eventually(30*time.Second, func() bool { v := e.hooks(); return v.Delivered == 4 && v.Queued == 0 },
		func() string { return e.MustCLI("webhooks") })
	if got := e.Metric("helpdesk_webhook_delivered_total"); got != 4 {
		t.Errorf("helpdesk_webhook_delivered_total %v, want 4", got)
	}
	if got := e.Metric("helpdesk_webhook_queued"); got != 0 {
		t.Errorf("helpdesk_webhook_queued %v, want 0", got)
	}
	out := e.MustCLI("webhooks")
	for _, want := range []string{"delivered 4", "announce slack", "delivered"} {
		if !strings.Contains(out, want) {
			t.Errorf("helpdesk webhooks lacks %q:\n%s", want, out)
		}
	}
}

func TestWebhookRetriesFailingReceiver(t *testing.T) {
	r := newReceiver(t, func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}, false)
	e := Start(t, Options{Config: webhookConfig(r.URL, "json", "allow_private = true")})
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Flaky receiver", Body: "Hello."})
	e.Eventually(30*time.Second, func() bool { v := e.hooks(); return v.Delivered == 1 },
		func() string { return fmt.Sprintf("%d requests\n%s", len(r.got()), e.MustCLI("webhooks")) })
	reqs := r.got()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (two 500s, then accepted)", len(reqs))
	}
	for _, q := range reqs {
		if q.Header.Get("X-Helpdesk-Delivery") != reqs[0].Header.Get("X-Helpdesk-Delivery") || string(q.Body) != string(reqs[0].Body) {
			t.Errorf("a retry changed the delivery: %q %s vs %q %s", q.Header.Get("X-Helpdesk-Delivery"), q.Body, reqs[0].Header.Get("X-Helpdesk-Delivery"), reqs[0].Body)
		}
	}
	v := e.hooks()
	if len(v.Items) != 1 || v.Items[0].Attempts != 3 || v.Items[0].State != "delivered" {
		t.Errorf("listed %+v, want one delivered after 3 attempts", v.Items)
	}
	if got := e.Metric("helpdesk_webhook_retries_total"); got != 2 {
		t.Errorf("helpdesk_webhook_retries_total %v, want 2", got)
	}
	if !strings.Contains(e.Logs(), "HTTP 500") {
		t.Errorf("the failed attempts are not logged with their error")
	}
}

func TestWebhookHangingReceiverDoesNotSlowIntake(t *testing.T) {
	r := newReceiver(t, nil, true)
	e := Start(t, Options{Config: webhookConfig(r.URL, "slack", `allow_private = true
timeout = "5m"`)})
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "First", Body: "Hello."})
	e.Eventually(30*time.Second, func() bool { return len(r.got()) >= 1 }, func() string { return "the receiver got no request" })
	// The receiver now holds a request open (for up to 5 minutes). New
	// mail, each firing the trigger again, is answered as fast as ever.
	for i := range 5 {
		m := testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: fmt.Sprintf("While hanging %d", i), Body: "Hello.", MessageID: e.ID("c")}
		start := time.Now()
		if err := e.Send(Addr(m.From), OurRcpts(m), m.Build()); err != nil {
			t.Fatalf("mail %d: %v", i, err)
		}
		// Generous for a loaded machine, far below the receiver's hang.
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("mail %d took %s to get its 250 while a webhook receiver hangs", i, d)
		}
	}
	e.Eventually(30*time.Second, func() bool { return len(r.got()) >= 6 },
		func() string {
			return fmt.Sprintf("%d requests: the other deliveries wait behind the hanging one", len(r.got()))
		})
	if v := e.hooks(); v.Queued != 6 {
		t.Errorf("queued %d, want 6 (every delivery waits on the hanging receiver)", v.Queued)
	}
}

func TestWebhookRefusesLoopbackWithoutAllowPrivate(t *testing.T) {
	r := newReceiver(t, nil, false)
	e := Start(t, Options{Config: webhookConfig(r.URL, "json", "allow_private = false")})
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "To loopback", Body: "Hello."})
	e.Eventually(30*time.Second, func() bool { return e.hooks().Failed == 1 }, func() string { return e.MustCLI("webhooks") })
	v := e.hooks()
	if len(v.Items) != 1 || !strings.Contains(v.Items[0].LastError, "refused to connect to 127.0.0.1") || !strings.Contains(v.Items[0].LastError, "allow_private") {
		t.Errorf("listed %+v, want failed with the refusal and its fix", v.Items)
	}
	if out := e.MustCLI("webhooks"); !strings.Contains(out, "refused to connect to 127.0.0.1") {
		t.Errorf("helpdesk webhooks does not show the error:\n%s", out)
	}
	if n := len(r.got()); n != 0 {
		t.Errorf("the loopback receiver got %d requests", n)
	}
	if got := e.Metric("helpdesk_webhook_failed_total"); got != 1 {
		t.Errorf("helpdesk_webhook_failed_total %v, want 1", got)
	}
}

func TestWebhookQueueSurvivesRestart(t *testing.T) {
	var up sync.Mutex
	accept := false
	r := newReceiver(t, func(int) int {
		up.Lock()
		defer up.Unlock()
		if accept {
			return http.StatusOK
		}
		return http.StatusServiceUnavailable
	}, false)
	e := Start(t, Options{Config: webhookConfig(r.URL, "json", "allow_private = true")})
	e.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Before restart", Body: "Hello."})
	// The receiver has the request before the daemon has written the
	// attempt's outcome: wait for that, or the stop may cut it short.
	e.Eventually(60*time.Second, func() bool {
		v := e.hooks()
		return len(r.got()) >= 1 && len(v.Items) == 1 && strings.Contains(v.Items[0].LastError, "HTTP 503")
	}, func() string { return "no attempt recorded before the restart:\n" + e.MustCLI("webhooks") })
	e.Stop()
	if v := e.hooks(); v.Queued != 1 || len(v.Items) != 1 || !strings.Contains(v.Items[0].LastError, "HTTP 503") {
		t.Fatalf("with the daemon stopped: %+v, want one queued delivery with its error", v)
	}
	up.Lock()
	accept = true
	up.Unlock()
	e.Restart()
	e.Eventually(60*time.Second, func() bool { return e.hooks().Delivered == 1 }, func() string { return e.MustCLI("webhooks") })
	reqs := r.got()
	if last := reqs[len(reqs)-1]; last.Header.Get("X-Helpdesk-Delivery") != reqs[0].Header.Get("X-Helpdesk-Delivery") {
		t.Errorf("delivery id changed across the restart: %q then %q", reqs[0].Header.Get("X-Helpdesk-Delivery"), last.Header.Get("X-Helpdesk-Delivery"))
	}
}

func TestCheckConfigRefusesBadWebhooks(t *testing.T) {
	dir := t.TempDir()
	text := testkit.BaseConfig(dir, "", "127.0.0.1:53") + Staff + `
[[webhook]]
name = "chat"
url = "hooks.example.com/abc"
format = "discord"

[[trigger]]
name = "announce"
all = ["event is created"]
webhook = "chatt"
`
	p := filepath.Join(dir, "helpdesk.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code := runIn(t, dir, nil, "check-config", "-config", p)
	if code == 0 {
		t.Fatalf("check-config accepted bad webhooks:\n%s", out)
	}
	line := func(sub string) string {
		for i, l := range strings.Split(text, "\n") {
			if strings.Contains(l, sub) {
				return ":" + strconv.Itoa(i+1) + ":"
			}
		}
		t.Fatalf("no line has %q", sub)
		return ""
	}
	for _, want := range [][]string{
		{line(`url = "hooks`), "webhook[0].url", "not an absolute http or https URL", "https://"},
		{line(`format = "discord"`), "webhook[0].format", `unknown format "discord"`, `"slack", "teams" or "json"`},
		{line(`webhook = "chatt"`), "trigger[0].webhook", `no [[webhook]] is named "chatt"`, `"chat"`},
	} {
		found := false
		for _, l := range strings.Split(out, "\n") {
			ok := true
			for _, w := range want {
				ok = ok && strings.Contains(l, w)
			}
			found = found || ok
		}
		if !found {
			t.Errorf("check-config output has no line with %q:\n%s", want, out)
		}
	}
}
