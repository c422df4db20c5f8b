//go:build linux

package engine

import (
	"bytes"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

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
	benchApplyNewTicket(b, func(cfg *config.Config) (store.Store, error) { return bolt.Open(cfg.DataDir, bolt.Options{}) }, nil)
}

// BenchmarkApplyNewTicketPostgres is BenchmarkApplyNewTicket on the
// PostgreSQL engine, committing as well (eight mails per commit), and
// reports the statements and round trips per mail of the writer's
// transactions (load-insensitive, unlike the times); -v lists them by
// statement.
func BenchmarkApplyNewTicketPostgres(b *testing.B) {
	var pg *postgres.DB
	var before store.Stats
	benchApplyNewTicket(b, func(cfg *config.Config) (store.Store, error) {
		db, err := postgres.Open(pgtest.NewDB(b), postgres.Options{TmpDir: b.TempDir()})
		pg = db
		return db, err
	}, func() {
		// What the engine's start wrote is not the mails'.
		before = pg.Stats()
		pg.TraceSQL()
	})
	st := pg.Stats()
	b.ReportMetric(float64(st.WriteQueries-before.WriteQueries)/float64(b.N), "queries/mail")
	b.ReportMetric(float64(st.WriteRoundTrips-before.WriteRoundTrips)/float64(b.N), "round-trips/mail")
	for _, c := range pg.WriterSQL() {
		b.Logf("%6d round trips %6d statements  %s", c.RoundTrips, c.Queries, strings.Join(strings.Fields(c.SQL), " "))
	}
}

func benchApplyNewTicket(b *testing.B, open func(*config.Config) (store.Store, error), started func()) {
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
`)
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
