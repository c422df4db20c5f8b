package acceptance

import (
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("/metrics keeps every helpdesk_* metric's name, type and labels (Prometheus text format, DATA-end->250 histogram buckets unchanged) and exports the process and Go runtime metrics",
	"TestMetricsNamesTypesAndLabels")

// metricsBefore is what /metrics exported before it moved to the official
// client (client_golang): every name with its type and label sets.
// Dashboards and alerts use these names; none may change or disappear.
var metricsBefore = map[string]struct {
	typ    dto.MetricType
	labels []string // one per series: its label pairs as name=value joined by ","; "" for none
}{
	"helpdesk_messages_accepted_total":            {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_messages_duplicate_total":           {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_quarantined_total":                  {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_security_events_total":              {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_loops_total":                        {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_machine_mail_total":                 {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_commands_rejected_total":            {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_forged_tokens_total":                {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_tickets_created_total":              {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_outbound_enqueued_total":            {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_store_errors_total":                 {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_acks_suppressed_total":              {dto.MetricType_COUNTER, []string{"limit=global", "limit=ip", "limit=sender"}},
	"helpdesk_smtp_connections_total":             {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_smtp_connections_refused_total":     {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_smtp_rcpt_refused_total":            {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_smtp_too_large_total":               {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_smtp_header_too_large_total":        {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_smtp_temp_failures_total":           {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_smtp_sessions":                      {dto.MetricType_GAUGE, []string{""}},
	"helpdesk_smtp_parse_budget_used_bytes":       {dto.MetricType_GAUGE, []string{""}},
	"helpdesk_smtp_parse_budget_timeouts_total":   {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_smtp_data_to_250_seconds":           {dto.MetricType_HISTOGRAM, []string{""}},
	"helpdesk_outbound_sent_total":                {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_outbound_retries_total":             {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_outbound_failed_total":              {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_outbound_possible_duplicates_total": {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_store_commits_total":                {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_store_writes_total":                 {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_store_apply_nanoseconds_total":      {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_store_commit_nanoseconds_total":     {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_store_page_writes_total":            {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_store_gather_nanoseconds_total":     {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_outbound_queued":                    {dto.MetricType_GAUGE, []string{""}},
	"helpdesk_webhook_delivered_total":            {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_webhook_retries_total":              {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_webhook_failed_total":               {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_webhook_queued":                     {dto.MetricType_GAUGE, []string{""}},
	"helpdesk_tickets":                            {dto.MetricType_GAUGE, []string{""}},
	// Added with the health checks of issue 17 (config package doc, "Monitoring").
	"helpdesk_outbound_oldest_queued_seconds": {dto.MetricType_GAUGE, []string{""}},
	"helpdesk_data_dir_free_bytes":            {dto.MetricType_GAUGE, []string{""}},
	// Added for the PostgreSQL engine's round trips (issue 18 item 6;
	// gateway/internal/bench/RESULTS.md); zero on bbolt.
	"helpdesk_store_queries_total":           {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_store_round_trips_total":       {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_store_write_queries_total":     {dto.MetricType_COUNTER, []string{""}},
	"helpdesk_store_write_round_trips_total": {dto.MetricType_COUNTER, []string{""}},
	// Issue 18 item 3: sweeps on the leader only (config package doc, "Retention").
	"helpdesk_retention_sweeps_total": {dto.MetricType_COUNTER, []string{""}},
}

// The DATA-end -> 250 histogram's bucket upper bounds, in seconds.
var latencyBucketsBefore = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// TestMetricsNamesTypesAndLabels scrapes /metrics of a running daemon that
// took one mail, parses it as the Prometheus text format, and checks every
// metric it has always exported is there with its type and label sets, the
// counters moved, the histogram kept its buckets, and the process and Go
// runtime metrics operators expect are there too.
func TestMetricsNamesTypesAndLabels(t *testing.T) {
	e := Start(t, Options{})
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"},
		Subject: "Metrics", Body: "One mail so the counters and the histogram move.\n"})
	e.Settle()

	body, status := e.HTTPStatus("/metrics")
	if status != 200 {
		t.Fatalf("GET /metrics: %d\n%s", status, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v\n%s", err, body)
	}

	for name, want := range metricsBefore {
		f := fams[name]
		if f == nil {
			t.Errorf("%s: missing from /metrics", name)
			continue
		}
		if f.GetType() != want.typ {
			t.Errorf("%s: type %v, want %v", name, f.GetType(), want.typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s: no HELP", name)
		}
		var got []string
		for _, m := range f.GetMetric() {
			var pairs []string
			for _, l := range m.GetLabel() {
				pairs = append(pairs, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(pairs)
			got = append(got, strings.Join(pairs, ","))
		}
		sort.Strings(got)
		if !slices.Equal(got, want.labels) {
			t.Errorf("%s: label sets %q, want %q", name, got, want.labels)
		}
	}
	for name := range fams {
		if strings.HasPrefix(name, "helpdesk_") && metricsBefore[name].labels == nil {
			t.Errorf("%s: new metric: add it to metricsBefore (and say so in the README)", name)
		}
	}

	// The values are the daemon's, read at scrape time.
	value := func(name string) float64 {
		f := fams[name]
		if f == nil || len(f.GetMetric()) == 0 {
			return -1
		}
		m := f.GetMetric()[0]
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		}
		return -1
	}
	for name, want := range map[string]float64{
		"helpdesk_messages_accepted_total": 1,
		"helpdesk_tickets_created_total":   1,
		"helpdesk_tickets":                 1,
		"helpdesk_smtp_connections_total":  1,
		"helpdesk_outbound_queued":         0, // settled: acknowledgement and notification sent
	} {
		if got := value(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"helpdesk_store_commits_total", "helpdesk_outbound_sent_total", "helpdesk_store_apply_nanoseconds_total"} {
		if got := value(name); got <= 0 {
			t.Errorf("%s = %v, want > 0 after a mail", name, got)
		}
	}

	if f := fams["helpdesk_smtp_data_to_250_seconds"]; f != nil && len(f.GetMetric()) == 1 {
		h := f.GetMetric()[0].GetHistogram()
		var bounds []float64
		for _, b := range h.GetBucket() {
			bounds = append(bounds, b.GetUpperBound())
		}
		// (The parser keeps the +Inf bucket as one more bound.)
		if want := append(slices.Clone(latencyBucketsBefore), math.Inf(1)); !slices.Equal(bounds, want) {
			t.Errorf("histogram buckets %v, want %v", bounds, want)
		}
		if h.GetSampleCount() != 1 || h.GetSampleSum() <= 0 {
			t.Errorf("histogram: count %d sum %v, want the one mail", h.GetSampleCount(), h.GetSampleSum())
		}
		if n := len(h.GetBucket()); n > 0 && h.GetBucket()[n-1].GetCumulativeCount() != 1 {
			t.Errorf("histogram: le=+Inf holds %d, want 1", h.GetBucket()[n-1].GetCumulativeCount())
		}
	}

	// What operators expect of a Go service: process and runtime metrics.
	for _, name := range []string{"process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "go_goroutines", "go_memstats_heap_alloc_bytes", "go_gc_duration_seconds"} {
		if fams[name] == nil {
			t.Errorf("%s: missing from /metrics", name)
		}
	}
	if got := value("process_resident_memory_bytes"); got <= 0 {
		t.Errorf("process_resident_memory_bytes = %v", got)
	}
	if got := value("go_goroutines"); got < 1 {
		t.Errorf("go_goroutines = %v", got)
	}
}
