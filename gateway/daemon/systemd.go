package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"helpdesk/store"
)

// Notifier speaks systemd's service notification protocol (sd_notify(3)):
// one datagram of NAME=value lines to the unix socket in $NOTIFY_SOCKET.
// Without that variable (not started by systemd with Type=notify) every
// call does nothing.
type Notifier struct {
	addr *net.UnixAddr
	log  *slog.Logger
}

// NewNotifier reads $NOTIFY_SOCKET; an address starting with "@" is in the
// abstract namespace.
func NewNotifier(log *slog.Logger) *Notifier {
	n := &Notifier{log: log}
	if s := os.Getenv("NOTIFY_SOCKET"); s != "" {
		if strings.HasPrefix(s, "@") {
			s = "\x00" + s[1:]
		}
		n.addr = &net.UnixAddr{Name: s, Net: "unixgram"}
	}
	return n
}

// Enabled says whether systemd listens.
func (n *Notifier) Enabled() bool { return n.addr != nil }

// Notify sends the state lines (e.g. "READY=1") in one datagram. A
// failure is logged, never fatal: the daemon works without its manager.
func (n *Notifier) Notify(state ...string) {
	if n.addr == nil {
		return
	}
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err == nil {
		_, err = c.Write([]byte(strings.Join(state, "\n") + "\n"))
		c.Close()
	}
	if err != nil {
		n.log.Warn("systemd notification failed", "state", strings.Join(state, " "), "socket", os.Getenv("NOTIFY_SOCKET"), "err", err)
	}
}

// WatchdogInterval is half of $WATCHDOG_USEC (systemd's WatchdogSec=), as
// sd_watchdog_enabled(3) advises, or 0 when no watchdog is asked for this
// process.
func WatchdogInterval() time.Duration {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0 // meant for another process
	}
	return time.Duration(usec) * time.Microsecond / 2
}

// Watchdog sends WATCHDOG=1 every interval while the daemon is alive: the
// store answers a read (a daemon wedged on its store stops pinging and is
// restarted). Health problems an admin must fix (a failing relay) do not
// stop it: a restart would not cure them. It returns when ctx ends.
func (d *Daemon) Watchdog(ctx context.Context, n *Notifier, interval time.Duration) {
	if !n.Enabled() || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := d.DB.View(func(tx store.Tx) error { _ = tx.TicketCount(); return nil }); err != nil {
			d.log.Error("watchdog: the store does not answer; not pinging systemd", "err", err)
			continue
		}
		n.Notify("WATCHDOG=1")
	}
}

// ReadyStatus is the STATUS= line sent with READY=1.
func (d *Daemon) ReadyStatus() string {
	return fmt.Sprintf("STATUS=SMTP on %s, data in %s", d.SMTPAddr, d.Config.DataDir)
}
