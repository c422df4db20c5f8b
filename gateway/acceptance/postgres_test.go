package acceptance

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/postgres"
	"helpdesk/store/postgres/pgtest"
)

var _ = claim("[store] engine = \"postgres\" keeps the store in PostgreSQL tables readable with psql (tickets, comments, messages with their raw bytes, users, outbound), created by the binary; helpdesk migrate-schema creates or upgrades the schema, versioned",
	"TestPostgresStoreTablesAndMigrateSchema")
var _ = claim("several daemons share one PostgreSQL database: ticket numbers from one sequence, the same mail at both applied once, each outbound mail delivered once, one leader for sweeps and webhooks, taken over when it dies",
	"TestPostgresTwoDaemonsShareOneDatabase")

// pgQuery runs a query on the test's database and returns the first
// column of every row, as text.
func pgQuery(t *testing.T, dsn, sql string, args ...any) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(vals[0]))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// pgConfig is a [store] table for the database dsn under a node name.
func pgConfig(dsn, node string) string {
	return fmt.Sprintf("\n[store]\nengine = \"postgres\"\ndsn = %q\nnode = %q\n", dsn, node)
}

func TestPostgresStoreTablesAndMigrateSchema(t *testing.T) {
	// A new database gets its schema from migrate-schema, once.
	dsn := pgtest.NewDB(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "helpdesk.toml")
	base := testkit.BaseConfig(dir, "", "127.0.0.1:1")
	if err := os.WriteFile(cfgPath, []byte(base+Staff+pgConfig(dsn, "mx1")), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		out, err := exec.Command(bin, append(args, "-config", cfgPath)...).CombinedOutput()
		if err != nil {
			t.Fatalf("helpdesk %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("migrate-schema"); !strings.Contains(out, fmt.Sprintf("from version 0 to %d", postgres.SchemaVersion)) {
		t.Errorf("migrate-schema on an empty database: %q", out)
	}
	if out := run("migrate-schema"); !strings.Contains(out, fmt.Sprintf("version %d, this binary's: nothing to do", postgres.SchemaVersion)) {
		t.Errorf("migrate-schema again: %q", out)
	}

	e := Start(t, Options{Config: Staff + pgConfig(dsn, "mx1")})
	body := "My invoice is wrong.\r\nPlease check it."
	id := e.Customer(testkit.Mail{From: "Ken <ken@example.net>", To: []string{"support@example.com"}, Subject: "Invoice", Body: body})
	tk := e.Show(1)
	if tk.Subject != "Invoice" || tk.Requester != "ken@example.net" {
		t.Fatalf("ticket 1: %+v", tk)
	}
	// What an admin sees with psql: a row per record, fields as columns.
	if got := pgQuery(t, dsn, "SELECT data->>'subject' FROM tickets WHERE id = 1 AND status = 'open' AND requester = 'ken@example.net'"); len(got) != 1 || got[0] != "Invoice" {
		t.Errorf("tickets row: %v", got)
	}
	if got := pgQuery(t, dsn, "SELECT count(*) FROM comments WHERE ticket = 1 AND data->>'text' LIKE '%invoice is wrong%'"); got[0] != "1" {
		t.Errorf("comments rows with the mail's text: %v", got)
	}
	raw := pgQuery(t, dsn, "SELECT convert_from(raw, 'UTF8') FROM messages WHERE message_id = lower($1) AND data->>'message_id' = $1", id)
	if len(raw) != 1 || !strings.Contains(raw[0], "Message-ID: <"+id+">") {
		t.Errorf("the raw message in messages.raw: %q", raw)
	}
	if got := pgQuery(t, dsn, "SELECT count(*) FROM users WHERE addr = 'ken@example.net'"); got[0] != "1" {
		t.Errorf("users row of ken: %v", got)
	}
	if got := pgQuery(t, dsn, "SELECT count(*) FROM outbound WHERE data->>'rcpt' = 'ken@example.net' AND state = 'sent'"); got[0] != "1" {
		t.Errorf("the acknowledgement's outbound row: %v", got)
	}
	if got := pgQuery(t, dsn, "SELECT max(version) FROM schema_migrations"); got[0] != fmt.Sprint(postgres.SchemaVersion) {
		t.Errorf("schema version %v", got)
	}
	if n := len(e.Mailbox("ken@example.net")); n != 1 {
		t.Errorf("ken got %d mails, want the acknowledgement", n)
	}

	// The daemon refuses a schema newer than it knows, naming the fix.
	e.Stop()
	pgQuery(t, dsn, "INSERT INTO schema_migrations (version) VALUES (99) RETURNING version")
	out, err := exec.Command(bin, "migrate-schema", "-config", cfgPath).CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("newer than this binary's")) {
		t.Errorf("migrate-schema on a newer schema: %v\n%s", err, out)
	}
}

func TestPostgresTwoDaemonsShareOneDatabase(t *testing.T) {
	dsn := pgtest.NewDB(t)
	a := Start(t, Options{Config: Staff + pgConfig(dsn, "mx1")})
	b := Start(t, Options{Config: Staff + pgConfig(dsn, "mx2"), Sink: a.Sink})
	nodes := []*Env{a, b}

	// Distinct mails at both, in parallel: distinct ticket numbers 1..n.
	const n = 12
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := nodes[i%2]
			m := testkit.Mail{From: fmt.Sprintf("c%d@example.net", i), To: []string{"support@example.com"},
				Subject: fmt.Sprintf("question %d", i), Body: "hello", MessageID: fmt.Sprintf("q%d@client.test", i)}
			if err := e.Send(Addr(m.From), OurRcpts(m), m.Build()); err != nil {
				t.Errorf("mail %d at node %d: %v", i, i%2, err)
			}
		}()
	}
	// The same mail at both daemons at once: applied once.
	same := testkit.Mail{From: "dup@example.net", To: []string{"support@example.com"}, Subject: "twice", Body: "same", MessageID: "same@client.test"}
	for _, e := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.Send(Addr(same.From), OurRcpts(same), same.Build()); err != nil {
				t.Errorf("the duplicate: %v", err)
			}
		}()
	}
	wg.Wait()
	a.Settle()
	b.Settle()
	var list []struct {
		ID      uint64 `json:"id"`
		Subject string `json:"subject"`
	}
	b.JSON(&list, "tickets")
	seen := map[uint64]bool{}
	twice := 0
	for _, tk := range list {
		seen[tk.ID] = true
		if tk.Subject == "twice" {
			twice++
		}
	}
	if len(list) != n+1 || len(seen) != n+1 || !seen[1] || !seen[n+1] || twice != 1 {
		t.Errorf("tickets %+v: want %d distinct numbers 1..%d, the duplicate once", list, n+1, n+1)
	}
	// Each acknowledgement went out once, whichever daemon claimed it.
	for i := range n {
		if got := len(a.Sink.To(fmt.Sprintf("c%d@example.net", i))); got != 1 {
			t.Errorf("c%d got %d acknowledgements, want 1", i, got)
		}
	}
	if got := len(a.Sink.To("dup@example.net")); got != 1 {
		t.Errorf("the duplicate's sender got %d acknowledgements, want 1", got)
	}

	// One leader; when it dies (kill -9) the other takes over.
	leads := func(e *Env) bool { return strings.Contains(e.Logs(), "this node leads") }
	a.Eventually(30*time.Second, func() bool { return leads(a) || leads(b) }, func() string { return "no node leads" })
	leader, other := a, b
	if leads(b) {
		leader, other = b, a
	}
	if leads(other) {
		t.Fatalf("both nodes lead:\n%s\n%s", a.Logs(), b.Logs())
	}
	leader.Proc.Kill()
	other.Eventually(60*time.Second, func() bool { return leads(other) }, func() string { return "the survivor did not take over:\n" + other.Logs() })
	// And it serves on: a mail at the survivor opens the next ticket.
	other.Customer(testkit.Mail{From: "late@example.net", To: []string{"support@example.com"}, Subject: "after the failover", Body: "x"})
	if tk := other.Show(n + 2); tk.Subject != "after the failover" {
		t.Errorf("ticket %d after the failover: %+v", n+2, tk)
	}
}

var _ = claim("several daemons on one PostgreSQL database keep one acknowledgement limit: a sender writing new tickets alternately to two daemons gets ack_per_sender_per_hour acknowledgements in all, not that many per daemon",
	"TestPostgresDaemonsShareOneAckLimit")

// The config package doc ("PostgreSQL") says rate and acknowledgement limits are one state across
// daemons sharing a database: the limit's record is a row both write.
func TestPostgresDaemonsShareOneAckLimit(t *testing.T) {
	dsn := pgtest.NewDB(t)
	a := Start(t, Options{Config: Staff + pgConfig(dsn, "mx1")})
	b := Start(t, Options{Config: Staff + pgConfig(dsn, "mx2"), Sink: a.Sink})
	const sender = "eager@example.net"
	for i := range 8 {
		e := []*Env{a, b}[i%2]
		e.Customer(testkit.Mail{From: sender, To: []string{"support@example.com"},
			Subject: fmt.Sprintf("request %d", i), Body: "please", MessageID: fmt.Sprintf("eager%d@client.test", i)})
	}
	a.Settle()
	b.Settle()
	var list []struct {
		ID uint64 `json:"id"`
	}
	a.JSON(&list, "tickets")
	if len(list) != 8 {
		t.Fatalf("%d tickets, want 8 (a limit caps acknowledgements, never tickets)", len(list))
	}
	// ack_per_sender_per_hour is 5 by default: 5 in all, whichever
	// daemon took each mail (4 each would be 8 if each counted alone).
	if got := len(a.Sink.To(sender)); got != 5 {
		t.Errorf("the sender got %d acknowledgements from two daemons, want 5 (one shared limit)", got)
	}
}

var _ = claim("on daemons sharing a PostgreSQL database the retention sweep (with its scheduled compaction) runs on the leader only: its effect and its log line appear once, the other daemon runs no sweep until it takes over (helpdesk_retention_sweeps_total)",
	"TestPostgresRetentionSweepsOnTheLeaderOnly")

// Issue 18 item 3: "timers, automations and sweeps run on exactly one
// node". Every daemon used to run the sweep at start and hourly.
func TestPostgresRetentionSweepsOnTheLeaderOnly(t *testing.T) {
	dsn := pgtest.NewDB(t)
	const clock = "\n[testing]\nclock = \"manual\"\n"
	// An acknowledgement sent two days ago on the ticket clock, kept
	// (30 days by default).
	a := Start(t, Options{Config: Staff + clock + pgConfig(dsn, "mx1")})
	a.Customer(testkit.Mail{From: "ken@example.net", To: []string{"support@example.com"}, Subject: "Two days ago", Body: "hello"})
	a.MustCLI("clock", "advance", "2d")
	if got := pgQuery(t, dsn, "SELECT count(*) FROM outbound WHERE state = 'sent'"); got[0] == "0" {
		t.Fatalf("no sent outbound mail to prune")
	}
	// Both daemons now keep sent mail one day: whichever leads prunes it.
	a.Stop()
	const keep = "\n[retention]\nsent_outbound = \"1d\"\n"
	f, err := os.OpenFile(a.Config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(keep)
	f.Close()
	a.Restart()
	b := Start(t, Options{Config: Staff + clock + keep + pgConfig(dsn, "mx2"), Sink: a.Sink})

	leads := func(e *Env) bool { return strings.Contains(e.Logs(), "this node leads") }
	a.Eventually(60*time.Second, func() bool { return leads(a) || leads(b) }, func() string { return "no node leads" })
	leader, other := a, b
	if leads(b) {
		leader, other = b, a
	}
	leader.Eventually(60*time.Second, func() bool {
		return leader.Metric("helpdesk_retention_sweeps_total") >= 1 && pgQuery(t, dsn, "SELECT count(*) FROM outbound WHERE state = 'sent'")[0] == "0"
	}, func() string { return "the leader's sweep did not prune the sent mail:\n" + leader.Logs() })
	if n := other.Metric("helpdesk_retention_sweeps_total"); n != 0 {
		t.Errorf("the daemon that does not lead ran %v retention sweeps, want none", n)
	}
	if n := countLines(leader.Logs()+other.Logs(), "retention sweep", "outbound_pruned"); n != 1 {
		t.Errorf("the sweep's log line appears %d times on the two daemons, want once:\n%s\n%s", n, leader.Logs(), other.Logs())
	}

	// The leader dies: the other takes the sweeps over.
	leader.Proc.Kill()
	other.Eventually(60*time.Second, func() bool { return leads(other) && other.Metric("helpdesk_retention_sweeps_total") >= 1 },
		func() string { return "the survivor runs no sweep:\n" + other.Logs() })
}
