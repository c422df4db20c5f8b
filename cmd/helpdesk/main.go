// Command helpdesk is the email-first helpdesk daemon and its admin CLI.
//
//	helpdesk serve                 run the daemon
//	helpdesk tickets [--status S | --view NAME] [--json]
//	helpdesk show N [--json]
//	helpdesk sla N [--json]
//	helpdesk inject [FILE|-] [--trust-authres] [--rcpt ADDR]... [--sender ADDR]
//	helpdesk explain FILE|- [--json] [--trust-authres] [--rcpt ADDR]... [--sender ADDR]
//	helpdesk outbox [--json]
//	helpdesk outbox retry ID...|--failed
//	helpdesk quarantine [list|show N|release N] [--json]
//	helpdesk report [--period P] [--by agents|groups|mailboxes|tickets] [--format csv|json]
//	helpdesk export --from DAY --to DAY [--format jsonl|csv]
//	helpdesk backup FILE
//	helpdesk migrate --from bbolt|postgres --to postgres|bbolt [--data-dir DIR] [--dsn DSN]
//	helpdesk check-config
//	helpdesk dkim-record [--json]
//	helpdesk bench [flags]
//	helpdesk version
//	helpdesk help [COMMAND]
//
// `helpdesk help COMMAND` (or `helpdesk COMMAND -h`) prints the whole
// description of a command, kept in help.go's helpTopics.
//
// Every subcommand takes -config FILE (default ./helpdesk.toml), which, like
// --json, may also stand before the subcommand; flags
// may stand before or after positional arguments. The CLI talks to a
// running daemon over the unix socket in data_dir, or opens the store
// itself when no daemon runs.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/clock"
	"helpdesk/gateway/control"
	"helpdesk/gateway/daemon"
	"helpdesk/gateway/engine"
	"helpdesk/gateway/mailtext"
	"helpdesk/gateway/outbound"
	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/threading/safetext"
)

// esc and escText keep mail text (subjects, names, tags, bodies) from
// driving the admin's terminal: control and bidi characters are printed
// as escapes in human output. JSON output is exact.
var (
	esc     = safetext.Escape
	escText = safetext.EscapeText
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

const usage = `helpdesk: an email-first helpdesk daemon

usage: helpdesk <command> [flags] [args]

commands:
  serve                       run the daemon (SMTP, outbound queue, metrics)
  tickets [--status S]        list tickets, newest first; --view NAME: a [[view]]
  show N                      show ticket N with its threads and comments
  sla N                       how each SLA deadline of ticket N was computed (policy,
                              calendar, pauses, holidays)
  inject [FILE|-]             deliver a message file (or stdin) as if received;
                              --rcpt ADDR (repeatable), --sender ADDR: the envelope
  explain FILE|-              what a mail would do if it arrived now (authentication,
                              thread, commands, triggers, recipients); stores and sends nothing
  outbox                      show the outbound queue and the relay's state
  outbox retry ID...|--failed queue given-up mail again (or make queued mail due now;
                             --failed: all given-up mail and all mail waiting after an error)
  webhooks                    list webhook deliveries with their state and last error
  quarantine [list]           list quarantined mail
  quarantine show N           show a quarantined record and its raw message
  quarantine release N        apply a quarantined mail (admin vouches for it)
  customer ADDR               a customer's profile: addresses, organization, tags, notes,
                              language, time zone, tickets, activity (--page N: older)
  customer merge A B          merge B's profile into A's (tickets, addresses, tags, notes)
  customers [--org O]         list customer profiles, newest first
  backup FILE                 write an online, consistent backup (tar)
  restore FILE                restore a backup into data_dir (which must hold no store)
  customer erase ADDR --yes   erase a customer (GDPR): their tickets become shells, their mail and texts go;
                              without --yes only says what would go
  erasures                    list the records of erasures (when, by whom, how many items)
  compact                     rewrite the store without free space, online (writes wait); prints bytes before/after
  migrate-schema              create or upgrade the PostgreSQL schema ([store] engine = "postgres")
  migrate --from E --to E     copy the whole store into the other engine (bbolt, postgres) and verify it
                              equal; daemons stopped, target empty (helpdesk migrate -h)
  rotate-key                  start a new reply-token secret (old tokens verify for secret_grace_period)
  clock                       print the ticket clock
  clock set TIME              move a manual clock ([testing] clock = "manual") to TIME (RFC 3339),
                              firing every timer due on the way, in order
  clock advance DURATION      move a manual clock forward (Go syntax, e.g. 26h)
  automations --dry-run [--at TIME]
                              list the automations that would fire by TIME (default now) and why; changes nothing
  report                      reports per agent, group, mailbox or ticket (SPEC 9):
                              --period P (default 30d) --by agents|groups|mailboxes|tickets
                              --format csv|json (CSV: UTF-8 with a byte-order mark) --out FILE
  export --from DAY --to DAY  every ticket created in those days with its comments, as
                              JSON lines (--format csv: a ticket list) --out FILE
  check-config                validate the configuration and exit non-zero on problems
  dkim-record                 print the DNS TXT record of the DKIM signing key ([outbound] dkim_*)
  bench                       measure ingest speed (see helpdesk bench -h)
  version                     print the version

common flags (also before the command: helpdesk -config FILE show 1):
  -config FILE                configuration file (default ./helpdesk.toml)
  --json                      machine-readable output (tickets, show, sla, outbox, webhooks,
                              quarantine, customer, customers)
Flags may stand before or after positional arguments. While the daemon runs
the CLI talks to it over the unix socket data_dir/helpdesk.sock (mode 0600);
otherwise it opens the store itself, and refuses a damaged store file with
the way to restore it from a backup.

helpdesk help COMMAND (or helpdesk COMMAND -h) describes one command in full.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || (args[0] == "help" && len(args) == 1) {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	pre, args, err := globalFlags(args)
	if err != nil {
		fmt.Fprintf(stderr, "helpdesk: %v\n", err)
		return 2
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, "helpdesk: no command given\n\n"+usage)
		return 2
	}
	if args[0] == "help" {
		if len(args) > 1 {
			return helpCommand(args[1], stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	}
	// The global flags given before the command are parsed with the
	// command's own, as if they followed it.
	cmd, rest := args[0], append(pre, args[1:]...)
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("helpdesk "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.configPath, "config", "helpdesk.toml", "configuration file")
	fs.BoolVar(&c.json, "json", false, "JSON output")
	var status, view, atFlag, org string
	var page int
	var trust, failed, dryRun, yes bool
	var limit int
	var period, by, format, from, to, outFile, dataDir, dsn string
	var inj engine.InjectOptions
	switch cmd {
	case "tickets":
		fs.StringVar(&status, "status", "", "only tickets with this status")
		fs.StringVar(&view, "view", "", "the tickets of this [[view]], in its order")
		fs.IntVar(&limit, "limit", 0, "at most this many (0: all)")
	case "inject", "explain":
		fs.BoolVar(&trust, "trust-authres", false, "believe the mail's Authentication-Results header (SPEC 5)")
		// What an MTA's pipe transport passes (Postfix: ${recipient} and
		// ${sender}): the envelope decides the mailbox, as with SMTP.
		fs.Func("rcpt", "envelope recipient, one of our addresses (repeatable; default: ours on To and Cc)", func(s string) error {
			inj.Rcpts = append(inj.Rcpts, s)
			return nil
		})
		fs.Func("sender", `envelope sender (MAIL FROM); "" or "<>" is the null sender (default: Return-Path, else From)`, func(s string) error {
			inj.Sender, inj.HasSender = s, true
			return nil
		})
	case "outbox", "quarantine", "webhooks":
		fs.IntVar(&limit, "limit", 50, "at most this many items")
		if cmd == "outbox" {
			fs.BoolVar(&failed, "failed", false, "outbox retry: every failed item")
		}
	case "automations":
		fs.BoolVar(&dryRun, "dry-run", false, "list what would fire and why, changing nothing (required)")
		fs.StringVar(&atFlag, "at", "", "up to this instant (RFC 3339; default: the ticket clock's now)")
	case "customer":
		fs.IntVar(&page, "page", 1, "timeline page (1: the newest 10)")
		fs.BoolVar(&yes, "yes", false, "customer erase: really erase (it cannot be undone)")
	case "customers":
		fs.StringVar(&org, "org", "", "only customers of this [[organization]]")
		fs.IntVar(&limit, "limit", 0, "at most this many (0: all)")
	case "report":
		fs.StringVar(&period, "period", "", "the period: today, yesterday, week, last-week, month, last-month, quarter, year, 30d, 4w, 2026-11, 2026-11-01..2026-11-15 (default 30d)")
		fs.StringVar(&by, "by", "agents", "rows by agents, groups, mailboxes or tickets")
		fs.StringVar(&format, "format", "csv", "csv (UTF-8 with a byte-order mark) or json")
		fs.StringVar(&outFile, "out", "", "write to this file instead of standard output")
	case "export":
		fs.StringVar(&from, "from", "", "first day (YYYY-MM-DD, in [reports] time_zone) or RFC 3339 instant")
		fs.StringVar(&to, "to", "", "last day, included (YYYY-MM-DD), or RFC 3339 instant, excluded")
		fs.StringVar(&format, "format", "jsonl", "jsonl (each ticket with its comments) or csv (a ticket list)")
		fs.StringVar(&outFile, "out", "", "write to this file instead of standard output")
	case "migrate":
		fs.StringVar(&from, "from", "", "the engine to copy from: bbolt or postgres")
		fs.StringVar(&to, "to", "", "the engine to copy into: postgres or bbolt")
		fs.StringVar(&dataDir, "data-dir", "", "the bbolt side's data_dir (default: data_dir of the configuration)")
		fs.StringVar(&dsn, "dsn", "", "the PostgreSQL side's database (default: [store] dsn of the configuration)")
		fs.Usage = func() { printHelp(fs, "migrate", stdout) }
	case "bench":
		return benchMain(rest, stdout, stderr)
	}
	if _, ok := helpTopics[cmd]; ok && wantsHelp(rest) {
		printHelp(fs, cmd, stdout)
		return 0
	}
	pos, err := parseInterspersed(fs, rest)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch cmd {
	case "serve":
		return c.serve()
	case "check-config":
		report, ok := config.Check(c.configPath)
		fmt.Fprintln(stdout, report)
		if !ok {
			return 1
		}
		return 0
	case "version":
		fmt.Fprintln(stdout, "helpdesk", Version)
		return 0
	case "dkim-record":
		return c.dkimRecord()
	case "tickets":
		return c.tickets(status, view, limit)
	case "show":
		if len(pos) != 1 {
			return c.fail(2, "usage: helpdesk show N [--json]")
		}
		return c.show(pos[0])
	case "sla":
		if len(pos) != 1 {
			return c.fail(2, "usage: helpdesk sla N [--json]")
		}
		return c.slaExplain(pos[0])
	case "inject":
		file := "-"
		if len(pos) > 0 {
			file = pos[0]
		}
		inj.TrustAuthRes = trust
		return c.inject(file, inj)
	case "explain":
		if len(pos) != 1 {
			return c.fail(2, "usage: helpdesk explain FILE|- [--json] [--trust-authres] [--rcpt ADDR]... [--sender ADDR]")
		}
		inj.TrustAuthRes = trust
		return c.explain(pos[0], inj)
	case "outbox":
		if len(pos) > 0 && pos[0] == "retry" {
			return c.outboxRetry(pos[1:], failed)
		}
		if len(pos) > 0 || failed {
			return c.fail(2, "usage: helpdesk outbox [--json] | helpdesk outbox retry ID...|--failed")
		}
		return c.outbox(limit)
	case "webhooks":
		return c.webhooks(limit)
	case "report":
		if len(pos) > 0 {
			return c.fail(2, "usage: helpdesk report [--period P] [--by agents|groups|mailboxes|tickets] [--format csv|json] [--out FILE]")
		}
		return c.report(period, by, format, outFile)
	case "export":
		if len(pos) > 0 || from == "" || to == "" {
			return c.fail(2, "usage: helpdesk export --from DAY --to DAY [--format jsonl|csv] [--out FILE]")
		}
		return c.export(from, to, format, outFile)
	case "quarantine":
		return c.quarantine(pos, limit)
	case "customer":
		if len(pos) > 0 && pos[0] == "erase" {
			return c.customerErase(pos[1:], yes)
		}
		return c.customer(pos, page)
	case "customers":
		if len(pos) > 0 {
			return c.fail(2, "usage: helpdesk customers [--org NAME] [--limit N] [--json]")
		}
		return c.customers(org, limit)
	case "rotate-key":
		api, done, ok := c.api(true)
		if !ok {
			return 1
		}
		defer done()
		n, err := api.RotateKey()
		if err != nil {
			return c.fail(1, "%v", err)
		}
		fmt.Fprintf(stdout, "new reply-token secret in use; %d secrets on record (retired ones verify for their grace period)\n", n)
		return 0
	case "clock":
		return c.clock(pos)
	case "automations":
		return c.automations(pos, dryRun, atFlag)
	case "compact":
		return c.compact()
	case "erasures":
		return c.erasures()
	case "backup":
		if len(pos) != 1 {
			return c.fail(2, "usage: helpdesk backup FILE")
		}
		return c.backup(pos[0])
	case "restore":
		if len(pos) != 1 {
			return c.fail(2, "usage: helpdesk restore FILE")
		}
		return c.restore(pos[0])
	case "migrate-schema":
		return c.migrateSchema()
	case "migrate":
		if len(pos) > 0 {
			return c.fail(2, "usage: helpdesk migrate --from bbolt|postgres --to postgres|bbolt [--data-dir DIR] [--dsn DSN] (helpdesk migrate -h explains)")
		}
		return c.migrateCmd(from, to, dataDir, dsn)
	}
	fmt.Fprintf(stderr, "helpdesk: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// globalFlags splits the global flags (-config, --json) written before
// the command from the rest: `helpdesk -config X show 1` is common usage.
// A command's own flag before the command is refused with a hint, not
// taken for the command's name.
func globalFlags(args []string) (pre, rest []string, err error) {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" && args[0] != "--" {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		switch name {
		case "config":
			if !hasValue {
				if len(args) < 2 {
					return nil, nil, fmt.Errorf("flag %s needs a value: -config FILE", args[0])
				}
				pre, args = append(pre, args[0], args[1]), args[2:]
				continue
			}
		case "json":
		case "h", "help":
			return pre, []string{"help"}, nil
		default:
			return nil, nil, fmt.Errorf("flag %s before the command: only -config and --json may stand there; put it after the command (helpdesk COMMAND %s ...)", args[0], args[0])
		}
		pre, args = append(pre, args[0]), args[1:]
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	return pre, args, nil
}

// parseInterspersed lets flags stand before or after positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// fs.Parse stops at the first non-flag ("-" included) or after "--".
		if i := len(args) - len(rest); i > 0 && args[i-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

type cli struct {
	configPath string
	json       bool
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
}

func (c *cli) fail(code int, format string, a ...any) int {
	fmt.Fprintf(c.stderr, "helpdesk: "+format+"\n", a...)
	return code
}

// dkimRecord prints the TXT record to publish for the configured DKIM
// signing key: its name, its value, and the same as a zone-file line.
func (c *cli) dkimRecord() int {
	cfg, ok := c.loadConfig()
	if !ok {
		return 1
	}
	o := cfg.Outbound
	if o.DKIMKeyFile == "" {
		return c.fail(1, "no DKIM signing key in %s: set [outbound] dkim_domain, dkim_selector and dkim_private_key_file (e.g. a key made with: openssl genpkey -algorithm ed25519 -out dkim.pem)", c.configPath)
	}
	key, err := config.LoadDKIMKey(o.DKIMKeyFile)
	if err != nil {
		return c.fail(1, "outbound.dkim_private_key_file %q: %v", o.DKIMKeyFile, err)
	}
	rec, err := config.DKIMRecordFor(o.DKIMDomain, o.DKIMSelector, key)
	if err != nil {
		return c.fail(1, "outbound.dkim_private_key_file %q: %v", o.DKIMKeyFile, err)
	}
	if c.json {
		return c.printJSON(rec)
	}
	fmt.Fprintf(c.stdout, "name:  %s\ntype:  TXT\nvalue: %s\n\nas a zone file line (a value over 255 characters is split into strings the resolver joins):\n%s\n",
		rec.Name, rec.Value, rec.ZoneLine())
	return 0
}

func (c *cli) loadConfig() (*config.Config, bool) {
	cfg, err := config.Load(c.configPath)
	if err != nil {
		report, _ := config.Check(c.configPath)
		fmt.Fprintln(c.stderr, report)
		return nil, false
	}
	return cfg, true
}

// api connects to the running daemon or opens the store directly. The
// returned closer releases the store.
func (c *cli) api(writable bool) (control.API, func(), bool) {
	cfg, ok := c.loadConfig()
	if !ok {
		return nil, nil, false
	}
	if cl, err := control.Dial(cfg.DataDir); err == nil {
		return cl, func() {}, true
	}
	if !writable && !daemon.StoreExists(cfg) {
		// Reading must not create: a command run with the wrong
		// directory or config would leave an empty store behind.
		c.fail(1, "no store in %s (data_dir of %s): nothing to show. The daemon creates it on its first start; if it runs elsewhere, pass its helpdesk.toml with -config", cfg.DataDir, c.configPath)
		return nil, nil, false
	}
	lock := 2 * time.Second
	if writable {
		// Another CLI process (a parallel inject) may hold the store for
		// a while; waiting is better than failing.
		lock = 30 * time.Second
	}
	var manual *clock.Manual
	var now func() time.Time
	if cfg.Testing.Clock == config.ClockManual {
		// Mail injected without the daemon takes the same ticket time as
		// with it.
		manual = clock.New(time.Now())
		now = manual.Now
	}
	db, err := daemon.OpenStore(cfg, daemon.StoreOptions{LockTimeout: lock, ReadOnly: !writable, Now: now})
	if err != nil {
		c.fail(1, "%v", err)
		return nil, nil, false
	}
	if manual != nil {
		if err := manual.Load(db, writable); err != nil {
			db.Close()
			c.fail(1, "%v", err)
			return nil, nil, false
		}
	}
	local := &control.Local{DB: db, Relay: cfg.Outbound.Relay, Config: cfg, Manual: manual}
	if writable {
		authn, err := daemon.NewAuthenticator(cfg)
		if err != nil {
			db.Close()
			c.fail(1, "%v", err)
			return nil, nil, false
		}
		eng, err := engine.New(cfg, db, engine.Options{Logger: slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), Auth: authn, Now: now})
		if err != nil {
			db.Close()
			c.fail(1, "%v", err)
			return nil, nil, false
		}
		texts, err := mailtext.Load(cfg)
		if err != nil {
			db.Close()
			c.fail(1, "customer texts: %v", err)
			return nil, nil, false
		}
		eng.SetTexts(texts)
		local.Engine = eng
	}
	return local, func() { db.Close() }, true
}

func (c *cli) printJSON(v any) int {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return c.fail(1, "%v", err)
	}
	return 0
}

func (c *cli) tickets(status, view string, limit int) int {
	if status != "" && view != "" {
		return c.fail(2, "use --status or --view, not both (a view names its statuses)")
	}
	if status != "" && !validStatus(status) {
		return c.fail(2, "unknown status %q: use one of %s", status, strings.Join(model.Statuses, ", "))
	}
	api, done, ok := c.api(false)
	if !ok {
		return 1
	}
	defer done()
	list, err := api.Tickets(status, limit)
	if view != "" {
		list, err = api.View(view, limit)
	}
	if err != nil {
		return c.fail(1, "%v", err)
	}
	if c.json {
		if list == nil {
			list = []control.TicketSummary{}
		}
		return c.printJSON(list)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tPRIORITY\tREQUESTER\tASSIGNEE\tUPDATED\tSUBJECT")
	for _, t := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, esc(t.Status), esc(t.Priority), esc(t.Requester), esc(dash(t.Assignee)), t.Updated.Local().Format("2006-01-02 15:04"), esc(t.Subject))
	}
	tw.Flush()
	if len(list) == 0 {
		fmt.Fprintln(c.stdout, "(no tickets)")
	}
	return 0
}

func validStatus(s string) bool {
	for _, x := range model.Statuses {
		if x == s {
			return true
		}
	}
	return false
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// slaExplain is `helpdesk sla N`: how each SLA deadline was computed.
func (c *cli) slaExplain(arg string) int {
	id, err := strconv.ParseUint(strings.TrimPrefix(arg, "#"), 10, 64)
	if err != nil {
		return c.fail(2, "%q is not a ticket number", arg)
	}
	api, done, ok := c.api(false)
	if !ok {
		return 1
	}
	defer done()
	v, err := api.SLA(id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return c.fail(1, "ticket %d not found", id)
		}
		return c.fail(1, "%v", err)
	}
	if c.json {
		return c.printJSON(v)
	}
	fmt.Fprintf(c.stdout, "Ticket #%d at %s\n%s", v.Ticket, v.Now.UTC().Format(time.RFC3339), escText(v.Explanation))
	return 0
}

func (c *cli) show(arg string) int {
	id, err := strconv.ParseUint(strings.TrimPrefix(arg, "#"), 10, 64)
	if err != nil {
		return c.fail(2, "%q is not a ticket number", arg)
	}
	api, done, ok := c.api(false)
	if !ok {
		return 1
	}
	defer done()
	v, err := api.Show(id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return c.fail(1, "ticket %d not found", id)
		}
		return c.fail(1, "%v", err)
	}
	if c.json {
		return c.printJSON(v)
	}
	w := c.stdout
	fmt.Fprintf(w, "Ticket #%d: %s\n", v.ID, esc(v.Subject))
	fmt.Fprintf(w, "  status %s · priority %s · type %s · mailbox %s · group %s\n", esc(v.Status), esc(v.Priority), esc(dash(v.Type)), esc(v.Mailbox), esc(dash(v.Group)))
	fmt.Fprintf(w, "  requester %s · assignee %s\n", esc(v.Requester), esc(dash(v.Assignee)))
	fmt.Fprintf(w, "  ccs: %s\n  followers: %s\n  tags: %s\n", list(v.CCs), list(v.Followers), list(v.Tags))
	for _, l := range v.Links {
		fmt.Fprintf(w, "  link: %s #%d\n", esc(l.Kind), l.Ticket)
	}
	if len(v.Flags) > 0 {
		fmt.Fprintf(w, "  flags: %s\n", list(v.Flags))
	}
	for _, th := range v.Threads {
		fmt.Fprintf(w, "  thread %d (%s%s): %s\n", th.ID, esc(th.Kind), esc(suffix(th.Status)), list(th.Participants))
	}
	for _, cm := range v.Comments {
		hidden := ""
		if cm.Hidden {
			hidden = ", hidden"
		}
		fmt.Fprintf(w, "\n--- #%d %s %s, thread %d, %s%s, %s\n", cm.ID, esc(cm.Kind), esc(cm.Author), cm.Thread, esc(cm.Visibility), hidden, cm.Created.Local().Format("2006-01-02 15:04:05"))
		if cm.Reason != "" && cm.Reason != cm.Text {
			fmt.Fprintf(w, "    reason: %s\n", indent(escText(cm.Reason))[4:])
		}
		fmt.Fprintln(w, indent(escText(cm.Text)))
	}
	for _, a := range v.Attachments {
		fmt.Fprintf(w, "\nattachment (comment %d): %s, %s, %d bytes\n", a.Comment, esc(a.Name), esc(a.ContentType), a.Size)
	}
	return 0
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ", " + s
}

func list(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	e := make([]string, len(l))
	for i, s := range l {
		e[i] = esc(s)
	}
	return strings.Join(e, ", ")
}

func indent(s string) string {
	if s == "" {
		return "    (no text)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

func (c *cli) inject(file string, opt engine.InjectOptions) int {
	// Exit codes follow sysexits(3), which MTAs piping mail in act on:
	// 75 (EX_TEMPFAIL) means "keep the mail and retry", anything else
	// bounces it. Only a mail that can never be accepted gets a bounce.
	cfg, ok := c.loadConfig()
	if !ok {
		return 75 // a broken config is fixed by an admin; retry then
	}
	// An unknown recipient is refused as SMTP's RCPT TO refuses it (550):
	// EX_NOUSER makes the MTA bounce it, before the mail is read.
	for _, r := range opt.Rcpts {
		if cfg.Mailbox(r) == nil {
			return c.fail(67, "recipient %s: no such mailbox here (not stored): the envelope recipient must be a [[mailbox]] address of %s or a plus-address of one", r, c.configPath) // EX_NOUSER
		}
	}
	in := c.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return c.fail(66, "reading %s: %v", file, err) // EX_NOINPUT
		}
		defer f.Close()
		in = f
	}
	// At most one byte more than the limit is read, so an oversized mail
	// is refused without holding it in memory.
	limit := int64(cfg.SMTP.MaxMessageBytes)
	raw, err := io.ReadAll(io.LimitReader(in, limit+1))
	if err != nil {
		return c.fail(66, "reading %s: %v", file, err) // EX_NOINPUT
	}
	if int64(len(raw)) > limit {
		return c.fail(65, "message is larger than smtp.max_message_bytes (%s): not stored; raise that limit in %s to accept it", cfg.SMTP.MaxMessageBytes, c.configPath) // EX_DATAERR
	}
	api, done, ok := c.api(true)
	if !ok {
		return 75 // the store is busy (locked) or unavailable: retry
	}
	defer done()
	res, err := api.Inject(raw, opt)
	if errors.Is(err, engine.ErrNoSuchMailbox) {
		// The daemon's configuration differs from ours (not reloaded).
		return c.fail(67, "not stored: %v", err) // EX_NOUSER
	}
	if err != nil {
		return c.fail(75, "not stored, try again: %v", err) // EX_TEMPFAIL for MTAs
	}
	if c.json {
		return c.printJSON(res)
	}
	fmt.Fprintf(c.stdout, "stored as message %d: %s", res.Message, res.Disposition)
	if res.Ticket != 0 {
		fmt.Fprintf(c.stdout, " (ticket #%d)", res.Ticket)
	}
	if res.Duplicate {
		fmt.Fprint(c.stdout, " — duplicate of an earlier delivery, applied once")
	}
	fmt.Fprintln(c.stdout)
	return 0
}

func (c *cli) outbox(limit int) int {
	api, done, ok := c.api(false)
	if !ok {
		return 1
	}
	defer done()
	v, err := api.Outbox(limit)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	if c.json {
		return c.printJSON(v)
	}
	fmt.Fprintf(c.stdout, "queued %d · sent %d · failed %d\n", v.Queued, v.Sent, v.Failed)
	fmt.Fprintln(c.stdout, relayLine(v.Relay))
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tKIND\tTICKET\tRCPT\tATTEMPTS\tNEXT/DONE\tLAST ERROR")
	for _, o := range v.Items {
		when := o.NextAttempt
		if o.State != model.OutQueued {
			when = o.Done
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%d\t%s\t%s\n", o.ID, o.State, o.Kind, o.Ticket, esc(o.Rcpt), o.Attempts, when.Local().Format("01-02 15:04:05"), esc(o.LastError))
	}
	tw.Flush()
	return 0
}

// webhooks lists the webhook deliveries.
func (c *cli) webhooks(limit int) int {
	api, done, ok := c.api(false)
	if !ok {
		return 1
	}
	defer done()
	v, err := api.Webhooks(limit)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	if c.json {
		return c.printJSON(v)
	}
	fmt.Fprintf(c.stdout, "queued %d · delivered %d · failed %d\n", v.Queued, v.Delivered, v.Failed)
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tWEBHOOK\tTICKET\tTRIGGER\tATTEMPTS\tNEXT/DONE\tLAST ERROR")
	for _, d := range v.Items {
		when := d.NextAttempt
		if d.State != model.HookQueued {
			when = d.Done
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%d\t%s\t%s\n", d.ID, d.State, esc(d.Webhook), d.Ticket, esc(d.Trigger), d.Attempts, when.Local().Format("01-02 15:04:05"), esc(d.LastError))
	}
	tw.Flush()
	return 0
}

// relayLine is the relay's state in one line (or two, with the fix).
func relayLine(st outbound.RelayStatus) string {
	if st.Relay == "" {
		return "relay: none (mail is written to data_dir/outbox/)"
	}
	switch st.State {
	case "failing":
		return fmt.Sprintf("relay %s: failing since %s (%d failures); last error %s: %s\n  fix: %s; mail stays queued and is retried",
			st.Relay, st.Since.Local().Format("01-02 15:04:05"), st.Failures, st.LastErrorAt.Local().Format("15:04:05"), st.LastError, st.Hint)
	case "ok":
		return fmt.Sprintf("relay %s: ok since %s", st.Relay, st.Since.Local().Format("01-02 15:04:05"))
	}
	return fmt.Sprintf("relay %s: state unknown (no daemon running, or nothing sent since it started)", st.Relay)
}

// outboxRetry queues given-up mail again (outbox retry ID...|--failed).
func (c *cli) outboxRetry(args []string, failed bool) int {
	if len(args) == 0 && !failed || len(args) > 0 && failed {
		return c.fail(2, "usage: helpdesk outbox retry ID...|--failed")
	}
	var ids []uint64
	for _, a := range args {
		id, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			return c.fail(2, "%q is not an outbox item id (see helpdesk outbox)", a)
		}
		ids = append(ids, id)
	}
	api, done, ok := c.api(true)
	if !ok {
		return 1
	}
	defer done()
	n, err := api.OutboxRetry(ids, failed)
	if err != nil {
		return c.fail(1, "nothing requeued: %v", err)
	}
	if c.json {
		return c.printJSON(map[string]int{"requeued": n})
	}
	fmt.Fprintf(c.stdout, "%d mail(s) queued again, due now\n", n)
	return 0
}

func (c *cli) quarantine(pos []string, limit int) int {
	sub := "list"
	if len(pos) > 0 {
		sub = pos[0]
	}
	var id uint64
	if sub == "show" || sub == "release" {
		if len(pos) != 2 {
			return c.fail(2, "usage: helpdesk quarantine %s N", sub)
		}
		var err error
		if id, err = strconv.ParseUint(pos[1], 10, 64); err != nil {
			return c.fail(2, "%q is not a record number", pos[1])
		}
	} else if sub != "list" {
		return c.fail(2, "usage: helpdesk quarantine [list|show N|release N]")
	}
	api, done, ok := c.api(sub == "release")
	if !ok {
		return 1
	}
	defer done()
	switch sub {
	case "show":
		v, err := api.QuarantineShow(id)
		if err != nil {
			return c.fail(1, "%v", err)
		}
		if c.json {
			return c.printJSON(v)
		}
		q := v.Record
		fmt.Fprintf(c.stdout, "Quarantined record %d (%s)\n  from: %s\n  subject: %s\n  received: %s\n  detail: %s\n  released: %v\n\n%s\n",
			q.ID, esc(q.Reason), esc(q.From), esc(q.Subject), q.Created.Local().Format(time.RFC1123), esc(q.Detail), q.Released, escText(string(v.Raw)))
		return 0
	case "release":
		res, err := api.Release(id)
		if err != nil {
			return c.fail(1, "%v", err)
		}
		if c.json {
			return c.printJSON(res)
		}
		fmt.Fprintf(c.stdout, "released record %d: %s", id, res.Disposition)
		if res.Ticket != 0 {
			fmt.Fprintf(c.stdout, " (ticket #%d)", res.Ticket)
		}
		fmt.Fprintln(c.stdout)
		return 0
	}
	qs, err := api.Quarantine(limit)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	if c.json {
		if qs == nil {
			qs = []model.Quarantine{}
		}
		return c.printJSON(qs)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREASON\tRECEIVED\tFROM\tSUBJECT\tDETAIL")
	for _, q := range qs {
		rel := ""
		if q.Released {
			rel = " (released)"
		}
		fmt.Fprintf(tw, "%d\t%s%s\t%s\t%s\t%s\t%s\n", q.ID, esc(q.Reason), rel, q.Created.Local().Format("01-02 15:04"), esc(q.From), esc(q.Subject), esc(q.Detail))
	}
	tw.Flush()
	if len(qs) == 0 {
		fmt.Fprintln(c.stdout, "(nothing quarantined)")
	}
	return 0
}

func (c *cli) backup(path string) int {
	if cfg, ok := c.loadConfig(); !ok {
		return 1
	} else if cfg.Store.Engine == config.EnginePostgres {
		return c.fail(1, "backup: %s", pgBackupHint(cfg, path))
	}
	api, done, ok := c.api(false)
	if !ok {
		return 1
	}
	defer done()
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	n, err := api.Backup(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return c.fail(1, "backup failed: %v", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return c.fail(1, "%v", err)
	}
	fmt.Fprintf(c.stdout, "backup written to %s (%d files); restore with: helpdesk restore %s (into an empty data_dir)\n", path, n, path)
	return 0
}

func (c *cli) migrateSchema() int {
	cfg, ok := c.loadConfig()
	if !ok {
		return 1
	}
	from, to, err := daemon.MigrateSchema(cfg)
	if err != nil {
		return c.fail(1, "migrate-schema: %v", err)
	}
	if from == to {
		fmt.Fprintf(c.stdout, "the schema is at version %d, this binary's: nothing to do\n", to)
	} else {
		fmt.Fprintf(c.stdout, "schema migrated from version %d to %d\n", from, to)
	}
	return 0
}

func (c *cli) restore(path string) int {
	cfg, ok := c.loadConfig()
	if !ok {
		return 1
	}
	if cfg.Store.Engine == config.EnginePostgres {
		return c.fail(1, "restore: %s", pgBackupHint(cfg, path))
	}
	if _, err := control.Dial(cfg.DataDir); err == nil {
		return c.fail(1, "a daemon is running on %s: stop it before restoring", cfg.DataDir)
	}
	f, err := os.Open(path)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	defer f.Close()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return c.fail(1, "%v", err)
	}
	n, err := daemon.RestoreStore(cfg, f)
	if err != nil {
		return c.fail(1, "restore failed: %v", err)
	}
	fmt.Fprintf(c.stdout, "restored %d files into %s\n", n, cfg.DataDir)
	return 0
}

// memoryLimit is the daemon's soft memory limit for a parse budget: room
// for everything but parsing (the 4 KiB ingest bench peaks at about 35
// MiB of heap and stacks with GOGC 400) plus eight times the budget for
// the mails being parsed (a mail's text held raw, as enmime's part, as
// converted text and as decoded text is about six times its size).
func memoryLimit(parseBudget int64) int64 { return 128<<20 + 8*parseBudget }

func (c *cli) serve() int {
	cfg, ok := c.loadConfig()
	if !ok {
		return 1
	}
	if os.Getenv("GOGC") == "" {
		// The daemon's live heap is small (tens of MiB) and allocation
		// heavy per mail: collecting less often costs little memory and
		// saves several percent of CPU at full ingest.
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// ... but not without bound: parsing a mail leaves several times
		// its size of garbage, and with many mails parsed at once
		// (parse_budget bytes of them) collecting only at 5x the live heap
		// would take gigabytes (issue 11). Near this soft limit the
		// collector runs as often as it must; far below it, as GOGC says.
		debug.SetMemoryLimit(memoryLimit(int64(cfg.SMTP.ParseBudget)))
	}
	log := slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	for _, w := range cfg.Warnings() {
		log.Warn("configuration", "key", w.Key, "problem", w.Msg, "fix", w.Fix)
	}
	// Signals are taken before the daemon says it is ready: a SIGHUP or
	// SIGTERM right after the ready line must not meet the default
	// action, which ends the process at once (no reload, no graceful
	// stop). One that comes during the start waits in the channel.
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	d, err := daemon.Start(cfg, daemon.Options{Logger: log})
	if err != nil {
		return c.fail(1, "%v", err)
	}
	fmt.Fprintf(c.stdout, "helpdesk %s: SMTP on %s, metrics on http://%s/metrics, data in %s\n", Version, d.SMTPAddr, d.HTTPAddr, cfg.DataDir)
	if cfg.Outbound.Relay == "" {
		fmt.Fprintf(c.stdout, "no relay configured: outgoing mail is written to %s\n", filepath.Join(cfg.DataDir, "outbox"))
	}
	// systemd (Type=notify): ready once the SMTP listener is up, which
	// daemon.Start has done; the watchdog pings while the daemon lives.
	sd := daemon.NewNotifier(log)
	sd.Notify("READY=1", d.ReadyStatus(), "MAINPID="+strconv.Itoa(os.Getpid()))
	wdCtx, stopWatchdog := context.WithCancel(context.Background())
	defer stopWatchdog()
	go d.Watchdog(wdCtx, sd, daemon.WatchdogInterval())
	for s := range sig {
		if s == syscall.SIGHUP {
			sd.Notify("RELOADING=1", "STATUS=reloading "+c.configPath)
			nc, err := config.Load(c.configPath)
			if err != nil {
				log.Error("reload refused: the new configuration has problems; keeping the old one", "err", err.Error())
				d.ReloadRefused(err)
			} else if err := d.Reload(nc); err != nil {
				log.Error(err.Error())
				d.ReloadRefused(err)
			}
			// Ready again either way: a refused reload leaves the daemon
			// running on its previous configuration (/healthz says so).
			sd.Notify("READY=1", d.ReadyStatus())
			continue
		}
		sd.Notify("STOPPING=1", "STATUS=stopping: "+s.String())
		stopWatchdog()
		log.Info("shutting down", "signal", s.String())
		ctx, cancel := context.WithTimeout(context.Background(), cfg.SMTP.ShutdownTimeout.D())
		err := d.Shutdown(ctx)
		cancel()
		if err != nil {
			log.Error("shutdown", "err", err)
			return 1
		}
		return 0
	}
	return 0
}

const automationsUsage = "usage: helpdesk automations --dry-run [--at TIME] [--json] (TIME in RFC 3339, e.g. 2026-12-25T09:00:00+09:00)"

// automations previews the automations (issue 14 item 5): what would
// fire up to --at, each ticket staying as it is, and why.
func (c *cli) automations(pos []string, dryRun bool, at string) int {
	if len(pos) != 0 || !dryRun {
		return c.fail(2, "%s", automationsUsage)
	}
	api, done, ok := c.api(false)
	if !ok {
		return 1
	}
	defer done()
	var upTo time.Time
	if at == "" {
		v, err := api.Clock()
		if err != nil {
			return c.fail(1, "%v", err)
		}
		upTo = v.Now
	} else {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return c.fail(2, "%q is not an RFC 3339 time\n%s", at, automationsUsage)
		}
		upTo = t
	}
	list, err := api.Automations(upTo)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	if c.json {
		if list == nil {
			list = []engine.AutomationPreview{}
		}
		return c.printJSON(list)
	}
	fmt.Fprintf(c.stdout, "automations that would fire by %s (dry run: nothing changed): %d\n", upTo.UTC().Format(time.RFC3339), len(list))
	for _, p := range list {
		fmt.Fprintf(c.stdout, "#%-6d %s  %q  %s\n        because: %s\n        does: %s\n", p.Ticket, p.Due.UTC().Format(time.RFC3339), p.Name, p.Subject,
			strings.Join(p.Conditions, "; "), strings.Join(p.Actions, "; "))
	}
	return 0
}

const clockUsage = "usage: helpdesk clock [--json] | helpdesk clock set TIME (RFC 3339, e.g. 2026-12-25T09:00:00+09:00) | helpdesk clock advance DURATION (Go syntax, e.g. 26h or 90m, or whole days, e.g. 31d)"

// clock prints or moves the ticket clock (issue 14 item 7).
func (c *cli) clock(pos []string) int {
	var move func(control.API) (control.ClockView, error)
	switch {
	case len(pos) == 0:
	case len(pos) == 2 && pos[0] == "set":
		at, err := time.Parse(time.RFC3339Nano, pos[1])
		if err != nil {
			return c.fail(2, "%q is not an RFC 3339 time\n%s", pos[1], clockUsage)
		}
		move = func(api control.API) (control.ClockView, error) { return api.SetClock(at) }
	case len(pos) == 2 && pos[0] == "advance":
		d, err := config.ParseDuration(pos[1])
		if err != nil {
			return c.fail(2, "%q is not a duration (Go syntax, or whole days such as 31d)\n%s", pos[1], clockUsage)
		}
		if d < 0 {
			return c.fail(1, "the manual clock never goes backwards: give a positive duration such as 26h")
		}
		move = func(api control.API) (control.ClockView, error) { return api.AdvanceClock(d) }
	default:
		return c.fail(2, "%s", clockUsage)
	}
	api, done, ok := c.api(move != nil)
	if !ok {
		return 1
	}
	defer done()
	var v control.ClockView
	var err error
	if move == nil {
		v, err = api.Clock()
	} else {
		v, err = move(api)
	}
	if err != nil {
		return c.fail(1, "%v", err)
	}
	if c.json {
		return c.printJSON(v)
	}
	fmt.Fprintf(c.stdout, "%s (%s clock)\n", v.Now.UTC().Format(time.RFC3339Nano), v.Mode)
	if move != nil {
		fmt.Fprintf(c.stdout, "%d fired on the way (auto-close and other time-based rules), all committed\n", v.Fired)
	}
	return 0
}
