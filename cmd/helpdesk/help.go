package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"helpdesk/threading/command"
)

// helpTopics is the whole description of each command, printed by
// `helpdesk help COMMAND` and `helpdesk COMMAND -h` (followed by the
// command's flags). The README's command table has one line per command
// and points here, so the reference lives next to the code it describes.
// TestEveryCommandHasHelp keeps this list and the dispatch in step.
var helpTopics = map[string]string{
	"serve": `usage: helpdesk serve [-config FILE]

Runs the daemon: SMTP on [smtp] listen, /metrics and /healthz on [http]
listen (loopback only).

/healthz answers 503 naming each failing check: store writes or the relay
failing, the oldest queued outbound mail older than [http]
health_queue_age (1h), less free disk under data_dir than health_min_free
(1 GiB), or the last SIGHUP's configuration refused.

SIGTERM/SIGINT: stop accepting, let sessions finish within
shutdown_timeout, stop the outbound worker after the round under way (at
most 128 mails; the rest stays queued), close the store.

SIGHUP: reload the configuration. Staff, mailboxes, groups, macros,
threading and lifecycle settings and sender authentication apply at once
(a removed staff member gets nothing from then on, queued mail included).
A configuration with problems, or one changing data_dir, listen
addresses, [smtp] limits or DKIM signing (which need a restart), is
refused and the old one kept (logged, and /healthz says so until a reload
succeeds). Signals are handled from the moment the ready line is printed.
`,
	"tickets": `usage: helpdesk tickets [--status S] [--limit N] [--json]
       helpdesk tickets --view NAME [--json]

Lists tickets, newest first; with --view, the tickets of a [[view]] (not
closed, matching its conditions), in its sort order.

--json prints [{"id","subject","status","priority","requester","assignee",
"group","updated"}].
`,
	"show": `usage: helpdesk show N [--json]

One ticket with its threads, comments, events and attachments. The --json
form is a stable interface for scripts; the README shows its fields.

A response is a public reply from an agent that reaches the requester
(main thread, or #reply from a side thread), timed when it is sent (a held
reply when #send releases it); notes, side-thread messages,
acknowledgements and rule mail are not. awaiting_since is the first
customer comment after the last response (a bare "thanks" starts none);
on_behalf marks a ticket an agent opened (it has no first-reply target).

Comment kind is "comment" (a message: public comment, private note or
side-thread message), "event" (a change, private), "rejected" (a staff
mail whose commands were refused; hidden), "held" (a reply held by the
leak or collision guard until #send; hidden), "delivery" (a bounce or
feedback report), or "auto-reply". Thread 0 is the main thread.

A survey reply is a private comment whose reason is "survey rating N" (or
"survey reply without a rating"). A trigger's firing is an event whose
author is "rule:NAME" and whose text starts 'trigger "NAME" fired'; the
changes it made follow as events by the same author; a timer's change
(auto-close) is by "helpdesk". An automation's firing is an event by
"automation:NAME" whose text starts 'automation "NAME" fired', followed by
its changes' events.

Human output prints control and bidi characters of mail text as escapes
(\x1b, \u202e); --json output is exact.
`,
	"sla": `usage: helpdesk sla N [--json]

How each SLA deadline of ticket N was computed: the policy, the calendar,
the stretches counted and paused, holidays, and what is left.
`,
	"inject": `usage: helpdesk inject [FILE|-] [--trust-authres] [--rcpt ADDR]... [--sender ADDR]

Delivers a message as if received by SMTP, so an MTA can pipe mail in
(Postfix's pipe passes --sender ${sender} --rcpt ${recipient}).

The envelope routes as with SMTP: --rcpt (repeatable) picks the mailbox or
reply token, a Bcc'd mailbox included. Without it, our addresses on To and
Cc stand in; with none there nothing is stored, the exit status is 75 and
the message asks for --rcpt. --sender is MAIL FROM ("" or "<>": the null
sender, never answered). Authentication-Results are believed only with
--trust-authres (then only above the first Received: line).

Exit codes follow sysexits(3): 0 stored; 75 (EX_TEMPFAIL) whenever a retry
could succeed (store busy or failing, configuration being fixed); 65 too
large; 66 unreadable file; 67 (EX_NOUSER) a --rcpt that is none of our
addresses. Wrong usage (an unknown flag) exits 2, as every command does.

Without a running daemon the mail is stored and its outbound mail waits in
the queue until the daemon runs.
`,
	"explain": `usage: helpdesk explain FILE|- [--json] [--trust-authres] [--rcpt ADDR]... [--sender ADDR]

What a mail would do if it arrived now, storing and sending nothing: the
authentication verdict (and whether the sender counts as authenticated
staff), the ticket, thread and role it lands on and the rule that decided,
the planned commands as the transcript would show them, the triggers that
fire and the webhooks they would call (name, format, host; none is sent),
each comment's recipients with their view and who is left out and why,
and the mail that would be queued.

The daemon's own apply path runs in a store write that is always rolled
back (over the control socket, or on the store without a daemon), so it
cannot drift from delivery. The envelope flags are those of inject.
`,
	"outbox": `usage: helpdesk outbox [--json] [--limit N]
       helpdesk outbox retry ID...|--failed

The outbound queue: queued, sent, failed, the last errors, and the relay's
state (failing since when, the last error, what usually fixes it).

outbox retry queues given-up mail again (with a fresh give_up_after), or
makes queued mail due now; --failed takes every given-up mail and every
mail waiting for a retry after an error. It works with or without a
running daemon. A SIGHUP that changes [outbound] settings (a fixed relay
password) also makes the waiting mail due at once.
`,
	"webhooks": `usage: helpdesk webhooks [--json] [--limit N]

Webhook deliveries, newest first: state (queued, delivered, failed),
webhook, ticket, trigger, attempts, next attempt or when done, last error;
and the counts of each state. Metrics: helpdesk_webhook_delivered_total,
helpdesk_webhook_retries_total, helpdesk_webhook_failed_total,
helpdesk_webhook_queued.
`,
	"quarantine": `usage: helpdesk quarantine [list] [--json]
       helpdesk quarantine show N
       helpdesk quarantine release N

Mail kept aside with no effect: loops, failed staff authentication,
reports for unknown mail, blocked senders. show prints a record and its
raw message; release applies it as if the failed check had passed.
Quarantine is kept for [retention] quarantine (30d).
`,
	"customer": `usage: helpdesk customer ADDR [--page N] [--json]
       helpdesk customer merge A B
       helpdesk customer erase ADDR [--yes] [--json]

customer ADDR: a customer's profile (SPEC 8): name, addresses (primary
first), organization, tags, staff notes, language, time zone,
created/updated, tickets requested and CC'd on, and the activity
timeline, newest first, 10 entries a page.

customer merge A B: merge B's profile into A's. B's tickets, addresses,
tags and notes move to A; later mail from either address lands on A.

customer erase ADDR --yes: erase a customer (GDPR). Their tickets stay as
shells (number, dates, status, assignee, tags and figures; "erased" in
show --json). Their raw mail and blob files, comment texts and
attachments, outbound mail (queued and sent, and outbox/*.eml),
quarantine entries, webhook payloads, Message-ID and address index
entries and user record go, in one write; then the store is compacted, so
no file under data_dir keeps their bytes. On other people's tickets (a CC)
the address leaves the lists and is replaced by [erased] in texts; those
people's raw mail stays and is counted. Later mail from the address starts
afresh. Without --yes it only counts. Admins can do the same by mail
(#customer erase, confirmed with a code).
`,
	"customers": `usage: helpdesk customers [--org NAME] [--limit N] [--json]

Customer profiles, newest first, optionally those of one [[organization]].
`,
	"backup": `usage: helpdesk backup FILE

An online, consistent backup as a tar of the data directory: the database
snapshot and every blob it names. Mail keeps flowing meanwhile; the backup
holds exactly what was committed before its instant. With [store] engine =
"postgres" it prints the pg_dump command for the configured database
instead.
`,
	"restore": `usage: helpdesk restore FILE

Restores a backup into data_dir, which must hold no store (tar -xf FILE -C
data_dir does the same). With [store] engine = "postgres" it prints the
pg_restore command instead.
`,
	"erasures": `usage: helpdesk erasures [--json]

The records of erasures: when, by whom, how many items of each kind went
or were kept, and the state of one not finished yet; no personal data.
`,
	"compact": `usage: helpdesk compact [--json]

Rewrites the store file without free space (bbolt's compaction into a new
file, then an atomic rename), while the daemon runs: writes wait for it
(mail gets its 250 once committed after it), readers go on. Prints the
bytes before and after. Deleted records' bytes stay in freed pages until
then. [retention] compact runs it on a schedule.
`,
	"migrate-schema": `usage: helpdesk migrate-schema

Creates or upgrades the PostgreSQL schema of [store] engine = "postgres"
(the daemon does it too when it starts); prints the versions before and
after, and refuses a schema newer than the binary. Versions are in the
table schema_migrations.
`,
	"migrate": migrateHelp,
	"rotate-key": `usage: helpdesk rotate-key

Starts a new reply-token secret; tokens signed with the old one keep
working for [threading] secret_grace_period.
`,
	"clock": `usage: helpdesk clock [--json]
       helpdesk clock set TIME
       helpdesk clock advance DURATION

Prints the ticket clock: "wall", or "manual" with [testing] clock =
"manual".

clock set moves a manual clock to TIME (RFC 3339; never backwards), clock
advance DURATION forward (Go syntax, 26h). Both return once every timer
due on the way (auto-close, SLA notices, automations, surveys) has fired
in order, each at its own instant, and committed. With or without a
running daemon.
`,
	"automations": `usage: helpdesk automations --dry-run [--at TIME] [--json]

Lists the automations that would fire by TIME (default: the ticket clock's
now), each ticket staying as it is: ticket, instant, rule, its conditions
and actions. Changes nothing.
`,
	"report": `usage: helpdesk report [--period P] [--by agents|groups|mailboxes|tickets] [--format csv|json] [--out FILE]

A report (SPEC 9); default the last 30 days by agents, as CSV. Periods,
columns and how the figures are counted: go doc ./gateway/report.
`,
	"export": `usage: helpdesk export --from DAY --to DAY [--format jsonl|csv] [--out FILE]

Every ticket created on those days (in [reports] time_zone, both
included), each with its comments as one JSON line (the stored records,
for a data warehouse or a migration), or a ticket list as CSV under the
report rules.
`,
	"check-config": `usage: helpdesk check-config [-config FILE]

Validates the configuration: every problem at once, each with its key,
line and fix; exits 1 on problems. Settings that are valid but do nothing
or harm (e.g. "authres" in [auth] staff without trusted_authserv_ids, a
hostname that is not fully qualified, a holiday list with no date in the
current year) are printed as warnings, and logged when the daemon starts.
`,
	"dkim-record": `usage: helpdesk dkim-record [--json]

Prints the DNS TXT record (name and value, and as a zone-file line) that
publishes the public half of the [outbound] dkim_private_key_file key at
<dkim_selector>._domainkey.<dkim_domain>.
`,
	"version": `usage: helpdesk version

Prints the version.
`,
}

// helpCommand prints `helpdesk help TOPIC`: the command's description
// and its flags, as `helpdesk COMMAND -h` does.
func helpCommand(topic string, stdout, stderr io.Writer) int {
	if topic == "bench" {
		// bench -h writes its help to standard error; asked for here, it
		// is the output.
		return benchMain([]string{"-h"}, stdout, stdout)
	}
	if _, ok := helpTopics[topic]; !ok {
		names := helpNames()
		msg := fmt.Sprintf("helpdesk help: no command %q", topic)
		if s := command.Suggest(topic, names); s != "" {
			msg += fmt.Sprintf("; did you mean %s?", s)
		}
		fmt.Fprintf(stderr, "%s\ncommands: %s\n", msg, strings.Join(names, ", "))
		return 2
	}
	return run([]string{topic, "-h"}, nil, stdout, stderr)
}

// helpNames are the commands with a help topic, sorted, bench included.
func helpNames() []string {
	names := []string{"bench"}
	for n := range helpTopics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// wantsHelp says whether a command's arguments ask for its help (-h,
// -help, --help before a "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "--h", "-help", "--help":
			return true
		}
	}
	return false
}

// printHelp prints a command's description, then its flags, on standard
// output: asked-for help is output, not an error.
func printHelp(fs *flag.FlagSet, cmd string, stdout io.Writer) {
	fmt.Fprint(stdout, helpTopics[cmd])
	fmt.Fprint(stdout, "\nflags:\n")
	fs.SetOutput(stdout)
	fs.PrintDefaults()
}
