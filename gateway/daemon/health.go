package daemon

import (
	"fmt"
	"strings"
	"syscall"
	"time"

	"helpdesk/config"
	"helpdesk/store"
	"helpdesk/store/model"
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
		// Mail that waits too long: a relay refusing it mail by mail (a
		// 4xx per message is not a relay failure), a stuck worker, or a
		// backlog the relay cannot take.
		{"queue", func() error {
			limit := d.Engine.Config().HTTP.HealthQueueAge.D()
			age, id, err := d.oldestQueued()
			if err != nil || limit <= 0 || age <= limit {
				return err
			}
			return fmt.Errorf("the oldest queued outbound mail (%d) has waited %s, longer than [http] health_queue_age (%s); see helpdesk outbox for its last error",
				id, age.Round(time.Second), limit)
		}},
		// A full disk makes every store write fail; say so before it is.
		{"disk", func() error {
			floor := int64(d.Engine.Config().HTTP.HealthMinFree)
			free, err := freeBytes(d.Engine.Config().DataDir)
			if err != nil || floor <= 0 || free >= floor {
				return err
			}
			return fmt.Errorf("%s free on the file system of data_dir %s, below [http] health_min_free (%s)",
				config.Size(free), d.Engine.Config().DataDir, config.Size(floor))
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

// oldestQueued is how long the oldest queued outbound mail has waited
// (counted from its enqueueing, or from `helpdesk outbox retry`), and its
// id; 0 when the queue is empty.
func (d *Daemon) oldestQueued() (time.Duration, uint64, error) {
	var o *model.Outbound
	err := d.DB.View(func(tx store.Tx) error {
		var err error
		o, err = tx.OldestQueued()
		return err
	})
	if err != nil || o == nil {
		return 0, 0, err
	}
	since := o.Created
	if o.Requeued.After(since) {
		since = o.Requeued
	}
	return max(time.Since(since), 0), o.ID, nil
}

// freeBytes is the space an unprivileged process may still use on the
// file system holding dir.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("reading the free space of %s: %w", dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
