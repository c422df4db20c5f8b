package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"helpdesk/gateway/internal/dnstest"
	"math/rand/v2"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
)

// The reference stores every mail it answers 250 for, and the load driver
// counts what it sent.
func TestReferenceStoresEveryMail(t *testing.T) {
	ref, err := StartReference(t.TempDir(), "", "127.0.0.1:0", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	gen := NewGen("t1", nil)
	for _, newConn := range []bool{false, true} {
		before := ref.Count()
		res := Load{Addr: ref.Addr, Sessions: 8, Messages: 150, Duration: 30 * time.Second, NewConn: newConn,
			Next: func(i int, _ *rand.Rand) Job { return gen.NewTicket(i, KindNew4K) }}.Run()
		if res.OK != 150 || res.Failed != 0 {
			t.Fatalf("newConn=%v: ok %d failed %d: %v", newConn, res.OK, res.Failed, res.Errors)
		}
		if got := ref.Count() - before; got != 150 {
			t.Fatalf("newConn=%v: reference stored %d mails, want 150", newConn, got)
		}
		if len(res.Latencies) != 150 || res.Percentile(50) > res.Percentile(99) || res.Percentile(99) > res.Latencies[149] || res.Percentile(50) <= 0 {
			t.Fatalf("latencies: n=%d p50 %v p99 %v max %v", len(res.Latencies), res.Percentile(50), res.Percentile(99), res.Latencies[len(res.Latencies)-1])
		}
		if res.Kinds[KindNew4K] != 150 {
			t.Fatalf("kinds = %v", res.Kinds)
		}
	}
}

// The load stops at its time limit even when more messages are asked for.
func TestLoadIsBoundedInTime(t *testing.T) {
	ref, err := StartReference(t.TempDir(), "", "127.0.0.1:0", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	gen := NewGen("t2", nil)
	start := time.Now()
	res := Load{Addr: ref.Addr, Sessions: 2, Messages: 1 << 30, Duration: 300 * time.Millisecond,
		Next: func(i int, _ *rand.Rand) Job { return gen.NewTicket(i, KindNew4K) }}.Run()
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("load ran %s past a 300ms limit", el)
	}
	if res.OK == 0 || res.OK >= 1<<30 {
		t.Fatalf("ok = %d", res.OK)
	}
}

// The bench's DNS server answers NXDOMAIN, which a Go resolver reports as
// "not found" (DMARC then says none) without leaving the machine.
func TestDNSStubAnswersNXDomain(t *testing.T) {
	d, err := dnstest.New()
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, "udp", d.Addr())
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = r.LookupTXT(ctx, "_dmarc.agents.example")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("lookup error = %v, want not found", err)
	}
	if d.TotalQueries() == 0 {
		t.Fatal("no query reached the server")
	}
}

// The sink harvests reply addresses per recipient kind.
func TestSinkHarvestsTokens(t *testing.T) {
	s, err := StartSink("127.0.0.1:0", AgentAddrs())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok := "support+abcdefghijklmnopqrstuvwxyz@bench.example"
	send := func(rcpt, subject string) {
		raw := fmt.Sprintf("From: Bench Support <support@bench.example>\r\nTo: %s\r\nReply-To: %s\r\nSubject: %s\r\nMessage-Id: <hd.1.abc@helpdesk.bench>\r\n\r\nhello\r\n", rcpt, tok, subject)
		res := Load{Addr: s.Addr, Sessions: 1, Messages: 1, Duration: 10 * time.Second,
			Next: func(int, *rand.Rand) Job {
				return Job{From: "support+x@bench.example", Rcpt: rcpt, Raw: []byte(raw)}
			}}.Run()
		if res.OK != 1 {
			t.Fatalf("sink refused: %v", res.Errors)
		}
	}
	send("ken@cust.example", "[#1] Printer")
	send(benchAgents[0].Email, "[#1] Printer (agent)")
	c, a := s.Tokens()
	if c != 1 || a != 1 || s.Delivered.Load() != 2 {
		t.Fatalf("tokens customer %d agent %d delivered %d", c, a, s.Delivered.Load())
	}
	rng := rand.New(rand.NewPCG(1, 1))
	ct, _ := s.CustomerToken(rng)
	at, _ := s.AgentToken(rng)
	if ct.Rcpt != "ken@cust.example" || ct.Addr != tok || ct.Subject != "[#1] Printer" || ct.MsgID != "hd.1.abc@helpdesk.bench" {
		t.Fatalf("customer token = %+v", ct)
	}
	if at.Rcpt != benchAgents[0].Email {
		t.Fatalf("agent token = %+v", at)
	}
}

type fixedTokens struct{}

func (fixedTokens) CustomerToken(rng *rand.Rand) (Token, bool) {
	return Token{Rcpt: "ken@cust.example", Addr: madeUpToken(rng), Subject: "[#7] x", MsgID: "a@b"}, true
}
func (fixedTokens) AgentToken(rng *rand.Rand) (Token, bool) {
	return Token{Rcpt: benchAgents[1].Email, Addr: madeUpToken(rng), Subject: "[#7] x", MsgID: "a@b"}, true
}

// The mix follows its shares, and every mail is a well-formed message of
// the intended size with a unique Message-ID.
func TestMixShapes(t *testing.T) {
	g := NewGen("t3", fixedTokens{})
	g.LargeBytes = 1 << 20
	rng := rand.New(rand.NewPCG(4, 4))
	kinds := map[string]int{}
	ids := map[string]bool{}
	const n = 4000
	for i := 0; i < n; i++ {
		j := g.MixJob(i, rng)
		kinds[j.Kind]++
		if ids[j.MsgID] {
			t.Fatalf("duplicate Message-ID %s", j.MsgID)
		}
		ids[j.MsgID] = true
		m, err := mail.ReadMessage(bytes.NewReader(j.Raw))
		if err != nil {
			t.Fatalf("%s: %v", j.Kind, err)
		}
		if got := strings.Trim(m.Header.Get("Message-Id"), "<>"); got != j.MsgID {
			t.Fatalf("%s: Message-ID header %q, job %q", j.Kind, got, j.MsgID)
		}
		switch j.Kind {
		case KindNew4K:
			if len(j.Raw) < 4<<10 || len(j.Raw) > 6<<10 {
				t.Fatalf("4k mail is %d bytes", len(j.Raw))
			}
		case KindNew50K:
			if len(j.Raw) < 50<<10 || len(j.Raw) > 52<<10 {
				t.Fatalf("50k mail is %d bytes", len(j.Raw))
			}
		case KindAttachment:
			if !strings.Contains(string(j.Raw), "Content-Disposition: attachment") || len(j.Raw) < attachmentBytes*4/3 {
				t.Fatalf("attachment mail is %d bytes", len(j.Raw))
			}
		case KindAgentReply:
			if !strings.HasPrefix(m.Header.Get("From"), "Bob Agent <"+benchAgents[1].Email) || !strings.Contains(string(j.Raw), "\r\n#status ") {
				t.Fatalf("agent reply: From %q", m.Header.Get("From"))
			}
		case KindCustReply:
			if j.From != "ken@cust.example" || !strings.HasPrefix(j.Rcpt, "support+") {
				t.Fatalf("customer reply envelope %s -> %s", j.From, j.Rcpt)
			}
		}
	}
	for _, m := range Mix {
		got := float64(kinds[m.Kind]) * 100 / n
		if got < float64(m.Percent)-3 || got > float64(m.Percent)+3 {
			t.Errorf("%s: %.1f%% of the mix, want %d%%", m.Kind, got, m.Percent)
		}
	}
	if l := g.Large(1); len(l.Raw) > g.LargeBytes || len(l.Raw) < g.LargeBytes-100 {
		t.Errorf("large mail is %d bytes, want about %d", len(l.Raw), g.LargeBytes)
	}
	// The charset flood: FloodBytes of 8-bit text that is not UTF-8,
	// declared us-ascii and iso-2022-jp in turn.
	for i, cs := range []string{"us-ascii", "iso-2022-jp"} {
		f := g.CharsetFlood(i)
		if len(f.Raw) != FloodBytes || !bytes.Contains(f.Raw, []byte("charset="+cs+"\r\n")) || utf8.Valid(f.Raw) {
			t.Errorf("flood mail %d: %d bytes (want %d), charset %s declared: %v, valid UTF-8: %v", i, len(f.Raw), FloodBytes, cs,
				bytes.Contains(f.Raw, []byte("charset="+cs)), utf8.Valid(f.Raw))
		}
	}
}

// Prefill leaves what a mail-opened ticket leaves: indexes, dedupe keys,
// sent outbound items, and nothing queued.
func TestPrefill(t *testing.T) {
	dir := t.TempDir()
	calls := 0
	if _, err := Prefill(dir, PrefillOptions{Tickets: 1200, Batch: 500, Progress: func(int, time.Duration) { calls++ }}); err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Errorf("progress called %d times for 3 batches", calls)
	}
	// A second call with the same count adds nothing.
	if _, err := Prefill(dir, PrefillOptions{Tickets: 1200}); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(dir, bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx store.Tx) error {
		if n := tx.TicketCount(); n != 1200 {
			t.Errorf("%d tickets", n)
		}
		if n := tx.MessageCount(); n != 1200 {
			t.Errorf("%d messages", n)
		}
		if n := tx.QueueDepth(); n != 0 {
			t.Errorf("%d outbound items queued", n)
		}
		tk, err := tx.Ticket(600)
		if err != nil {
			return err
		}
		cs, err := tx.Comments(tk.ID)
		if err != nil {
			return err
		}
		if len(cs) != 2 || cs[0].MessageID == "" || tk.LastSeq != 2 {
			t.Errorf("ticket 600: %d comments, last seq %d", len(cs), tk.LastSeq)
		}
		m, err := tx.Message(cs[0].Message)
		if err != nil {
			return err
		}
		if dup, _ := tx.Duplicate(m.MessageID, m.BodyHash); dup == nil || dup.Ticket != tk.ID {
			t.Errorf("dedupe index does not find message %d", m.ID)
		}
		if ref, ok := tx.LookupMessageID(m.MessageID); !ok || ref.Ticket != tk.ID {
			t.Errorf("Message-ID index: %+v %v", ref, ok)
		}
		if got := tx.TicketsOfRequester(tk.Requester); len(got) != 3 {
			t.Errorf("requester %s has %d tickets, want 3", tk.Requester, len(got))
		}
		if got := len(tx.TicketIDs(model.StatusClosed, 0)); got != 1200-12 {
			t.Errorf("%d closed tickets, want all but the newest 12", got)
		}
		for _, id := range tx.TicketIDs(model.StatusResolved, 0) {
			if tk, _ := tx.Ticket(id); tk.ResolvedAt == nil {
				t.Errorf("resolved ticket %d has no resolved_at", id)
			}
		}
		if got := len(tx.TicketIDs(model.StatusOpen, 0)); got != 3 {
			t.Errorf("%d open tickets, want 3", got)
		}
		if _, err := tx.User(benchAgents[0].Email); err != nil {
			t.Errorf("agent user: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCheckLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:25": true, "127.5.6.7:2525": true, "[::1]:25": true, "localhost:25": true,
		"10.0.0.1:25": false, "192.168.1.1:25": false, "example.com:25": false} {
		if err := checkLoopback(addr); (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// End to end: the real binary as daemon and reference, the mix with
// harvested reply tokens, figures from /proc, and a store in which the
// agents' replies ran their commands (token authentication worked).
func TestBenchEndToEnd(t *testing.T) {
	bin := buildHelpdesk(t)
	work := t.TempDir()
	var progress bytes.Buffer
	reports, err := Execute(Options{Mode: ModeMix, Binary: bin, Messages: 120, Runs: 1, Sessions: 4,
		Duration: time.Minute, WorkDir: work, Keep: true, Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if len(reports) != 1 {
		t.Fatalf("%d reports", len(reports))
	}
	r := reports[0]
	if len(r.Runs) != 2 || r.Runs[0].Target != "helpdesk" || r.Runs[1].Target != "reference" {
		t.Fatalf("runs = %+v", r.Runs)
	}
	for _, run := range r.Runs {
		if run.OK != 120 || run.Failed != 0 || run.PeakRSS <= 0 || run.PeakAnon <= 0 || run.PeakAnon > run.PeakRSS || run.StoreBytes <= 0 || run.Written <= 0 || run.MsgPerSec <= 0 {
			t.Errorf("%s: %+v", run.Target, run)
		}
	}
	for _, run := range r.Runs {
		if run.ServerCPUMs <= 0 || run.ClientCPUMs <= 0 {
			t.Errorf("%s: no CPU accounting: server %.3f client %.3f ms/mail", run.Target, run.ServerCPUMs, run.ClientCPUMs)
		}
	}
	// 4 sessions is not the mix's default: the targets are not judged.
	if r.Nonstandard != "-sessions" {
		t.Errorf("nonstandard = %q", r.Nonstandard)
	}
	for _, c := range r.Checks {
		if c.Name != "mails refused or failed" {
			t.Errorf("target checked on nonstandard parameters: %+v", c)
		}
	}
	hd := r.Runs[0]
	if hd.WriterBusy <= 0 || hd.WriterBusy > 1.05 || hd.WriterApplyMs <= 0 || hd.WriterCommitMs <= 0 || hd.PagesPerCommit < 1 || hd.MailsPerCommit < 1 {
		t.Errorf("store writer figures: busy %.2f apply %.3f commit %.3f ms, %.1f pages and %.1f writes per commit",
			hd.WriterBusy, hd.WriterApplyMs, hd.WriterCommitMs, hd.PagesPerCommit, hd.MailsPerCommit)
	}
	if hd.Kinds[KindCustReply] == 0 || hd.Kinds[KindAgentReply] == 0 {
		t.Errorf("no replies in the mix (tokens not harvested): %v", hd.Kinds)
	}
	// (Outbound delivery is proven by the replies above: their tokens
	// came through the sink. OutboundDelivered counts only what arrived
	// during the burst, which the worker may leave for after it.)
	if hd.Commits == 0 {
		t.Errorf("commits %d", hd.Commits)
	}
	if r.Ratio <= 0 || r.RatioOf != "helpdesk/reference" {
		t.Errorf("ratio %v of %q", r.Ratio, r.RatioOf)
	}
	var out bytes.Buffer
	Print(&out, reports)
	for _, want := range []string{"mode mix", "median helpdesk", "ratio helpdesk/reference", "mix: 45% new-ticket-4k"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(work, "helpdesk-bench-*", "helpdesk-*", "data"))
	if len(dirs) != 1 {
		t.Fatalf("data dirs %v", dirs)
	}
	db, err := bolt.Open(dirs[0], bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx store.Tx) error {
		qs, _ := tx.Quarantined(0)
		if len(qs) != 0 {
			t.Errorf("%d mails quarantined, e.g. %+v", len(qs), qs[0])
		}
		tagged := 0
		for _, id := range tx.TicketIDs("", 0) {
			tk, _ := tx.Ticket(id)
			for _, tag := range tk.Tags {
				if tag == "bench" {
					tagged++
				}
			}
		}
		if tagged == 0 {
			t.Error("no ticket carries the agents' #tag +bench")
		}
		if n := tx.MessageCount(); n != 120+hd.Warmup {
			t.Errorf("%d messages stored, want %d", n, 120+hd.Warmup)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(dirs[0], "helpdesk.db")); err != nil {
		t.Error(err)
	}
}

func TestNonstandardParams(t *testing.T) {
	b := &bench{}
	for _, tc := range []struct {
		opt  Options
		mode string
		want string
	}{
		{Options{}, ModeNewTicket, ""},
		{Options{Messages: 500, Runs: 2}, ModeNewTicket, ""},
		{Options{Sessions: 8}, ModeNewTicket, "-sessions"},
		{Options{Conn: "reuse"}, ModeNewTicket, "-conn"},
		{Options{}, ModeSequential, ""},
		{Options{Conn: "new"}, ModeSequential, "-conn"},
		{Options{}, ModeLarge, ""},
		{Options{LargeBytes: 1 << 20}, ModeLarge, "the mail size"},
		{Options{}, ModeCharsetFlood, ""},
		{Options{LargeBytes: 1 << 20}, ModeCharsetFlood, ""},
		{Options{Sessions: 20}, ModeCharsetFlood, "-sessions"},
	} {
		b.opt = tc.opt
		p, err := b.params(tc.mode)
		if err != nil {
			t.Fatal(err)
		}
		if got := nonstandard(p); got != tc.want {
			t.Errorf("%s %+v: nonstandard %q, want %q", tc.mode, tc.opt, got, tc.want)
		}
	}
}

func TestProcCPU(t *testing.T) {
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the counter moves (10 ms ticks); on a loaded machine
	// 100 ms of wall time may bring less than a tick, so the deadline is
	// generous and only bounds a counter that never moves.
	x := 0
	var after float64
	for start := time.Now(); time.Since(start) < 10*time.Second; {
		for i := range 100000 {
			x ^= i * i
		}
		if after, err = procCPU(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		if after > before {
			break
		}
	}
	if after <= before || selfCPU() <= 0 {
		t.Errorf("CPU seconds %v -> %v (self %v, %d)", before, after, selfCPU(), x)
	}
}

// buildHelpdesk builds the daemon for a test that runs it (skipped with
// -short).
func buildHelpdesk(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "helpdesk")
	if out, err := exec.Command("go", "build", "-o", bin, "helpdesk/cmd/helpdesk").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestPrefilledRunsStartWithEmptyQueue: a pre-filled store is reused from
// run to run, so the outbound mail one burst queued is still there when
// the next starts; the bench delivers it before measuring, or its
// delivery would count against the pre-filled store.
func TestPrefilledRunsStartWithEmptyQueue(t *testing.T) {
	bin := buildHelpdesk(t)
	// A short work directory: the daemon's control socket path must fit
	// a unix socket address.
	work, err := os.MkdirTemp("", "hb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	// The pre-filled store holds 50 queued mails from "an earlier run":
	// acknowledgements to a customer (a staff-only kind such as "notice"
	// to a non-staff address is refused by the worker, not sent).
	pre := filepath.Join(work, "pre")
	if _, err := Prefill(filepath.Join(pre, "data"), PrefillOptions{Tickets: 200}); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(pre, "data"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx store.Tx) error {
		for i := 0; i < 50; i++ {
			if err := tx.Enqueue(&model.Outbound{Kind: "ack", MailFrom: "support@bench.example", Rcpt: "left@over.example",
				From: "support@bench.example", To: []string{"left@over.example"}, Subject: "left over",
				MessageID: fmt.Sprintf("left.%d@bench.example", i), Text: "queued by an earlier run"}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var progress bytes.Buffer
	reports, err := Execute(Options{Mode: ModeNewTicket, Binary: bin, Messages: 80, Runs: 2, Sessions: 4, Tickets: 200,
		PrefillDir: pre, Duration: time.Minute, WorkDir: work, Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var prefilled []Run
	for _, run := range reports[0].Runs {
		if run.Target == "helpdesk-prefilled" {
			prefilled = append(prefilled, run)
		}
		if run.OK != 80 || run.Failed != 0 {
			t.Errorf("%s run %d: ok %d failed %d", run.Target, run.Index, run.OK, run.Failed)
		}
	}
	if len(prefilled) != 2 {
		t.Fatalf("prefilled runs: %+v", prefilled)
	}
	if prefilled[0].DrainedBefore < 50 || !strings.Contains(progress.String(), "queued outbound mails") {
		t.Errorf("the first pre-filled run did not deliver the 50 queued mails first (drained %d):\n%s", prefilled[0].DrainedBefore, progress.String())
	}
	// The burst's own delivery count leaves the drained mail out.
	for _, run := range prefilled {
		if run.OutboundDelivered > 2*int64(run.OK) {
			t.Errorf("run %d: %d delivered during a burst of %d new tickets", run.Index, run.OutboundDelivered, run.OK)
		}
	}
}

// -mode reports end to end on a small store: the pre-fill's index gives
// every agent row its figures, both reports run through the daemon, and
// ingest runs alone and beside reports.
func TestReportsMode(t *testing.T) {
	bin := buildHelpdesk(t)
	var progress bytes.Buffer
	res, err := ExecuteReports(Options{Mode: ModeReports, Binary: bin, Tickets: 3000, Messages: 60, Runs: 1, Sessions: 4,
		WorkDir: t.TempDir(), Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if res.Rows != 22 || len(res.Month) != 1 || len(res.Year) != 1 || len(res.IngestAlone) != 1 || res.IngestReports[0] <= 0 || res.AnonPeak <= 0 {
		t.Errorf("result: %+v\n%s", res, progress.String())
	}
	var out bytes.Buffer
	PrintReports(&out, res)
	for _, want := range []string{"one-month report by agents (22 rows)", "one-year report", "steal", "ratio of medians"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printout lacks %q:\n%s", want, out.String())
		}
	}
}

// -mode size (issue 17 item 4): every stage measured, the raw mail of
// closed tickets dropped shrinks the store, the compaction under
// ingest measured.
func TestSizeMode(t *testing.T) {
	bin := buildHelpdesk(t)
	work, err := os.MkdirTemp("", "hb") // short: the control socket's path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	var progress bytes.Buffer
	res, err := ExecuteSize(Options{Mode: ModeSize, Binary: bin, Messages: 60, WorkDir: work, Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	if len(res.Stages) != 4 || res.Stages[0].Tickets == 0 || res.Resolved != res.Stages[1].Tickets || res.Stages[3].Tickets != res.Stages[1].Tickets {
		t.Fatalf("stages %+v, %d resolved\n%s", res.Stages, res.Resolved, progress.String())
	}
	if s := res.Stages; s[3].After >= s[2].After || s[0].After <= 0 {
		t.Errorf("dropping the closed tickets' raw mail did not shrink the store: %+v", s)
	}
	if res.PauseSeconds <= 0 || res.PauseMails == 0 || res.PauseMaxWaitMs <= 0 {
		t.Errorf("compaction under ingest: %+v", res)
	}
	var out bytes.Buffer
	PrintSize(&out, res)
	for _, want := range []string{"per ticket", "projection, 1M tickets a year", "raw_after_closed 365d", "helpdesk compact under ingest"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printout lacks %q:\n%s", want, out.String())
		}
	}
}
