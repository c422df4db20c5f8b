package bench

import (
	"fmt"
	"slices"
)

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
	// InstrPerMsg is the instructions the daemon executed during the
	// burst per accepted mail, counted by callgrind (CallgrindEnv; 0:
	// not counted). The same on a loaded machine as on a quiet one.
	InstrPerMsg float64 `json:"instructions_per_msg,omitempty"`
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
	// A database server's engine (postgres) over the burst, per accepted
	// mail: the statements the daemon sent and the round trips it waited
	// for, all connections and the writer's transactions alone, and the
	// writer's round trips per commit. Unlike msg/s they do not change
	// with the machine's load.
	QueriesPerMsg          float64 `json:"queries_per_msg,omitempty"`
	RoundTripsPerMsg       float64 `json:"round_trips_per_msg,omitempty"`
	WriterQueriesPerMsg    float64 `json:"writer_queries_per_msg,omitempty"`
	WriterRoundTripsPerMsg float64 `json:"writer_round_trips_per_msg,omitempty"`
	WriterRoundTripsCommit float64 `json:"writer_round_trips_per_commit,omitempty"`
	// DBCPUMs is the CPU milliseconds per accepted mail of the database
	// server the bench started (-store postgres: the postmaster and its
	// processes) over the burst.
	DBCPUMs float64 `json:"db_cpu_ms_per_msg,omitempty"`
	// The database's rows written (inserted, updated, deleted) and the
	// cluster's WAL bytes per accepted mail, from the burst's start to
	// the end of the run (the outbound mail it queued delivered, the
	// daemons stopped); RowsPerMsg by table: inserted, updated, of them
	// HOT, deleted.
	RowWritesPerMsg float64               `json:"row_writes_per_msg,omitempty"`
	RowsPerMsg      map[string][4]float64 `json:"rows_per_msg,omitempty"`
	WALBytesPerMsg  float64               `json:"wal_bytes_per_msg,omitempty"`
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
	Store       string    `json:"store,omitempty"`
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
	r.summarize(num, den)
	r.judge()
}

// summarize computes the median of each target's runs and the ratio
// num/den over paired runs.
func (r *Report) summarize(num, den string) {
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
}

func (r *Report) summary(target string) *Summary {
	for i := range r.Summaries {
		if r.Summaries[i].Target == target {
			return &r.Summaries[i]
		}
	}
	return nil
}

// describe is the report's description of a mode run with p.
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
	case ModeRules:
		what = "new-ticket mail, 4 KiB text body, a distinct sender per mail"
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
