package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/dnstest"
)

// TestPerMailCost measures what one bench new-ticket mail costs a daemon
// binary as a whole process, with figures the machine's other load does
// not move: its CPU, allocations and (under a valgrind wrapper)
// instructions per mail, acknowledgement and notification delivered
// included. It is a measuring tool, skipped unless
// HELPDESK_PERCOST_BIN names the binary (any version whose config
// matches DaemonConfig, so an older build compares with the current one):
//
//	HELPDESK_PERCOST_BIN=/tmp/hd-old HELPDESK_PERCOST_N=3000 \
//	  go test ./gateway/internal/bench -run TestPerMailCost -v
//
// It starts the daemon (the bench's config, DNS and relay sink), sends
// HELPDESK_PERCOST_WARM (200) mails and waits until their mail is
// delivered and the daemon idles, then HELPDESK_PERCOST_N (2000) mails
// from HELPDESK_PERCOST_SESSIONS (8) sessions, and waits again. The
// daemon's CPU and Go allocation counters over the second burst are
// divided by its mails, less what 10 s of idling cost at the same rate.
//
// HELPDESK_PERCOST_WRAP runs the daemon under a command, e.g.
// "valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=F":
// instructions per mail are then the difference of two runs' totals (N
// and a smaller N) divided by the difference of N (start, warm-up and
// exit cancel out), per function by comparing the two files.
// HELPDESK_PERCOST_RULES=1 adds the triggers and webhooks of -mode rules
// (all receivers answering).
// HELPDESK_PERCOST_PROFILE=FILE writes the daemon's CPU profile and
// FILE.heap (GODEBUG=memprofilerate=1 makes its allocation counts exact).
func TestPerMailCost(t *testing.T) {
	bin := os.Getenv("HELPDESK_PERCOST_BIN")
	if bin == "" {
		t.Skip("a measuring tool: set HELPDESK_PERCOST_BIN to a helpdesk binary")
	}
	num := func(name string, def int) int {
		if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
			return n
		}
		return def
	}
	n, warm, sessions := num("HELPDESK_PERCOST_N", 2000), num("HELPDESK_PERCOST_WARM", 200), num("HELPDESK_PERCOST_SESSIONS", 8)
	wrap := strings.Fields(os.Getenv("HELPDESK_PERCOST_WRAP"))
	dns, err := dnstest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Close()
	sink, err := StartSink("127.0.0.1:0", AgentAddrs())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "helpdesk.toml")
	text := DaemonConfig(filepath.Join(dir, "data"), sink.Addr, dns.Addr(), "")
	if os.Getenv("HELPDESK_PERCOST_RULES") != "" {
		// -mode rules' triggers and webhooks, every receiver answering.
		hooks, err := startHookReceiver(false)
		if err != nil {
			t.Fatal(err)
		}
		defer hooks.Close()
		text += RulesConfig(hooks.URL, hooks.URL)
	}
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	exe, args := bin, []string{"serve", "-config", cfg}
	if len(wrap) > 0 {
		exe = wrap[0]
		args = append(append(append([]string{}, wrap[1:]...), bin), args...)
	}
	var env []string
	prof := os.Getenv("HELPDESK_PERCOST_PROFILE")
	if prof != "" {
		env = append(env, ProfileEnv+"="+prof)
	}
	proc, err := StartProc("helpdesk", exe, args, dir, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Kill()
	gen := NewGen("percost", sink)
	// settle waits for want deliveries (an acknowledgement and a
	// notification per mail), then until none came for 3 s.
	settle := func(want int64) {
		for deadline := time.Now().Add(30 * time.Minute); sink.Delivered.Load() < want && time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
		}
		for last := sink.Delivered.Load(); ; {
			time.Sleep(3 * time.Second)
			d := sink.Delivered.Load()
			if d == last {
				return
			}
			last = d
		}
	}
	burst := func(count, base int) *LoadResult {
		return Load{Addr: proc.SMTPAddr, Sessions: sessions, Messages: count, Duration: time.Hour, NewConn: true,
			Next: func(i int, _ *rand.Rand) Job { return gen.NewTicket(base+i, KindNew4K) }}.Run()
	}
	w := burst(warm, 1<<30)
	settle(int64(2 * w.OK))
	// What idling costs (timers, the workers' polls), subtracted below
	// for the burst's duration; under a wrapper it is not measured (its
	// rate would be the wrapper's).
	idle0, icpu0, it0 := scrape(proc.HTTPAddr), mustCPU(t, proc.Pid()), time.Now()
	if len(wrap) == 0 {
		time.Sleep(10 * time.Second)
	}
	idle1, icpu1, idleSecs := scrape(proc.HTTPAddr), mustCPU(t, proc.Pid()), time.Since(it0).Seconds()
	before, cpu0, t0 := scrape(proc.HTTPAddr), mustCPU(t, proc.Pid()), time.Now()
	d0 := sink.Delivered.Load()
	res := burst(n, 0)
	settle(d0 + int64(2*res.OK))
	after, cpu1, secs := scrape(proc.HTTPAddr), mustCPU(t, proc.Pid()), time.Since(t0).Seconds()
	f := secs / idleSecs
	if len(wrap) > 0 {
		f = 0
	}
	for _, m := range []string{"go_memstats_mallocs_total", "go_memstats_alloc_bytes_total"} {
		after[m] -= int64(f * float64(idle1[m]-idle0[m]))
	}
	cpu1 -= f * (icpu1 - icpu0)
	if prof != "" {
		stopProfile(proc, prof)
	}
	if res.OK == 0 {
		t.Fatalf("no mail accepted: %v", res.Errors)
	}
	k := float64(res.OK)
	per := func(m string) float64 { return float64(after[m]-before[m]) / k }
	fmt.Printf("percost %s: %d mails (%d failed), %d delivered; per mail: cpu %.3f ms, mallocs %.0f, allocated %.0f bytes, "+
		"store apply %.3f ms, commit %.3f ms, page writes %.2f; %.1f mails per commit; idle cost %.2f ms cpu/s\n",
		bin, res.OK, res.Failed, sink.Delivered.Load()-d0, (cpu1-cpu0)*1000/k, per("go_memstats_mallocs_total"), per("go_memstats_alloc_bytes_total"),
		per("helpdesk_store_apply_nanoseconds_total")/1e6, per("helpdesk_store_commit_nanoseconds_total")/1e6, per("helpdesk_store_page_writes_total"),
		1/max(per("helpdesk_store_commits_total"), 1e-9), (icpu1-icpu0)*1000/idleSecs)
	if err := proc.Stop(time.Minute); err != nil {
		t.Errorf("stopping the daemon: %v", err)
	}
}

func mustCPU(t *testing.T, pid int) float64 {
	s, err := procCPU(pid)
	if err != nil {
		t.Fatalf("reading the daemon's CPU time: %v", err)
	}
	return s
}
