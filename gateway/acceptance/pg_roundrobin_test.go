package acceptance

import (
	"fmt"
	"testing"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/postgres/pgtest"
)

var _ = claim("daemons sharing a PostgreSQL database keep one round-robin: new tickets arriving alternately at two daemons are assigned to the group's agents as one sequence",
	"TestPostgresDaemonsShareOneRoundRobin")

// The config package doc ("PostgreSQL") says round-robin is one state across daemons sharing a
// database: the group's position is a counter row both write. Each
// daemon counting alone would give each agent two tickets in a row.
func TestPostgresDaemonsShareOneRoundRobin(t *testing.T) {
	dsn := pgtest.NewDB(t)
	a := Start(t, Options{Config: Team + pgConfig(dsn, "mx1")})
	b := Start(t, Options{Config: Team + pgConfig(dsn, "mx2"), Sink: a.Sink})
	const n = 6
	var got []string
	for i := range n {
		e := []*Env{a, b}[i%2]
		e.Customer(testkit.Mail{From: fmt.Sprintf("c%d@example.net", i), To: []string{"support@example.com"},
			Subject: fmt.Sprintf("request %d", i), Body: "please", MessageID: fmt.Sprintf("rr%d@client.test", i)})
		got = append(got, e.Show(uint64(i+1)).Assignee)
	}
	// support's agents in the order of the configuration: Victoria,
	// Venkat (Team), taking turns whichever daemon took the mail.
	for i, who := range got {
		if want := []string{vic, venkat}[i%2]; who != want {
			t.Errorf("ticket %d (at daemon %d) assigned to %q, want %s: assignments %q are not one sequence", i+1, i%2+1, who, want, got)
		}
	}
}
