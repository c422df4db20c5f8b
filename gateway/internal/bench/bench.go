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
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"helpdesk/gateway/internal/dnstest"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"helpdesk/store"
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
)

// Modes lists the modes `all` runs, in order.
var Modes = []string{ModeNewTicket, ModeSequential, ModeMix, ModeLarge, ModeCharsetFlood}

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
}

// Run is one measured burst against one target.
type Run struct {
	Target    string         `json:"target"` // helpdesk | reference | helpdesk-prefilled
	Index     int            `json:"run"`
	OK        int            `json:"ok"`
	Failed    int            `json:"failed"`
	Errors    map[string]int `json:"errors,omitempty"`
	Kinds     map[string]int `json:"kinds"`
	Seconds   float64        `json:"seconds"`
	MsgPerSec float64        `json:"msg_per_sec"`
	MiBPerSec float64        `json:"mib_per_sec"`
	P50Ms     float64        `json:"p50_ms"`
	P99Ms     float64        `json:"p99_ms"`
	MaxMs     float64        `json:"max_ms"`
	// PeakRSS is the server process's VmHWM in bytes (0: unknown): it
	// includes the store file's mmap'd pages that were touched.
	PeakRSS int64 `json:"peak_rss_bytes"`
	// PeakAnon is the largest anonymous RSS (heap, stacks) sampled every
	// 20ms during the run.
	PeakAnon int64 `json:"peak_anon_rss_bytes"`
	// Written is write_bytes from /proc/<pid>/io (or wchar, see
	// WrittenSource) over the server's whole life in this run.
	Written       int64  `json:"written_bytes"`
	WrittenSource string `json:"written_source,omitempty"`
	StoreBytes    int64  `json:"store_bytes"`
	LogBytes      int64  `json:"log_bytes,omitempty"`
	// StartSeconds is how long the server took from exec to listening
	// (the store's open included).
	StartSeconds float64 `json:"start_seconds,omitempty"`
	// Warmup mails sent before the measured burst (mix: to harvest reply
	// tokens); they count in RSS, written bytes and store size.
	Warmup int `json:"warmup,omitempty"`
	// ServerCPUMs and ClientCPUMs are CPU milliseconds (user+system) per
	// accepted mail over the measured burst: the server process's from
	// /proc/<pid>/stat, the bench's own (load generator, sink) from
	// getrusage. Less sensitive to a noisy machine than msg/s.
	ServerCPUMs float64 `json:"server_cpu_ms_per_msg,omitempty"`
	ClientCPUMs float64 `json:"client_cpu_ms_per_msg,omitempty"`
	// The store writer over the burst: the share of wall time it was busy
	// (running write functions or committing; 1.0 means it bounds the
	// rate) and its milliseconds per accepted mail applying, committing
	// and waiting for writes under way to join a group.
	WriterBusy     float64 `json:"writer_busy,omitempty"`
	WriterApplyMs  float64 `json:"writer_apply_ms_per_msg,omitempty"`
	WriterCommitMs float64 `json:"writer_commit_ms_per_msg,omitempty"`
	WriterGatherMs float64 `json:"writer_gather_ms_per_msg,omitempty"`
	// Page writes (one per page or run of overflow pages) and writes
	// (mails) per commit over the burst.
	PagesPerCommit float64 `json:"page_writes_per_commit,omitempty"`
	MailsPerCommit float64 `json:"writes_per_commit,omitempty"`
	// Daemon metrics at the end of the run.
	Commits           int64 `json:"store_commits,omitempty"`
	Writes            int64 `json:"store_writes,omitempty"`
	OutboundDelivered int64 `json:"outbound_delivered,omitempty"`
	OutboundQueued    int64 `json:"outbound_queued,omitempty"`
	// DrainedBefore is the outbound mail the daemon delivered between
	// its start and the burst (left queued by earlier runs on a reused
	// store, or by the warm-up). OutboundDelivered counts from the burst
	// on.
	DrainedBefore int64 `json:"drained_before,omitempty"`
	// StopError is how stopping the daemon failed ("": it stopped
	// cleanly on SIGTERM).
	StopError string `json:"stop_error,omitempty"`
}

// Summary is the median over a target's runs.
type Summary struct {
	Target    string  `json:"target"`
	Runs      int     `json:"runs"`
	MsgPerSec float64 `json:"msg_per_sec"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"` // the largest of all runs
	PeakRSS   int64   `json:"peak_rss_bytes"`
	PeakAnon  int64   `json:"peak_anon_rss_bytes"`
	// WrittenPerMsg is bytes written per accepted mail.
	WrittenPerMsg float64 `json:"written_bytes_per_msg"`
	StoreBytes    int64   `json:"store_bytes"`
	// MaxPeakRSS is the largest PeakRSS of all runs.
	MaxPeakRSS  int64   `json:"max_peak_rss_bytes"`
	ServerCPUMs float64 `json:"server_cpu_ms_per_msg,omitempty"`
	ClientCPUMs float64 `json:"client_cpu_ms_per_msg,omitempty"`
	// Failed counts the mails of all runs that got no 250.
	Failed int `json:"failed"`
}

// Check is one target of issue 6.
type Check struct {
	Name string  `json:"name"`
	Want string  `json:"want"`
	Got  float64 `json:"got"`
	OK   bool    `json:"ok"`
}

// Report is the result of one mode.
type Report struct {
	Mode        string    `json:"mode"`
	Description string    `json:"description"`
	Mix         string    `json:"mix,omitempty"`
	Sessions    int       `json:"sessions"`
	NewConn     bool      `json:"new_connection_per_mail"`
	DKIM        bool      `json:"dkim_signing"`
	Messages    int       `json:"messages_per_run"`
	MailBytes   int       `json:"mail_bytes,omitempty"`
	Runs        []Run     `json:"runs"`
	Summaries   []Summary `json:"summaries"`
	// Ratio is the median over paired runs of Numerator's msg/s divided by
	// Denominator's.
	Ratio       float64  `json:"ratio,omitempty"`
	RatioOf     string   `json:"ratio_of,omitempty"`
	PrefillSecs float64  `json:"prefill_seconds,omitempty"`
	Tickets     int      `json:"prefilled_tickets,omitempty"`
	Checks      []Check  `json:"checks,omitempty"`
	Notes       []string `json:"notes,omitempty"`
	// Nonstandard names the parameters that differ from the mode's
	// defaults (then the targets are not checked).
	Nonstandard string `json:"nonstandard,omitempty"`
	// LoadAvg is the machine's 1-minute load average before and after the
	// mode's runs (other work on the machine skews every figure).
	LoadAvg [2]float64 `json:"load_average"`
}

type bench struct {
	opt      Options
	dns      *dnstest.Server // answers every DMARC lookup NXDOMAIN
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
	// The daemon runs with its own working directory: paths given
	// relative to ours must not change meaning there.
	for _, p := range []*string{&opt.PrefillDir, &opt.WorkDir, &opt.CPUProfile} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return nil, err
			}
			*p = abs
		}
	}
	b := &bench{opt: opt, profiled: map[string]bool{}}
	parent := opt.WorkDir
	if parent == "" {
		parent = os.TempDir()
	}
	work, err := os.MkdirTemp(parent, "helpdesk-bench-*")
	if err != nil {
		return nil, err
	}
	b.work = work
	if !opt.Keep {
		defer os.RemoveAll(work)
	}
	if b.dns, err = dnstest.New(); err != nil {
		return nil, err
	}
	defer b.dns.Close()
	modes := []string{opt.Mode}
	if opt.Mode == ModeAll {
		modes = Modes
	}
	var reports []*Report
	for _, m := range modes {
		var r *Report
		var err error
		if opt.Tickets > 0 && m != ModeLarge && m != ModeCharsetFlood {
			r, err = b.prefilled(m)
		} else {
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

func checkLoopback(addr string) error {
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

// nonstandard lists the parameters of p that differ from the defaults
// the targets were set for (the number of mails and runs may vary).
func nonstandard(p params) string {
	d, err := (&bench{}).params(p.mode) // the mode's defaults: no options
	if err != nil {
		return ""
	}
	var diff []string
	if p.sessions != d.sessions {
		diff = append(diff, "-sessions")
	}
	if p.newConn != d.newConn {
		diff = append(diff, "-conn")
	}
	if p.large != d.large {
		diff = append(diff, "the mail size")
	}
	return strings.Join(diff, ", ")
}

func describe(p params, dkim bool) string {
	var what string
	switch p.mode {
	case ModeNewTicket:
		what = "new-ticket mail, 4 KiB text body, a distinct sender per mail"
	case ModeMix:
		what = "realistic mix: " + MixString()
	case ModeSequential:
		what = "new-ticket mail, 4 KiB text body, one client sending sequentially"
	case ModeLarge:
		what = fmt.Sprintf("new-ticket mail with one attachment, %d bytes per mail", p.large)
	case ModeCharsetFlood:
		what = fmt.Sprintf("new-ticket mail of %d bytes, 8-bit text that does not decode in its declared charset (us-ascii, iso-2022-jp), from %d loopback addresses", p.large, p.sources)
	}
	conn := "reused connection"
	if p.newConn {
		conn = "new connection per mail"
	}
	sign := "off"
	if dkim {
		sign = "on (RSA 2048)"
	}
	return fmt.Sprintf("%s; %d sessions, %s, outbound DKIM signing %s", what, p.sessions, conn, sign)
}

// mode runs one mode: helpdesk and (unless disabled) the reference in
// alternating runs.
func (b *bench) mode(mode string) (*Report, error) {
	p, err := b.params(mode)
	if err != nil {
		return nil, err
	}
	r := &Report{Mode: mode, Description: describe(p, b.opt.DKIM), Sessions: p.sessions, NewConn: p.newConn,
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
		if db, err := store.Open(data, store.Options{ReadOnly: true}); err == nil {
			db.View(func(tx *store.Tx) error { before = tx.TicketCount(); return nil })
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

// runHelpdesk starts a daemon (dir "" = a fresh data dir), drives one
// burst and stops it.
func (b *bench) runHelpdesk(p params, idx int, target, dir string) (Run, error) {
	run := Run{Target: target, Index: idx}
	var sink *Sink
	var err error
	var proc *Proc
	addr := b.opt.Addr
	if addr == "" || b.opt.SinkListen != "" {
		listen := "127.0.0.1:0"
		if b.opt.SinkListen != "" {
			listen = b.opt.SinkListen
		}
		if sink, err = StartSink(listen, AgentAddrs()); err != nil {
			return run, err
		}
		defer sink.Close()
	}
	data := ""
	if addr == "" {
		if dir == "" {
			if dir, err = b.newDir("helpdesk"); err != nil {
				return run, err
			}
			defer b.cleanup(dir)
		}
		data = filepath.Join(dir, "data")
		key := ""
		if b.opt.DKIM {
			if key, err = writeDKIMKey(dir); err != nil {
				return run, err
			}
		}
		cfg := filepath.Join(dir, "helpdesk.toml")
		text := DaemonConfig(data, sink.Addr, b.dns.Addr(), key)
		if p.sources > 0 {
			// The sessions come from several addresses, as many from
			// each as the default per-IP limit allows (20): the limit
			// counts per address, so this also shows they do.
			text = strings.Replace(text, "max_connections_per_ip = 1000", fmt.Sprintf("max_connections_per_ip = %d", (p.sessions+p.sources-1)/p.sources), 1)
		}
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			return run, err
		}
		var env []string
		prof := ""
		if b.opt.CPUProfile != "" && !b.profiled[target] {
			b.profiled[target] = true
			prof = b.opt.CPUProfile
			if target != "helpdesk" {
				prof += "." + target
			}
			os.Remove(prof + ".done")
			env = append(env, ProfileEnv+"="+prof)
		}
		t0 := time.Now()
		proc, err = StartProc("helpdesk", b.opt.Binary, []string{"serve", "-config", cfg}, dir, nil, env)
		if err != nil {
			return run, err
		}
		run.StartSeconds = time.Since(t0).Seconds()
		proc.Profile = prof
		defer proc.Kill()
		addr = proc.SMTPAddr
	}
	var tokens TokenSource
	if sink != nil {
		tokens = sink
	}
	gen := NewGen(runID(idx), tokens)
	gen.LargeBytes = p.large
	var anon <-chan int64
	stopSampling := make(chan struct{})
	if pid := b.pid(proc); pid > 0 {
		anon = sampleAnon(pid, stopSampling)
	}
	if p.warmup > 0 {
		warm := Load{Addr: addr, Sessions: min(p.sessions, 8), Messages: p.warmup, Duration: b.opt.Duration, NewConn: true,
			Next: func(i int, _ *rand.Rand) Job { return gen.NewTicket(-1-i, KindNew4K) }}
		wr := warm.Run()
		run.Warmup = wr.OK
		if sink != nil {
			waitTokens(sink, wr.OK, 15*time.Second)
		}
	}
	var before map[string]int64
	if proc != nil && proc.HTTPAddr != "" {
		// Every burst starts with an empty outbound queue: a reused
		// (pre-filled) store would otherwise carry the mail earlier runs
		// queued, and the warm-up leaves some too; its delivery would
		// be measured as ingest.
		secs, err := drainQueue(proc.HTTPAddr, 5*time.Minute)
		if err != nil {
			return run, fmt.Errorf("%s: %v", target, err)
		}
		before = scrape(proc.HTTPAddr)
		// The daemon started with this run, so everything it has sent
		// so far was sent before the burst. The worker counts a mail
		// sent before it takes it off the queue, so this scrape, made
		// after the queue was seen empty, counts all of it. (The queue
		// depth at the first poll would not: the worker may have sent
		// a small backlog before it.)
		run.DrainedBefore = before["helpdesk_outbound_sent_total"]
		if n := run.DrainedBefore; n > 0 {
			b.logf("   %-18s run %d: delivered %d queued outbound mails in %.1fs before the burst", target, idx, n, secs)
		}
	}
	var deliveredBefore int64
	if sink != nil {
		deliveredBefore = sink.Delivered.Load()
	}
	cpu := b.startCPU(b.pid(proc))
	res := b.load(p, addr, gen)
	run.fill(res)
	cpu.finish(&run)
	if before != nil {
		after := scrape(proc.HTTPAddr)
		delta := func(k string) float64 { return float64(after[k] - before[k]) }
		if run.Seconds > 0 && run.OK > 0 {
			busy := delta("helpdesk_store_apply_nanoseconds_total") + delta("helpdesk_store_commit_nanoseconds_total")
			run.WriterBusy = busy / 1e9 / run.Seconds
			run.WriterApplyMs = delta("helpdesk_store_apply_nanoseconds_total") / 1e6 / float64(run.OK)
			run.WriterCommitMs = delta("helpdesk_store_commit_nanoseconds_total") / 1e6 / float64(run.OK)
			run.WriterGatherMs = delta("helpdesk_store_gather_nanoseconds_total") / 1e6 / float64(run.OK)
			if c := delta("helpdesk_store_commits_total"); c > 0 {
				run.PagesPerCommit = delta("helpdesk_store_page_writes_total") / c
				run.MailsPerCommit = delta("helpdesk_store_writes_total") / c
			}
		}
	}
	close(stopSampling)
	if anon != nil {
		run.PeakAnon = <-anon
	}
	if pid := b.pid(proc); pid > 0 {
		if st, err := ProcStats(pid); err == nil {
			run.PeakRSS, run.Written, run.WrittenSource = st.PeakRSS, st.Written, st.WrittenSource
		}
	}
	if proc != nil && proc.HTTPAddr != "" {
		m := scrape(proc.HTTPAddr)
		run.Commits, run.Writes, run.OutboundQueued = m["helpdesk_store_commits_total"], m["helpdesk_store_writes_total"], m["helpdesk_outbound_queued"]
	}
	if sink != nil {
		run.OutboundDelivered = sink.Delivered.Load() - deliveredBefore
	}
	if proc != nil {
		if proc.Profile != "" {
			stopProfile(proc, proc.Profile)
		}
		if err := proc.Stop(60 * time.Second); err != nil {
			// Measured anyway: the report says so (a failed check).
			run.StopError = fmt.Sprintf("%v: %s", err, firstWords(proc.LogTail(), 40))
			b.logf("   %-18s run %d: stopping the daemon: %s", target, idx, run.StopError)
		}
		run.LogBytes = proc.LogBytes()
		run.StoreBytes = DirSize(data)
	}
	b.logf("   %-18s run %d: %6.0f msg/s  p50 %6.2f ms  p99 %7.2f ms  max %7.1f ms  rss %4d MiB (anon %d)  ok %d failed %d  start %.2fs",
		target, idx, run.MsgPerSec, run.P50Ms, run.P99Ms, run.MaxMs, run.PeakRSS>>20, run.PeakAnon>>20, run.OK, run.Failed, run.StartSeconds)
	if run.OK == 0 {
		return run, fmt.Errorf("%s accepted no mail: %v", target, run.Errors)
	}
	return run, nil
}

// pid is the daemon's process id (0: unknown).
func (b *bench) pid(p *Proc) int {
	if p != nil {
		return p.Pid()
	}
	return b.opt.Pid
}

// ProfileEnv names the file a helpdesk process writes its CPU profile to
// (cmd/helpdesk honours it; SIGUSR1 stops the profile).
const ProfileEnv = "HELPDESK_BENCH_CPUPROFILE"

func stopProfile(p *Proc, path string) {
	if _, err := os.Stat(path + ".done"); err == nil {
		return
	}
	p.Signal(syscall.SIGUSR1)
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(path + ".done"); err == nil {
			os.Remove(path + ".done")
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func waitTokens(s *Sink, n int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c, a := s.Tokens()
		if c >= n*9/10 && a >= n*9/10 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *bench) runReference(p params, idx int) (Run, error) {
	run := Run{Target: "reference", Index: idx}
	dir, err := b.newDir("reference")
	if err != nil {
		return run, err
	}
	defer b.cleanup(dir)
	proc, err := StartProc("reference", b.opt.Binary, []string{"bench", "--reference-server", dir}, dir, nil, nil)
	if err != nil {
		return run, err
	}
	defer proc.Kill()
	gen := NewGen(runID(idx), nil)
	gen.LargeBytes = p.large
	stopSampling := make(chan struct{})
	anon := sampleAnon(proc.Pid(), stopSampling)
	if p.warmup > 0 {
		warm := Load{Addr: proc.SMTPAddr, Sessions: min(p.sessions, 8), Messages: p.warmup, Duration: b.opt.Duration, NewConn: true,
			Next: func(i int, _ *rand.Rand) Job { return gen.NewTicket(-1-i, KindNew4K) }}
		run.Warmup = warm.Run().OK
	}
	cpu := b.startCPU(proc.Pid())
	res := b.load(p, proc.SMTPAddr, gen)
	run.fill(res)
	cpu.finish(&run)
	close(stopSampling)
	run.PeakAnon = <-anon
	if st, err := ProcStats(proc.Pid()); err == nil {
		run.PeakRSS, run.Written, run.WrittenSource = st.PeakRSS, st.Written, st.WrittenSource
	}
	if err := proc.Stop(30 * time.Second); err != nil {
		return run, err
	}
	run.StoreBytes = DirSize(dir)
	b.logf("   %-18s run %d: %6.0f msg/s  p50 %6.2f ms  p99 %7.2f ms  max %7.1f ms  rss %4d MiB  ok %d failed %d",
		"reference", idx, run.MsgPerSec, run.P50Ms, run.P99Ms, run.MaxMs, run.PeakRSS>>20, run.OK, run.Failed)
	if run.OK == 0 {
		return run, fmt.Errorf("reference accepted no mail: %v", run.Errors)
	}
	return run, nil
}

func (b *bench) cleanup(dir string) {
	if !b.opt.Keep {
		os.RemoveAll(dir)
	}
}

func (b *bench) load(p params, addr string, gen *Gen) *LoadResult {
	l := Load{Addr: addr, Sessions: p.sessions, Messages: p.messages, Duration: b.opt.Duration, NewConn: p.newConn}
	for i := range p.sources {
		l.Sources = append(l.Sources, fmt.Sprintf("127.0.0.%d", i+1))
	}
	switch p.mode {
	case ModeMix:
		l.Next = gen.MixJob
	case ModeLarge:
		l.Next = func(i int, _ *rand.Rand) Job { return gen.Large(i) }
	case ModeCharsetFlood:
		l.Next = func(i int, _ *rand.Rand) Job { return gen.CharsetFlood(i) }
	default:
		l.Next = func(i int, _ *rand.Rand) Job { return gen.NewTicket(i, KindNew4K) }
	}
	return l.Run()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (run *Run) fill(res *LoadResult) {
	run.OK, run.Failed, run.Kinds = res.OK, res.Failed, res.Kinds
	if len(res.Errors) > 0 {
		run.Errors = res.Errors
	}
	run.Seconds = res.Elapsed.Seconds()
	if run.Seconds > 0 {
		run.MsgPerSec = float64(res.OK) / run.Seconds
		run.MiBPerSec = float64(res.Bytes) / run.Seconds / (1 << 20)
	}
	run.P50Ms, run.P99Ms = ms(res.Percentile(50)), ms(res.Percentile(99))
	if n := len(res.Latencies); n > 0 {
		run.MaxMs = ms(res.Latencies[n-1])
	}
}

// cpuMark is the CPU time of the server and of the bench at a burst's
// start.
type cpuMark struct {
	pid            int
	server, client float64
	ok             bool
}

func (b *bench) startCPU(pid int) cpuMark {
	m := cpuMark{pid: pid, client: selfCPU()}
	if pid > 0 {
		if c, err := procCPU(pid); err == nil {
			m.server, m.ok = c, true
		}
	}
	return m
}

func (m cpuMark) finish(run *Run) {
	if run.OK == 0 {
		return
	}
	n := float64(run.OK)
	run.ClientCPUMs = (selfCPU() - m.client) * 1000 / n
	if m.ok {
		if c, err := procCPU(m.pid); err == nil {
			run.ServerCPUMs = (c - m.server) * 1000 / n
		}
	}
}

// drainQueue waits until the daemon's outbound queue is empty and returns
// how long it waited.
func drainQueue(addr string, limit time.Duration) (float64, error) {
	t0 := time.Now()
	for {
		q, ok := scrape(addr)["helpdesk_outbound_queued"]
		if !ok {
			if time.Since(t0) > limit {
				return 0, fmt.Errorf("/metrics gave no helpdesk_outbound_queued within %s", limit)
			}
			time.Sleep(200 * time.Millisecond) // a scrape failed: try again
			continue
		}
		if q == 0 {
			return time.Since(t0).Seconds(), nil
		}
		if time.Since(t0) > limit {
			return time.Since(t0).Seconds(), fmt.Errorf("outbound queue still holds %d mails after %s", q, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scrape reads the daemon's /metrics (bounded).
func scrape(addr string) map[string]int64 {
	out := map[string]int64{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		if len(f) == 2 {
			if v, err := strconv.ParseFloat(f[1], 64); err == nil {
				out[f[0]] = int64(v)
			}
		}
	}
	return out
}

// loadAvg is the 1-minute load average (0 when unknown).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// finish computes summaries, the ratio num/den over paired runs, and the
// checks of issue 6.
func (r *Report) finish(num, den string) {
	byTarget := map[string][]Run{}
	var order []string
	for _, run := range r.Runs {
		if _, ok := byTarget[run.Target]; !ok {
			order = append(order, run.Target)
		}
		byTarget[run.Target] = append(byTarget[run.Target], run)
	}
	for _, t := range order {
		runs := byTarget[t]
		var rate, p50, p99, wpm []float64
		s := Summary{Target: t, Runs: len(runs)}
		var rss, anon, size, scpu, ccpu []float64
		for _, run := range runs {
			if run.ServerCPUMs > 0 {
				scpu = append(scpu, run.ServerCPUMs)
			}
			if run.ClientCPUMs > 0 {
				ccpu = append(ccpu, run.ClientCPUMs)
			}
			s.Failed += run.Failed
			rate = append(rate, run.MsgPerSec)
			p50 = append(p50, run.P50Ms)
			p99 = append(p99, run.P99Ms)
			rss = append(rss, float64(run.PeakRSS))
			anon = append(anon, float64(run.PeakAnon))
			size = append(size, float64(run.StoreBytes))
			if run.OK+run.Warmup > 0 {
				wpm = append(wpm, float64(run.Written)/float64(run.OK+run.Warmup))
			}
			s.MaxMs = max(s.MaxMs, run.MaxMs)
		}
		s.MsgPerSec, s.P50Ms, s.P99Ms = median(rate), median(p50), median(p99)
		s.PeakRSS, s.PeakAnon, s.StoreBytes, s.WrittenPerMsg = int64(median(rss)), int64(median(anon)), int64(median(size)), median(wpm)
		s.ServerCPUMs, s.ClientCPUMs = median(scpu), median(ccpu)
		// A memory bound holds for every run, not the typical one.
		s.MaxPeakRSS = int64(slices.Max(rss))
		r.Summaries = append(r.Summaries, s)
	}
	if a, b := byTarget[num], byTarget[den]; len(a) > 0 && len(b) > 0 {
		var ratios []float64
		for i := range min(len(a), len(b)) {
			if b[i].MsgPerSec > 0 {
				ratios = append(ratios, a[i].MsgPerSec/b[i].MsgPerSec)
			}
		}
		r.Ratio, r.RatioOf = median(ratios), num+"/"+den
	}
	hd := r.summary("helpdesk")
	if hd == nil {
		return
	}
	// A mail that got no 250 is a failure of every target.
	r.Checks = append(r.Checks, Check{Name: "mails refused or failed", Want: "0", Got: float64(hd.Failed), OK: hd.Failed == 0})
	unclean := 0
	for _, run := range r.Runs {
		if run.StopError != "" {
			unclean++
			r.Notes = append(r.Notes, fmt.Sprintf("%s run %d: stopping the daemon: %s", run.Target, run.Index, run.StopError))
		}
	}
	if unclean > 0 {
		r.Checks = append(r.Checks, Check{Name: "runs whose daemon did not stop cleanly", Want: "0", Got: float64(unclean), OK: false})
	}
	// The targets were set for the default parameters: a run with other
	// sessions, connection reuse or a different size is not judged.
	if r.Nonstandard != "" {
		r.Notes = append(r.Notes, "targets not checked: "+r.Nonstandard+" differs from the mode's default")
		return
	}
	switch {
	case r.Tickets > 0:
		r.Checks = append(r.Checks, Check{Name: "ingest with pre-filled store vs empty", Want: ">= 0.85", Got: r.Ratio, OK: r.Ratio >= 0.85})
	case r.Mode == ModeNewTicket && !r.DKIM:
		r.Checks = append(r.Checks, Check{Name: "msg/s", Want: ">= 2000", Got: hd.MsgPerSec, OK: hd.MsgPerSec >= 2000})
		if r.RatioOf != "" {
			r.Checks = append(r.Checks, Check{Name: "ratio helpdesk/reference", Want: ">= 0.50", Got: r.Ratio, OK: r.Ratio >= 0.5})
		}
		r.Checks = append(r.Checks, Check{Name: "p99 DATA-end->250 ms", Want: "<= 25", Got: hd.P99Ms, OK: hd.P99Ms <= 25})
	case r.Mode == ModeSequential:
		r.Checks = append(r.Checks, Check{Name: "msg/s", Want: ">= 400", Got: hd.MsgPerSec, OK: hd.MsgPerSec >= 400})
	case r.Mode == ModeLarge:
		mib := float64(hd.MaxPeakRSS) / (1 << 20)
		r.Checks = append(r.Checks, Check{Name: "daemon peak RSS MiB (largest run)", Want: "<= 150", Got: mib, OK: hd.MaxPeakRSS > 0 && mib <= 150})
	case r.Mode == ModeCharsetFlood:
		ok := -1
		for _, run := range r.Runs {
			if run.Target == "helpdesk" && (ok < 0 || run.OK < ok) {
				ok = run.OK
			}
		}
		r.Checks = append(r.Checks, Check{Name: "mails accepted with 250 (fewest of a run)", Want: fmt.Sprintf("= %d", r.Messages), Got: float64(ok), OK: ok == r.Messages})
		mib := float64(hd.MaxPeakRSS) / (1 << 20)
		r.Checks = append(r.Checks, Check{Name: "daemon peak RSS MiB (largest run)", Want: "<= 400", Got: mib, OK: hd.MaxPeakRSS > 0 && mib <= 400})
	}
}

func (r *Report) summary(target string) *Summary {
	for i := range r.Summaries {
		if r.Summaries[i].Target == target {
			return &r.Summaries[i]
		}
	}
	return nil
}
