// Package daemon wires the parts of helpdesk into one running service: the
// store, the engine, sender authentication, the outbound worker, the SMTP
// server, the observability endpoint and the control socket. `helpdesk
// serve`, the end-to-end tests and the bench all start it the same way.
//
// # SPEC 10: Running helpdesk
//
// One binary, helpdesk (package main in cmd/helpdesk). `helpdesk serve`
// runs the daemon built here; the other subcommands administer it:
// tickets, show, inject (a message file or stdin, so an MTA can pipe mail
// in; exit codes follow sysexits), outbox and outbox retry, quarantine
// (list, show, release), backup, restore, rotate-key, check-config, bench,
// version, customer, customers, erasures and compact (SPEC 8, package
// gateway/engine), report and export (SPEC 9, package gateway/report).
// The CLI talks to a running daemon over the unix socket
// data_dir/helpdesk.sock (mode 0600, package gateway/control) and opens
// the store itself when no daemon runs. The --json output of
// tickets and show is a stable interface (README.md shows it).
//
// The shipped helpdesk.toml runs as is on one machine: SMTP on
// 127.0.0.1:2525, data in ./data, /metrics and /healthz on 127.0.0.1:2526,
// and, with no outbound.relay, every outgoing mail written to
// ./data/outbox/ as an .eml file. With a relay, mail is queued durably and
// retried with backoff across restarts (SPEC 2, package gateway/outbound).
//
// Limits, with their defaults ([smtp] keys, enforced by package gateway
// while the mail streams in): 25 MiB per message (max_message_bytes), 100
// recipients, a 64 KiB header block, lines up to 10 KiB (max_line_length;
// longer than RFC 5321's 1,000 bytes for broken clients), 5 minutes per
// command (read_timeout) and 10 minutes for the whole DATA (data_timeout,
// not per read), and 500 connections in total and 50 per client IP
// (max_connections, max_connections_per_ip; above a front MTA's default
// concurrency), refused with 421 before the greeting; a session's slot is
// free when its 221 goes out. Parsing and applying mail share
// smtp.parse_budget (16 MiB): a mail takes its size, at most the whole
// budget, and waits in arrival order within its data timeout, else 451;
// the daemon's soft memory limit is 128 MiB + 8 x parse_budget unless
// GOMEMLIMIT is set. Acknowledgements are capped per sender, per
// client IP and in total (SPEC 7, package gateway/engine).
//
// Signals: SIGTERM or SIGINT stops accepting, lets sessions finish within
// shutdown_timeout, lets the outbound worker finish its round and closes
// the store. SIGHUP reloads the configuration (SPEC 1, package config).
// A sweep once a minute runs the time-based lifecycle rules (SPEC 7).
//
// Observability: structured logs with log/slog (a line that repeats under
// load is logged once, then once per interval with the count left out,
// package gateway/lograte); Prometheus metrics (helpdesk_*) on /metrics
// and /healthz, which answers 503 with the reason while store writes or
// the relay fail, both on the loopback [http] listen address.
package daemon
