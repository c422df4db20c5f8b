//go:build pgdrill

package pgdrill

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"helpdesk/gateway/internal/bench"
	"helpdesk/gateway/internal/dnstest"
	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/postgres/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func config(data, dsn, node, relay, resolver string) string {
	return fmt.Sprintf(`data_dir = %q
hostname = "helpdesk.drill"
[smtp]
listen = "127.0.0.1:0"
max_connections_per_ip = 200
shutdown_timeout = "5s"
[http]
listen = ""
[outbound]
relay = %q
starttls = "none"
retry_initial = "50ms"
retry_max = "200ms"
[auth]
resolver = %q
dns_timeout = "1s"
[store]
engine = "postgres"
dsn = %q
node = %q
[[mailbox]]
address = "support@example.com"
name = "Drill Support"
group = "support"
[[group]]
name = "support"
auto_assign = true
[[agent]]
email = "alice@agents.test"
name = "Alice"
role = "agent"
groups = ["support"]
`, data, relay, resolver, dsn, node)
}

// node is one daemon; its address changes when it is restarted.
type node struct {
	mu   sync.Mutex
	name string
	cfg  string
	dir  string
	proc *bench.Proc
	log  *os.File
}

func (n *node) addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return "127.0.0.1:1" // down: refused
	}
	return n.proc.SMTPAddr
}

func (n *node) start(t *testing.T, bin string) {
	p, err := bench.StartProc(n.name, bin, []string{"serve", "-config", n.cfg}, n.dir, n.log, nil)
	if err != nil {
		t.Fatalf("starting %s: %v", n.name, err)
	}
	n.mu.Lock()
	n.proc = p
	n.mu.Unlock()
}

func (n *node) kill() {
	n.mu.Lock()
	p := n.proc
	n.proc = nil
	n.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

func TestPostgresFaultDrill(t *testing.T) {
	iterations := 3
	if v := os.Getenv("HELPDESK_PG_DRILL_ITERATIONS"); v != "" {
		if x, err := strconv.Atoi(v); err == nil && x > 0 {
			iterations = x
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "helpdesk")
	if out, err := exec.Command("go", "build", "-o", bin, "helpdesk/cmd/helpdesk").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cluster := pgtest.Shared(t)
	dsn, err := cluster.CreateDB(fmt.Sprintf("drill%d", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	sink := testkit.StartSink(t)
	dns := dnstest.Start(t)
	var nodes []*node
	for _, name := range []string{"mx1", "mx2"} {
		n := &node{name: name, dir: filepath.Join(dir, name)}
		os.MkdirAll(n.dir, 0o750)
		n.cfg = filepath.Join(n.dir, "helpdesk.toml")
		if err := os.WriteFile(n.cfg, []byte(config(filepath.Join(n.dir, "data"), dsn, name, sink.Addr, dns.Addr())), 0o600); err != nil {
			t.Fatal(err)
		}
		n.log, _ = os.Create(filepath.Join(n.dir, "daemon.log"))
		n.start(t, bin)
		nodes = append(nodes, n)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.mu.Lock()
			if n.proc != nil {
				n.proc.Stop(10 * time.Second)
			}
			n.mu.Unlock()
		}
	})

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 18))
	sent := map[string][]byte{} // Message-ID -> raw, of mails that got 250
	var mu sync.Mutex
	attempts, refused := 0, 0
	const workers, perWorker = 6, 12
	for iter := range iterations {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perWorker {
					id := fmt.Sprintf("d%d-w%d-m%d@drill.test", iter, w, i)
					m := testkit.Mail{From: fmt.Sprintf("c%d-%d@example.net", w, i%3), To: []string{"support@example.com"},
						Subject: "drill " + id, Body: strings.Repeat("line of the drill\r\n", 20+i), MessageID: id}
					raw := m.Build()
					deadline := time.Now().Add(3 * time.Minute)
					for try := 0; ; try++ {
						target := nodes[(w+i+try)%2]
						err := testkit.SendMail(target.addr(), "c@example.net", []string{"support@example.com"}, raw)
						mu.Lock()
						attempts++
						if err == nil {
							sent[id] = raw
						} else {
							refused++
						}
						mu.Unlock()
						if err == nil {
							break
						}
						if time.Now().After(deadline) {
							t.Errorf("%s: no 250 within 3 minutes, last: %v", id, err)
							return
						}
						time.Sleep(100 * time.Millisecond)
					}
				}
			}()
		}
		// The faults, while the mail flows: one daemon killed and started
		// again, then the database restarted as a crash stops it.
		victim := nodes[iter%2]
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		victim.kill()
		time.Sleep(300 * time.Millisecond)
		victim.start(t, bin)
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		if err := cluster.Restart(); err != nil {
			t.Fatalf("restarting PostgreSQL: %v", err)
		}
		wg.Wait()
		t.Logf("iteration %d: %d mails acknowledged so far, %d attempts, %d refused or cut", iter+1, len(sent), attempts, refused)
	}

	// Every acknowledged mail is stored exactly once, byte for byte (after
	// the Received line our SMTP server prepends).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT data->>'message_id', raw FROM messages WHERE raw IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for rows.Next() {
		var id string
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			t.Fatal(err)
		}
		stored[id]++
		if want, ok := sent[id]; ok && !strings.HasSuffix(string(raw), string(want)) {
			t.Errorf("%s: the stored raw message is not the one sent", id)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for id := range sent {
		if stored[id] != 1 {
			t.Errorf("%s got 250 and is stored %d times, want exactly once", id, stored[id])
		}
	}
	if len(sent) != iterations*workers*perWorker {
		t.Errorf("%d mails acknowledged, want %d", len(sent), iterations*workers*perWorker)
	}
	// The outbound queue drains: nothing a crash interrupted stays queued.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var queued int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM outbound WHERE state = 'queued'").Scan(&queued); err != nil {
			t.Fatal(err)
		}
		if queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d outbound mails still queued 2 minutes after the drill", queued)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var outbound, tickets int
	conn.QueryRow(ctx, "SELECT count(*) FROM outbound").Scan(&outbound)
	conn.QueryRow(ctx, "SELECT count(*) FROM tickets").Scan(&tickets)
	t.Logf("drill: %d iterations, %d mails acknowledged and stored exactly once, %d SMTP attempts (%d refused, 4xx or cut), %d tickets, %d outbound mails all delivered (%d received by the relay)",
		iterations, len(sent), attempts, refused, tickets, outbound, len(sink.All()))
}
