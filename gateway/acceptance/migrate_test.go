package acceptance

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/bench"
	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/postgres/pgtest"
)

var _ = claim("helpdesk migrate --from bbolt --to postgres (and back) copies a whole store and verifies it equal ticket by ticket: every ticket shows the same, old reply addresses keep working, new tickets continue the numbering, queued mail is delivered after the move; a running daemon on the source and a target with records are refused",
	"TestMigrateBboltToPostgresAndBack")
var _ = claim("a store pre-filled by helpdesk bench migrates to PostgreSQL and back and verifies equal",
	"TestMigrateBenchStore")

// migrateCLI runs `helpdesk migrate` with args and config cfg and returns
// its output and exit code.
func migrateCLI(t *testing.T, cfg string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, append(append([]string{"migrate"}, args...), "-config", cfg)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if x, ok := err.(*exec.ExitError); ok {
		code = x.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), code
}

// shows is `helpdesk show N --json` of tickets 1..n, as printed.
func shows(e *Env, n int) []string {
	e.T.Helper()
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, e.MustCLI("show", fmt.Sprint(i), "--json"))
	}
	return out
}

func sameShows(t *testing.T, what string, want, got []string) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: %d tickets, want %d", what, len(got), len(want))
	}
	for i := range want {
		if want[i] != got[i] {
			t.Errorf("%s: ticket %d shows differently:\nbefore: %s\nafter:  %s", what, i+1, want[i], got[i])
		}
	}
}

func TestMigrateBboltToPostgresAndBack(t *testing.T) {
	// A bbolt store with mail: tickets, replies, an attachment kept as a
	// blob (above the spool threshold), a side thread, a customer
	// profile, and an acknowledgement still queued (the relay answers
	// 451).
	a := Start(t, Options{Store: "bbolt", SMTP: "spool_threshold = \"4KiB\""})
	pdf := bytes.Repeat([]byte("%PDF-1.4 invoice line\n"), 2000)
	n1 := a.Open(kenFr, "Invoice 4711 is wrong", "The total is off by 10 EUR.", vic)
	a.Customer(testkit.Mail{From: kenFr, To: []string{"support@example.com"}, Subject: "Contract", Body: "See the attached contract.",
		Files: []testkit.File{{Name: "contract.pdf", ContentType: "application/pdf", Data: pdf}}})
	a.Reply(vicFr, n1, "#forward finance@bank.example\n#subject Refund check\nPlease confirm the refund for invoice 4711.")
	a.Reply(vicFr, n1, "We are checking it with finance.")
	kenAck := a.Find(ken, "Invoice 4711")
	a.Customer(testkit.Mail{From: kenFr, To: []string{ReplyTo(kenAck)}, Subject: "Re: " + kenAck.Header("Subject"),
		InReplyTo: strings.Trim(kenAck.Header("Message-Id"), "<>"), Body: "Thanks, waiting."})
	a.Sink.SetFail(true)
	if err := a.Send("amy@e-fun.example", []string{"support@example.com"}, testkit.Mail{From: "Amy <amy@e-fun.example>",
		To: []string{"support@example.com"}, Subject: "Queued ack", Body: "hello"}.Build()); err != nil {
		t.Fatal(err)
	}
	a.Eventually(30*time.Second, func() bool {
		for _, it := range a.Outbox().Items {
			if it.Rcpt == "amy@e-fun.example" && it.State == "queued" && it.Attempts > 0 {
				return true
			}
		}
		return false
	}, func() string { return "amy's acknowledgement was not tried:\n" + a.MustCLI("outbox") })
	const tickets = 3
	if tk := a.Show(1); len(tk.Threads) != 2 {
		t.Fatalf("ticket 1 has no side thread: %+v", tk.Threads)
	}
	if tk := a.Show(2); len(tk.Attachments) != 1 || tk.Attachments[0].Size != int64(len(pdf)) {
		t.Fatalf("ticket 2's attachment: %+v", tk.Attachments)
	}
	blobs, _ := filepath.Glob(filepath.Join(a.Dir, "blobs", "*", "*.eml"))
	if len(blobs) == 0 {
		t.Fatalf("no mail was kept as a blob file (spool_threshold): the copy of large bodies is not exercised")
	}
	dsn := pgtest.NewDB(t)

	// A running daemon on the source is refused.
	if out, code := migrateCLI(t, a.Config, "--from", "bbolt", "--to", "postgres", "--dsn", dsn); code == 0 || !strings.Contains(out, "daemon is running") || !strings.Contains(out, "stop it") {
		t.Errorf("migrate with the daemon running: exit %d\n%s", code, out)
	}
	a.Stop()
	before := shows(a, tickets)
	ob := a.Outbox()
	queued, sentBefore := ob.Queued, ob.Sent
	if queued == 0 {
		t.Fatalf("nothing queued before the move, want amy's acknowledgement and the agents' notifications")
	}

	out, code := migrateCLI(t, a.Config, "--from", "bbolt", "--to", "postgres", "--dsn", dsn)
	if code != 0 || !strings.Contains(out, "the stores are equal") || !strings.Contains(out, fmt.Sprintf("tickets compared one by one: %d", tickets)) {
		t.Fatalf("migrate bbolt → postgres: exit %d\n%s", code, out)
	}
	for _, want := range []string{"ticket", "comment", "message", "blob", "token_keys", "customer", "outbound"} {
		if !strings.Contains(out, "  "+want+" ") {
			t.Errorf("the migration's output names no %s records:\n%s", want, out)
		}
	}
	// Into a database that holds records: refused, naming the fix.
	if out, code := migrateCLI(t, a.Config, "--from", "bbolt", "--to", "postgres", "--dsn", dsn); code == 0 || !strings.Contains(out, "not empty") || !strings.Contains(out, "new, empty database") {
		t.Errorf("migrate into a database with records: exit %d\n%s", code, out)
	}

	b := Start(t, Options{Store: "postgres", DSN: dsn})
	sameShows(t, "bbolt → postgres", before, shows(b, tickets))
	// The queued acknowledgement goes out from the new store, once (the
	// old relay never took it).
	b.MustCLI("outbox", "retry", "--failed")
	b.Sink.WaitCount(t, "amy@e-fun.example", 1, 60*time.Second)
	b.Settle()
	if n, old := len(b.Sink.To("amy@e-fun.example")), len(a.Sink.To("amy@e-fun.example")); n != 1 || old != 0 {
		t.Errorf("amy's acknowledgement was delivered %d times after the move, %d before; want once after", n, old)
	}
	if o := b.Outbox(); o.Queued != 0 || o.Sent != sentBefore+queued {
		t.Errorf("after the move: %d queued, %d sent; before: %d queued, %d sent", o.Queued, o.Sent, queued, sentBefore)
	}
	// A reply to a reply address given out before the move lands in its
	// ticket.
	b.Customer(testkit.Mail{From: kenFr, To: []string{ReplyTo(kenAck)}, Subject: "Re: " + kenAck.Header("Subject"), Body: "Any news after the move?"})
	tk := b.Show(1)
	if last := tk.Comments[len(tk.Comments)-1]; !strings.Contains(last.Text, "Any news after the move?") || last.Author != ken {
		t.Errorf("the reply to an old reply address: ticket 1's last comment %+v", last)
	}
	if b.Metric("helpdesk_tickets_created_total") != 0 {
		t.Errorf("the reply opened a ticket")
	}
	// The next new ticket continues the numbering.
	b.Customer(testkit.Mail{From: "Zoe <zoe@e-fun.example>", To: []string{"support@example.com"}, Subject: "After the move", Body: "new"})
	if tk := b.Show(tickets + 1); tk.Subject != "After the move" {
		t.Errorf("ticket %d: %+v", tickets+1, tk)
	}
	// A daemon on the PostgreSQL source is refused too.
	b.Eventually(60*time.Second, func() bool { return strings.Contains(b.Logs(), "this node leads") }, func() string { return "no leader" })
	if out, code := migrateCLI(t, b.Config, "--from", "postgres", "--to", "bbolt", "--data-dir", t.TempDir()); code == 0 || !strings.Contains(out, "daemon is running") {
		t.Errorf("migrate from a database a daemon uses: exit %d\n%s", code, out)
	}
	b.Stop()
	after := shows(b, tickets+1)

	// And back into a fresh bbolt directory.
	dir := t.TempDir()
	out, code = migrateCLI(t, b.Config, "--from", "postgres", "--to", "bbolt", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "the stores are equal") {
		t.Fatalf("migrate postgres → bbolt: exit %d\n%s", code, out)
	}
	c := Start(t, Options{Store: "bbolt", Dir: dir})
	c.Stop()
	sameShows(t, "postgres → bbolt", after, shows(c, tickets+1))
	if blobs, _ := filepath.Glob(filepath.Join(dir, "blobs", "*", "*.eml")); len(blobs) == 0 {
		t.Errorf("the large body came back without its blob file")
	}
	// A non-empty bbolt target is refused too.
	if out, code := migrateCLI(t, b.Config, "--from", "postgres", "--to", "bbolt", "--data-dir", dir); code == 0 || !strings.Contains(out, "not empty") {
		t.Errorf("migrate into a bbolt store with records: exit %d\n%s", code, out)
	}
}

// The held-out check migrates a store from the bench: the pre-filled
// store is written straight into bbolt (no daemon), with users, messages,
// outbound items, rates and the Message-ID index.
func TestMigrateBenchStore(t *testing.T) {
	dir := t.TempDir()
	if _, err := bench.Prefill(dir, bench.PrefillOptions{Tickets: 3000}); err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.NewDB(t)
	cfg := filepath.Join(t.TempDir(), "helpdesk.toml")
	if err := os.WriteFile(cfg, []byte(testkit.BaseConfig(dir, "", "127.0.0.1:1")+Staff), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := migrateCLI(t, cfg, "--from", "bbolt", "--to", "postgres", "--dsn", dsn)
	if code != 0 || !strings.Contains(out, "the stores are equal") || !strings.Contains(out, "tickets compared one by one: 3000") {
		t.Fatalf("migrate the bench's store: exit %d\n%s", code, out)
	}
	// The bench writes no report index (a daemon on bbolt builds it when
	// it opens the store): the migration builds it on PostgreSQL.
	if !strings.Contains(out, "built the report index for 3000 tickets") {
		t.Errorf("the migration did not build the report index:\n%s", out)
	}
	if got := pgQuery(t, dsn, "SELECT count(DISTINCT ticket) FROM report_events WHERE kind = 'received'"); len(got) != 1 || got[0] != "3000" {
		t.Errorf("report events of %v tickets after the migration, want 3000", got)
	}
	back := t.TempDir()
	out, code = migrateCLI(t, cfg, "--from", "postgres", "--to", "bbolt", "--dsn", dsn, "--data-dir", back)
	if code != 0 || !strings.Contains(out, "the stores are equal") {
		t.Fatalf("migrate it back: exit %d\n%s", code, out)
	}
}

var _ = claim("helpdesk backup and restore on PostgreSQL name the exact pg_dump and pg_restore commands for the configured database",
	"TestPostgresBackupNamesPgDump")

func TestPostgresBackupNamesPgDump(t *testing.T) {
	dir := t.TempDir()
	dsn := "host=/run/postgresql dbname=helpdesk user=hd password=secret"
	cfg := filepath.Join(dir, "helpdesk.toml")
	if err := os.WriteFile(cfg, []byte(testkit.BaseConfig(dir, "", "127.0.0.1:1")+Staff+pgConfig(dsn, "mx1")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ cmd, want string }{
		{"backup", "pg_dump --format=custom --file='hd.dump' 'host=/run/postgresql dbname=helpdesk user=hd password=xxxxx'"},
		{"restore", "pg_restore --dbname='host=/run/postgresql dbname=helpdesk user=hd password=xxxxx' 'hd.dump'"},
	} {
		out, err := exec.Command(bin, c.cmd, "hd.dump", "-config", cfg).CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) || strings.Contains(string(out), "secret") {
			t.Errorf("helpdesk %s on PostgreSQL: %v\n%s\nwant the command %s, without the password", c.cmd, err, out, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "hd.dump")); err == nil {
		t.Errorf("backup wrote a file")
	}
}
