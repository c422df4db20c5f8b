package acceptance

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"helpdesk/store/postgres/pgtest"
)

var _ = claim("a PostgreSQL store moved with helpdesk migrate to bbolt and back reports the same figures as before the moves, also after a daemon started on each copy: no ticket counted twice",
	"TestMigrateRoundTripKeepsReportFigures")

// reportFigures is `helpdesk report --by B --format json` of each
// grouping without the lines that name the moment it was asked (from,
// to, backlog_at), so two reports of one store taken minutes apart
// compare equal.
func reportFigures(e *Env) string {
	e.T.Helper()
	now := regexp.MustCompile(`(?m)^\s*"(from|to|backlog_at)": .*$`)
	var b strings.Builder
	for _, by := range []string{"agents", "groups", "mailboxes", "tickets"} {
		out := e.MustCLI("report", "--by", by, "--format", "json", "--period", "30d")
		fmt.Fprintf(&b, "== %s\n%s\n", by, now.ReplaceAllString(out, ""))
	}
	return b.String()
}

// A PostgreSQL store's report index is written as mail arrives (its
// daemons never backfill it); a bbolt copy of it must not be backfilled
// again when a daemon opens it, nor its PostgreSQL copy by the migration:
// either would count every ticket twice.
func TestMigrateRoundTripKeepsReportFigures(t *testing.T) {
	dsn1 := pgtest.NewDB(t)
	a := Start(t, Options{Store: "postgres", DSN: dsn1})
	n1 := a.Open(kenFr, "Invoice 4711 is wrong", "The total is off by 10 EUR.", vic)
	a.Open("Amy <amy@e-fun.example>", "Login fails", "I cannot log in.", vic)
	a.Reply(vicFr, n1, "#resolved\nRefunded.")
	a.Settle()
	a.Stop()
	want := reportFigures(a)
	if !strings.Contains(want, `"received": 2,`) {
		t.Fatalf("the source's report does not count the 2 tickets:\n%s", want)
	}

	dir := t.TempDir()
	if out, code := migrateCLI(t, a.Config, "--from", "postgres", "--to", "bbolt", "--data-dir", dir); code != 0 {
		t.Fatalf("migrate postgres → bbolt: exit %d\n%s", code, out)
	}
	b := Start(t, Options{Store: "bbolt", Dir: dir})
	b.Stop()
	if got := reportFigures(b); got != want {
		t.Errorf("after postgres → bbolt and a daemon's start the report differs:\nbefore:\n%s\nafter:\n%s", want, got)
	}

	dsn2 := pgtest.NewDB(t)
	if out, code := migrateCLI(t, b.Config, "--from", "bbolt", "--to", "postgres", "--dsn", dsn2); code != 0 {
		t.Fatalf("migrate bbolt → postgres: exit %d\n%s", code, out)
	}
	c := Start(t, Options{Store: "postgres", DSN: dsn2})
	c.Stop()
	if got := reportFigures(c); got != want {
		t.Errorf("after bbolt → postgres the report differs:\nbefore:\n%s\nafter:\n%s", want, got)
	}
}
