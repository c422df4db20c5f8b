package acceptance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/postgres/pgcluster"
	"helpdesk/store/postgres/pgtest"
)

var _ = claim("while PostgreSQL is down a daemon answers new mail 4xx and logs each failing background worker (webhook queue, outbound queue) a few times, not on every poll, and one line when it reads the store again; after the restart the retried mail is stored and every acknowledgement delivered",
	"TestPostgresOutageLogsRateLimitedAndRecovers")

// workerLines are the daemon's log lines (JSON) from the webhook and
// outbound workers at level WARN or ERROR (the failures of reading or
// claiming their queues) and the ones saying they work again.
func workerLines(logs string) (failures, recovered []string) {
	for _, l := range strings.Split(logs, "\n") {
		var rec struct{ Level, Msg, Component string }
		if json.Unmarshal([]byte(l), &rec) != nil || (rec.Component != "webhook" && rec.Component != "outbound") {
			continue
		}
		switch {
		case rec.Level == "ERROR" || rec.Level == "WARN":
			failures = append(failures, l)
		case strings.Contains(rec.Msg, "works again"):
			recovered = append(recovered, l)
		}
	}
	return failures, recovered
}

func TestPostgresOutageLogsRateLimitedAndRecovers(t *testing.T) {
	// A cluster of its own: the test stops it, which the shared one's
	// other users must not see.
	c, err := pgcluster.Start(pgcluster.Options{})
	if err != nil {
		if os.Getenv("HELPDESK_TEST_PG") == "require" {
			t.Fatalf("PostgreSQL is required (HELPDESK_TEST_PG=require): %v", err)
		}
		t.Skipf("skipped: no PostgreSQL to test against (%v); install it with apt-get install -y postgresql", err)
	}
	t.Cleanup(c.Stop)
	dsn, err := c.CreateDB("outage")
	if err != nil {
		t.Fatal(err)
	}
	e := Start(t, Options{Config: Staff + pgConfig(dsn, "mx1")})
	e.Customer(testkit.Mail{From: "before@example.net", To: []string{"support@example.com"}, Subject: "before the outage", Body: "x"})
	e.Eventually(30*time.Second, func() bool { return strings.Contains(e.Logs(), "this node leads") },
		func() string { return "the only node does not lead:\n" + e.Logs() })
	offset := len(e.Logs())

	// About ten seconds without the database: 50 polls of each worker.
	if err := c.Halt(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	mail := func(i int) testkit.Mail {
		return testkit.Mail{From: fmt.Sprintf("during%d@example.net", i), To: []string{"support@example.com"},
			Subject: fmt.Sprintf("during the outage %d", i), Body: "x", MessageID: fmt.Sprintf("during%d@client.test", i)}
	}
	const n = 3
	for i := range n {
		m := mail(i)
		err := e.Send(Addr(m.From), OurRcpts(m), m.Build())
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code/100 != 4 {
			t.Errorf("mail %d while PostgreSQL is down: %v, want a 4xx answer", i, err)
		}
	}
	if d := 10*time.Second - time.Since(down); d > 0 {
		time.Sleep(d) // the outage's length, not a wait for an effect
	}
	failures, _ := workerLines(e.Logs()[offset:])
	if len(failures) == 0 || len(failures) > 6 {
		t.Errorf("%d webhook/outbound failure lines in 10 s without PostgreSQL, want a few (1..6):\n%s",
			len(failures), strings.Join(failures, "\n"))
	}

	if err := c.Resume(); err != nil {
		t.Fatal(err)
	}
	// The senders retry (as an MTA does after a 4xx) until the mail is
	// taken: each exactly once.
	for i := range n {
		m := mail(i)
		e.Eventually(60*time.Second, func() bool { return e.Send(Addr(m.From), OurRcpts(m), m.Build()) == nil },
			func() string {
				return fmt.Sprintf("mail %d not taken after PostgreSQL came back:\n%s", i, e.Logs()[offset:])
			})
	}
	e.Settle()
	for i := range n {
		if got := len(e.Mailbox(fmt.Sprintf("during%d@example.net", i))); got != 1 {
			t.Errorf("during%d got %d acknowledgements, want 1", i, got)
		}
	}
	if got := len(e.Mailbox("before@example.net")); got != 1 {
		t.Errorf("before got %d acknowledgements, want 1", got)
	}
	var list []struct {
		ID      uint64 `json:"id"`
		Subject string `json:"subject"`
	}
	e.JSON(&list, "tickets")
	if len(list) != n+1 {
		t.Errorf("tickets %+v, want %d", list, n+1)
	}
	// Once the workers have polled again, each that failed said once
	// that it works again (the webhook worker when its node leads again).
	count := func(lines []string, comp string) int {
		k := 0
		for _, l := range lines {
			if strings.Contains(l, `"component":"`+comp+`"`) {
				k++
			}
		}
		return k
	}
	e.Eventually(60*time.Second, func() bool {
		f, rec := workerLines(e.Logs()[offset:])
		for _, comp := range []string{"webhook", "outbound"} {
			if count(f, comp) > 0 && count(rec, comp) == 0 {
				return false
			}
		}
		return true
	}, func() string { return "a failing worker did not say it works again:\n" + e.Logs()[offset:] })
	failures, recovered := workerLines(e.Logs()[offset:])
	if len(failures) > 8 {
		t.Errorf("%d failure lines in all, want a few:\n%s", len(failures), strings.Join(failures, "\n"))
	}
	for _, comp := range []string{"webhook", "outbound"} {
		if k := count(recovered, comp); k > 1 {
			t.Errorf("%d %s lines saying it works again, want one:\n%s", k, comp, strings.Join(recovered, "\n"))
		}
	}
	t.Logf("outage log lines of the workers:\n%s\n%s", strings.Join(failures, "\n"), strings.Join(recovered, "\n"))
}

var _ = claim("two daemons on one PostgreSQL database under the same [store] node name (both left at the host name) are refused: the second does not start and says which key to set, since a restart of one would take over the leases of the other's mail under way and send it twice",
	"TestPostgresRefusesASecondDaemonWithTheSameNodeName")

func TestPostgresRefusesASecondDaemonWithTheSameNodeName(t *testing.T) {
	dsn := pgtest.NewDB(t)
	a := Start(t, Options{Config: Staff + pgConfig(dsn, "mx1")})
	a.Customer(testkit.Mail{From: "first@example.net", To: []string{"support@example.com"}, Subject: "first", Body: "x"})

	// The second daemon, same node name, its own directory.
	dir := t.TempDir()
	cfg := strings.Replace(readFile(t, a.Config), a.Dir, dir, -1)
	cfgPath := filepath.Join(dir, "helpdesk.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "-config", cfgPath)
	cmd.Dir = dir
	out, err := runWithTimeout(cmd, 60*time.Second)
	if err == nil || !strings.Contains(out, `another daemon runs as node "mx1"`) || !strings.Contains(out, "[store] node") {
		t.Fatalf("a second daemon as node mx1: %v\n%s", err, out)
	}
	// The first one is untouched and serves on.
	a.Customer(testkit.Mail{From: "second@example.net", To: []string{"support@example.com"}, Subject: "second", Body: "x"})
	if n := len(a.Mailbox("second@example.net")); n != 1 {
		t.Errorf("second got %d acknowledgements, want 1", n)
	}

	// Once the first is gone (kill -9: its session ends with it), a daemon
	// under that name starts again.
	a.Crash()
	b := Start(t, Options{Config: Staff + pgConfig(dsn, "mx1"), Sink: a.Sink})
	b.Customer(testkit.Mail{From: "third@example.net", To: []string{"support@example.com"}, Subject: "third", Body: "x"})
	if tk := b.Show(3); tk.Subject != "third" {
		t.Errorf("ticket 3 after the restart: %+v", tk)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runWithTimeout runs cmd and returns its combined output; a command still
// running after d is killed (a daemon that started when it should not).
func runWithTimeout(cmd *exec.Cmd, d time.Duration) (string, error) {
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return buf.String(), err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return buf.String(), nil
	}
}
