package bench

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/engine"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
)

// ModeTimers is `helpdesk bench -mode timers` (issue 14): the scheduler
// and automations under a large store, in process (engine over the real
// store; no SMTP: what is measured is the apply and commit of a mail and
// the scheduler, not the network).
const ModeTimers = "timers"

// TimersOptions shape the timers bench.
type TimersOptions struct {
	Tickets int // store size (default 1,000,000)
	Open    int // of which open, under the SLA policies and automations (default 200,000)
	Due     int // timers falling due in the same wall-clock minute (default 10,000)
	Mails   int // new-ticket mails per ingest run (default 2,000)
	Runs    int // alternating pairs on/off (default 5)
	Workers int // concurrent injectors (default 8)
	// Dir keeps the pre-filled store, armed for the bench's settings, for
	// the next run: each run works on a copy of it (made next to it), so
	// the prefill is never repeated and no run sees another's mail and
	// firings. Default: a temporary store, prefilled and used once.
	Dir      string
	Progress io.Writer
}

// timersRules are the settings of the runs "on": a business-hours
// calendar; SLA policies that every bench mail matches (its first reply
// and resolution targets arm a timer on every new ticket) and that cover
// the store's open tickets (a resolution target long enough that a
// three-year-old store's backlog is not breached: one timer each, months
// away), and one for the due phase's tickets; two automations: "bench
// nudge" matches every bench mail a day after it arrived (a second timer
// per new ticket) and the due phase's tagged tickets at once; "bench
// ancient" arms a timer on every open ticket of the store (years away).
const timersRules = `
[[calendar]]
name = "bench-hours"
time_zone = "Europe/Berlin"
hours = ["mon-fri 09:00-12:00, 13:00-18:00"]
holidays = ["2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01"]

[[sla]]
name = "bench due"
tag = ["due-sla"]
calendar = "24/7"
first_reply = "1h"

[[sla]]
name = "bench new"
requester_domain = ["timers.example"]
calendar = "bench-hours"
first_reply = "4h"
next_reply = "4h"
resolution = "24h"

[[sla]]
name = "bench backlog"
mailbox = ["` + benchMailbox + `"]
calendar = "bench-hours"
resolution = "2000h"

[[automation]]
name = "bench nudge"
all = ["status is open", "created more than 24h ago"]
any = ["tags include due-bench", "subject contains bench"]
actions = ["#tag nudged"]

[[automation]]
name = "bench ancient"
all = ["status is open", "created more than 4000d ago"]
actions = ["#tag ancient"]
`

// timersPace is the mail rate of the due phase: 4 senders, one mail
// each 80 ms.
const (
	timersSenders = 4
	timersEvery   = 80 * time.Millisecond
)

// Timers runs the timers bench and writes its report to w.
func Timers(o TimersOptions, w io.Writer) error {
	if o.Tickets <= 0 {
		o.Tickets = 1_000_000
	}
	if o.Open <= 0 {
		o.Open = o.Tickets / 5
	}
	if o.Due <= 0 {
		o.Due = 10_000
	}
	o.Due = min(o.Due, o.Open)
	if o.Mails <= 0 {
		o.Mails = 2000
	}
	if o.Runs <= 0 {
		o.Runs = 5
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	logf := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	quietLog := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.Progress != nil {
		quietLog = slog.New(slog.NewTextHandler(o.Progress, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	load0 := loadAvg()

	// The pre-filled store, kept in o.Dir, is only ever prefilled and
	// armed; the runs work on a copy.
	pristine := o.Dir
	if pristine == "" {
		d, err := os.MkdirTemp("", "helpdesk-bench-timers-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		pristine = d
	}
	if n, err := storedTickets(pristine); err != nil {
		return err
	} else if n > o.Tickets {
		return fmt.Errorf("%s holds %d tickets, more than -tickets %d: a run of an older bench wrote into it; give a new -prefill-dir (or the same -tickets)", pristine, n, o.Tickets)
	} else if n > 0 {
		logf("prefill: reusing %s (%d tickets)", pristine, n)
	}
	took, err := Prefill(pristine, PrefillOptions{Tickets: o.Tickets, Open: o.Open, Progress: func(done int, el time.Duration) {
		if done%100_000 == 0 {
			logf("prefill: %d tickets (%s)", done, el.Round(time.Second))
		}
	}})
	if err != nil {
		return fmt.Errorf("prefilling: %w", err)
	}
	logf("prefill: %d tickets, %d open, in %s", o.Tickets, o.Open, took.Round(time.Second))
	armTook, err := armStore(pristine, quietLog)
	if err != nil {
		return fmt.Errorf("arming the pre-filled store: %w", err)
	}
	logf("armed every ticket of the pre-filled store for the bench's settings in %s (done once per store)", armTook.Round(time.Second))
	dir := pristine
	if o.Dir != "" {
		d, err := os.MkdirTemp(filepath.Dir(filepath.Clean(o.Dir)), filepath.Base(filepath.Clean(o.Dir))+".run-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		t0 := time.Now()
		if err := copyTree(pristine, d); err != nil {
			return fmt.Errorf("copying the pre-filled store: %w", err)
		}
		logf("copied the pre-filled store to %s in %s", d, time.Since(t0).Round(time.Second))
		dir = d
	}

	on, off, err := timersConfigs(dir)
	if err != nil {
		return err
	}
	db, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	e, err := engine.New(on, db, engine.Options{Logger: quietLog})
	if err != nil {
		return err
	}
	if _, _, err := e.NextTimer(); err != nil { // armed already: reads the stamp
		return err
	}
	armedBy := map[string]int{}
	db.View(func(tx store.Tx) error {
		due, _ := tx.DueTimers(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), 0)
		for _, t := range due {
			armedBy[t.Kind]++
		}
		return nil
	})
	var firedMu sync.Mutex
	firedBy := map[string]int{}
	var late []time.Duration
	observing := false
	e.ObserveTimers(func(kind string, d time.Duration) {
		firedMu.Lock()
		firedBy[kind]++
		if observing {
			late = append(late, d)
		}
		firedMu.Unlock()
	})
	scheduler := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.RunScheduler(ctx); close(done) }()
		return func() { cancel(); <-done }
	}

	// Ingest: on (SLA policies, automations, the scheduler running) and
	// off (none of them, no auto-close), alternating.
	seq := 0
	var phases []timersPhase
	ingest := func(cfg *config.Config, n int) (rate float64, err error) {
		e.SetConfig(cfg)
		ph := timersPhase{on: cfg == on, mails: n, pair: len(phases)/2 + 1}
		// Each run starts from the same heap: the garbage of what ran
		// before (arming, listing the 400,000 armed timers, the other
		// run) is collected and returned to the system now, not by the
		// collector and the scavenger during the run measured.
		runtime.GC()
		debug.FreeOSMemory()
		if p := os.Getenv(TimersProfileEnv); p != "" && len(phases) < 2 {
			mode := "off"
			if ph.on {
				mode = "on"
			}
			if f, err := os.Create(p + "." + mode); err == nil {
				if pprof.StartCPUProfile(f) == nil {
					defer func() { pprof.StopCPUProfile(); f.Close() }()
				} else {
					f.Close()
				}
			}
		}
		ph.s0 = takeTimersSnapshot(db, e)
		defer func() { ph.s1 = takeTimersSnapshot(db, e); phases = append(phases, ph) }()
		var mu sync.Mutex
		var firstErr error
		jobs := make(chan int)
		var wg sync.WaitGroup
		t0 := time.Now()
		for k := 0; k < o.Workers; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					if _, err := e.Inject(context.Background(), timersMail("Bench Customer", "c", i), false); err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
					}
				}
			}()
		}
		for i := 0; i < n; i++ {
			seq++
			jobs <- seq
		}
		close(jobs)
		wg.Wait()
		return float64(n) / time.Since(t0).Seconds(), firstErr
	}
	var ratios []float64
	var rates [][2]float64
	for r := 0; r < o.Runs; r++ {
		runOn := func() (float64, error) {
			stop := scheduler()
			defer stop()
			return ingest(on, o.Mails)
		}
		runOff := func() (float64, error) { return ingest(off, o.Mails) }
		// The pairs alternate their order (on off, off on, ...): what
		// drifts over the runs (the store growing, the page cache, the
		// machine's other load) then favours neither side.
		first, second := runOn, runOff
		if r%2 == 1 {
			first, second = runOff, runOn
		}
		a, err := first()
		if err != nil {
			return err
		}
		b, err := second()
		if err != nil {
			return err
		}
		rOn, rOff := a, b
		if r%2 == 1 {
			rOn, rOff = b, a
		}
		ratios = append(ratios, rOn/rOff)
		rates = append(rates, [2]float64{rOn, rOff})
		logf("ingest run %d: on %.0f msg/s, off %.0f msg/s, ratio %.3f", r+1, rOn, rOff, rOn/rOff)
	}
	sorted := slices.Clone(ratios)
	slices.Sort(sorted)
	e.SetConfig(on)
	if _, _, err := e.NextTimer(); err != nil {
		return err
	}

	// Due phase: o.Due open tickets of the store get a timer in the same
	// wall-clock minute: half an SLA warning (tagged for the "bench due"
	// policy, opened 45 minutes before their instant: a 1h first reply
	// warns at 75%), which mails the assignee, and half the "bench
	// nudge" automation (tagged: it holds), which tags the ticket; each
	// firing records an event. Mail keeps coming meanwhile at a steady
	// pace, from before the minute (the baseline) to after it.
	minute := time.Now().Add(30 * time.Second).Truncate(time.Second)
	ids, err := markDue(db, o.Tickets, o.Open, o.Due, minute)
	if err != nil {
		return err
	}
	firedMu.Lock()
	clear(firedBy)
	observing = true
	firedMu.Unlock()
	stop := scheduler()
	var before, during []time.Duration
	var dmu sync.Mutex
	var wg sync.WaitGroup
	var ingestErr error
	end := minute.Add(70 * time.Second)
	for k := 0; k < timersSenders; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			tick := time.NewTicker(timersEvery)
			defer tick.Stop()
			for i := 0; time.Now().Before(end); i++ {
				<-tick.C
				s := time.Now()
				_, err := e.Inject(context.Background(), timersMail("Due Customer", "d", 10_000_000+k*1_000_000+i), false)
				d := time.Since(s)
				dmu.Lock()
				switch {
				case s.Before(minute):
					before = append(before, d)
				case s.Before(minute.Add(65 * time.Second)):
					during = append(during, d)
				}
				if err != nil && ingestErr == nil {
					ingestErr = err
				}
				dmu.Unlock()
			}
		}(k)
	}
	wg.Wait()
	// The stragglers (none, when the scheduler kept up).
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		firedMu.Lock()
		n := len(late)
		firedMu.Unlock()
		if n >= len(ids) {
			break
		}
	}
	stop()
	if ingestErr != nil {
		return ingestErr
	}
	firedMu.Lock()
	fired := len(late)
	firedSLA, firedAuto := firedBy["sla"], firedBy["automation"]
	firedMu.Unlock()
	warned, nudged := 0, 0
	db.View(func(tx store.Tx) error {
		for i, id := range ids {
			tk, err := tx.Ticket(id)
			if err != nil {
				return err
			}
			if i%2 == 0 && slices.ContainsFunc(tk.SLAMarks, func(m model.SLAMark) bool { return m.Warned != "" }) {
				warned++
			}
			if i%2 == 1 && slices.Contains(tk.Tags, "nudged") {
				nudged++
			}
		}
		return nil
	})

	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	median := sorted[len(sorted)/2]
	fmt.Fprintf(w, "helpdesk bench -mode timers (in process: engine + bbolt store, no SMTP); load average %.1f at start, %.1f at end, %d CPUs\n", load0, loadAvg(), runtime.NumCPU())
	fmt.Fprintf(w, "store: %d tickets, %d open under SLA policies and automations; timers armed before the runs: %s\n", o.Tickets, o.Open, kinds(armedBy))
	fmt.Fprintf(w, "ingest with SLA policies, automations and the scheduler on / off (%d alternating pairs of %d new-ticket mails, %d injectors; every mail matches a policy and an automation):\n", o.Runs, o.Mails, o.Workers)
	for i, r := range rates {
		fmt.Fprintf(w, "  pair %d: %.0f / %.0f msg/s, ratio %.3f\n", i+1, r[0], r[1], ratios[i])
	}
	fmt.Fprintf(w, "  median ratio %.3f (target >= 0.90: %s)\n", median, verdict(median >= 0.90))
	for _, ph := range phases {
		fmt.Fprintf(w, "  %s\n", ph.report())
	}
	fmt.Fprintf(w, "%d timers due within one wall-clock minute (%d SLA warnings, %d automations): %d fired (sla %d, automation %d; warnings recorded %d, nudges %d)\n",
		len(ids), (len(ids)+1)/2, len(ids)/2, fired, firedSLA, firedAuto, warned, nudged)
	fmt.Fprintf(w, "  lateness (instant to the firing's commit) p50 %s p99 %s max %s (target p99 <= 5s: %s)\n",
		pctl(late, 50), pctl(late, 99), pctl(late, 100), verdict(fired >= len(ids) && pctl(late, 99) <= 5*time.Second))
	fmt.Fprintf(w, "ingest at %d mails/s: before the minute %d mails, p50 %s p99 %s; while the timers fell due %d mails, p50 %s p99 %s max %s (target p99 <= 25ms: %s)\n",
		int(time.Second/timersEvery)*timersSenders, len(before), pctl(before, 50), pctl(before, 99), len(during), pctl(during, 50), pctl(during, 99), pctl(during, 100),
		verdict(pctl(during, 99) <= 25*time.Millisecond))
	return nil
}

// timersMail is a bench new-ticket mail: it matches the "bench new"
// policy (requester domain timers.example) and "bench nudge" (subject).
func timersMail(name, prefix string, i int) []byte {
	return []byte(fmt.Sprintf("From: %s %d <%s%d@timers.example>\r\nTo: %s\r\nSubject: bench request %d\r\nMessage-ID: <timers.%s%d@client.example>\r\n\r\nPlease help with request %d.\r\n",
		name, i, prefix, i, benchMailbox, i, prefix, i, i))
}

// timersConfigs are the settings of the runs on and off, for a store in
// dir.
func timersConfigs(dir string) (on, off *config.Config, err error) {
	base := DaemonConfig(dir, "127.0.0.1:9", "127.0.0.1:53", "")
	if on, err = config.Parse(base + timersRules); err != nil {
		return nil, nil, fmt.Errorf("the bench's settings: %w", err)
	}
	if off, err = config.Parse(base); err != nil {
		return nil, nil, err
	}
	// Off: no policies, no automations, no auto-close: the sources arm
	// nothing.
	off.Tickets.AutoCloseAfter = 0
	return on, off, nil
}

// storedTickets is how many tickets the store in dir holds (0: none yet).
func storedTickets(dir string) (int, error) {
	if _, err := os.Stat(filepath.Join(dir, "helpdesk.db")); err != nil {
		return 0, nil
	}
	db, err := bolt.Open(dir, bolt.Options{ReadOnly: true})
	if err != nil {
		return 0, fmt.Errorf("opening %s: %w", dir, err)
	}
	defer db.Close()
	n := 0
	db.View(func(tx store.Tx) error { n = tx.TicketCount(); return nil })
	return n, nil
}

// armStore builds the timer index of the store in dir for the bench's
// settings (as a store upgraded to the scheduler is, once): a store
// already armed for them is left as it is.
func armStore(dir string, log *slog.Logger) (time.Duration, error) {
	on, _, err := timersConfigs(dir)
	if err != nil {
		return 0, err
	}
	db, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	e, err := engine.New(on, db, engine.Options{Logger: log})
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	if _, _, err := e.NextTimer(); err != nil {
		return 0, err
	}
	return time.Since(t0), db.Close()
}

// markDue gives n of the store's pre-filled open tickets a timer in the
// minute from minute on, spread over it: even ones an SLA warning, odd
// ones the "bench nudge" automation. It returns their ids, in that
// order.
func markDue(db store.Store, tickets, open, n int, minute time.Time) ([]uint64, error) {
	var ids []uint64
	for id := uint64(tickets - open + 1); len(ids) < n && id <= uint64(tickets); id++ {
		ids = append(ids, id)
	}
	for k := 0; k < len(ids); k += 1000 {
		chunk := ids[k:min(k+1000, len(ids))]
		if err := db.Update(func(tx store.Tx) error {
			for j, id := range chunk {
				i := k + j
				tk, err := tx.Ticket(id)
				if err != nil {
					return err
				}
				if tk.Status != model.StatusOpen {
					return fmt.Errorf("pre-filled ticket %d is %s, not open: not a store of this bench", id, tk.Status)
				}
				at := minute.Add(time.Duration(i) * time.Minute / time.Duration(n))
				kind := "automation"
				if i%2 == 0 {
					kind = "sla"
					tk.Tags = append(tk.Tags, "due-sla")
					tk.Created = at.Add(-45 * time.Minute)
				} else {
					tk.Tags = append(tk.Tags, "due-bench")
				}
				if err := tx.PutTicket(tk); err != nil {
					return err
				}
				if err := tx.SetTimer(model.Timer{Ticket: id, Kind: kind, At: at}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("arming the due timers: %w", err)
		}
	}
	return ids, nil
}

// kinds formats timer counts by kind.
func kinds(m map[string]int) string {
	var ks []string
	total := 0
	for k, n := range m {
		ks = append(ks, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	slices.Sort(ks)
	return fmt.Sprintf("%d (%s)", total, strings.Join(ks, ", "))
}

// copyTree copies the directory src (files and folders) to dst, which
// exists and is empty. (On Linux io.Copy between files is
// copy_file_range: the kernel copies, or shares the blocks.)
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o750)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		// On disk before the runs: otherwise the first commit's fsync
		// writes back whatever of the copy's gigabytes the kernel has not
		// yet, and the first run (always "on") pays for it.
		if err := out.Sync(); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

func pctl(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)].Round(100 * time.Microsecond)
}

// TimersProfileEnv, when set to a path P, makes bench -mode timers write
// the CPU profile of its first ingest run on to P.on and of the first
// off to P.off.
const TimersProfileEnv = "HELPDESK_BENCH_TIMERS_PROFILE"

// timersPhase is what one ingest run of the timers bench cost: the
// store writer's counters, the allocations and the garbage collector's
// CPU, and how often the scheduler looked at its index meanwhile.
type timersPhase struct {
	on          bool
	mails, pair int
	s0, s1      timersSnapshot // at the run's start and end
}

// timersSnapshot is the counters a timersPhase subtracts.
type timersSnapshot struct {
	st           store.Stats
	m            runtime.MemStats
	gc, cpu      float64
	looks, fired int64
}

var timersGCMetrics = []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"}}

// takeTimersSnapshot reads the counters now: the runtime's estimate of
// the CPU its collector used and of the CPU the process used (idle Ps
// left out) among them.
func takeTimersSnapshot(db *bolt.DB, e *engine.Engine) timersSnapshot {
	s := timersSnapshot{st: db.Stats(), looks: e.SchedulerLooks()}
	runtime.ReadMemStats(&s.m)
	ms := slices.Clone(timersGCMetrics)
	metrics.Read(ms)
	s.gc, s.cpu = ms[0].Value.Float64(), ms[1].Value.Float64()-ms[2].Value.Float64()
	s.fired, _, _ = e.SchedulerStats()
	return s
}

// report is one line: per mail and per commit.
func (p *timersPhase) report() string {
	mode := "off"
	if p.on {
		mode = "on "
	}
	n := float64(p.mails)
	a, b := &p.s0, &p.s1
	commits := float64(max(b.st.Commits-a.st.Commits, 1))
	return fmt.Sprintf("pair %d %s: %.2f mails/commit, %.1f page writes/commit, apply %.3f ms/mail, commit %.3f ms/mail, %.0f allocs/mail, %.1f KB/mail, %d GCs, GC %.0f%% of the process's CPU (%.3f ms/mail), scheduler looks %d, fired %d",
		p.pair, mode, n/commits, float64(b.st.PageWrites-a.st.PageWrites)/commits,
		float64(b.st.ApplyNanos-a.st.ApplyNanos)/n/1e6, float64(b.st.CommitNanos-a.st.CommitNanos)/n/1e6,
		float64(b.m.Mallocs-a.m.Mallocs)/n, float64(b.m.TotalAlloc-a.m.TotalAlloc)/n/1024, b.m.NumGC-a.m.NumGC,
		100*(b.gc-a.gc)/max(b.cpu-a.cpu, 1e-9), (b.gc-a.gc)*1000/n, b.looks-a.looks, b.fired-a.fired)
}
