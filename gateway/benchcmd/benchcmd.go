// Package benchcmd is the `helpdesk bench` subcommand: its flags, its
// output and the hidden reference server. The instrument itself lives in
// gateway/internal/bench, out of gateway's public surface; Go lets only
// packages under gateway/ import it, so cmd/helpdesk reaches it through
// this one entry (Main, and ProfileFromEnv for the daemon it starts).
package benchcmd

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"helpdesk/gateway/internal/bench"
)

const benchUsage = `usage: helpdesk bench [flags]

Measures SMTP ingest. The daemon runs as a child process on a temporary
data directory (or -addr drives one already running), the reference (a
minimal go-smtp + bbolt server with the store's commit strategy) runs in
alternating runs, and the report gives msg/s, DATA-end->250 latency
p50/p99/max, the daemon's peak RSS (VmHWM), bytes written (write_bytes)
per mail, store size and the ratio helpdesk/reference (median of the
paired runs). Only loopback addresses are used.

modes (-mode):
  new-ticket-4k  4 KiB new-ticket mail, distinct senders, 32 sessions (default)
  sequential     the same from one client, one mail after the other
  mix            new tickets of 4 KiB and 50 KiB, attachments, customer
                 replies to harvested reply tokens, agent replies with commands
  large          4 concurrent 25 MiB mails: the daemon's peak RSS
  charset-flood  200 concurrent sessions from 127.0.0.1-127.0.0.10, each a
                 1.9 MiB mail of 8-bit text its declared charset does not
                 decode: every mail gets 250, and the daemon's peak RSS
  rules          new-ticket-4k with 50 triggers and 10 webhooks (every mail
                 matches a trigger, every tenth fires a webhook; half POST to
                 a receiver that answers, half to one that hangs) against the
                 same daemon without rules, and against all receivers
                 answering: ratio rules/none and hanging/answering
  all            every mode above, and new-ticket-4k with DKIM signing on
  timers         in process (engine + store, no SMTP): a store of -tickets
                 (default 1,000,000) tickets, a fifth open under SLA policies
                 (business hours) and automations; ingest of mail that arms
                 an SLA and an automation timer per new ticket, with them and
                 the scheduler on vs off (median of -runs alternating pairs
                 of -n mails), then 10,000 timers (SLA warnings mailing the
                 assignee, automations) due in one wall-clock minute while
                 mail comes at 50/s: their lateness p99, and the ingest p99
                 before and during. -prefill-dir keeps the prefilled, armed
                 store for the next run (each run works on a copy of it)
  reports        a store of -tickets tickets (default 1,000,000) over two
                 years with replies and resolutions (kept in -prefill-dir
                 for reuse): one-month and one-year reports by agent
                 through helpdesk report, the daemon's memory growth, and
                 ingest (-n mails, default 3000) alone and with one-year
                 reports running, -runs times (default 3); steal time printed
  size           bytes per ticket over a ticket's life (-store bbolt or
                 postgres): the mix (-n mails, default 3000) on a manual
                 clock with [retention], every ticket resolved, the clock
                 advanced past sent_outbound (30d) and raw_after_closed
                 (60d); the store compacted and measured at each stage, a
                 projection for 1M tickets a year; and helpdesk compact
                 under ingest: its duration and the longest 250 wait

The bench daemon has one mailbox and two agents in a group with round-robin
assignment, relays outbound mail to an in-bench sink (which harvests the
reply tokens the mix answers), authenticates staff by reply token
(auth.staff = ["token"]: agent replies go to the agent's notification
token) and answers its DMARC lookups from a loopback DNS stub (NXDOMAIN).
-tickets N writes N tickets straight into a store (bolt.Open + Tx, the
records and indexes a mail-opened ticket has) before the daemon starts, then
alternates runs on an empty store and on the filled one.

flags:
`

// Main runs `helpdesk bench` with args (after the subcommand) and returns
// the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) >= 2 && (args[0] == "--reference-server" || args[0] == "-reference-server") {
		dsn := ""
		if len(args) >= 3 {
			dsn = args[2]
		}
		return referenceServer(args[1], dsn, stdout, stderr)
	}
	fs := flag.NewFlagSet("helpdesk bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	var o bench.Options
	var jsonOut, quiet bool
	fs.StringVar(&o.Mode, "mode", bench.ModeNewTicket, "new-ticket-4k, sequential, mix, large, charset-flood, rules, reports, timers, size or all")
	fs.IntVar(&o.Sessions, "sessions", 0, "concurrent SMTP sessions (0: the mode's default)")
	fs.IntVar(&o.Messages, "n", 0, "mails per run (0: the mode's default: 10000, sequential 2000, large 8, charset-flood 200)")
	fs.DurationVar(&o.Duration, "duration", 0, "time limit per run (default 60s)")
	fs.IntVar(&o.Runs, "runs", 0, "alternating paired runs (default 5; large 1)")
	fs.StringVar(&o.Conn, "conn", "", "new (a connection per mail) or reuse (default: new; sequential: reuse)")
	fs.BoolVar(&o.DKIM, "dkim", false, "sign outbound mail with DKIM (RSA 2048)")
	fs.BoolVar(&o.NoReference, "no-reference", false, "skip the reference runs")
	fs.IntVar(&o.Tickets, "tickets", 0, "pre-fill a store with this many tickets and compare ingest with an empty store")
	fs.StringVar(&o.PrefillDir, "prefill-dir", "", "keep (or reuse) the pre-filled store in this directory")
	fs.StringVar(&o.Addr, "addr", "", "drive a running daemon at this loopback host:port (several, comma-separated: daemons sharing a PostgreSQL database) instead of starting one; its configuration needs [[mailbox]] address = \"support@bench.example\"")
	fs.IntVar(&o.Pid, "pid", 0, "with -addr: the daemon's pid, for peak RSS and bytes written")
	fs.StringVar(&o.SinkListen, "sink", "", "with -addr and -mode mix: listen here as the daemon's relay to harvest reply tokens")
	fs.StringVar(&o.WorkDir, "workdir", "", "parent directory of the temporary data directories")
	fs.BoolVar(&o.Keep, "keep", false, "keep the temporary directories")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write the first helpdesk run's CPU profile (and FILE.heap) here")
	fs.StringVar(&o.Store, "store", "bbolt", "storage engine: bbolt, or postgres (a PostgreSQL server the bench starts; the reference inserts into it)")
	fs.IntVar(&o.Daemons, "daemons", 1, "with -store postgres: daemons sharing the database, the sessions spread over them")
	fs.BoolVar(&jsonOut, "json", false, "JSON output")
	fs.BoolVar(&quiet, "q", false, "no progress lines on stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "helpdesk bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if o.Addr == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "helpdesk bench: %v\n", err)
			return 1
		}
		o.Binary = exe
	}
	if !quiet {
		o.Progress = stderr
	}
	if o.Mode == bench.ModeTimers {
		if err := bench.Timers(bench.TimersOptions{Tickets: o.Tickets, Mails: o.Messages, Runs: o.Runs, Dir: o.PrefillDir, Progress: o.Progress}, stdout); err != nil {
			fmt.Fprintf(stderr, "helpdesk bench: %v\n", err)
			return 1
		}
		return 0
	}
	switch o.Mode {
	case bench.ModeSize:
		res, err := bench.ExecuteSize(o)
		return writeResult(stdout, stderr, res, err, jsonOut, bench.PrintSize)
	case bench.ModeReports:
		res, err := bench.ExecuteReports(o)
		return writeResult(stdout, stderr, res, err, jsonOut, bench.PrintReports)
	}
	reports, err := bench.Execute(o)
	writeReports(stdout, reports, jsonOut)
	if err != nil {
		fmt.Fprintf(stderr, "helpdesk bench: %v\n", err)
		return 1
	}
	return 0
}

// referenceServer is the hidden `helpdesk bench --reference-server DIR`:
// the bench's reference in a process of its own, until SIGTERM.
func referenceServer(dir, dsn string, stdout, stderr io.Writer) int {
	r, err := bench.StartReference(dir, dsn, "127.0.0.1:0", 25<<20)
	if err != nil {
		fmt.Fprintf(stderr, "reference: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "reference SMTP on %s\n", r.Addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	if err := r.Close(); err != nil {
		fmt.Fprintf(stderr, "reference: %v\n", err)
		return 1
	}
	return 0
}
