package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"helpdesk/gateway/engine"
	"helpdesk/store/bolt"
)

// TestTimersPerMailCost measures what a `-mode timers` new-ticket mail
// costs the writer with the SLA policies, automations and scheduler on
// and off, with figures the machine's other load does not move: page
// writes and commits per mail, allocations per mail, and (under
// cachegrind) instructions. It is a measuring tool, skipped unless
// HELPDESK_TIMERS_COST names a directory for the pre-filled store (made
// and armed once, then copied for each mode):
//
//	HELPDESK_TIMERS_COST=/tmp/tc HELPDESK_TIMERS_COST_TICKETS=20000 \
//	  go test ./gateway/internal/bench -run TestTimersPerMailCost -v
//
// HELPDESK_TIMERS_COST_MODES ("on,off") picks the modes,
// HELPDESK_TIMERS_COST_N (1000) the mails per mode, injected after 100
// warm-up mails by HELPDESK_TIMERS_COST_WORKERS (8, as the bench)
// concurrent injectors (1: one mail per commit);
// HELPDESK_TIMERS_COST_PROFILE=FILE writes each mode's CPU profile to
// FILE.MODE and its allocations to FILE.MODE.allocs. Instructions per mail: run one mode under
// `valgrind --tool=cachegrind` (GODEBUG=cpu.rdtscp=off,asyncpreemptoff=1)
// with two values of N and divide the difference of the totals by the
// difference of N.
func TestTimersPerMailCost(t *testing.T) {
	dir := os.Getenv("HELPDESK_TIMERS_COST")
	if dir == "" {
		t.Skip("a measuring tool: set HELPDESK_TIMERS_COST to a directory")
	}
	num := func(name string, def int) int {
		if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
			return n
		}
		return def
	}
	tickets, n := num("HELPDESK_TIMERS_COST_TICKETS", 20000), num("HELPDESK_TIMERS_COST_N", 1000)
	workers := num("HELPDESK_TIMERS_COST_WORKERS", 8)
	modes := strings.Split(os.Getenv("HELPDESK_TIMERS_COST_MODES"), ",")
	if modes[0] == "" {
		modes = []string{"on", "off"}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	pristine := filepath.Join(dir, "pristine")
	if err := os.MkdirAll(pristine, 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := Prefill(pristine, PrefillOptions{Tickets: tickets, Open: tickets / 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := armStore(pristine, quiet); err != nil {
		t.Fatal(err)
	}
	for _, mode := range modes {
		run := filepath.Join(dir, "run-"+mode)
		os.RemoveAll(run)
		if err := os.MkdirAll(run, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := copyTree(pristine, run); err != nil {
			t.Fatal(err)
		}
		on, off, err := timersConfigs(run)
		if err != nil {
			t.Fatal(err)
		}
		db, err := bolt.Open(run, bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		e, err := engine.New(on, db, engine.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.NextTimer(); err != nil {
			t.Fatal(err)
		}
		if mode == "off" {
			e.SetConfig(off)
		}
		inject := func(from, count int) {
			jobs := make(chan int)
			errs := make(chan error, workers)
			for k := 0; k < workers; k++ {
				go func() {
					var first error
					for i := range jobs {
						if _, err := e.Inject(context.Background(), timersMail("Cost Customer", "k", i), false); err != nil && first == nil {
							first = err
						}
					}
					errs <- first
				}()
			}
			for i := from; i < from+count; i++ {
				jobs <- i
			}
			close(jobs)
			for k := 0; k < workers; k++ {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
		}
		inject(0, 100)
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		s0, cpu0 := db.Stats(), cpuSecs()
		if p := os.Getenv("HELPDESK_TIMERS_COST_PROFILE"); p != "" {
			f, err := os.Create(p + "." + mode)
			if err != nil {
				t.Fatal(err)
			}
			pprof.StartCPUProfile(f)
			defer f.Close()
		}
		inject(100, n)
		pprof.StopCPUProfile()
		if p := os.Getenv("HELPDESK_TIMERS_COST_PROFILE"); p != "" {
			// The allocations of the whole run (GODEBUG=memprofilerate=1
			// for every one of them).
			if f, err := os.Create(p + "." + mode + ".allocs"); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}
		s1, cpu1 := db.Stats(), cpuSecs()
		runtime.ReadMemStats(&m1)
		per := func(x int64) float64 { return float64(x) / float64(n) }
		fmt.Printf("timers cost %s: %d tickets, %d mails from %d injectors: %.2f commits/mail, %.1f page writes/commit, %.1f page writes/mail, apply %.3f ms/mail, commit %.3f ms/mail, cpu %.3f ms/mail, %.0f allocs/mail, %.0f B/mail\n",
			mode, tickets, n, workers, per(s1.Commits-s0.Commits), float64(s1.PageWrites-s0.PageWrites)/float64(max(s1.Commits-s0.Commits, 1)), per(s1.PageWrites-s0.PageWrites),
			per(s1.ApplyNanos-s0.ApplyNanos)/1e6, per(s1.CommitNanos-s0.CommitNanos)/1e6, (cpu1-cpu0)*1000/float64(n),
			per(int64(m1.Mallocs-m0.Mallocs)), per(int64(m1.TotalAlloc-m0.TotalAlloc)))
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// cpuSecs is the process's user+system CPU time in seconds.
func cpuSecs() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
