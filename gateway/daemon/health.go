package daemon

import (
	"fmt"
	"strings"
	"time"

	"helpdesk/store"
)

// healthCheck is one named condition of /healthz: check returns why the
// daemon is unhealthy in that respect, or nil.
type healthCheck struct {
	name  string
	check func() error
}

// healthChecks are the conditions /healthz reports; any failing one makes
// it answer 503 with every failure named in the body.
func (d *Daemon) healthChecks() []healthCheck {
	return []healthCheck{
		// The store answers a read.
		{"store", func() error {
			return d.DB.View(func(tx store.Tx) error { _ = tx.TicketCount(); return nil })
		}},
		// Deliveries' store writes succeed (a store that reads fine may
		// fail every write, and then every mail gets 451).
		{"commits", func() error { return d.Engine.Commits.Check(time.Now()) }},
		// A relay we cannot use (refused login, TLS, no answer, nothing
		// listening) holds every outgoing mail; it takes an admin, so
		// health says so. The mail stays queued meanwhile.
		{"relay", func() error {
			if st := d.Worker.Relay(); st.State == "failing" {
				return fmt.Errorf("%s failing since %s (%d failures): %s; fix: %s; mail stays queued and is retried",
					st.Relay, st.Since.UTC().Format(time.RFC3339), st.Failures, st.LastError, st.Hint)
			}
			return nil
		}},
		// The last SIGHUP was refused: the daemon runs on an older
		// configuration than the file says, which an operator must know.
		{"config", func() error {
			if r := d.reloadRefused.Load(); r != nil {
				return fmt.Errorf("the reload at %s was refused, the previous configuration stays in force: %v", r.at.UTC().Format(time.RFC3339), r.err)
			}
			return nil
		}},
	}
}

// refusal is a refused reload.
type refusal struct {
	at  time.Time
	err error
}

// ReloadRefused records that a SIGHUP's configuration was refused, for
// /healthz; a successful Reload clears it.
func (d *Daemon) ReloadRefused(err error) {
	d.reloadRefused.Store(&refusal{at: time.Now(), err: err})
}

// health runs the checks and returns the failures, one line each, or "".
func (d *Daemon) health() string {
	var failed []string
	for _, c := range d.healthChecks() {
		if err := c.check(); err != nil {
			failed = append(failed, c.name+": "+err.Error())
		}
	}
	return strings.Join(failed, "\n")
}
