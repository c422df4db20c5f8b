package acceptance

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifySocket is a unixgram socket standing in for systemd's
// NOTIFY_SOCKET: every datagram the daemon sends is one message.
type notifySocket struct {
	path string
	conn *net.UnixConn
	msgs chan string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	// A short path: unix socket names are limited to 107 bytes.
	dir, err := os.MkdirTemp("", "sd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{path: path, conn: conn, msgs: make(chan string, 1000)}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return n
}

// next returns the next message that is not a watchdog ping, within
// timeout; pings are counted into *pings when it is not nil.
func (n *notifySocket) next(t *testing.T, timeout time.Duration, pings *int) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-n.msgs:
			if !ok {
				t.Fatal("notify socket closed")
			}
			if m == "WATCHDOG=1\n" {
				if pings != nil {
					*pings++
				}
				continue
			}
			return m
		case <-deadline:
			t.Fatalf("no systemd notification within %s", timeout)
			return ""
		}
	}
}

var _ = claim("systemd: with NOTIFY_SOCKET the daemon sends READY=1 (with MAINPID and STATUS) once the SMTP listener is up, WATCHDOG=1 every WATCHDOG_USEC/2, RELOADING=1 then READY=1 around a SIGHUP, and STOPPING=1 on SIGTERM",
	"TestSystemdNotify")

func TestSystemdNotify(t *testing.T) {
	ns := listenNotify(t)
	e := Start(t, Options{Env: []string{"NOTIFY_SOCKET=" + ns.path, "WATCHDOG_USEC=400000"}})

	ready := ns.next(t, 30*time.Second, nil)
	if !strings.Contains(ready, "READY=1\n") || !strings.Contains(ready, "MAINPID="+strconv.Itoa(e.Proc.Pid())+"\n") || !strings.Contains(ready, "STATUS=SMTP on "+e.SMTP) {
		t.Fatalf("first notification %q, want READY=1 with MAINPID and STATUS", ready)
	}
	// Ready means listening: a client gets the greeting.
	if c, err := net.Dial("tcp", e.SMTP); err != nil {
		t.Fatalf("READY=1 was sent but SMTP does not answer: %v", err)
	} else {
		c.Close()
	}

	// Pings every 200 ms (half of 400 ms): at least 5 in 2 s.
	pings := 0
	began := time.Now()
	for time.Since(began) < 2*time.Second {
		select {
		case m := <-ns.msgs:
			if m != "WATCHDOG=1\n" {
				t.Fatalf("unexpected notification %q", m)
			}
			pings++
		case <-time.After(100 * time.Millisecond):
		}
	}
	if pings < 5 {
		t.Errorf("%d watchdog pings in 2s with WATCHDOG_USEC=400000, want about 10", pings)
	}

	e.Proc.Signal(syscall.SIGHUP)
	if m := ns.next(t, 30*time.Second, nil); !strings.HasPrefix(m, "RELOADING=1\n") {
		t.Fatalf("after SIGHUP %q, want RELOADING=1", m)
	}
	if m := ns.next(t, 30*time.Second, nil); !strings.HasPrefix(m, "READY=1\n") {
		t.Fatalf("after the reload %q, want READY=1", m)
	}

	e.Proc.Signal(syscall.SIGTERM)
	if m := ns.next(t, 30*time.Second, nil); !strings.HasPrefix(m, "STOPPING=1\n") {
		t.Fatalf("after SIGTERM %q, want STOPPING=1", m)
	}
	e.Stop()
}

var _ = claim("the shipped systemd unit (scripts/systemd/helpdesk.service) is Type=notify with a watchdog, reloads with SIGHUP, and is hardened (NoNewPrivileges, PrivateTmp, ProtectSystem=strict, write access only to data_dir); systemd-analyze verify accepts it",
	"TestSystemdUnit")

func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("../../scripts/systemd/helpdesk.service")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string][]string{}
	for _, l := range strings.Split(string(unit), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			set[k] = append(set[k], v)
		}
	}
	for k, want := range map[string]string{
		"Type": "notify", "NotifyAccess": "main", "ExecReload": "/bin/kill -HUP $MAINPID",
		"NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectSystem": "strict",
		"ReadWritePaths": "/var/lib/helpdesk", "WorkingDirectory": "/var/lib/helpdesk",
	} {
		if got := set[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if w := set["WatchdogSec"]; len(w) != 1 || w[0] == "" || w[0] == "0" {
		t.Errorf("WatchdogSec=%q, want a watchdog", w)
	}
	if ts := set["TimeoutStopSec"]; len(ts) != 1 {
		t.Errorf("TimeoutStopSec=%q", ts)
	} else if d, err := time.ParseDuration(ts[0]); err != nil || d <= 30*time.Second {
		t.Errorf("TimeoutStopSec=%s must exceed the default shutdown_timeout (30s)", ts[0])
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (apt-get install systemd): the unit was checked for its directives only")
	}
	// verify wants ExecStart's binary to exist: point it at the one built
	// for this run, and name the file as the unit is named.
	text := strings.Replace(string(unit), "ExecStart=/usr/local/bin/helpdesk ", "ExecStart="+bin+" ", 1)
	path := filepath.Join(t.TempDir(), "helpdesk.service")
	writeBytes(t, path, []byte(text))
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	t.Logf("systemd-analyze verify: %v\n%s", err, out)
	if err != nil {
		t.Errorf("systemd-analyze verify refuses the unit: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		// Only lines about our unit count (the host's own units may
		// have problems of their own).
		if strings.Contains(l, "helpdesk.service") {
			t.Errorf("systemd-analyze verify: %s", l)
		}
	}
}
