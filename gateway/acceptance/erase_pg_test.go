package acceptance

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/postgres/pgtest"
)

var _ = claim("on `[store] engine = \"postgres\"`, `helpdesk customer erase ADDR --yes` leaves neither the address nor a sentence of theirs in any row of any table (json, text and bytea columns: large bodies in table blobs too), other people's tickets stay, and the erasure record is a row of table erasures",
	"TestEraseCustomerLeavesNoRowsOnPostgres")

// pgRowsHolding lists table: needle for every needle found in a row of a
// table of the database: in the row's text form (json and text columns)
// or inside a bytea column's bytes.
func pgRowsHolding(t *testing.T, dsn string, needles ...string) []string {
	t.Helper()
	var hits []string
	for _, tbl := range pgQuery(t, dsn, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1") {
		byteaCols := pgQuery(t, dsn, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND data_type = 'bytea'", tbl)
		for _, n := range needles {
			cond := []string{"strpos(lower(r::text), lower($1)) > 0"}
			for _, c := range byteaCols {
				cond = append(cond, fmt.Sprintf("position(convert_to($1, 'UTF8') in r.%s) > 0", c))
			}
			got := pgQuery(t, dsn, fmt.Sprintf("SELECT count(*) FROM %s r WHERE %s", tbl, strings.Join(cond, " OR ")), n)
			if len(got) == 1 && got[0] != "0" {
				hits = append(hits, tbl+": "+n)
			}
		}
	}
	return hits
}

func TestEraseCustomerLeavesNoRowsOnPostgres(t *testing.T) {
	dsn := pgtest.NewDB(t)
	e := Start(t, Options{NoRelay: true, Store: "postgres", DSN: dsn, SMTP: `spool_threshold = "4KiB"`})
	const ken, sentence = eraseKen, eraseSentence
	mailEraseTickets(e)
	e.Agent(testkit.Mail{From: vicFr, To: []string{"support@example.com"}, Subject: "Re: teapot", Body: "#ticket 1\n#status pending\nDear Ken, we are checking the policy."})
	e.Eventually(30*time.Second, func() bool { return e.Outbox().Queued == 0 }, func() string { return e.MustCLI("outbox") })
	needles := []string{ken, sentence, "Eraseme", "teapot inventory line"}
	if hits := pgRowsHolding(t, dsn, needles...); len(hits) < 4 || !strings.Contains(strings.Join(hits, "\n"), "blobs: "+ken) {
		t.Fatalf("before the erase the data is only in %v: the search would prove nothing", hits)
	}

	var ev erasureView
	e.JSON(&ev, "customer", "erase", ken, "--yes")
	if ev.Record.Tickets != 2 || ev.Record.Messages < 2 {
		t.Errorf("erasure record %+v: want 2 tickets, ≥2 mails", ev.Record)
	}
	if hits := pgRowsHolding(t, dsn, needles...); len(hits) > 0 {
		t.Errorf("after the erase, rows still hold their data: %v", hits)
	}
	if tk := e.Show(3); tk.Requester != "bob@other.example" || len(tk.Comments) == 0 || !strings.Contains(tk.Comments[0].Text, "Bob asks") {
		t.Errorf("Bob's ticket after the erase: %+v", tk)
	}
	if got := pgQuery(t, dsn, "SELECT erased_by || ' ' || via || ' ' || tickets FROM erasures"); len(got) != 1 || got[0] != "cli cli 2" {
		t.Errorf("table erasures holds %q, want one row: cli cli 2", got)
	}
}
