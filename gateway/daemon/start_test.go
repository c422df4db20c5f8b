package daemon

import (
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helpdesk/config"
)

// A daemon that cannot start says why, in words naming the setting, and
// leaves nothing behind: no panic, the store closed (a second start
// opens it), the SMTP port it had taken released.
func TestStartFailuresAreClearAndClean(t *testing.T) {
	quiet := Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), NoControlSocket: true}

	// A data_dir too long for the control socket path.
	long := filepath.Join(t.TempDir(), strings.Repeat("d", 110))
	if err := os.MkdirAll(long, 0o750); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = long
	cfg.SMTP.Listen, cfg.HTTP.Listen = "127.0.0.1:0", ""
	opt := quiet
	opt.NoControlSocket = false
	if d, err := Start(cfg, opt); err == nil || d != nil || !strings.Contains(err.Error(), "data_dir") || !strings.Contains(err.Error(), "shorter") {
		t.Fatalf("long data_dir: daemon %v, err %v", d, err)
	}
	// The store was closed on the way out: it opens again.
	if d, err := Start(cfg, quiet); err != nil {
		t.Fatalf("second start on the same store: %v", err)
	} else {
		d.Shutdown(t.Context())
	}

	// A failure after the SMTP listener is open releases its port.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	smtpAddr := free.Addr().String()
	free.Close()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg = config.Default()
	cfg.DataDir = t.TempDir()
	cfg.SMTP.Listen, cfg.HTTP.Listen = smtpAddr, busy.Addr().String()
	if _, err := Start(cfg, quiet); err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Fatalf("busy http.listen: %v", err)
	}
	ln, err := net.Listen("tcp", smtpAddr)
	if err != nil {
		t.Fatalf("the SMTP port stays taken after a failed start: %v", err)
	}
	ln.Close()
}
