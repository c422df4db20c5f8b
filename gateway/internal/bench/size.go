package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"helpdesk/store"
)

// ModeSize is `helpdesk bench -mode size` (issue 17 item 4): what a
// ticket costs on disk over its life, and what `helpdesk compact` makes
// ingest wait. One daemon on a manual ticket clock with [retention]
// sent_outbound = "30d", quarantine = "30d", raw_after_closed = "60d"
// takes the mix (-n mails, default 3000); every ticket is then resolved
// by its agent (a reply with #status resolved), the clock advanced 40
// days (auto-close after 5, sent mail pruned) and 30 more (the closed
// tickets' raw mail dropped). At each stage the store is compacted and
// measured before and after (bbolt: the data directory's files;
// postgres: pg_database_size, less the empty store's). Once, after the
// last stage, the compaction runs while 4 sessions keep sending new
// tickets: how long it took (writes wait for it) and the longest
// DATA-end -> 250 wait of those mails.
const ModeSize = "size"

// SizeStage is the store at one point of the tickets' life.
type SizeStage struct {
	Name    string `json:"name"`
	Tickets int    `json:"tickets"`
	// Before and After are the store's bytes above the empty store's,
	// before and after `helpdesk compact`.
	Before int64 `json:"bytes_before_compact"`
	After  int64 `json:"bytes_after_compact"`
}

// PerTicket is After divided by the tickets.
func (s SizeStage) PerTicket() float64 {
	if s.Tickets == 0 {
		return 0
	}
	return float64(s.After) / float64(s.Tickets)
}

// SizeResult is what -mode size measured.
type SizeResult struct {
	Store string `json:"store"`
	Mails int    `json:"mails"` // mix mails that got 250
	Mix   string `json:"mix"`
	// Empty is the size of the store before any mail (subtracted).
	Empty    int64       `json:"empty_store_bytes"`
	Resolved int         `json:"tickets_resolved"`
	Stages   []SizeStage `json:"stages"`
	// The compaction under ingest: the store's size (whole, before),
	// how long the compaction took (its writes' wait), the mails
	// answered while it ran and the longest DATA-end -> 250 of the
	// trickle's mails.
	PauseStoreBytes int64   `json:"pause_store_bytes"`
	PauseSeconds    float64 `json:"pause_compact_seconds"`
	PauseMaxWaitMs  float64 `json:"pause_max_wait_ms"`
	PauseP50Ms      float64 `json:"pause_p50_ms"`
	PauseMails      int     `json:"pause_mails"`
	Load            string  `json:"loadavg"`
}

// ExecuteSize runs -mode size.
func ExecuteSize(opt Options) (*SizeResult, error) {
	if opt.Binary == "" || opt.Addr != "" {
		return nil, fmt.Errorf("bench -mode size starts its own daemon: no -addr")
	}
	b, cleanup, err := newBench(opt)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	if err := b.startStore(); err != nil {
		return nil, err
	}
	return b.size()
}

// sizeConfig is added to the bench daemon's configuration.
const sizeConfig = `
[testing]
clock = "manual"

[retention]
sent_outbound = "30d"
quarantine = "30d"
raw_after_closed = "60d"
`

func (b *bench) size() (*SizeResult, error) {
	o := b.opt
	n := o.Messages
	if n <= 0 {
		n = 3000
	}
	res := &SizeResult{Store: "bbolt", Mix: MixString()}
	if b.pg != nil {
		res.Store = "postgres"
	}
	dir, err := b.newDir("size")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	sink, err := StartSink("127.0.0.1:0", AgentAddrs())
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	text := DaemonConfig(data, sink.Addr, b.dns.Addr(), "") + sizeConfig
	dsn, err := b.newDSN("size")
	if err != nil {
		return nil, err
	}
	if dsn != "" {
		text += fmt.Sprintf("\n[store]\nengine = \"postgres\"\ndsn = %q\n", dsn)
	}
	cfg := filepath.Join(dir, "helpdesk.toml")
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return nil, err
	}
	proc, err := StartProc("helpdesk", o.Binary, []string{"serve", "-config", cfg}, dir, nil, nil)
	if err != nil {
		return nil, err
	}
	defer proc.Kill()

	cli := func(args ...string) ([]byte, error) {
		cmd := exec.Command(o.Binary, append(args, "-config", cfg)...)
		cmd.Dir = dir
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("helpdesk %s: %v: %s", strings.Join(args, " "), err, errb.String())
		}
		return out.Bytes(), nil
	}
	// compact compacts the store and returns its size before and after
	// (bbolt: every file of the data directory, blobs included).
	compact := func() (before, after int64, took time.Duration, err error) {
		if b.pg == nil {
			before = DirSize(data)
		}
		out, err := cli("compact", "--json")
		if err != nil {
			return 0, 0, 0, err
		}
		var c store.CompactResult
		if err := json.Unmarshal(out, &c); err != nil {
			return 0, 0, 0, fmt.Errorf("helpdesk compact --json: %w: %s", err, out)
		}
		if b.pg == nil {
			return before, DirSize(data), c.Took, nil
		}
		return c.Before, c.After, c.Took, nil
	}
	tickets := func() int { return int(scrape(proc.HTTPAddr)["helpdesk_tickets"]) }
	settle := func() error {
		_, err := drainQueue(proc.HTTPAddr, 10*time.Minute)
		return err
	}
	stage := func(name string) error {
		if err := settle(); err != nil {
			return err
		}
		before, after, _, err := compact()
		if err != nil {
			return err
		}
		s := SizeStage{Name: name, Tickets: tickets(), Before: before - res.Empty, After: after - res.Empty}
		res.Stages = append(res.Stages, s)
		b.logf("   %-52s %6d tickets  %8s -> %8s compacted  %6.1f KiB/ticket", name, s.Tickets, mib(s.Before), mib(s.After), s.PerTicket()/1024)
		return nil
	}

	b.logf("== size: %d mails of the mix on %s, retention on a manual clock", n, res.Store)
	if _, res.Empty, _, err = compact(); err != nil {
		return nil, err
	}
	gen := NewGen(runID(0), sink)
	warm := Load{Addr: proc.SMTPAddr, Sessions: 8, Messages: min(300, max(n/10, 20)), Duration: 5 * time.Minute, NewConn: true,
		Next: func(i int, _ *rand.Rand) Job { return gen.NewTicket(-1-i, KindNew4K) }}
	wr := warm.Run()
	waitTokens(sink, wr.OK, 30*time.Second)
	mix := Load{Addr: proc.SMTPAddr, Sessions: 8, Messages: n, Duration: 30 * time.Minute, NewConn: true, Next: gen.MixJob}
	mr := mix.Run()
	res.Mails = wr.OK + mr.OK
	if mr.Failed > 0 {
		b.logf("   %d mails of the mix failed: %v", mr.Failed, mr.Errors)
	}
	if err := stage("after the mix"); err != nil {
		return nil, err
	}

	// Every ticket resolved by its agent.
	if err := settle(); err != nil {
		return nil, err
	}
	toks := sink.TicketAgentTokens()
	ids := slices.Sorted(func(yield func(uint64) bool) {
		for id := range toks {
			if !yield(id) {
				return
			}
		}
	})
	rl := Load{Addr: proc.SMTPAddr, Sessions: 8, Messages: len(ids), Duration: 30 * time.Minute, NewConn: true,
		Next: func(i int, _ *rand.Rand) Job { return gen.Resolve(i, toks[ids[i]]) }}
	rr := rl.Run()
	res.Resolved = rr.OK
	if err := stage(fmt.Sprintf("%d resolved by their agent", rr.OK)); err != nil {
		return nil, err
	}
	if _, err := cli("clock", "advance", "40d"); err != nil {
		return nil, err
	}
	if err := stage("+40 days: closed, sent mail pruned (30d)"); err != nil {
		return nil, err
	}
	if _, err := cli("clock", "advance", "30d"); err != nil {
		return nil, err
	}
	if err := stage("+70 days: raw mail of closed tickets dropped (60d)"); err != nil {
		return nil, err
	}
	// The compaction while mail keeps coming: 4 sessions of new
	// tickets from a second before it until a second after it returned.
	// Last, so that these tickets count in no stage.
	res.PauseStoreBytes = res.Stages[len(res.Stages)-1].After + res.Empty
	stop := make(chan struct{})
	done := make(chan *LoadResult)
	seq := 1 << 30
	go func() {
		l := Load{Addr: proc.SMTPAddr, Sessions: 4, Messages: 1 << 30, Duration: 30 * time.Minute, NewConn: true, Stop: stop,
			Next: func(i int, _ *rand.Rand) Job { return gen.NewTicket(seq+i, KindNew4K) }}
		done <- l.Run()
	}()
	time.Sleep(time.Second)
	_, _, took, err := compact()
	time.Sleep(time.Second)
	close(stop)
	tr := <-done
	if err != nil {
		return nil, err
	}
	res.PauseSeconds = took.Seconds()
	res.PauseMails = tr.OK
	res.PauseP50Ms = ms(tr.Percentile(50))
	if k := len(tr.Latencies); k > 0 {
		res.PauseMaxWaitMs = ms(tr.Latencies[k-1])
	}
	b.logf("   compaction of %s under ingest: %.2fs; %d mails meanwhile, longest wait %.0f ms (p50 %.1f ms)",
		mib(res.PauseStoreBytes), res.PauseSeconds, res.PauseMails, res.PauseMaxWaitMs, res.PauseP50Ms)

	res.Load = loadavg()
	return res, nil
}

// Resolve is an agent's last answer on a ticket, through the token of
// its notification: a short text and #status resolved.
func (g *Gen) Resolve(i int, t Token) Job {
	var b bytes.Buffer
	id := g.msgID(1<<29 + i)
	header(&b, "Agent <"+t.Rcpt+">", t.Addr, "Re: "+t.Subject, id,
		"In-Reply-To: <"+t.MsgID+">", "References: <"+t.MsgID+">",
		"Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit")
	b.WriteString("\r\n#status resolved\r\nHello,\r\n\r\nthe print server runs again; we close this request. Write back if the\r\nqueue stops again.\r\n\r\nBench Support\r\n")
	return Job{Kind: KindAgentReply, From: t.Rcpt, Rcpt: t.Addr, MsgID: id, Raw: b.Bytes()}
}

// PrintSize prints -mode size with the projection for a million tickets
// a year.
func PrintSize(w io.Writer, r *SizeResult) {
	fmt.Fprintf(w, "size bench (%s): %d mails of the mix (%s), empty store %s subtracted; load %s\n", r.Store, r.Mails, r.Mix, mib(r.Empty), r.Load)
	fmt.Fprintf(w, "  %-52s %8s %14s %14s %12s\n", "stage", "tickets", "before compact", "after compact", "per ticket")
	for _, s := range r.Stages {
		fmt.Fprintf(w, "  %-52s %8d %14s %14s %9.1f KiB\n", s.Name, s.Tickets, mib(s.Before), mib(s.After), s.PerTicket()/1024)
	}
	fmt.Fprintf(w, "  helpdesk compact under ingest (4 sessions of new tickets): store %s, compaction %.2fs (writes wait for it); %d mails answered meanwhile, longest DATA-end -> 250 %.0f ms (p50 %.1f ms)\n",
		mib(r.PauseStoreBytes), r.PauseSeconds, r.PauseMails, r.PauseMaxWaitMs, r.PauseP50Ms)
	if len(r.Stages) < 4 {
		return
	}
	// A year of 1M tickets, each as the stages measured it: without
	// retention every ticket keeps what it had once resolved; with
	// sent_outbound only the last 30 days keep their sent mail; with
	// raw_after_closed = N only the tickets closed in the last N days
	// keep their raw mail.
	const year = 1_000_000
	gb := func(perTicket float64, share float64) float64 { return perTicket * year * share / 1e9 }
	full, pruned, bare := r.Stages[1].PerTicket(), r.Stages[2].PerTicket(), r.Stages[3].PerTicket()
	fmt.Fprintf(w, "  projection, 1M tickets a year (per ticket as measured, compacted):\n")
	fmt.Fprintf(w, "    no retention:                         %6.1f GB a year\n", gb(full, 1))
	fmt.Fprintf(w, "    sent_outbound 30d (the default):      %6.1f GB a year + %.1f GB of the last 30 days' sent mail\n", gb(pruned, 1), gb(full-pruned, 30.0/365))
	for _, days := range []int{365, 90} {
		fmt.Fprintf(w, "    and raw_after_closed %3dd:            %6.1f GB a year + %.1f GB of the last %d days' raw mail\n", days, gb(bare, 1), gb(pruned-bare, float64(days)/365), days)
	}
}
