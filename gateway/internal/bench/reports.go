package bench

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"helpdesk/gateway/report"
	"helpdesk/store"
	"helpdesk/store/model"
)

// ModeReports is `helpdesk bench -mode reports` (issue 16): a store of
// -tickets tickets (default 1,000,000) spread over two years, with a
// customer's mail, an agent's reply and a resolution each, the report
// index written as the engine writes it; the daemon started on it; the
// wall time of a one-month and a one-year report by agent through
// `helpdesk report` (the daemon computes it), the daemon's memory growth
// while they run, and SMTP ingest of new tickets with and without
// reports running back to back, in alternating runs. The machine's steal
// time is printed beside the figures: absolute times move with it.
const ModeReports = "reports"

// Targets of issue 16.
const (
	reportMonthTarget = time.Second
	reportYearTarget  = 3 * time.Second
	reportMemTarget   = 50 << 20
	reportIngestRatio = 0.9
)

// ReportsResult is what -mode reports measured.
type ReportsResult struct {
	Tickets     int     `json:"tickets"`
	StoreBytes  int64   `json:"store_bytes"`
	PrefillSecs float64 `json:"prefill_seconds,omitempty"`
	StartSecs   float64 `json:"daemon_start_seconds"`
	// Month and Year are each run's wall time of `helpdesk report
	// --by agents` (last-month, last-year), seconds.
	Month []float64 `json:"month_seconds"`
	Year  []float64 `json:"year_seconds"`
	// MonthCPU and YearCPU are the daemon's CPU seconds (user+system)
	// for each of those reports: what they cost whatever else the
	// machine runs.
	MonthCPU []float64 `json:"month_daemon_cpu_seconds"`
	YearCPU  []float64 `json:"year_daemon_cpu_seconds"`
	// MonthEvents and YearEvents: rows in the report (sanity).
	Rows int `json:"rows"`
	// AnonBefore is the daemon's anonymous RSS before the reports,
	// AnonPeak the largest seen while they ran.
	AnonBefore int64 `json:"anon_before_bytes"`
	AnonPeak   int64 `json:"anon_peak_bytes"`
	// Ingest msg/s of each run alone and with reports running.
	IngestAlone   []float64 `json:"ingest_alone"`
	IngestReports []float64 `json:"ingest_with_reports"`
	ReportsDuring []int     `json:"reports_during_ingest"`
	// StealPct is the machine's steal time over the measurement, and
	// Load its load average at the end.
	StealPct float64 `json:"steal_percent"`
	Load     string  `json:"loadavg"`
	Cores    int     `json:"cores"`
}

// reportAgents, reportGroups and reportMailboxes are the pre-filled
// store's staff: 20 agents in 4 groups, 2 mailboxes.
func reportAgent(i int) string { return fmt.Sprintf("agent%02d@%s", i%20, agentDomain) }
func reportGroup(i int) string { return []string{"support", "billing", "sales", "tech"}[i%20/5] }
func reportMailbox(i int) string {
	if i%20 < 10 {
		return benchMailbox
	}
	return "billing@bench.example"
}

// prefillReports writes n tickets over the two years before end into dir,
// with their report index; it returns at once when dir holds them.
func prefillReports(dir string, n int, end time.Time, progress io.Writer) (time.Duration, error) {
	begin := end.Add(-2 * 365 * 24 * time.Hour)
	step := end.Sub(begin) / time.Duration(max(n, 1))
	text := lorem(7, 400)
	answer := lorem(8, 250)
	const batch = 4000
	return fillStore(dir, n, batch, func(tx store.Tx, i int) error {
		return prefillReportTicket(tx, i, n, begin.Add(time.Duration(i)*step), end, text, answer)
	}, report.MarkIndexed, func(done int, elapsed time.Duration) {
		if progress != nil && (done%100000 < batch || done == n) {
			fmt.Fprintf(progress, "bench: pre-filled %d of %d tickets in %s\n", done, n, elapsed.Round(time.Second))
		}
	})
}

func prefillReportTicket(tx store.Tx, i, n int, at, end time.Time, text, answer string) error {
	rng := rand.New(rand.NewPCG(uint64(i), 16))
	agent := reportAgent(i)
	requester := fmt.Sprintf("r%d@cust%d.example", i/4, i%300)
	tk := &model.Ticket{Subject: fmt.Sprintf("Request %d", i), Status: model.StatusOpen, Priority: "normal",
		Mailbox: reportMailbox(i), Group: reportGroup(i), Requester: requester, Assignee: agent,
		Threads: []model.Thread{{ID: 0, Kind: model.ThreadMain, Created: at}},
		CCs:     []string{}, Followers: []string{}, Tags: []string{}, Links: []model.Link{}, Created: at, Updated: at, AckSent: true}
	if err := tx.NewTicket(tk); err != nil {
		return err
	}
	if err := report.Record(tx, tk.ID, report.State{}, report.StateOf(tk), at, ""); err != nil {
		return err
	}
	if err := tx.AddComment(tk, &model.Comment{Kind: model.KindComment, Author: requester, Visibility: model.Public, Text: text, Created: at}); err != nil {
		return err
	}
	// A reply 5 minutes to 8 hours later, a resolution 1 to 72 hours
	// after arrival; the newest 1% still open or pending.
	reply := at.Add(time.Duration(5+rng.IntN(475)) * time.Minute)
	resolved := at.Add(time.Duration(60+rng.IntN(71*60)) * time.Minute)
	if reply.Before(end) {
		before := report.StateOf(tk)
		if err := tx.AddComment(tk, &model.Comment{Kind: model.KindComment, Author: agent, Visibility: model.Public, Text: answer, Created: reply}); err != nil {
			return err
		}
		tk.Updated = reply
		markResponse(tk, reply)
		if err := report.Record(tx, tk.ID, before, report.StateOf(tk), reply, agent); err != nil {
			return err
		}
		if report.StateOf(tk).FirstResponse.IsZero() {
			// Until the ticket records responses, the index gets the
			// entry the engine will write, so reports read as many.
			if err := tx.AddReportEvent(&model.ReportEvent{At: reply, Kind: model.EvFirstResponse, Ticket: tk.ID,
				Group: tk.Group, Mailbox: tk.Mailbox, Agent: agent, Since: at}); err != nil {
				return err
			}
		}
	}
	if i < n-n/100 && resolved.Before(end) {
		before := report.StateOf(tk)
		if resolved.Before(reply) {
			resolved = reply.Add(time.Minute)
		}
		tk.Status, tk.ResolvedAt, tk.Updated = model.StatusResolved, &resolved, resolved
		if err := tx.AddComment(tk, &model.Comment{Kind: model.KindEvent, Author: agent, Visibility: model.Private,
			Text: "status open → resolved (by " + agent + ")", Created: resolved}); err != nil {
			return err
		}
		if err := report.Record(tx, tk.ID, before, report.StateOf(tk), resolved, agent); err != nil {
			return err
		}
	} else if i%2 == 0 {
		before := report.StateOf(tk)
		tk.Status = model.StatusPending
		if err := report.Record(tx, tk.ID, before, report.StateOf(tk), tk.Updated, agent); err != nil {
			return err
		}
	}
	return tx.PutTicket(tk)
}

// markResponse records the agent's reply as the ticket's first response
// (issue 14's responses, as the engine's markResponse does).
func markResponse(tk *model.Ticket, at time.Time) {
	t := at
	if tk.FirstResponseAt == nil {
		tk.FirstResponseAt = &t
	}
	tk.LastResponseAt = &t
	tk.Responses++
}

func numCPU() int { return runtime.NumCPU() }

// ExecuteReports runs -mode reports.
func ExecuteReports(opt Options) (*ReportsResult, error) {
	if opt.Binary == "" || opt.Addr != "" {
		return nil, fmt.Errorf("bench -mode reports starts its own daemon: no -addr")
	}
	b, cleanup, err := newBench(opt)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	return b.runReports()
}

// stealTicks reads the machine's total and steal CPU ticks (/proc/stat).
func stealTicks() (total, steal uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, s := range f[1:] {
		v, _ := strconv.ParseUint(s, 10, 64)
		if i < 8 { // user nice system idle iowait irq softirq steal (guest is in user)
			total += v
		}
		if i == 7 {
			steal = v
		}
	}
	return total, steal
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// runReports is -mode reports.
func (b *bench) runReports() (*ReportsResult, error) {
	o := b.opt
	n := o.Tickets
	if n <= 0 {
		n = 1_000_000
	}
	runs := o.Runs
	if runs <= 0 {
		runs = 3
	}
	msgs := o.Messages
	if msgs <= 0 {
		msgs = 3000
	}
	sessions := o.Sessions
	if sessions <= 0 {
		sessions = 32
	}
	res := &ReportsResult{Tickets: n, Cores: numCPU()}
	root := o.PrefillDir
	if root == "" {
		var err error
		if root, err = b.newDir("reports"); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(root, "data")
	if err := os.MkdirAll(data, 0o750); err != nil {
		return nil, err
	}
	// The store ends at the start of this month, so last-month and
	// last-year are full periods of it.
	now := time.Now().UTC()
	end := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	took, err := prefillReports(data, n, end, o.Progress)
	if err != nil {
		return nil, fmt.Errorf("pre-filling: %w", err)
	}
	res.PrefillSecs = took.Seconds()
	res.StoreBytes = DirSize(data)

	sink, err := StartSink("127.0.0.1:0", AgentAddrs())
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	cfg := filepath.Join(root, "helpdesk.toml")
	if err := os.WriteFile(cfg, []byte(DaemonConfig(data, sink.Addr, b.dns.Addr(), "")), 0o600); err != nil {
		return nil, err
	}
	t0 := time.Now()
	proc, err := StartProc("helpdesk", o.Binary, []string{"serve", "-config", cfg}, root, nil, nil)
	if err != nil {
		return nil, err
	}
	defer proc.Kill()
	res.StartSecs = time.Since(t0).Seconds()
	tot0, steal0 := stealTicks()

	report := func(period string) (time.Duration, string, error) {
		cmd := exec.Command(o.Binary, "report", "--period", period, "--by", "agents", "-config", cfg)
		cmd.Dir = root
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		t := time.Now()
		err := cmd.Run()
		d := time.Since(t)
		if err != nil {
			return d, "", fmt.Errorf("helpdesk report --period %s: %v: %s", period, err, errb.String())
		}
		return d, out.String(), nil
	}
	// The first call warms nothing the daemon keeps: each report reads
	// the store afresh; the page cache is the machine's.
	st, _ := ProcStats(proc.Pid())
	res.AnonBefore = st.RSSAnon
	stop := make(chan struct{})
	peak := sampleAnon(proc.Pid(), stop)
	cpu := func() float64 { c, _ := procCPU(proc.Pid()); return c }
	for r := 0; r < runs; r++ {
		c0 := cpu()
		d, out, err := report("last-month")
		if err != nil {
			close(stop)
			return nil, err
		}
		c1 := cpu()
		res.Month, res.MonthCPU = append(res.Month, d.Seconds()), append(res.MonthCPU, c1-c0)
		res.Rows = strings.Count(out, "\r\n") - 1
		if d, _, err = report("last-year"); err != nil {
			close(stop)
			return nil, err
		}
		res.Year, res.YearCPU = append(res.Year, d.Seconds()), append(res.YearCPU, cpu()-c1)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "bench: report run %d: month %.2fs (daemon CPU %.2fs), year %.2fs (daemon CPU %.2fs)\n", r+1, res.Month[r], res.MonthCPU[r], res.Year[r], res.YearCPU[r])
		}
	}
	close(stop)
	res.AnonPeak = <-peak

	// Ingest alone and with reports back to back, alternating.
	gen := NewGen(runID(0), sink)
	seq := 0
	ingest := func(withReports bool) (float64, int, error) {
		if _, err := drainQueue(proc.HTTPAddr, 5*time.Minute); err != nil {
			return 0, 0, err
		}
		var stopR atomic.Bool
		var wg sync.WaitGroup
		count := 0
		var rerr error
		if withReports {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stopR.Load() {
					if _, _, err := report("last-year"); err != nil {
						rerr = err
						return
					}
					count++
				}
			}()
		}
		base := seq
		seq += msgs
		l := Load{Addr: proc.SMTPAddr, Sessions: sessions, Messages: msgs, Duration: 5 * time.Minute, NewConn: true,
			Next: func(i int, _ *rand.Rand) Job { return gen.NewTicket(base+i, KindNew4K) }}
		lr := l.Run()
		stopR.Store(true)
		wg.Wait()
		if rerr != nil {
			return 0, 0, rerr
		}
		if lr.Failed > 0 {
			return 0, 0, fmt.Errorf("ingest: %d mails failed: %v", lr.Failed, lr.Errors)
		}
		return float64(lr.OK) / lr.Elapsed.Seconds(), count, nil
	}
	for r := 0; r < runs; r++ {
		alone, _, err := ingest(false)
		if err != nil {
			return nil, err
		}
		with, k, err := ingest(true)
		if err != nil {
			return nil, err
		}
		res.IngestAlone = append(res.IngestAlone, alone)
		res.IngestReports = append(res.IngestReports, with)
		res.ReportsDuring = append(res.ReportsDuring, k)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "bench: ingest run %d: %.0f msg/s alone, %.0f msg/s with %d one-year reports running\n", r+1, alone, with, k)
		}
	}
	tot1, steal1 := stealTicks()
	if tot1 > tot0 {
		res.StealPct = 100 * float64(steal1-steal0) / float64(tot1-tot0)
	}
	res.Load = loadavg()
	return res, proc.Stop(30 * time.Second)
}

// medianOf is the lower median of v.
func medianOf(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// PrintReports prints -mode reports' figures and targets.
func PrintReports(w io.Writer, r *ReportsResult) {
	met := func(ok bool) string {
		if ok {
			return "MET"
		}
		return "MISSED"
	}
	m, y := medianOf(r.Month), medianOf(r.Year)
	ratio := 0.0
	if a := medianOf(r.IngestAlone); a > 0 {
		ratio = medianOf(r.IngestReports) / a
	}
	grow := r.AnonPeak - r.AnonBefore
	fmt.Fprintf(w, "reports bench: %d tickets over two years, store %s (pre-fill %.0fs), daemon start %.1fs, %d cores, steal %.1f%%, load %s\n",
		r.Tickets, mib(r.StoreBytes), r.PrefillSecs, r.StartSecs, r.Cores, r.StealPct, r.Load)
	fmt.Fprintf(w, "  one-month report by agents (%d rows): median %.2fs (runs %v; daemon CPU %v)   target <= %s: %s\n", r.Rows, m, secs(r.Month), secs(r.MonthCPU), reportMonthTarget, met(m <= reportMonthTarget.Seconds()))
	fmt.Fprintf(w, "  one-year report by agents:  median %.2fs (runs %v; daemon CPU %v)   target <= %s: %s\n", y, secs(r.Year), secs(r.YearCPU), reportYearTarget, met(y <= reportYearTarget.Seconds()))
	fmt.Fprintf(w, "  daemon anon RSS: %s before, %s peak during the reports: growth %s   target < 50 MiB: %s\n", mib(r.AnonBefore), mib(r.AnonPeak), mib(grow), met(grow < reportMemTarget))
	fmt.Fprintf(w, "  ingest msg/s alone %v, with one-year reports running %v (%v reports): ratio of medians %.2f   target >= %.1f: %s\n",
		secs(r.IngestAlone), secs(r.IngestReports), r.ReportsDuring, ratio, reportIngestRatio, met(ratio >= reportIngestRatio))
}

func secs(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, strconv.FormatFloat(x, 'f', 2, 64))
	}
	return "[" + strings.Join(s, " ") + "]"
}
