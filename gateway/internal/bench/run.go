package bench

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runHelpdesk starts a daemon (dir "" = a fresh data dir), drives one
// burst and stops it.
func (b *bench) runHelpdesk(p params, idx int, target, dir string) (Run, error) {
	run := Run{Target: target, Index: idx}
	var sink *Sink
	var err error
	var proc *Proc
	var others []*Proc // -daemons: the daemons after the first
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
	runDSN := "" // -store postgres: the run's database
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
		text := DaemonConfig(data, sink.Addr, b.dns.Addr(), key) + p.extraConfig
		if p.sources > 0 {
			// The sessions come from several addresses, as many from
			// each as the default per-IP limit allows (20): the limit
			// counts per address, so this also shows they do.
			text = strings.Replace(text, "max_connections_per_ip = 1000", fmt.Sprintf("max_connections_per_ip = %d", (p.sessions+p.sources-1)/p.sources), 1)
		}
		dsn, err := b.newDSN("helpdesk")
		if err != nil {
			return run, err
		}
		if dsn != "" {
			text += fmt.Sprintf("\n[store]\nengine = \"postgres\"\ndsn = %q\n", dsn)
			runDSN = dsn
		}
		if b.opt.Daemons > 1 {
			text += "node = \"bench-1\"\n"
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
		bin, args := b.opt.Binary, []string{"serve", "-config", cfg}
		if callgrind() {
			bin, args = callgrindCommand(dir, bin, args)
			// valgrind 3.19 does not know RDTSCP, which Go's runtime
			// uses for its tick counter when the CPU has it, and
			// callgrind's signal bookkeeping trips over the
			// preemption signals.
			env = append(env, "GODEBUG=cpu.rdtscp=off,asyncpreemptoff=1")
		}
		proc, err = StartProc("helpdesk", bin, args, dir, nil, env)
		if err != nil {
			return run, err
		}
		run.StartSeconds = time.Since(t0).Seconds()
		proc.Profile = prof
		defer proc.Kill()
		addr = proc.SMTPAddr
		// More daemons on the same database (-daemons): each with a data
		// directory and node name of its own.
		for i := 2; i <= b.opt.Daemons; i++ {
			dir2, err := b.newDir(fmt.Sprintf("helpdesk%d", i))
			if err != nil {
				return run, err
			}
			defer b.cleanup(dir2)
			cfg2 := filepath.Join(dir2, "helpdesk.toml")
			text2 := DaemonConfig(filepath.Join(dir2, "data"), sink.Addr, b.dns.Addr(), key) + p.extraConfig
			text2 = strings.Replace(text2, "max_connections_per_ip = 1000", fmt.Sprintf("max_connections_per_ip = %d", (p.sessions+max(p.sources, 1)-1)/max(p.sources, 1)), 1)
			text2 += fmt.Sprintf("\n[store]\nengine = \"postgres\"\ndsn = %q\nnode = \"bench-%d\"\n", dsn, i)
			if err := os.WriteFile(cfg2, []byte(text2), 0o600); err != nil {
				return run, err
			}
			p2, err := StartProc(fmt.Sprintf("helpdesk%d", i), b.opt.Binary, []string{"serve", "-config", cfg2}, dir2, nil, nil)
			if err != nil {
				return run, err
			}
			defer p2.Kill()
			others = append(others, p2)
			addr += "," + p2.SMTPAddr
		}
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
		before = scrapeAll(proc, others)
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
	counting := proc != nil && callgrind()
	if counting {
		if err := callgrindInstr(proc.Pid(), true); err != nil {
			return run, err
		}
	}
	cpu := b.startCPU(b.pid(proc))
	db0 := b.dbCPU()
	rows0 := dbStats(runDSN)
	resetStatements(runDSN)
	res := b.load(p, addr, gen)
	run.fill(res)
	cpu.finish(&run)
	b.dbCPUFinish(&run, db0)
	b.logStatements(target, idx, runDSN, run.OK)
	if counting {
		if err := callgrindInstr(proc.Pid(), false); err != nil {
			return run, err
		}
	}
	if before != nil {
		after := scrapeAll(proc, others)
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
				run.WriterRoundTripsCommit = delta("helpdesk_store_write_round_trips_total") / c
			}
			n := float64(run.OK)
			run.QueriesPerMsg = delta("helpdesk_store_queries_total") / n
			run.RoundTripsPerMsg = delta("helpdesk_store_round_trips_total") / n
			run.WriterQueriesPerMsg = delta("helpdesk_store_write_queries_total") / n
			run.WriterRoundTripsPerMsg = delta("helpdesk_store_write_round_trips_total") / n
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
		m := scrapeAll(proc, others)
		run.Commits, run.Writes, run.OutboundQueued = m["helpdesk_store_commits_total"], m["helpdesk_store_writes_total"], m["helpdesk_outbound_queued"]
	}
	if sink != nil {
		run.OutboundDelivered = sink.Delivered.Load() - deliveredBefore
	}
	if rows0.ok && proc != nil && proc.HTTPAddr != "" {
		// The rows per mail count the outbound mail the burst queued as
		// delivered (its queue rows settled).
		if _, err := drainQueue(proc.HTTPAddr, time.Minute); err != nil {
			b.logf("   %-18s run %d: %v", target, idx, err)
		}
	}
	for _, o := range others {
		if err := o.Stop(60 * time.Second); err != nil && run.StopError == "" {
			run.StopError = fmt.Sprintf("%v: %s", err, firstWords(o.LogTail(), 40))
		}
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
		if counting {
			n, err := callgrindTotal(callgrindOut(dir))
			if err != nil {
				return run, fmt.Errorf("%s: reading the callgrind counts: %w", target, err)
			}
			if run.OK > 0 {
				run.InstrPerMsg = float64(n) / float64(run.OK)
			}
			b.logf("   %-18s run %d: callgrind: %d instructions in the burst, %.0f per mail", target, idx, n, run.InstrPerMsg)
		}
		run.StoreBytes = DirSize(data)
	}
	if rows0.ok {
		dbStatsFinish(&run, rows0, settledDBStats(runDSN))
	}
	b.logf("   %-18s run %d: %6.0f msg/s  p50 %6.2f ms  p99 %7.2f ms  max %7.1f ms  rss %4d MiB (anon %d)  ok %d failed %d  start %.2fs",
		target, idx, run.MsgPerSec, run.P50Ms, run.P99Ms, run.MaxMs, run.PeakRSS>>20, run.PeakAnon>>20, run.OK, run.Failed, run.StartSeconds)
	if run.OK == 0 {
		if b.opt.Addr != "" {
			return run, fmt.Errorf("%s at %s accepted no mail: %v (the bench's mail goes to %s: the daemon's configuration needs [[mailbox]] address = %q)", target, b.opt.Addr, run.Errors, benchMailbox, benchMailbox)
		}
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
	args := []string{"bench", "--reference-server", dir}
	dsn, err := b.newDSN("reference")
	if err != nil {
		return run, err
	}
	if dsn != "" {
		args = append(args, dsn)
	}
	proc, err := StartProc("reference", b.opt.Binary, args, dir, nil, nil)
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
	db0 := b.dbCPU()
	rows0 := dbStats(dsn)
	resetStatements(dsn)
	res := b.load(p, proc.SMTPAddr, gen)
	run.fill(res)
	cpu.finish(&run)
	b.dbCPUFinish(&run, db0)
	b.logStatements("reference", idx, dsn, run.OK)
	close(stopSampling)
	run.PeakAnon = <-anon
	if st, err := ProcStats(proc.Pid()); err == nil {
		run.PeakRSS, run.Written, run.WrittenSource = st.PeakRSS, st.Written, st.WrittenSource
	}
	if err := proc.Stop(30 * time.Second); err != nil {
		return run, err
	}
	run.StoreBytes = DirSize(dir)
	if rows0.ok {
		dbStatsFinish(&run, rows0, settledDBStats(dsn))
	}
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
	default: // new-ticket, sequential, rules
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

// dbCPU is the CPU seconds of the database server the bench started (-1:
// none, or unknown).
func (b *bench) dbCPU() float64 {
	if b.pg == nil {
		return -1
	}
	c, err := treeCPU(b.pg.Pid())
	if err != nil {
		return -1
	}
	return c
}

func (b *bench) dbCPUFinish(run *Run, before float64) {
	if before < 0 || run.OK == 0 {
		return
	}
	if c := b.dbCPU(); c >= before {
		run.DBCPUMs = (c - before) * 1000 / float64(run.OK)
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

// scrapeAll is scrape of every daemon of a run, summed (the writer's
// figures of several daemons on one database add up: each groups its
// own mails into commits).
func scrapeAll(first *Proc, others []*Proc) map[string]int64 {
	m := scrape(first.HTTPAddr)
	queued := m["helpdesk_outbound_queued"] // the database's, not a daemon's
	for _, o := range others {
		for k, v := range scrape(o.HTTPAddr) {
			m[k] += v
		}
	}
	m["helpdesk_outbound_queued"] = queued
	return m
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
