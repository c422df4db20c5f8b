package daemon

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"helpdesk/store"
)

// httpHandler serves /healthz and /metrics (Prometheus text format) on the
// loopback observability port.
func (d *Daemon) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		// Healthy when every check passes (health.go).
		if failed := d.health(); failed != "" {
			http.Error(w, failed, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok\nuptime %s\n", time.Since(d.started).Round(time.Second))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.metricsRegistry(), promhttp.HandlerOpts{
		// A collector that fails (e.g. /proc unreadable) must not hide
		// the others from the scrape.
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      promErrorLog{d},
	}))
	return mux
}

// promErrorLog passes promhttp's errors to the daemon's log.
type promErrorLog struct{ d *Daemon }

func (l promErrorLog) Println(v ...any) { l.d.log.Warn("metrics: " + fmt.Sprint(v...)) }

// metricsRegistry is what /metrics exports: the daemon's own metrics and
// the process and Go runtime metrics (memory, CPU, file descriptors,
// goroutines, GC) operators expect from a Go service. A registry of our
// own, not the global default one, so nothing a library registers ends up
// on /metrics unasked.
//
// The daemon's counters are atomics the hot paths already increment; they
// are read at scrape time (CounterFunc/GaugeFunc), so ingest does not
// change. Only the DATA-end -> 250 histogram is a client_golang metric
// itself (gateway.ServerMetrics.Latency).
func (d *Daemon) metricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
		d.SMTP.Metrics.Latency,
	)
	counter := func(name, help string, v func() int64, labels prometheus.Labels) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(v()) }))
	}
	gauge := func(name, help string, v func() int64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(v()) }))
	}
	atomicCounter := func(name, help string, v *atomic.Int64) { counter(name, help, v.Load, nil) }

	em := &d.Engine.Metrics
	atomicCounter("helpdesk_messages_accepted_total", "Mails answered 250 and stored.", &em.Accepted)
	atomicCounter("helpdesk_messages_duplicate_total", "Mails stored once because they arrived twice.", &em.Duplicates)
	atomicCounter("helpdesk_quarantined_total", "Mails kept as quarantined records.", &em.Quarantined)
	atomicCounter("helpdesk_security_events_total", "Mails that claimed a staff address and failed authentication.", &em.SecurityEvents)
	atomicCounter("helpdesk_loops_total", "Mails quarantined as mail loops.", &em.Loops)
	atomicCounter("helpdesk_machine_mail_total", "Bounces, reports and auto-replies received.", &em.Machine)
	atomicCounter("helpdesk_commands_rejected_total", "Staff mails whose commands were refused.", &em.Rejected)
	atomicCounter("helpdesk_forged_tokens_total", "Reply tokens that failed verification.", &em.ForgedTokens)
	atomicCounter("helpdesk_tickets_created_total", "Tickets opened.", &em.NewTickets)
	atomicCounter("helpdesk_outbound_enqueued_total", "Mails queued for delivery.", &em.Enqueued)
	atomicCounter("helpdesk_store_errors_total", "Store failures answered with 451.", &em.StoreErrors)
	atomicCounter("helpdesk_retention_sweeps_total", "Retention sweeps this daemon ran (on a shared database only the leader runs them).", &em.RetentionSweeps)
	const acksHelp = "New-ticket acknowledgements skipped by a limit ([tickets] ack_per_*); the tickets were opened."
	for limit, v := range map[string]*atomic.Int64{"sender": &em.AcksLimitedSender, "ip": &em.AcksLimitedIP, "global": &em.AcksLimitedGlobal} {
		counter("helpdesk_acks_suppressed_total", acksHelp, v.Load, prometheus.Labels{"limit": limit})
	}

	sm := &d.SMTP.Metrics
	atomicCounter("helpdesk_smtp_connections_total", "SMTP connections accepted.", &sm.Connections)
	atomicCounter("helpdesk_smtp_connections_refused_total", "SMTP connections refused by the connection limits.", &sm.RefusedConns)
	atomicCounter("helpdesk_smtp_rcpt_refused_total", "Recipients refused with 550.", &sm.RcptRefused)
	atomicCounter("helpdesk_smtp_too_large_total", "Messages refused for size (552).", &sm.TooLarge)
	atomicCounter("helpdesk_smtp_header_too_large_total", "Messages refused for header size.", &sm.HeaderTooLarge)
	atomicCounter("helpdesk_smtp_temp_failures_total", "Messages answered 451.", &sm.TempFailures)
	gauge("helpdesk_smtp_sessions", "Open SMTP connections, from accept to close (greeted or not).", d.SMTP.Sessions)
	gauge("helpdesk_smtp_parse_budget_used_bytes", "Bytes of mail being parsed and applied now (smtp.parse_budget).", d.SMTP.ParseBudgetInUse)
	atomicCounter("helpdesk_smtp_parse_budget_timeouts_total", "Mails answered 451 because the parse budget stayed full for their data timeout.", &sm.BudgetTimeouts)

	hm := &d.Hooks.Metrics
	atomicCounter("helpdesk_webhook_delivered_total", "Webhook deliveries a receiver accepted (2xx).", &hm.Delivered)
	atomicCounter("helpdesk_webhook_retries_total", "Failed webhook attempts that will be retried.", &hm.Retried)
	atomicCounter("helpdesk_webhook_failed_total", "Webhook deliveries given up on.", &hm.Failed)
	gauge("helpdesk_webhook_queued", "Webhook deliveries waiting in the queue.", func() int64 {
		var n int
		d.DB.View(func(tx store.Tx) error {
			due, _ := tx.DueWebhooks(time.Unix(1<<40, 0), 1<<30)
			n = len(due)
			return nil
		})
		return int64(n)
	})
	wm := &d.Worker.Metrics
	atomicCounter("helpdesk_outbound_sent_total", "Mails delivered to the relay or outbox.", &wm.Sent)
	atomicCounter("helpdesk_outbound_retries_total", "Failed delivery attempts that will be retried.", &wm.Retried)
	atomicCounter("helpdesk_outbound_failed_total", "Mails given up on.", &wm.Failed)
	atomicCounter("helpdesk_outbound_possible_duplicates_total", "Deliveries repeated after an interrupted attempt.", &wm.Duplicates)

	// The store engine's counters, read at scrape time (an engine leaves
	// zero what it does not measure).
	storeCounter := func(name, help string, field func(store.Stats) int64) {
		counter(name, help, func() int64 { return field(d.DB.Stats()) }, nil)
	}
	storeCounter("helpdesk_store_commits_total", "Store write transactions committed.",
		func(s store.Stats) int64 { return s.Commits })
	storeCounter("helpdesk_store_writes_total", "Store write requests committed (grouped into commits).",
		func(s store.Stats) int64 { return s.Writes })
	storeCounter("helpdesk_store_apply_nanoseconds_total", "Time the store writer spent running write functions.",
		func(s store.Stats) int64 { return s.ApplyNanos })
	storeCounter("helpdesk_store_commit_nanoseconds_total", "Time the store writer spent committing (page writes, fsyncs).",
		func(s store.Stats) int64 { return s.CommitNanos })
	storeCounter("helpdesk_store_page_writes_total", "Page writes by commits (one per page, or per run of overflow pages).",
		func(s store.Stats) int64 { return s.PageWrites })
	storeCounter("helpdesk_store_write_queries_total", "Statements the store writer sent to the database server (postgres engine).",
		func(s store.Stats) int64 { return s.WriteQueries })
	storeCounter("helpdesk_store_write_round_trips_total", "Round trips to the database server the store writer waited for (postgres engine; a pipelined batch is one).",
		func(s store.Stats) int64 { return s.WriteRoundTrips })
	storeCounter("helpdesk_store_queries_total", "Statements sent to the database server by all of the daemon's connections (postgres engine).",
		func(s store.Stats) int64 { return s.Queries })
	storeCounter("helpdesk_store_round_trips_total", "Round trips to the database server by all of the daemon's connections (postgres engine).",
		func(s store.Stats) int64 { return s.RoundTrips })
	storeCounter("helpdesk_store_gather_nanoseconds_total", "Time the store writer waited for writes under way to join a group.",
		func(s store.Stats) int64 { return s.GatherNanos })
	gauge("helpdesk_outbound_queued", "Mails waiting in the outbound queue.", func() int64 {
		var n int
		d.DB.View(func(tx store.Tx) error { n = tx.QueueDepth(); return nil })
		return int64(n)
	})
	gauge("helpdesk_outbound_oldest_queued_seconds", "How long the oldest queued outbound mail has waited (0: queue empty); /healthz fails above [http] health_queue_age.", func() int64 {
		age, _, _ := d.oldestQueued()
		return int64(age.Seconds())
	})
	gauge("helpdesk_data_dir_free_bytes", "Free space on the file system of data_dir; /healthz fails below [http] health_min_free.", func() int64 {
		free, _ := freeBytes(d.Engine.Config().DataDir)
		return free
	})
	gauge("helpdesk_tickets", "Tickets in the store.", func() int64 {
		var n int
		d.DB.View(func(tx store.Tx) error { n = tx.TicketCount(); return nil })
		return int64(n)
	})
	return reg
}
