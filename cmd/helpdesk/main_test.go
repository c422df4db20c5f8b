package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"helpdesk/config"
	"helpdesk/gateway/control"
	"helpdesk/gateway/daemon"
)

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func writeConfig(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "helpdesk.toml")
	// The test config of gateway/internal/testkit (BaseConfig), which
	// cmd/helpdesk may not import: loopback ports of the system's choice,
	// no relay, a resolver nobody answers.
	text := fmt.Sprintf(`data_dir = %q
hostname = "helpdesk.test"
[smtp]
listen = "127.0.0.1:0"
[http]
listen = "127.0.0.1:0"
[outbound]
relay = ""
starttls = "none"
retry_initial = "50ms"
retry_max = "200ms"
[auth]
resolver = "127.0.0.1:1"
dns_timeout = "2s"
dns_cache = "0s"
staff = ["dmarc", "authres"]
trusted_relays = ["127.0.0.1/32"]
`, filepath.Join(dir, "data")) + `
[[mailbox]]
address = "support@example.com"
name = "Support"
group = "support"
[[group]]
name = "support"
[[agent]]
email = "victoria@example.com"
name = "Victoria"
role = "agent"
groups = ["support"]
`
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sendMail speaks plain SMTP to the daemon (go-smtp's SendMail insists
// on STARTTLS, which a test daemon without a certificate does not offer).
func sendMail(addr, from, to, raw string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail(from, []string{to}, strings.NewReader(raw)); err != nil {
		return err
	}
	return c.Quit()
}

const mail1 = "From: Ken <ken@e-fun.example>\r\nTo: support@example.com\r\nSubject: Printer on fire\r\nMessage-ID: <p1@e-fun.example>\r\n\r\nIt is burning.\r\n"

func TestShippedConfigChecks(t *testing.T) {
	code, out, _ := runCLI(t, "", "check-config", "-config", "../../helpdesk.toml")
	if code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("check-config on the shipped file: code %d, %q", code, out)
	}
}

func TestCheckConfigReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.toml")
	os.WriteFile(p, []byte(`data_dir = "./d"
[smtp]
max_message_bytes = "lots"
max_mesage_bytes = 5
[[mailbox]]
name = "no address"
[[agent]]
email = "a@example.com"
role = "boss"
`), 0o600)
	code, out, _ := runCLI(t, "", "check-config", "--config", p)
	if code == 0 {
		t.Fatalf("bad config accepted: %s", out)
	}
	for _, want := range []string{"smtp.max_message_bytes", "max_mesage_bytes", "mailbox[0].address", "agent[0].role"} {
		if !strings.Contains(out, want) {
			t.Errorf("check-config output lacks %q:\n%s", want, out)
		}
	}
}

// Without a running daemon the CLI opens the store itself; flags may
// follow positional arguments.
func TestCLIWithoutDaemon(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir)
	code, out, errs := runCLI(t, mail1, "inject", "-", "-config", cfgPath)
	if code != 0 || !strings.Contains(out, "ticket #1") {
		t.Fatalf("inject: %d %q %q", code, out, errs)
	}
	// The same mail again is stored once.
	code, out, _ = runCLI(t, mail1, "inject", "-config", cfgPath)
	if code != 0 || !strings.Contains(out, "duplicate") {
		t.Fatalf("second inject: %d %q", code, out)
	}
	code, out, _ = runCLI(t, "", "tickets", "-config", cfgPath, "--json")
	var list []control.TicketSummary
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].Subject != "Printer on fire" {
		t.Fatalf("tickets --json: %d %s", code, out)
	}
	code, out, _ = runCLI(t, "", "show", "1", "--json", "-config", cfgPath)
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
		t.Fatalf("show --json: %d %s", code, out)
	}
	for _, k := range []string{"id", "subject", "status", "priority", "mailbox", "requester", "assignee", "group", "ccs", "followers", "tags", "links", "threads", "comments", "attachments"} {
		if _, ok := v[k]; !ok {
			t.Errorf("show --json lacks %q", k)
		}
	}
	cs := v["comments"].([]any)
	first := cs[0].(map[string]any)
	for _, k := range []string{"id", "thread", "author", "visibility", "text", "created", "message_id"} {
		if _, ok := first[k]; !ok {
			t.Errorf("comment lacks %q", k)
		}
	}
	if first["text"] != "It is burning." || first["visibility"] != "public" {
		t.Errorf("first comment = %v", first)
	}
	code, out, _ = runCLI(t, "", "show", "-config", cfgPath, "1")
	if code != 0 || !strings.Contains(out, "Printer on fire") || !strings.Contains(out, "It is burning.") {
		t.Errorf("show: %d %s", code, out)
	}
	code, _, errs = runCLI(t, "", "show", "99", "-config", cfgPath)
	if code == 0 || !strings.Contains(errs, "not found") {
		t.Errorf("show 99: %d %q", code, errs)
	}
	code, out, _ = runCLI(t, "", "outbox", "-config", cfgPath)
	if code != 0 || !strings.Contains(out, "queued 2") || !strings.Contains(out, "ack") {
		t.Errorf("outbox (the ack and the group notification wait for the daemon): %d %s", code, out)
	}
	code, out, _ = runCLI(t, "", "quarantine", "-config", cfgPath)
	if code != 0 || !strings.Contains(out, "nothing quarantined") {
		t.Errorf("quarantine: %d %s", code, out)
	}
}

// With the daemon running the CLI goes through the control socket (the
// store file is locked by the daemon).
func TestCLIWithDaemonAndBackup(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(cfg, daemon.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(t.Context())
	if err := sendMail(d.SMTPAddr, "ken@e-fun.example", "support@example.com", mail1); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCLI(t, "", "tickets", "-config", cfgPath)
	if code != 0 || !strings.Contains(out, "Printer on fire") {
		t.Fatalf("tickets via socket: %d %q %q", code, out, errs)
	}
	code, out, _ = runCLI(t, strings.Replace(mail1, "p1@", "p2@", 1), "inject", "-config", cfgPath)
	if code != 0 || !strings.Contains(out, "ticket #2") {
		t.Fatalf("inject via socket: %d %q", code, out)
	}
	code, out, _ = runCLI(t, "", "rotate-key", "-config", cfgPath)
	if code != 0 || !strings.Contains(out, "2 secrets") {
		t.Fatalf("rotate-key: %d %q", code, out)
	}
	bk := filepath.Join(dir, "backup.tar")
	code, out, errs = runCLI(t, "", "backup", bk, "-config", cfgPath)
	if code != 0 {
		t.Fatalf("backup: %d %q %q", code, out, errs)
	}
	// Restore into a new data dir and read the tickets back without a daemon.
	rdir := filepath.Join(dir, "restored")
	rcfg := strings.Replace(readFile(t, cfgPath), filepath.Join(dir, "data"), rdir, 1)
	rpath := filepath.Join(dir, "restored.toml")
	os.WriteFile(rpath, []byte(rcfg), 0o600)
	code, out, errs = runCLI(t, "", "restore", bk, "-config", rpath)
	if code != 0 || !strings.Contains(out, "restored") {
		t.Fatalf("restore: %d %q %q", code, out, errs)
	}
	if code, _, errs = runCLI(t, "", "restore", bk, "-config", rpath); code == 0 || !strings.Contains(errs, "already holds a store") {
		t.Errorf("restore over a store: %d %q", code, errs)
	}
	code, out, _ = runCLI(t, "", "tickets", "--json", "-config", rpath)
	var list []control.TicketSummary
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 {
		t.Fatalf("tickets from the restored backup: %d %s", code, out)
	}
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseInterspersed(t *testing.T) {
	code, out, _ := runCLI(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "helpdesk ") {
		t.Errorf("version: %d %q", code, out)
	}
	code, _, errs := runCLI(t, "", "frobnicate")
	if code != 2 || !strings.Contains(errs, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errs)
	}
}

// countingReader yields size bytes of a mail (headers, then lines of x)
// and counts what was read from it.
type countingReader struct{ read, size int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	const head = "From: Ken <ken@e-fun.example>\r\nTo: support@example.com\r\nSubject: big\r\nMessage-ID: <big@e-fun.example>\r\n\r\n"
	if r.read >= r.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.read < r.size {
		if r.read < int64(len(head)) {
			p[n] = head[r.read]
		} else if (r.read-int64(len(head)))%100 >= 98 {
			p[n] = "\r\n"[(r.read-int64(len(head)))%100-98]
		} else {
			p[n] = 'x'
		}
		n++
		r.read++
	}
	return n, nil
}

// inject loads the config first and reads at most max_message_bytes + 1
// of the mail: a larger one is refused (EX_DATAERR) without being read
// into memory, and nothing is read while the config is broken.
func TestInjectSizeLimit(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir)
	const maxBytes = 64 << 10
	text := strings.Replace(readFile(t, cfgPath), "[smtp]\n", "[smtp]\nmax_message_bytes = \"64KiB\"\n", 1)
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	inject := func(r io.Reader, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(append([]string{"inject"}, args...), r, &out, &errb)
		return code, out.String(), errb.String()
	}

	big := &countingReader{size: 8 * maxBytes}
	code, out, errs := inject(big, "-config", cfgPath)
	if code != 65 || !strings.Contains(errs, "larger than smtp.max_message_bytes (64KiB)") {
		t.Errorf("oversized mail: %d %q %q", code, out, errs)
	}
	if big.read > maxBytes+1 {
		t.Errorf("read %d bytes of an oversized mail, want at most %d", big.read, maxBytes+1)
	}

	over := &countingReader{size: maxBytes + 1}
	if code, out, errs := inject(over, "-config", cfgPath); code != 65 {
		t.Errorf("mail of maxBytes+1 bytes: %d %q %q", code, out, errs)
	}
	exact := &countingReader{size: maxBytes}
	if code, out, errs := inject(exact, "-config", cfgPath); code != 0 || !strings.Contains(out, "stored as message") {
		t.Errorf("mail of exactly maxBytes bytes: %d %q %q", code, out, errs)
	}

	broken := filepath.Join(dir, "broken.toml")
	if err := os.WriteFile(broken, []byte("data_dir = \"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unread := &countingReader{size: 1000}
	if code, _, errs := inject(unread, "-config", broken); code != 75 || unread.read != 0 {
		t.Errorf("broken config: exit %d after reading %d bytes (%q), want 75 before reading", code, unread.read, errs)
	}
	if code, _, errs := inject(strings.NewReader(""), filepath.Join(dir, "missing.eml"), "-config", cfgPath); code != 66 {
		t.Errorf("missing file: exit %d %q, want 66", code, errs)
	}
}
