package daemon

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"

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
		// A relay we cannot use (refused login, TLS, no answer, nothing
		// listening) holds every outgoing mail; it takes an admin, so
		// health says so. The mail stays queued meanwhile.
		if st := d.Worker.Relay(); st.State == "failing" {
			http.Error(w, fmt.Sprintf("relay %s: failing since %s (%d failures): %s\nfix: %s\nmail stays queued and is retried",
				st.Relay, st.Since.UTC().Format(time.RFC3339), st.Failures, st.LastError, st.Hint), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok\nuptime %s\n", time.Since(d.started).Round(time.Second))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		d.writeMetrics(&b)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(b.Bytes())
	})
	return mux
}

func counter(w io.Writer, name, help string, v int64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
}

func gauge(w io.Writer, name, help string, v int64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", name, help, name, name, v)
}

func (d *Daemon) writeMetrics(w io.Writer) {
	em := &d.Engine.Metrics
	counter(w, "helpdesk_messages_accepted_total", "Mails answered 250 and stored.", em.Accepted.Load())
	counter(w, "helpdesk_messages_duplicate_total", "Mails stored once because they arrived twice.", em.Duplicates.Load())
	counter(w, "helpdesk_quarantined_total", "Mails kept as quarantined records.", em.Quarantined.Load())
	counter(w, "helpdesk_security_events_total", "Mails that claimed a staff address and failed authentication.", em.SecurityEvents.Load())
	counter(w, "helpdesk_loops_total", "Mails quarantined as mail loops.", em.Loops.Load())
	counter(w, "helpdesk_machine_mail_total", "Bounces, reports and auto-replies received.", em.Machine.Load())
	counter(w, "helpdesk_commands_rejected_total", "Staff mails whose commands were refused.", em.Rejected.Load())
	counter(w, "helpdesk_forged_tokens_total", "Reply tokens that failed verification.", em.ForgedTokens.Load())
	counter(w, "helpdesk_tickets_created_total", "Tickets opened.", em.NewTickets.Load())
	counter(w, "helpdesk_outbound_enqueued_total", "Mails queued for delivery.", em.Enqueued.Load())
	counter(w, "helpdesk_store_errors_total", "Store failures answered with 451.", em.StoreErrors.Load())
	const acks = "helpdesk_acks_suppressed_total"
	fmt.Fprintf(w, "# HELP %s New-ticket acknowledgements skipped by a limit ([tickets] ack_per_*); the tickets were opened.\n# TYPE %s counter\n", acks, acks)
	fmt.Fprintf(w, "%s{limit=\"sender\"} %d\n%s{limit=\"ip\"} %d\n%s{limit=\"global\"} %d\n", acks, em.AcksLimitedSender.Load(), acks, em.AcksLimitedIP.Load(), acks, em.AcksLimitedGlobal.Load())
	sm := &d.SMTP.Metrics
	counter(w, "helpdesk_smtp_connections_total", "SMTP connections accepted.", sm.Connections.Load())
	counter(w, "helpdesk_smtp_connections_refused_total", "SMTP connections refused by the connection limits.", sm.RefusedConns.Load())
	counter(w, "helpdesk_smtp_rcpt_refused_total", "Recipients refused with 550.", sm.RcptRefused.Load())
	counter(w, "helpdesk_smtp_too_large_total", "Messages refused for size (552).", sm.TooLarge.Load())
	counter(w, "helpdesk_smtp_header_too_large_total", "Messages refused for header size.", sm.HeaderTooLarge.Load())
	counter(w, "helpdesk_smtp_temp_failures_total", "Messages answered 451.", sm.TempFailures.Load())
	gauge(w, "helpdesk_smtp_sessions", "Open SMTP connections, from accept to close (greeted or not).", d.SMTP.Sessions())
	gauge(w, "helpdesk_smtp_parse_budget_used_bytes", "Bytes of mail being parsed and applied now (smtp.parse_budget).", d.SMTP.ParseBudgetInUse())
	counter(w, "helpdesk_smtp_parse_budget_timeouts_total", "Mails answered 451 because the parse budget stayed full for their data timeout.", sm.BudgetTimeouts.Load())
	sm.Latency.WriteProm(w, "helpdesk_smtp_data_to_250_seconds", "Time from the end of DATA to the 250 answer.")
	wm := &d.Worker.Metrics
	counter(w, "helpdesk_outbound_sent_total", "Mails delivered to the relay or outbox.", wm.Sent.Load())
	counter(w, "helpdesk_outbound_retries_total", "Failed delivery attempts that will be retried.", wm.Retried.Load())
	counter(w, "helpdesk_outbound_failed_total", "Mails given up on.", wm.Failed.Load())
	counter(w, "helpdesk_outbound_possible_duplicates_total", "Deliveries repeated after an interrupted attempt.", wm.Duplicates.Load())
	counter(w, "helpdesk_store_commits_total", "Store write transactions committed.", d.DB.Commits.Load())
	counter(w, "helpdesk_store_writes_total", "Store write requests committed (grouped into commits).", d.DB.Batched.Load())
	counter(w, "helpdesk_store_apply_nanoseconds_total", "Time the store writer spent running write functions.", d.DB.ApplyNanos.Load())
	counter(w, "helpdesk_store_commit_nanoseconds_total", "Time the store writer spent committing (page writes, fsyncs).", d.DB.CommitNanos.Load())
	bs := d.DB.BoltStats()
	counter(w, "helpdesk_store_page_writes_total", "Page writes by commits (one per page, or per run of overflow pages).", bs.TxStats.GetWrite())
	counter(w, "helpdesk_store_gather_nanoseconds_total", "Time the store writer waited for writes under way to join a group.", d.DB.GatherNanos.Load())
	var queued, tickets int
	d.DB.View(func(tx *store.Tx) error {
		queued = tx.QueueDepth()
		tickets = tx.TicketCount()
		return nil
	})
	gauge(w, "helpdesk_outbound_queued", "Mails waiting in the outbound queue.", int64(queued))
	gauge(w, "helpdesk_tickets", "Tickets in the store.", int64(tickets))
}
