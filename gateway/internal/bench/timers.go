package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
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
	Open    int // of which open, under the automations (default 200,000)
	Due     int // timers falling due in the same wall-clock minute (default 10,000)
	Mails   int // new-ticket mails per ingest run (default 2,000)
	Runs    int // alternating pairs on/off (default 5)
	Workers int // concurrent injectors (default 8)
	// Dir keeps (or reuses) the pre-filled store; default a temporary one.
	Dir      string
	Progress io.Writer
}

// timersAutomation: "bench nudge" matches the bench mail a day after it
// arrived (every new ticket arms a timer) and the due phase's tagged
// tickets at once; "bench ancient" arms a timer on every open ticket of
// the store (its instant is years away).
const timersAutomation = `
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
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "helpdesk-bench-timers-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	took, err := Prefill(dir, PrefillOptions{Tickets: o.Tickets, Open: o.Open, Progress: func(done int, el time.Duration) {
		if done%100_000 == 0 {
			logf("prefill: %d tickets (%s)", done, el.Round(time.Second))
		}
	}})
	if err != nil {
		return fmt.Errorf("prefilling: %w", err)
	}
	logf("prefill: %d tickets, %d open, in %s", o.Tickets, o.Open, took.Round(time.Second))
	base := DaemonConfig(dir, "127.0.0.1:9", "127.0.0.1:53", "")
	on, err := config.Parse(base + timersAutomation)
	if err != nil {
		return err
	}
	off, err := config.Parse(base)
	if err != nil {
		return err
	}
	// Off: no automations, no auto-close: the sources arm nothing.
	off.Tickets.AutoCloseAfter = 0
	db, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	quietLog := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.Progress != nil {
		quietLog = slog.New(slog.NewTextHandler(o.Progress, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	e, err := engine.New(on, db, engine.Options{Logger: quietLog})
	if err != nil {
		return err
	}
	// Arm the open tickets under the automations (a store upgraded to
	// the scheduler does this once).
	start := time.Now()
	if _, _, err := e.NextTimer(); err != nil {
		return err
	}
	logf("armed every ticket for the automations in %s", time.Since(start).Round(time.Second))
	var armed int
	db.View(func(tx store.Tx) error {
		due, _ := tx.DueTimers(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), 0)
		armed = len(due)
		return nil
	})

	// Ingest: on and off, alternating.
	seq := 0
	ingest := func(cfg *config.Config, n int) (rate float64, lat []time.Duration, err error) {
		e.SetConfig(cfg)
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
					raw := fmt.Sprintf("From: Bench Customer %d <c%d@timers.example>\r\nTo: %s\r\nSubject: bench request %d\r\nMessage-ID: <timers.%d@client.example>\r\n\r\nPlease help with request %d.\r\n",
						i, i, benchMailbox, i, i, i)
					s := time.Now()
					_, err := e.Inject(context.Background(), []byte(raw), false)
					d := time.Since(s)
					mu.Lock()
					lat = append(lat, d)
					if err != nil && firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}()
		}
		for i := 0; i < n; i++ {
			seq++
			jobs <- seq
		}
		close(jobs)
		wg.Wait()
		return float64(n) / time.Since(t0).Seconds(), lat, firstErr
	}
	var ratios []float64
	for r := 0; r < o.Runs; r++ {
		rOn, _, err := ingest(on, o.Mails)
		if err != nil {
			return err
		}
		rOff, _, err := ingest(off, o.Mails)
		if err != nil {
			return err
		}
		ratios = append(ratios, rOn/rOff)
		logf("ingest run %d: on %.0f msg/s, off %.0f msg/s, ratio %.3f", r+1, rOn, rOff, rOn/rOff)
	}
	slices.Sort(ratios)
	e.SetConfig(on)
	if _, _, err := e.NextTimer(); err != nil { // back to the on settings' index
		return err
	}

	// Due phase: o.Due open tickets get a timer in the same wall-clock
	// minute (tagged so the automation holds for them: each firing tags
	// and records an event), while mail keeps coming in.
	var ids []uint64
	db.View(func(tx store.Tx) error {
		ids = tx.TicketIDs(model.StatusOpen, o.Due)
		return nil
	})
	minute := time.Now().Add(15 * time.Second).Truncate(time.Second)
	dueArmed := len(ids)
	for len(ids) > 0 {
		chunk := ids[:min(1000, len(ids))]
		ids = ids[len(chunk):]
		if err := db.Update(func(tx store.Tx) error {
			for k, id := range chunk {
				tk, err := tx.Ticket(id)
				if err != nil {
					return err
				}
				tk.Tags = append(tk.Tags, "due-bench")
				if err := tx.PutTicket(tk); err != nil {
					return err
				}
				at := minute.Add(time.Duration((int(id)+k)%60_000) * time.Millisecond)
				if err := tx.SetTimer(model.Timer{Ticket: id, Kind: "automation", At: at}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	var lmu sync.Mutex
	var late []time.Duration
	e.ObserveTimers(func(kind string, d time.Duration) {
		lmu.Lock()
		late = append(late, d)
		lmu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.RunScheduler(ctx); close(done) }()
	// Mail keeps coming meanwhile at a steady 50 a second (4 senders,
	// one mail each 80 ms): its latency is what a customer would see.
	var during []time.Duration
	var dmu sync.Mutex
	var wg sync.WaitGroup
	var ingestErr error
	end := minute.Add(75 * time.Second)
	for k := 0; k < 4; k++ {
		wg.Add(1)
		go func(k int) {
			defer wg.Done()
			tick := time.NewTicker(80 * time.Millisecond)
			defer tick.Stop()
			for i := 0; time.Now().Before(end); i++ {
				<-tick.C
				n := 10_000_000 + k*1_000_000 + i
				raw := fmt.Sprintf("From: Due Customer %d <d%d@timers.example>\r\nTo: %s\r\nSubject: bench request %d\r\nMessage-ID: <due.%d@client.example>\r\n\r\nPlease help.\r\n",
					n, n, benchMailbox, n, n)
				s := time.Now()
				_, err := e.Inject(context.Background(), []byte(raw), false)
				d := time.Since(s)
				dmu.Lock()
				during = append(during, d)
				if err != nil && ingestErr == nil {
					ingestErr = err
				}
				dmu.Unlock()
			}
		}(k)
	}
	wg.Wait()
	if ingestErr != nil {
		cancel()
		<-done
		return ingestErr
	}
	cancel()
	<-done
	lmu.Lock()
	fired := len(late)
	lmu.Unlock()

	fmt.Fprintf(w, "helpdesk bench -mode timers (in process: engine + bbolt store, no SMTP)\n")
	fmt.Fprintf(w, "store: %d tickets, %d open; %d timers armed before the runs\n", o.Tickets, o.Open, armed)
	fmt.Fprintf(w, "ingest, automations + scheduler on / off (median of %d alternating pairs, %d mails each, %d injectors): %.3f (target >= 0.90) %v\n",
		o.Runs, o.Mails, o.Workers, ratios[len(ratios)/2], ratios)
	fmt.Fprintf(w, "%d timers due within one minute (%d armed): %d fired; lateness p50 %s p99 %s max %s (target p99 <= 5s)\n",
		o.Due, dueArmed, fired, pctl(late, 50), pctl(late, 99), pctl(late, 100))
	fmt.Fprintf(w, "ingest while they fell due (50 mails/s): %d mails, p50 %s p99 %s (target p99 <= 25ms)\n", len(during), pctl(during, 50), pctl(during, 99))
	return nil
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
