package benchcmd

import (
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"helpdesk/gateway/internal/bench"
)

// ProfileFromEnv is for the daemon the bench starts: when it runs with
// HELPDESK_BENCH_CPUPROFILE=FILE, the process profiles its CPU from then
// until SIGUSR1, then writes FILE, a heap profile to FILE.heap and the
// marker FILE.done. cmd/helpdesk calls it first thing (from init), so the
// profile covers the daemon's start.
func ProfileFromEnv() {
	path := os.Getenv(bench.ProfileEnv)
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	go func() {
		<-sig
		signal.Stop(sig)
		pprof.StopCPUProfile()
		f.Close()
		if h, err := os.Create(path + ".heap"); err == nil {
			pprof.Lookup("heap").WriteTo(h, 0)
			h.Close()
		}
		os.WriteFile(path+".done", nil, 0o600)
	}()
}
