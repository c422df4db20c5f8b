package daemon

import (
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
			return d.DB.View(func(tx *store.Tx) error { _ = tx.TicketCount(); return nil })
		}},
		// Deliveries' store writes succeed (a store that reads fine may
		// fail every write, and then every mail gets 451).
		{"commits", func() error { return d.Engine.Commits.Check(time.Now()) }},
	}
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
