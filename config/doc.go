// Package config loads and validates helpdesk.toml. Key names are a public
// interface (issue 2, SPEC section 5): scripts and admins rely on them.
//
// Load and Check report every problem at once, each with its key, its line
// and a fix; settings that are valid but do nothing are warnings. Lookups
// of staff, mailboxes, groups and macros are O(1) through an index built
// once per configuration.
//
// # SPEC 1: People and roles
//
// Staff are the [[agent]] entries: an email, a name, aliases (other
// addresses that count as the same person, also for authentication), the
// groups they belong to, and a role:
//
//   - "agent": everything in the command language (SPEC 4);
//   - "admin": an agent who may also block a whole domain (#spam domain);
//   - "light" (engineers, managers): #note, #notify, #follow, #unfollow,
//     #list and #help only; whatever a light agent writes is a private
//     note, or a private message of a side thread, and never reaches an
//     end user or a collaborator. A light agent cannot open a ticket by
//     mail.
//
// The other roles exist only on a ticket (package threading, SPEC 3.3):
// the requester (the sender of the first mail, or set with #requester), CCs
// (end users from the mail's recipients, SPEC 3.7, or anyone added with
// #cc; staff only when added explicitly), followers (staff who see every
// update, public or private, and are never named to end users or
// collaborators) and collaborators (outside addresses of one side thread).
// End users need no configuration: a user record is created the first time
// an address writes or is named (SPEC 8).
//
// Mailboxes ([[mailbox]]: address, name, group), groups ([[group]]: name,
// auto_assign) and macros ([[macro]]) are declared here too. Admins also
// get every row of a report (SPEC 9) and merge and erase customers by
// mail (SPEC 8, package gateway/engine);
// releasing quarantined mail is done with `helpdesk quarantine release` by
// whoever may use the CLI (the control socket is mode 0600).
//
// SIGHUP makes the daemon read the file again (gateway/daemon): staff,
// mailboxes, groups, macros, threading, lifecycle and authentication
// settings apply at once, and a staff member removed from the file gets
// nothing from then on, not even mail already queued for him. A file with
// problems, or one that changes what needs a restart (data_dir, listen
// addresses, [smtp] limits, DKIM signing), is refused and the running
// configuration is kept. `helpdesk check-config` runs the same checks.
//
// # Configuration topics
//
// What the settings do together, topic by topic (the README's
// Configuration table points here); each key is documented next to it in
// the shipped helpdesk.toml.
//
// # Hostname and relay
//
// Before mail leaves the machine, set `hostname` in `helpdesk.toml` to its
// public name (e.g. `hostname = "helpdesk.example.com"`): it ends every
// Message-ID we send, and the shipped `"localhost"` draws a warning from
// `check-config` and at startup. With no `[outbound] relay` configured,
// every outgoing mail is written to `data/outbox/<id>.eml` instead of being
// sent. Set `relay = "host:port"` to deliver through a smarthost (STARTTLS
// and AUTH PLAIN optional, a relay signed by a private CA trusted with
// `[outbound] tls_ca_file`; retried with backoff across restarts). Envelope
// and header addresses are written with net/mail's quoting
// (`"a@b>"@example.com` stays one mailbox), and the local part keeps the
// case its owner writes. A relay problem a fix cures (login refused, TLS, no
// answer within `[outbound] command_timeout`, nothing listening) never
// bounces mail: it stays queued, is logged once, and `helpdesk outbox` and
// `/healthz` (503) say what is wrong.
//
// # PostgreSQL
//
// `[store] engine = "postgres"` with `dsn` keeps the store in a PostgreSQL
// database instead of `data_dir/helpdesk.db` (bbolt stays the default): real
// tables (`tickets`, `comments`, `messages`, `users`, `outbound`,
// `webhooks`, ...; a row per record, indexed fields as columns, the whole
// record in a `json` column, readable with psql; a `messages` row holds
// the raw mail in `raw` and its identity in `message_id`, `body_hash`; an
// `outbound` row's `data` is the mail as queued, its `state` column and
// `progress` say where it stands), created and upgraded by the binary (`helpdesk
// migrate-schema` does it explicitly; versions in `schema_migrations`),
// large bodies in table `blobs`. Several `helpdesk serve` may share one
// database, each with its own `data_dir` (control socket) and `[store] node`
// name: writes take a transaction-scoped advisory lock and are grouped per
// commit, so ticket numbers, the duplicate check (a message's identity is a
// primary key: the same mail at two daemons is applied once), rate and
// acknowledgement limits and round-robin are one state; outbound mail is
// claimed with leases (`FOR UPDATE SKIP LOCKED`) under the node's name;
// sweeps, timers and webhook deliveries run on the one daemon holding the
// leader lock, taken over within seconds when it dies. Back it up with
// PostgreSQL's tools: `pg_dump --format=custom --file=helpdesk.dump DSN`,
// restored into a new database with `pg_restore --dbname=DSN helpdesk.dump`
// (`helpdesk backup` and `restore` print these for the configured DSN). To
// move an existing store, stop the daemon and run `helpdesk migrate --from
// bbolt --to postgres --dsn DSN` (and back with `--from postgres --to bbolt
// --data-dir NEWDIR`): it copies and verifies everything, record by record
// and ticket by ticket. Reports on PostgreSQL sum the backlog's earlier
// moves (bbolt keeps daily checkpoints): that costs the report, never mail.
// Give the server room between checkpoints (`max_wal_size = 4GB`,
// `checkpoint_timeout = 30min`, as the bench's server has): after each
// checkpoint the next write of every page logs it whole, and the
// checkpoint's writing of the data files competes with the commits' WAL
// flush.
// Dated timings of both, and of the whole acceptance suite run on
// PostgreSQL, are in `gateway/internal/bench/RESULTS.md`.
//
// # Acknowledgement limits
//
// New-ticket acknowledgements are capped per sender, per SMTP client and in
// total (`[tickets] ack_per_sender_per_hour` 5, `ack_per_ip_per_hour` 20,
// `ack_per_hour` 200), so forged senders cannot turn the helpdesk into a
// reflector; over a limit the ticket still opens, the acknowledgement is
// skipped, counted in `helpdesk_acks_suppressed_total{limit}` and logged at
// most once a minute. A `trusted_relays` client (a front MTA, which relays
// everyone's mail) is exempt from the per-client limit: limit clients at the
// front MTA (Postfix `smtpd_client_message_rate_limit`).
//
// # Knowledge base, templates and surveys
//
// With `[knowledge_base] dir` (a folder of Markdown articles: title from the
// first heading, `url:` in front matter; examples in `testdata/kb`) the
// acknowledgement suggests up to three articles, ranked by BM25 over subject
// and body (Korean by character bigrams), none below a minimum score; they
// are recorded on the ticket (`show --json` `kb_suggestions`). Automatic
// mail to customers (acknowledgement, follow-up acknowledgement, merge
// notice, survey) comes from templates in English and Korean, in the
// language of the mail (Hangul = Korean) else the mailbox's `language`;
// `[templates] dir` overrides them per language or mailbox and language.
// Templates see a ticket's public fields only; `check-config` tries each and
// names the file and line of a problem. Both are read at start and on
// SIGHUP. A trigger's `requester_template = "NAME"` mails the requester
// `<lang>/NAME.txt` from that folder (public fields only, never to machine
// mail or a bouncing address). `[survey]` mails the requester a satisfaction
// survey `delay` (24h) after resolution, once per resolution, not for spam,
// merged tickets, machine mail or a bouncing address; a reply to it within
// 28 days is a rating (1–5, good/bad, excellent/poor, 좋아요/별로, 매우 만족, ...),
// `show --json` `csat`, and never reopens the ticket, also when the reply
// lost the survey's address (sent to the plain support address, or a new
// mail quoting `[#N]` that begins with a rating); triggers see `event is
// rating` and `bad-rating` (2 or less).
//
// # Business hours
//
// Business hours are `[[calendar]]` entries (an IANA `time_zone`, weekly
// `hours` with several spans a day and shifts over midnight, `holidays` and
// an optional `.ics` `holidays_file`), named by `calendar = "..."` on a
// `[[mailbox]]` or `[[group]]` (the group's wins; the default is the
// built-in `"24/7"`). Business time is counted in the calendar's zone day by
// day, so DST changes and past dates are right (`config/calendar`).
// `check-config` names an unknown calendar, a bad zone and overlapping
// spans; a holiday list with no date in the current year is a warning
// (check-config and the start log), so a restart on January 1st still runs.
// The shipped file has a commented example (Seoul office hours, Korean
// holidays of 2026–2027).
//
// # Service levels
//
// Service levels are `[[sla]]` policies, the first match in file order by
// `priority` and optionally `mailbox`, `group`, `tag`, `requester_domain`:
// `first_reply` (none for tickets an agent opened), `next_reply` (each
// customer comment after a response), `periodic_update`, `resolution` (time
// unresolved, summed over reopenings), in business time on the ticket's (or
// the policy's) calendar unless listed in `calendar_time`. All but first
// reply pause in pending and waiting-customer (`pause_waiting_third_party`
// adds that one). Targets are recomputed from the ticket's history whenever
// read, so a changed priority, tag, policy or calendar moves running
// deadlines from their original start; a recorded breach stays. `show
// --json` has `sla` {`policy`, `targets` [{`kind`, `due`, `remaining`
// (business seconds, negative when breached), `paused`, `breached`,
// `met`}]}, staff notifications an SLA line ("first reply due in 2h 10m
// (business hours)"), `helpdesk sla N` the computation (`gateway/sla`). The
// shipped file has a commented policy per priority. A warning (`warn_at`:
// `"75%"` of the target, default, or `"30m"` before the deadline) and a
// breach notice go by mail to the assignee (the group's agents while
// unassigned) and `escalate_to` (an agent), each once per target instance,
// also across restarts (recorded on the ticket in the write that sends it;
// the scheduler's timer source `sla`), re-armed when a priority, tag, policy
// or calendar change moves the deadline; outside business hours they wait
// for the calendar to open (`notify_outside_hours = true` sends at once).
// Each is an event on the ticket naming the policy, and the triggers'
// `sla-warning`/`sla-breach` event.
//
// # Customers
//
// Every end user who writes (or is CC'd) gets a profile with their first
// mail, found by any of their addresses; `[[organization]]` (name, domains,
// tags, notes) claims customers by address domain. The profile's tags and
// its organization's go on each new ticket of theirs, its language wins for
// their automatic mail, and rules can test `organization is NAME` and
// `customer tags include T`. Agents change it by mail with `#customer
// tag|note|lang|tz|address`, read it with `#customer` (mailed to them only),
// admins merge with `#customer merge ADDR` and erase the requester with
// `#customer erase`: the answer holds a code, valid 15 minutes on the ticket
// clock for that admin and customer, and a reply with `#customer erase
// confirm CODE` erases as `helpdesk customer erase --yes` does (then the
// admin gets the erasure record's counts; a wrong, expired or used code is
// refused). The confirming mail's write records the pending erase: a daemon
// killed before it finished (even in its compaction) finishes it when it
// starts, on a shared PostgreSQL database the leader, and the admin gets one
// transcript (`helpdesk erasures` shows `state` until then). Profiles are
// staff data: no mail to a customer shows them. A store written before
// profiles gets them once, by a backfill the daemon runs in the background
// at start (resumable; the CLI without a daemon runs it too).
//
// # Retention
//
// Retention (`[retention]`, on the ticket clock; a sweep at start, hourly,
// and on every `helpdesk clock` move; on a shared PostgreSQL database the
// leader's only, `helpdesk_retention_sweeps_total`): sent and given-up
// outbound mail (and its `outbox/*.eml` copy) goes after `sent_outbound`
// (30d), quarantine after `quarantine` (30d; releasable until then);
// `raw_after_closed` (off) drops the raw mail of tickets closed that long
// ago, keeping texts and attachments' names, types and sizes (the files'
// bytes live inside the raw mail and go with it); `compact` (off) runs
// `helpdesk compact` on a schedule. Durations take days (`"30d"`).
//
// # The ticket clock and timers
//
// One injected ticket clock serves every ticket-time path (ticket times,
// auto-close, rate-limit windows, token ages); network timeouts, retry
// backoff and the outbound queue keep the wall clock. `[testing] clock =
// "manual"` (loopback listen addresses only) makes it move only by `helpdesk
// clock set|advance`, from the store's first start, kept across restarts:
// for black-box tests and trying rules out. Several daemons on one
// PostgreSQL database each read the stored clock when they start and then
// keep their own: move every daemon to the same instant (`helpdesk clock
// set` with each one's config) or restart the others after moving one. `HELPDESK_TEST_HOLD=point`
// (test-only, `store/testhook`) stops the daemon at a named point so a test
// can kill it exactly there. Timers (auto-close, and every time-based rule)
// are kept in a due-time index in the store and fire within seconds of their
// instant; those that fell due while the daemon was down fire once at start.
// A change of timer settings (policies, calendars, automations) re-arms
// every ticket in the background; a restart resumes that where it stopped
// (`[testing] rearm_chunk`, test-only, sets how many tickets each of its
// writes visits, so a test can kill the daemon between two).
//
// # Automations
//
// Automations (`[[automation]]`, the keys of a trigger): time-based rules
// such as `all = ["status is open", "unassigned", "created more than 9h ago
// in business time"]` (also `updated`, `status changed`, `last customer
// comment`, `last response`, `resolved`; calendar or business time of the
// ticket's calendar; `inside`/`outside business hours` are looked at when
// the calendar opens and when it closes). Each fires at most once per
// *condition epoch* (again only after a look found it false and a later one
// true; a look is any change of the ticket, or its timer), so no cancelling
// condition is needed; auto-close is the built-in automation `auto-close`.
// `helpdesk automations --dry-run [--at TIME]` previews them.
//
// # TLS
//
// With `[smtp] tls_cert_file` and `tls_key_file` (PEM; e.g. Let's Encrypt's
// `fullchain.pem` and `privkey.pem`) the SMTP server offers STARTTLS, TLS
// 1.2 and newer, with the same limits and timeouts as plain sessions; SIGHUP
// reads both files again, so a renewed certificate needs no restart (a pair
// that does not load is refused and the old one kept). Our Received line
// then says `with ESMTPS` and names the TLS version and cipher. `[smtp]
// require_tls = true` refuses MAIL before STARTTLS (530 5.7.0), for a
// deployment whose only client is a front MTA.
//
// # As a systemd service
//
// [`scripts/systemd/helpdesk.service`](scripts/systemd/helpdesk.service)
// (install steps in its header): `Type=notify` (ready once SMTP listens), a
// watchdog (`WATCHDOG=1` every `WatchdogSec`/2 while the store answers),
// `systemctl reload` as SIGHUP, port 25 through `CAP_NET_BIND_SERVICE`
// instead of root, and a read-only system except `data_dir`
// (`ReadWritePaths=`, to change with `data_dir`). Its user must be able to
// read the TLS files (Let's Encrypt keeps keys root-only: copy them in a
// deploy hook).
//
// # Monitoring
//
// Probe `/healthz` (503 names each failing check) and scrape `/metrics`; the
// ones worth an alert are `helpdesk_store_errors_total` (mail answered 451),
// `helpdesk_outbound_oldest_queued_seconds`,
// `helpdesk_outbound_failed_total` (mail given up),
// `helpdesk_data_dir_free_bytes`, `helpdesk_smtp_temp_failures_total`,
// `helpdesk_smtp_connections_refused_total`, `helpdesk_loops_total` and
// `helpdesk_security_events_total`. Example Prometheus rules:
// [`scripts/prometheus/helpdesk-alerts.yml`](scripts/prometheus/helpdesk-alerts.yml).
package config
