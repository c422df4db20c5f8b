// Package bench measures helpdesk's SMTP ingest (`helpdesk bench`): it
// runs the daemon as a child process on a temporary data directory (or
// drives one already running), sends bounded, concurrent SMTP traffic with
// go-smtp's client, and reports mails per second, the latency from the end
// of DATA to the 250, the daemon's peak RSS, bytes written and store size.
// In the same run it measures a reference, a minimal go-smtp server that
// stores raw messages in bbolt with the store's commit strategy and does
// nothing else, and prints the ratio helpdesk/reference as the median of
// alternating paired runs. Every target is loopback; every run is bounded
// by a message count and a time limit.
//
// Running is apart from reporting. Running: bench.go (modes, options, the
// runs of a mode), run.go (one burst against one target and the samples
// it collects), load.go (the SMTP load), proc.go (the child process and
// its /proc figures), mail.go, sink.go, prefill.go, reference.go.
// Reporting: results.go (a mode's Report: its runs, their medians and
// the helpdesk/reference ratio), targets.go (the targets of issue 6,
// checked), print.go (the tables, MET/MISSED).
package bench

import (
	"errors"
	"fmt"
	"helpdesk/gateway/internal/dnstest"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/postgres/pgcluster"
)

// Modes.
const (
	ModeNewTicket  = "new-ticket-4k"
	ModeMix        = "mix"
	ModeSequential = "sequential"
	ModeLarge      = "large"
	// ModeCharsetFlood: 200 concurrent sessions from 10 loopback source
	// addresses, each sending a 1.9 MiB mail whose 8-bit text does not
	// fit its declared charset (issue 11): the daemon's peak RSS.
	ModeCharsetFlood = "charset-flood"
	ModeAll          = "all"
	// ModeRules is in rules.go.
)

// Modes lists the modes `all` runs, in order.
var Modes = []string{ModeNewTicket, ModeSequential, ModeMix, ModeLarge, ModeCharsetFlood, ModeRules}

// floodSources is how many loopback source addresses (127.0.0.1 up)
// the charset-flood sessions come from.
const floodSources = 10

// Options configure a bench.
type Options struct {
	Mode string
	// Binary is the helpdesk executable; it is run as `serve` for the
	// daemon and as `bench --reference-server DIR` for the reference.
	Binary string
	// Addr drives a daemon that is already running (loopback only): no
	// reference, and /proc figures only with Pid.
	Addr string
	Pid  int
	// SinkListen: with Addr, listen here as that daemon's relay to
	// harvest reply tokens for the mix (its outbound.relay must point
	// here, starttls = "none").
	SinkListen string

	Sessions int           // 0: the mode's default
	Messages int           // per run; 0: the mode's default
	Duration time.Duration // cap per run (default 60s)
	Runs     int           // alternating paired runs (default 5; large: 1)
	// Conn is "new" (a connection per mail) or "reuse"; "" is the mode's
	// default (new for the concurrent modes, reuse for sequential).
	Conn        string
	DKIM        bool // outbound DKIM signing (RSA 2048) on
	NoReference bool
	// Tickets pre-fills a store with this many tickets; runs then
	// alternate an empty store and the pre-filled one.
	Tickets    int
	PrefillDir string // keep/reuse the pre-filled store here
	// LargeBytes is the size of a large mail (default 25 MiB less 1 KiB,
	// under the default 25 MiB limit).
	LargeBytes int
	WorkDir    string // parent of the temporary directories
	Keep       bool   // keep the temporary directories
	// CPUProfile writes the first helpdesk run's CPU profile to this file
	// (and its heap profile to FILE.heap).
	CPUProfile string
	// Progress receives progress lines (nil: none).
	Progress io.Writer
	// Store is the engine under test: "bbolt" (default) or "postgres"
	// (the daemon and the reference on a PostgreSQL server the bench
	// starts, fsync and synchronous_commit on, a fresh database per run).
	Store string
	// Daemons is how many daemons share the database (Store "postgres";
	// default 1): the sessions go to them in turn.
	Daemons int
}

type bench struct {
	opt      Options
	pg       *pgcluster.Cluster // Store "postgres"
	dns      *dnstest.Server    // answers every DMARC lookup NXDOMAIN
	work     string
	seq      int
	profiled map[string]bool
}

// Execute runs the bench and returns one report per mode.
func Execute(opt Options) ([]*Report, error) {
	if opt.Duration <= 0 {
		opt.Duration = 60 * time.Second
	}
	if opt.Mode == "" {
		opt.Mode = ModeNewTicket
	}
	if opt.Addr != "" {
		if err := checkLoopback(opt.Addr); err != nil {
			return nil, err
		}
	} else if opt.Binary == "" {
		return nil, errors.New("bench: no helpdesk binary to run")
	}
	if opt.SinkListen != "" {
		if err := checkLoopback(opt.SinkListen); err != nil {
			return nil, err
		}
	}
	if opt.Store == "postgres" && (opt.Tickets > 0 || opt.Addr != "") {
		return nil, errors.New("bench: -store postgres measures a daemon the bench starts, on an empty database (no -tickets, no -addr)")
	}
	if opt.Daemons > 1 && opt.Store != "postgres" {
		return nil, errors.New("bench: -daemons needs -store postgres (daemons share a database)")
	}
	b, cleanup, err := newBench(opt)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if err := b.startStore(); err != nil {
		return nil, err
	}
	modes := []string{opt.Mode}
	if opt.Mode == ModeAll {
		modes = Modes
	}
	var reports []*Report
	for _, m := range modes {
		var r *Report
		var err error
		switch {
		case m == ModeRules:
			var p params
			if p, err = b.params(m); err == nil {
				r, err = b.rules(p)
			}
		case opt.Tickets > 0 && m != ModeLarge && m != ModeCharsetFlood:
			r, err = b.prefilled(m)
		default:
			r, err = b.mode(m)
		}
		if err != nil {
			return reports, fmt.Errorf("%s: %w", m, err)
		}
		reports = append(reports, r)
		if opt.Mode == ModeAll && m == ModeNewTicket && !opt.DKIM {
			// The same measurement with outbound DKIM signing on.
			b.opt.DKIM = true
			r, err := b.mode(m)
			b.opt.DKIM = false
			if err != nil {
				return reports, fmt.Errorf("%s with DKIM: %w", m, err)
			}
			reports = append(reports, r)
		}
	}
	return reports, nil
}

// newBench makes a bench for opt: paths absolute (the daemon runs with
// its own working directory, where relative ones would change meaning),
// its temporary work directory and the DNS stub. cleanup stops what
// newBench and startStore started and removes the work directory unless
// -keep.
func newBench(opt Options) (b *bench, cleanup func(), err error) {
	for _, p := range []*string{&opt.PrefillDir, &opt.WorkDir, &opt.CPUProfile} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return nil, nil, err
			}
			*p = abs
		}
	}
	b = &bench{opt: opt, profiled: map[string]bool{}}
	parent := opt.WorkDir
	if parent == "" {
		parent = os.TempDir()
	}
	if b.work, err = os.MkdirTemp(parent, "helpdesk-bench-*"); err != nil {
		return nil, nil, err
	}
	cleanup = func() {
		if b.pg != nil {
			b.pg.Stop()
		}
		if b.dns != nil {
			b.dns.Close()
		}
		if !opt.Keep {
			os.RemoveAll(b.work)
		}
	}
	if b.dns, err = dnstest.New(); err != nil {
		cleanup()
		return nil, nil, err
	}
	return b, cleanup, nil
}

// startStore starts the PostgreSQL server of -store postgres (fsync and
// synchronous_commit on; each run gets a fresh database); bbolt needs
// nothing started.
func (b *bench) startStore() error {
	switch b.opt.Store {
	case "", "bbolt":
		return nil
	case "postgres":
		b.logf("starting PostgreSQL (fsync on, synchronous_commit on)")
		// Checkpoints as the README's deployment notes advise for a
		// mail-ingesting database (the same for helpdesk and the
		// reference): one in the middle of a run made the pages it
		// touched first after it log whole (full-page writes) and its
		// writing of the data files competed with the WAL's fsync; with
		// these, none falls inside a bench.
		o := pgcluster.Options{Fsync: true, Settings: pgCheckpoints}
		if pgStatements() {
			o.Settings = append(o.Settings, "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track_utility=on")
		}
		pg, err := pgcluster.Start(o)
		if err != nil {
			return fmt.Errorf("bench: -store postgres: %w", err)
		}
		b.pg = pg
		return nil
	default:
		return fmt.Errorf("bench: -store %q: want bbolt or postgres", b.opt.Store)
	}
}

func checkLoopback(addr string) error {
	if strings.Contains(addr, ",") {
		// -addr of several daemons (on one PostgreSQL database).
		for _, a := range strings.Split(addr, ",") {
			if err := checkLoopback(strings.TrimSpace(a)); err != nil {
				return err
			}
		}
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %s", ErrNotLoopback, addr)
	}
	return nil
}

func (b *bench) logf(format string, a ...any) {
	if b.opt.Progress != nil {
		fmt.Fprintf(b.opt.Progress, format+"\n", a...)
	}
}

// params are the per-mode settings after defaults.
type params struct {
	mode     string
	sessions int
	messages int
	runs     int
	newConn  bool
	warmup   int
	large    int
	sources  int // loopback source addresses (0: the kernel's choice)
	// extraConfig is appended to the daemon's helpdesk.toml (rules).
	extraConfig string
}

func (b *bench) params(mode string) (params, error) {
	p := params{mode: mode, runs: 5, newConn: true}
	switch mode {
	case ModeNewTicket:
		p.sessions, p.messages = 32, 10000
	case ModeMix:
		p.sessions, p.messages, p.warmup = 32, 10000, 300
	case ModeSequential:
		p.sessions, p.messages, p.newConn = 1, 2000, false
	case ModeLarge:
		p.sessions, p.messages, p.runs = 4, 8, 1
		p.large = 25<<20 - 1024
	case ModeCharsetFlood:
		p.sessions, p.messages, p.runs, p.sources = 200, 200, 1, floodSources
		p.large = FloodBytes
	case ModeRules:
		p.sessions, p.messages = 32, 10000
	default:
		return p, fmt.Errorf("unknown mode %q (want %s, or all)", mode, strings.Join(Modes, ", "))
	}
	o := b.opt
	fixed := o.Mode == ModeAll && (mode == ModeSequential || mode == ModeLarge || mode == ModeCharsetFlood)
	if o.Sessions > 0 && !fixed {
		p.sessions = o.Sessions
	}
	if o.Messages > 0 && !(fixed && mode != ModeSequential) {
		p.messages = o.Messages
		p.warmup = min(p.warmup, max(o.Messages/10, 20))
	}
	if o.Runs > 0 {
		p.runs = o.Runs
	}
	switch o.Conn {
	case "new":
		p.newConn = true
	case "reuse":
		p.newConn = false
	case "":
	default:
		return p, fmt.Errorf("-conn %q: want new or reuse", o.Conn)
	}
	if o.LargeBytes > 0 && mode != ModeCharsetFlood {
		p.large = o.LargeBytes
	}
	return p, nil
}

// mode runs one mode: helpdesk and (unless disabled) the reference in
// alternating runs.
func (b *bench) mode(mode string) (*Report, error) {
	p, err := b.params(mode)
	if err != nil {
		return nil, err
	}
	r := &Report{Mode: mode, Store: b.opt.Store, Description: describe(p, b.opt.DKIM) + b.storeNote(), Sessions: p.sessions, NewConn: p.newConn,
		DKIM: b.opt.DKIM, Messages: p.messages, MailBytes: p.large}
	if mode == ModeMix {
		r.Mix = MixString()
	}
	r.Nonstandard = nonstandard(p)
	withRef := !b.opt.NoReference && b.opt.Addr == "" && mode != ModeLarge && mode != ModeCharsetFlood
	b.logf("== %s: %s", mode, r.Description)
	r.LoadAvg[0] = loadAvg()
	defer func() { r.LoadAvg[1] = loadAvg() }()
	for i := 1; i <= p.runs; i++ {
		run, err := b.runHelpdesk(p, i, "helpdesk", "")
		if err != nil {
			return r, err
		}
		r.Runs = append(r.Runs, run)
		if withRef {
			ref, err := b.runReference(p, i)
			if err != nil {
				return r, err
			}
			r.Runs = append(r.Runs, ref)
		}
	}
	r.finish("helpdesk", "reference")
	if b.opt.Addr != "" {
		r.Notes = append(r.Notes, "driven against a running daemon at "+b.opt.Addr)
	}
	if mode == ModeMix {
		r.Notes = append(r.Notes, fmt.Sprintf("each mix run starts with %d unmeasured new-ticket mails so acknowledgements and notifications carry reply tokens to answer; replies fall back to a 4 KiB new ticket while none is known (see kinds)", p.warmup))
	}
	return r, nil
}

// prefilled compares ingest on an empty store with ingest on a store
// pre-filled with Options.Tickets tickets, in alternating runs.
func (b *bench) prefilled(mode string) (*Report, error) {
	if b.opt.Addr != "" {
		return nil, errors.New("-tickets needs the bench to run the daemon (no -addr)")
	}
	p, err := b.params(mode)
	if err != nil {
		return nil, err
	}
	dir := b.opt.PrefillDir
	if dir == "" {
		dir = filepath.Join(b.work, "prefilled")
	}
	data := filepath.Join(dir, "data")
	before := 0
	if _, err := os.Stat(filepath.Join(data, "helpdesk.db")); err == nil {
		if db, err := bolt.Open(data, bolt.Options{ReadOnly: true}); err == nil {
			db.View(func(tx store.Tx) error { before = tx.TicketCount(); return nil })
			db.Close()
		}
	}
	b.logf("== pre-filling %s with %d tickets (%d there already)", data, b.opt.Tickets, before)
	last := time.Now()
	secs, err := Prefill(data, PrefillOptions{Tickets: b.opt.Tickets, Progress: func(done int, el time.Duration) {
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			b.logf("   %d tickets, %s", done, el.Round(time.Second))
		}
	}})
	if err != nil {
		return nil, err
	}
	b.logf("   pre-filled in %s (%d MiB)", secs.Round(time.Millisecond), DirSize(data)>>20)
	r := &Report{Mode: mode, Description: describe(p, b.opt.DKIM) + fmt.Sprintf("; empty store vs. %d tickets", b.opt.Tickets),
		Sessions: p.sessions, NewConn: p.newConn, DKIM: b.opt.DKIM, Messages: p.messages,
		PrefillSecs: secs.Seconds(), Tickets: b.opt.Tickets}
	if mode == ModeMix {
		r.Mix = MixString()
	}
	r.Nonstandard = nonstandard(p)
	r.LoadAvg[0] = loadAvg()
	defer func() { r.LoadAvg[1] = loadAvg() }()
	for i := 1; i <= p.runs; i++ {
		run, err := b.runHelpdesk(p, i, "helpdesk", "")
		if err != nil {
			return r, err
		}
		r.Runs = append(r.Runs, run)
		full, err := b.runHelpdesk(p, i, "helpdesk-prefilled", dir)
		if err != nil {
			return r, err
		}
		r.Runs = append(r.Runs, full)
	}
	r.finish("helpdesk-prefilled", "helpdesk")
	r.Notes = append(r.Notes, fmt.Sprintf("pre-fill wrote %d tickets (with users, messages, comments, indexes, sent outbound items) in %.1fs (%d were there already); the store grows by each prefilled run's mail", max(0, b.opt.Tickets-before), secs.Seconds(), before))
	return r, nil
}

func (b *bench) newDir(prefix string) (string, error) {
	b.seq++
	dir := filepath.Join(b.work, fmt.Sprintf("%s-%d", prefix, b.seq))
	return dir, os.MkdirAll(dir, 0o750)
}

func runID(i int) string {
	return strconv.FormatUint(rand.Uint64()%1e9, 36) + strconv.Itoa(i)
}

// newDSN creates a fresh database for one run (Store "postgres"; "" for
// bbolt).
func (b *bench) newDSN(target string) (string, error) {
	if b.pg == nil {
		return "", nil
	}
	b.seq++
	return b.pg.CreateDB(fmt.Sprintf("%s_%d", target, b.seq))
}

// storeNote names the engine in a report's description.
func (b *bench) storeNote() string {
	if b.pg == nil {
		return ""
	}
	if b.opt.Daemons > 1 {
		return fmt.Sprintf("; store postgres (fsync and synchronous_commit on), %d daemons on one database", b.opt.Daemons)
	}
	return "; store postgres (fsync and synchronous_commit on)"
}

// pgCheckpoints are the bench server's checkpoint settings (startStore).
var pgCheckpoints = []string{"max_wal_size=4GB", "checkpoint_timeout=30min"}
