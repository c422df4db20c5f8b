// Package acceptance is the outside-in suite: every test builds the real
// helpdesk binary (once per run), starts it as a child process on a fresh
// data directory with a real SMTP sink as its relay and a test DNS server
// for DKIM/DMARC, speaks SMTP to it, runs its CLI, and asserts on what
// each recipient's mailbox holds. claims_test.go maps every claim of the
// README and the #help card to the test that proves it.
package acceptance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"helpdesk/gateway/internal/bench"
	"helpdesk/gateway/internal/dnstest"
	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/postgres/pgtest"
)

// bin is the helpdesk binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "helpdesk-acceptance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "helpdesk")
	build := exec.Command("go", "build", "-o", bin, "helpdesk/cmd/helpdesk")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "acceptance: building the binary:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := pgtest.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// touchSources reads every source file of the module. The binary these
// tests run is built by a subprocess, so go test's result cache would not
// see a change to cmd/helpdesk; files the test process itself reads are
// part of the cache key, so reading them all makes any change rerun the
// suite. It must run inside a test (go test logs file access only from
// m.Run on): Start calls it once.
func touchSources() { sourcesOnce.Do(readSources) }

var sourcesOnce sync.Once

func readSources() {
	filepath.WalkDir("../..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if n := d.Name(); n == ".git" || n == "testdata" || n == "data" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "go.mod") || strings.HasSuffix(path, "go.sum") {
			os.ReadFile(path)
		}
		return nil
	})
}

// Staff is the team most tests use: certs.example is the staff domain
// (DKIM key published by the test DNS server), support@example.com the
// mailbox.
const Staff = `
[[group]]
name = "support"

[[mailbox]]
address = "support@example.com"
name = "Certs Support"
group = "support"

[[agent]]
name = "Victoria"
email = "victoria@certs.example"
role = "agent"
groups = ["support"]

[[agent]]
name = "Venkat"
email = "venkat@certs.example"
role = "agent"
groups = ["support"]

[[agent]]
name = "Lena"
email = "lena@certs.example"
role = "light"

[[agent]]
name = "Ada"
email = "ada@certs.example"
role = "admin"
groups = ["support"]
`

// Options shape one daemon.
type Options struct {
	// Config is appended to the generated base config (testkit.BaseConfig).
	// Without it, Staff is used.
	Config string
	// SMTP, HTTP and Outbound are extra keys of those tables.
	SMTP     string
	HTTP     string
	Outbound string
	// Auth holds extra keys of the [auth] table (e.g. trusted_authserv_ids).
	Auth string
	// NoRelay: outbound mail goes to data_dir/outbox/*.eml.
	NoRelay bool
	// Sink is the relay to use (default: a new one).
	Sink *testkit.Sink
	// Dir is the data directory (default: a temp dir); reuse it to
	// restart on the same store.
	Dir string
	// Env is added to the daemon's environment (NOTIFY_SOCKET=...).
	Env []string
	// Store is the storage engine: "bbolt" or "postgres"; "" is the
	// engine HELPDESK_TEST_STORE names (bbolt when unset), so the whole
	// suite runs on PostgreSQL with HELPDESK_TEST_STORE=postgres.
	Store string
	// DSN is the PostgreSQL database (default: a new one per Start);
	// daemons given the same DSN share it.
	DSN string
}

// bboltOnly skips a test of the bbolt engine's own file (its format,
// backup tar, blob files, damage) when the suite runs on PostgreSQL.
func bboltOnly(t testing.TB) {
	t.Helper()
	if os.Getenv("HELPDESK_TEST_STORE") == "postgres" {
		t.Skip("tests the bbolt engine's file and blob directory; the suite runs on PostgreSQL (HELPDESK_TEST_STORE=postgres)")
	}
}

// storeConfig is the [store] table o asks for ("" for bbolt), creating a
// database on the test binary's PostgreSQL cluster when none is given.
func storeConfig(t testing.TB, o *Options) string {
	if o.Store == "" {
		o.Store = os.Getenv("HELPDESK_TEST_STORE")
	}
	if o.Store != "postgres" || strings.Contains(o.Config, "[store]") {
		return ""
	}
	if o.DSN == "" {
		o.DSN = pgtest.NewDB(t)
	}
	return fmt.Sprintf("\n[store]\nengine = \"postgres\"\ndsn = %q\n", o.DSN)
}

// Env is one running helpdesk binary with its sink and DNS.
type Env struct {
	T      testing.TB
	Dir    string
	Config string // path of helpdesk.toml
	Sink   *testkit.Sink
	DNS    *dnstest.Server
	Proc   *bench.Proc
	SMTP   string
	HTTP   string
	Signer *testkit.Signer
	logs   *syncBuffer
	seq    int
	env    []string
}

// Start builds the config, starts `helpdesk serve` and waits until it
// listens. It is stopped (SIGTERM) at test cleanup.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	touchSources()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Config == "" {
		o.Config = Staff
	}
	e := &Env{T: t, Dir: o.Dir, DNS: dnstest.Start(t), logs: &syncBuffer{}, env: o.Env}
	relay := ""
	if !o.NoRelay {
		e.Sink = o.Sink
		if e.Sink == nil {
			e.Sink = testkit.StartSink(t)
		}
		relay = e.Sink.Addr
	}
	text := testkit.BaseConfig(o.Dir, relay, e.DNS.Addr())
	text = strings.Replace(text, "[smtp]\n", "[smtp]\n"+o.SMTP+"\n", 1)
	text = strings.Replace(text, "[http]\n", "[http]\n"+o.HTTP+"\n", 1)
	if strings.Contains(o.Outbound, "starttls =") { // replaces the base's "none"
		text = strings.Replace(text, "starttls = \"none\"\n", "", 1)
	}
	text = strings.Replace(text, "[outbound]\n", "[outbound]\n"+o.Outbound+"\n", 1)
	if strings.Contains(o.Auth, "staff =") { // replaces the base's list
		text = strings.Replace(text, "staff = [\"dmarc\", \"authres\"]\n", "", 1)
	}
	text = strings.Replace(text, "[auth]\n", "[auth]\n"+o.Auth+"\n", 1)
	text += "\n" + o.Config + storeConfig(t, &o)
	e.Config = filepath.Join(o.Dir, "helpdesk.toml")
	if err := os.WriteFile(e.Config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	e.Signer = e.dkim("certs.example")
	e.start()
	t.Cleanup(func() { e.Stop() })
	return e
}

func (e *Env) start() {
	e.T.Helper()
	p, err := bench.StartProc("helpdesk", bin, []string{"serve", "-config", e.Config}, e.Dir, e.logs, e.env)
	if err != nil {
		e.T.Fatalf("starting helpdesk: %v", err)
	}
	e.Proc, e.SMTP, e.HTTP = p, p.SMTPAddr, p.HTTPAddr
}

// dkim publishes a DKIM key and a p=reject DMARC record for domain.
func (e *Env) dkim(domain string) *testkit.Signer {
	d := &testkit.Daemon{DNS: e.DNS}
	return d.DKIM(e.T, domain)
}

// Stop ends the daemon with SIGTERM (idempotent).
func (e *Env) Stop() {
	if e.Proc == nil {
		return
	}
	if err := e.Proc.Stop(20 * time.Second); err != nil {
		e.T.Logf("helpdesk stop: %v", err)
	}
	if e.T.Failed() {
		e.T.Logf("helpdesk log tail:\n%s", e.Logs())
	}
	e.Proc = nil
}

// Restart stops the daemon and starts it again on the same data directory
// and config.
func (e *Env) Restart() {
	e.T.Helper()
	e.Stop()
	e.start()
}

// Crash kills the daemon with SIGKILL (no shutdown of any kind) and
// waits for it to be gone.
func (e *Env) Crash() {
	e.T.Helper()
	if e.Proc != nil {
		e.Proc.Kill()
		e.Proc = nil
	}
}

// StartAgain starts the daemon again on the same data directory and
// config (after Crash or Stop), with env as its extra environment.
func (e *Env) StartAgain(env ...string) {
	e.T.Helper()
	e.Stop()
	e.env = env
	e.start()
}

// Logs is everything the daemon wrote to stderr.
func (e *Env) Logs() string { return e.logs.String() }

// Send speaks SMTP to the daemon: envelope from, rcpts, raw message.
func (e *Env) Send(from string, rcpts []string, raw []byte) error {
	return testkit.SendMail(e.SMTP, from, rcpts, raw)
}

// SendFrom is Send from a chosen loopback client address (127.0.0.2, ...),
// so one test can play several SMTP clients.
func (e *Env) SendFrom(clientIP, from string, rcpts []string, raw []byte) error {
	return testkit.SendMailFrom(clientIP, e.SMTP, from, rcpts, raw)
}

// MustSend is Send that fails the test unless the mail got 250, and then
// waits until everything it caused has left the outbound queue.
func (e *Env) MustSend(from string, rcpts []string, raw []byte) {
	e.T.Helper()
	if err := e.Send(from, rcpts, raw); err != nil {
		e.T.Fatalf("sending mail from %s: %v", from, err)
	}
	e.Settle()
}

// ID returns a fresh Message-ID (without brackets).
func (e *Env) ID(who string) string {
	e.seq++
	return fmt.Sprintf("%s-%d.%d@client.test", who, e.seq, time.Now().UnixNano())
}

// Customer sends an end user's mail (envelope sender = From address,
// recipients = our addresses on To/Cc) and returns its Message-ID.
func (e *Env) Customer(m testkit.Mail) string {
	e.T.Helper()
	if m.MessageID == "" {
		m.MessageID = e.ID("c")
	}
	e.MustSend(Addr(m.From), OurRcpts(m), m.Build())
	return m.MessageID
}

// Agent sends a DKIM-signed mail from a staff member of certs.example.
func (e *Env) Agent(m testkit.Mail) string {
	e.T.Helper()
	if m.MessageID == "" {
		m.MessageID = e.ID("a")
	}
	e.MustSend(Addr(m.From), OurRcpts(m), e.Signer.Sign(e.T, m.Build()))
	return m.MessageID
}

// AgentRaw DKIM-signs and sends a raw mail from a staff member.
func (e *Env) AgentRaw(from string, rcpts []string, raw []byte) {
	e.T.Helper()
	e.MustSend(from, rcpts, e.Signer.Sign(e.T, raw))
}

// CLI runs the binary with args (the config flag is added) and returns
// stdout, stderr and the exit code.
func (e *Env) CLI(args ...string) (string, string, int) {
	e.T.Helper()
	cmd := exec.Command(bin, append(args, "-config", e.Config)...)
	cmd.Dir = e.Dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if x, ok := err.(*exec.ExitError); ok {
		code = x.ExitCode()
	} else if err != nil {
		e.T.Fatalf("running helpdesk %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// MustCLI is CLI that fails the test on a non-zero exit.
func (e *Env) MustCLI(args ...string) string {
	e.T.Helper()
	out, errs, code := e.CLI(args...)
	if code != 0 {
		e.T.Fatalf("helpdesk %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errs)
	}
	return out
}

// JSON runs a CLI command with --json and decodes its output into v.
func (e *Env) JSON(v any, args ...string) {
	e.T.Helper()
	out := e.MustCLI(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		e.T.Fatalf("helpdesk %v --json: %v\n%s", args, err, out)
	}
}

// Ticket is `helpdesk show N --json`, decoded loosely.
type Ticket struct {
	ID        uint64   `json:"id"`
	Subject   string   `json:"subject"`
	Status    string   `json:"status"`
	Priority  string   `json:"priority"`
	Type      string   `json:"type"`
	Mailbox   string   `json:"mailbox"`
	Requester string   `json:"requester"`
	Assignee  string   `json:"assignee"`
	Group     string   `json:"group"`
	CCs       []string `json:"ccs"`
	Followers []string `json:"followers"`
	Tags      []string `json:"tags"`
	Links     []struct {
		Kind   string `json:"kind"`
		Ticket uint64 `json:"ticket"`
	} `json:"links"`
	Threads []struct {
		ID           int      `json:"id"`
		Kind         string   `json:"kind"`
		Subject      string   `json:"subject"`
		Status       string   `json:"status"`
		Participants []string `json:"participants"`
	} `json:"threads"`
	Comments    []Comment `json:"comments"`
	Attachments []struct {
		Comment     uint64 `json:"comment"`
		Name        string `json:"name"`
		ContentType string `json:"content_type"`
		Size        int64  `json:"size"`
	} `json:"attachments"`
	Flags []string `json:"flags"`
	// CSAT is the satisfaction rating (nil: none).
	CSAT *struct {
		Rating  int       `json:"rating"`
		Comment string    `json:"comment"`
		At      time.Time `json:"at"`
	} `json:"csat"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Comment is one comment of `helpdesk show N --json`.
type Comment struct {
	ID         uint64    `json:"id"`
	Thread     int       `json:"thread"`
	Kind       string    `json:"kind"`
	Author     string    `json:"author"`
	Visibility string    `json:"visibility"`
	Text       string    `json:"text"`
	MessageID  string    `json:"message_id"`
	Created    time.Time `json:"created"`
	Reason     string    `json:"reason"`
}

// Show is `helpdesk show N --json`.
func (e *Env) Show(n uint64) *Ticket {
	e.T.Helper()
	var tk Ticket
	e.JSON(&tk, "show", fmt.Sprint(n))
	return &tk
}

// Outbox is `helpdesk outbox --json`, decoded loosely.
type Outbox struct {
	Queued int `json:"queued"`
	Sent   int `json:"sent"`
	Failed int `json:"failed"`
	Items  []struct {
		ID        uint64 `json:"id"`
		State     string `json:"state"`
		Kind      string `json:"kind"`
		Ticket    uint64 `json:"ticket"`
		Rcpt      string `json:"rcpt"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"last_error"`
	} `json:"items"`
	// Relay is the relay's state ("unknown" when no daemon runs).
	Relay struct {
		Relay     string `json:"relay"`
		State     string `json:"state"`
		LastError string `json:"last_error"`
		Hint      string `json:"hint"`
	} `json:"relay"`
}

// Outbox returns the outbound queue as the CLI shows it.
func (e *Env) Outbox() *Outbox {
	e.T.Helper()
	var o Outbox
	e.JSON(&o, "outbox", "--limit", "1000")
	return &o
}

// Metric scrapes /metrics and returns the value of the first sample whose
// line starts with name (e.g. `helpdesk_outbound_queued` or
// `helpdesk_smtp_sessions{...}`); -1 when absent.
func (e *Env) Metric(name string) float64 {
	e.T.Helper()
	body := e.HTTPGet("/metrics")
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, name+" ") || strings.HasPrefix(l, name+"{") {
			f := strings.Fields(l)
			var v float64
			fmt.Sscan(f[len(f)-1], &v)
			return v
		}
	}
	return -1
}

// HTTPGet fetches a path of the daemon's HTTP listener.
func (e *Env) HTTPGet(path string) string {
	e.T.Helper()
	body, _ := e.HTTPStatus(path)
	return body
}

// HTTPStatus fetches a path and returns body and status code.
func (e *Env) HTTPStatus(path string) (string, int) {
	e.T.Helper()
	c := http.Client{Timeout: 30 * time.Second} // generous: a loaded machine
	resp, err := c.Get("http://" + e.HTTP + path)
	if err != nil {
		e.T.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

// Eventually polls cond every 20 ms until it holds, failing the test with
// what() after timeout.
func (e *Env) Eventually(timeout time.Duration, cond func() bool, what func() string) {
	e.T.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.T.Fatalf("waited %s: %s", timeout, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Settle waits until the outbound queue is empty (every mail enqueued so
// far has been accepted by the sink), up to 60 s (a loaded 2-core machine
// can take seconds per round).
func (e *Env) Settle() {
	e.T.Helper()
	if e.Sink == nil {
		return
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if e.Metric("helpdesk_outbound_queued") == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("outbound queue not empty after 60s:\n%s", e.MustCLI("outbox"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Mailbox is what addr received so far (after the queue settled).
func (e *Env) Mailbox(addr string) []*testkit.Received {
	e.T.Helper()
	e.Settle()
	return e.Sink.To(addr)
}

// Find is the newest mail to addr whose subject or text contains sub.
func (e *Env) Find(addr, sub string) *testkit.Received {
	e.T.Helper()
	ms := e.Mailbox(addr)
	for i := len(ms) - 1; i >= 0; i-- {
		if strings.Contains(ms[i].Header("Subject"), sub) || strings.Contains(ms[i].Env.Text, sub) {
			return ms[i]
		}
	}
	var subjects []string
	for _, m := range ms {
		subjects = append(subjects, m.Header("Subject"))
	}
	e.T.Fatalf("no mail to %s contains %q; it has %d: %q", addr, sub, len(ms), subjects)
	return nil
}

// Text is a received mail's text part with "\n" line ends.
func Text(m *testkit.Received) string { return strings.ReplaceAll(m.Env.Text, "\r\n", "\n") }

// ReplyTo is the address in a received mail's Reply-To header.
func ReplyTo(m *testkit.Received) string { return Addr(m.Header("Reply-To")) }

// Addr extracts the address of "Name <addr>" (or returns s).
func Addr(s string) string {
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		return strings.TrimSuffix(strings.TrimSpace(s[i+1:]), ">")
	}
	return strings.TrimSpace(s)
}

// OurRcpts are the envelope recipients our MX would get: our addresses
// (support*@example.com) on the To and Cc lines.
func OurRcpts(m testkit.Mail) []string {
	var out []string
	for _, a := range append(append([]string{}, m.To...), m.Cc...) {
		a = Addr(a)
		l := strings.ToLower(a)
		if strings.HasSuffix(l, "@example.com") && (strings.HasPrefix(l, "support") || strings.HasPrefix(l, "billing")) {
			out = append(out, a)
		}
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
