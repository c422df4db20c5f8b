//go:build linux

package engine

import (
	"bytes"
	"context"
	"fmt"
	"helpdesk/gateway/internal/bench/rulesconf"
	"net/netip"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/postgres"
	"helpdesk/store/postgres/pgtest"
	"helpdesk/threading"
	"helpdesk/threading/machine"
)

// BenchmarkApplyNewTicket measures the store writer's share of a new
// ticket as `helpdesk bench` sends it (4 KiB text from a new sender, the
// bench daemon's mailbox, round-robin group of two agents, token staff
// auth): only the write function (applier.run), eight mails per
// transaction as a group commit has them. Parsing happens before the
// timer, committing is left out of the apply-ns/mail figure, and
// apply-cpu-ns/mail counts only the CPU time of the writer's thread while
// it applies (steadier than wall time on a loaded machine).
func BenchmarkApplyNewTicket(b *testing.B) {
	benchApplyNewTicket(b, "", func(cfg *config.Config) (store.Store, error) { return bolt.Open(cfg.DataDir, bolt.Options{}) }, nil)
}

// BenchmarkApplyNewTicketRules is BenchmarkApplyNewTicket with the
// rules of `helpdesk bench -mode rules` (issue 15; benchRulesConfig), the
// sub-benchmark "none" without them, committing too (eight mails per
// commit): besides the times and allocations it reports the bbolt page
// writes and stored bytes per mail, which the machine's load does not
// change. Run: go test -run X -bench ApplyNewTicketRules -benchmem ./gateway/engine
func BenchmarkApplyNewTicketRules(b *testing.B) {
	for _, c := range []struct{ name, rules string }{{"none", ""}, {"rules", benchRulesConfig()}} {
		b.Run(c.name, func(b *testing.B) {
			var db *bolt.DB
			var before store.Stats
			benchApplyNewTicket(b, c.rules, func(cfg *config.Config) (store.Store, error) {
				var err error
				db, err = bolt.Open(cfg.DataDir, bolt.Options{})
				return db, err
			}, func() { before = db.Stats() })
			st := db.Stats()
			b.ReportMetric(float64(st.PageWrites-before.PageWrites)/float64(b.N), "page-writes/mail")
		})
	}
}

// benchRulesConfig is the rules of `helpdesk bench -mode rules` with
// both receivers on a closed loopback port: nothing is sent in process.
func benchRulesConfig() string {
	return rulesconf.Config("http://127.0.0.1:9/hook", "http://127.0.0.1:9/hook")
}

// BenchmarkApplyNewTicketPostgres is BenchmarkApplyNewTicket on the
// PostgreSQL engine, committing as well (eight mails per commit), and
// reports the statements and round trips per mail of the writer's
// transactions (load-insensitive, unlike the times); -v lists them by
// statement.
func BenchmarkApplyNewTicketPostgres(b *testing.B) {
	var pg *postgres.DB
	var before store.Stats
	var mark, after pgMark
	benchApplyNewTicket(b, "", func(cfg *config.Config) (store.Store, error) {
		db, err := postgres.Open(pgtest.NewDB(b), postgres.Options{TmpDir: b.TempDir()})
		pg = db
		return db, err
	}, func() {
		// What the engine's start wrote is not the mails'.
		before = pg.Stats()
		mark = readPGMark(b, pg)
		pg.TraceSQL()
	}, func() {
		after = readPGMark(b, pg)
	})
	st := pg.Stats()
	b.ReportMetric(float64(st.WriteQueries-before.WriteQueries)/float64(b.N), "queries/mail")
	b.ReportMetric(float64(st.WriteRoundTrips-before.WriteRoundTrips)/float64(b.N), "round-trips/mail")
	// Rows, index entries and WAL bytes per mail: what the server's work
	// per mail follows, and no load changes them (the cluster is this
	// binary's own; run one benchmark at a time).
	n := float64(b.N)
	var rows, entries float64
	names := make([]string, 0, len(after.rows))
	for name := range after.rows {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r, e := after.rows[name]-mark.rows[name], after.entries[name]-mark.entries[name]
		sc := after.scanned[name] - mark.scanned[name]
		if r == 0 && e == 0 && sc == 0 {
			continue
		}
		rows += float64(r)
		entries += float64(e)
		b.Logf("%-22s %5.2f rows %5.2f index entries %7.0f bytes %7.1f rows scanned per mail", name, float64(r)/n, float64(e)/n,
			float64(after.bytes[name]-mark.bytes[name])/n, float64(sc)/n)
	}
	b.ReportMetric(rows/n, "rows/mail")
	b.ReportMetric(entries/n, "index-entries/mail")
	b.ReportMetric(float64(after.wal-mark.wal)/n, "WAL-bytes/mail")
	// In clock ticks of 10 ms: take 2,000 mails or more.
	b.ReportMetric(float64((after.cpu-mark.cpu).Microseconds())/n, "server-cpu-µs/mail")
	for _, c := range pg.WriterSQL() {
		b.Logf("%6d round trips %6d statements  %s", c.RoundTrips, c.Queries, strings.Join(strings.Fields(c.SQL), " "))
	}
}

// pgMark is what a database holds at one moment: each table's rows
// (inserted + updated + deleted, by pg_stat_user_tables after
// pg_stat_force_next_flush), index entries written (pg_stat_user_indexes
// cannot tell, so: rows inserted or updated non-HOT times the table's
// indexes, partial ones left out: the bench's mails have no entries in
// them), bytes (heap, TOAST and indexes), and the WAL position.
type pgMark struct {
	rows, entries, bytes map[string]int64
	// scanned are the rows sequential scans read (a query that should
	// use an index shows here).
	scanned map[string]int64
	wal     int64
	// cpu is the CPU time of the cluster's processes (the postmaster's
	// children: backends, WAL writer, checkpointer) by /proc.
	cpu time.Duration
}

// serverCPU sums the CPU time of the processes whose parent is the
// postmaster of the backend pid.
func serverCPU(b *testing.B, backend int) time.Duration {
	stat := func(pid string) []string {
		data, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return nil
		}
		s := string(data)
		return strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // after "pid (comm) "
	}
	f := stat(strconv.Itoa(backend))
	if f == nil {
		b.Fatalf("no /proc entry of backend %d", backend)
	}
	postmaster := f[1]
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	var ticks int64
	for _, d := range dirs {
		if f := stat(d.Name()); len(f) > 12 && f[1] == postmaster {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * time.Second / 100 // USER_HZ
}

func readPGMark(b *testing.B, db *postgres.DB) pgMark {
	ctx := context.Background()
	m := pgMark{rows: map[string]int64{}, entries: map[string]int64{}, bytes: map[string]int64{}, scanned: map[string]int64{}}
	conn, err := db.Pool().Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_stat_force_next_flush()"); err != nil {
		b.Fatal(err)
	}
	// The pool's other connections report their counts within a
	// second of their last statement, and stats are read as of a
	// snapshot: wait out the reporting interval.
	time.Sleep(1100 * time.Millisecond)
	if _, err := conn.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
		b.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT s.relname, s.n_tup_ins + s.n_tup_upd + s.n_tup_del,
	(s.n_tup_ins + s.n_tup_upd - s.n_tup_hot_upd) * (SELECT count(*) FROM pg_index i WHERE i.indrelid = s.relid AND i.indpred IS NULL),
	pg_total_relation_size(s.relid), coalesce(s.seq_tup_read, 0)
FROM pg_stat_user_tables s`)
	if err != nil {
		b.Fatal(err)
	}
	var name string
	var r, e, by, sc int64
	if _, err := pgx.ForEachRow(rows, []any{&name, &r, &e, &by, &sc}, func() error {
		m.rows[name], m.entries[name], m.bytes[name], m.scanned[name] = r, e, by, sc
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	var pid int
	if err := conn.QueryRow(ctx, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint, pg_backend_pid()").Scan(&m.wal, &pid); err != nil {
		b.Fatal(err)
	}
	m.cpu = serverCPU(b, pid)
	return m
}

func benchApplyNewTicket(b *testing.B, rules string, open func(*config.Config) (store.Store, error), started func(), ended ...func()) {
	cfg, err := config.Parse(`data_dir = "` + b.TempDir() + `"
hostname = "helpdesk.bench"
[auth]
staff = ["token"]
[tickets]
ack_per_hour = 1000000
[[mailbox]]
address = "support@helpdesk.bench"
name = "Bench Support"
group = "support"
[[group]]
name = "support"
auto_assign = true
[[agent]]
email = "alice@staff.example"
name = "Alice"
role = "agent"
groups = ["support"]
[[agent]]
email = "bob@staff.example"
name = "Bob"
role = "agent"
groups = ["support"]
` + rules)
	if err != nil {
		b.Fatal(err)
	}
	db, err := open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	e, err := New(cfg, db, Options{})
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat("The printer on the third floor keeps its queue stuck after a\r\n", 64)
	ins := make([]*inbound, b.N)
	for i := range ins {
		from := fmt.Sprintf("c%d@cust%d.example", i, i%97)
		raw := fmt.Sprintf("From: Customer %d <%s>\r\nTo: support@helpdesk.bench\r\nSubject: Printer queue stuck, request %d\r\n"+
			"Date: Mon, 07 Dec 2026 06:00:00 +0000\r\nMessage-ID: <bench.%d@client.example>\r\n"+
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\nMIME-Version: 1.0\r\n\r\n"+
			"Hello support,\r\n\r\nrequest %d from %s.\r\n%s\r\n-- \r\nCustomer %d\r\n", i, from, i, i, i, from, body, i)
		env := Envelope{MailFrom: from, Rcpts: []string{"support@helpdesk.bench"}, RemoteIP: netip.MustParseAddr("127.0.0.1"), Via: "smtp"}
		in := &inbound{env: env, size: int64(len(raw)), started: time.Now()}
		in.mail = threading.Parse(bytes.NewReader([]byte(raw)), threading.ParseOptions{ReplyMarker: cfg.Threading.ReplyMarker})
		in.mail.EnvelopeFrom = env.MailFrom
		machine.Classify(in.mail)
		e.identify(cfg, in)
		e.verifyTokens(cfg, in)
		prepareRules(cfg, in) // as Deliver does, before the write
		// What the bench daemon's DMARC check finds (its DNS stub answers
		// NXDOMAIN): checked, no policy, so the sender is acknowledged.
		in.verdict = AuthVerdict{Checked: true, DMARC: "none"}
		in.raw = db.PackRaw([]byte(raw))
		ins[i] = in
	}
	const perCommit = 8
	var applying, cpu time.Duration
	b.ReportAllocs()
	if started != nil {
		started()
	}
	st0 := db.Stats()
	bdb, _ := db.(*bolt.DB)
	if bdb != nil {
		bdb.CountNodes(true)
	}
	b.ResetTimer()
	for i := 0; i < len(ins); i += perCommit {
		batch := ins[i:min(i+perCommit, len(ins))]
		// The group's hints, as the daemon's Deliver gives them.
		h := &store.Hints{}
		for _, in := range batch {
			x := in.hints()
			h.Users = append(h.Users, x.Users...)
			h.Customers = append(h.Customers, x.Customers...)
			h.MessageIDs = append(h.MessageIDs, x.MessageIDs...)
			h.Identities = append(h.Identities, x.Identities...)
		}
		err := db.(store.Hinted).UpdateHinted(h, func(tx store.Tx) error {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for _, in := range batch {
				c0 := threadCPU()
				t0 := time.Now()
				a := &applier{e: e, cfg: cfg, tx: tx, in: in, now: tx.Now()}
				if err := a.run(); err != nil {
					return err
				}
				applying += time.Since(t0)
				cpu += threadCPU() - c0
				if a.res.Ticket == 0 || a.enqueued != 2 {
					return fmt.Errorf("mail %s: ticket %d and %d outbound mails, want a ticket, its acknowledgement and a notification", in.env.MailFrom, a.res.Ticket, a.enqueued)
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	for _, f := range ended {
		f() // before the store closes
	}
	if bdb != nil {
		// Which buckets the page writes went to: the nodes each commit
		// held, by bucket (load-insensitive, like the page writes).
		n := bdb.CountNodes(false)
		for _, name := range n.Buckets() {
			b.ReportMetric(float64(n.Nodes[name])/float64(n.Commits), "nodes-"+name+"/commit")
		}
	}
	// Page writes per commit: what the commit's fsync'd bytes follow
	// (bbolt only; PostgreSQL reports none).
	if st := db.Stats(); st.Commits > st0.Commits && st.PageWrites > 0 {
		b.ReportMetric(float64(st.PageWrites-st0.PageWrites)/float64(st.Commits-st0.Commits), "pages/commit")
	}
	b.ReportMetric(float64(applying.Nanoseconds())/float64(b.N), "apply-ns/mail")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "apply-cpu-ns/mail")
}

// threadCPU is the CPU time the calling OS thread has used.
func threadCPU() time.Duration {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}
