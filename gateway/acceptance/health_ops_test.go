package acceptance

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("/healthz answers 503 naming the queue while the oldest queued outbound mail is older than [http] health_queue_age, and 200 once it is delivered; helpdesk_outbound_oldest_queued_seconds shows its age",
	"TestHealthFailsOnOldQueue")

// The relay answers every mail 451 (a per-mail refusal, so the relay
// itself is not "failing"): the acknowledgement stays queued, and once it
// is older than health_queue_age /healthz says so under "queue"; when the
// relay takes mail again it is delivered and /healthz is 200.
func TestHealthFailsOnOldQueue(t *testing.T) {
	sink := testkit.StartSink(t)
	sink.SetFail(true)
	e := Start(t, Options{Sink: sink, HTTP: `health_queue_age = "2s"`})
	if b, code := e.HTTPStatus("/healthz"); code != 200 {
		t.Fatalf("/healthz with an empty queue: %d %s", code, b)
	}
	m := testkit.Mail{From: "ken@e-fun.example", To: []string{"support@example.com"}, Subject: "Stuck ack", Body: "Hello"}
	if err := e.Send("ken@e-fun.example", []string{"support@example.com"}, m.Build()); err != nil {
		t.Fatal(err)
	}
	var body string
	e.Eventually(30*time.Second, func() bool {
		var code int
		body, code = e.HTTPStatus("/healthz")
		return code == 503 && strings.Contains(body, "queue: ")
	}, func() string { return "/healthz never named the old queue: " + body })
	t.Logf("/healthz: %s", body)
	for _, want := range []string{"health_queue_age (2s)", "helpdesk outbox"} {
		if !strings.Contains(body, want) {
			t.Errorf("/healthz %q lacks %q", body, want)
		}
	}
	if strings.Contains(body, "relay: ") {
		t.Errorf("a per-mail 451 made the relay check fail too: %q", body)
	}
	if age := e.Metric("helpdesk_outbound_oldest_queued_seconds"); age < 2 {
		t.Errorf("helpdesk_outbound_oldest_queued_seconds = %v, want at least 2", age)
	}

	sink.SetFail(false)
	e.Eventually(30*time.Second, func() bool { _, code := e.HTTPStatus("/healthz"); return code == 200 },
		func() string { b, _ := e.HTTPStatus("/healthz"); return "/healthz after delivery: " + b })
	if n := len(e.Mailbox("ken@e-fun.example")); n != 1 {
		t.Errorf("ken got %d mails, want the acknowledgement", n)
	}
	if age := e.Metric("helpdesk_outbound_oldest_queued_seconds"); age != 0 {
		t.Errorf("helpdesk_outbound_oldest_queued_seconds = %v with an empty queue", age)
	}
}

var _ = claim("/healthz answers 503 naming the disk while the file system of data_dir has less free space than [http] health_min_free; helpdesk_data_dir_free_bytes shows it",
	"TestHealthFailsOnLowDisk")

// No test can fill the disk: a floor above any disk's size (1000000GiB)
// stands for it, and the daemon itself reports the free space it sees.
func TestHealthFailsOnLowDisk(t *testing.T) {
	e := Start(t, Options{HTTP: `health_min_free = "1000000GiB"`})
	body, code := e.HTTPStatus("/healthz")
	t.Logf("/healthz: %d %s", code, body)
	if code != 503 || !strings.Contains(body, "disk: ") || !strings.Contains(body, "below [http] health_min_free (1000000GiB)") {
		t.Errorf("/healthz with less free space than health_min_free: %d %q", code, body)
	}
	if free := e.Metric("helpdesk_data_dir_free_bytes"); free <= 0 {
		t.Errorf("helpdesk_data_dir_free_bytes = %v", free)
	}
	// The daemon keeps taking mail meanwhile: health is for the operator.
	e.Customer(testkit.Mail{From: "ken@e-fun.example", To: []string{"support@example.com"}, Subject: "Disk", Body: "Hello"})

	// "0" does not check.
	e2 := Start(t, Options{HTTP: `health_min_free = "0"`})
	if b, code := e2.HTTPStatus("/healthz"); code != 200 {
		t.Errorf("/healthz with health_min_free = \"0\": %d %s", code, b)
	}
}

var _ = claim("the example Prometheus rules (scripts/prometheus/helpdesk-alerts.yml) name only metrics /metrics exports",
	"TestAlertRulesNameExportedMetrics")

// An alert on a metric that does not exist never fires: every helpdesk_*
// name in the shipped rules must be on a running daemon's /metrics.
func TestAlertRulesNameExportedMetrics(t *testing.T) {
	rules, err := os.ReadFile("../../scripts/prometheus/helpdesk-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	e := Start(t, Options{})
	metrics := e.HTTPGet("/metrics")
	names := regexp.MustCompile(`helpdesk_[a-z_]+`).FindAllString(string(rules), -1)
	if len(names) < 5 {
		t.Fatalf("only %d metrics in the rules", len(names))
	}
	for _, n := range names {
		if !strings.Contains(metrics, "\n"+n+" ") && !strings.Contains(metrics, "\n"+n+"{") {
			t.Errorf("the alert rules use %s, which /metrics does not export", n)
		}
	}
}
