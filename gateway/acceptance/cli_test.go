package acceptance

import (
	"bytes"
	"context"
	"mime"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

var (
	_ = claim("`helpdesk inject --rcpt ADDR --sender ADDR` routes by the envelope like SMTP: a Bcc'd mailbox gets the ticket, a reply token threads, an unknown recipient exits 67 (EX_NOUSER) storing nothing, the null sender is never answered",
		"TestInjectRoutesByTheEnvelope")
	_ = claim("`helpdesk tickets`, `helpdesk show N` and `helpdesk quarantine` print control and bidi characters of mail text escaped, JSON exact; a tag command with a control character is refused; outbound subjects carry no C0 controls",
		"TestControlCharactersNeverReachTheTerminal")
	_ = claim("`helpdesk serve`, `helpdesk tickets`, `helpdesk show N` refuse a damaged store file (cut to half, to no whole page, to 0 bytes) naming the file and the fix, without SIGBUS and without touching it; `helpdesk backup` + `helpdesk restore` recover",
		"TestDamagedStoreFileIsRefusedWithTheFix")
	_ = claim("`helpdesk check-config` warns (exit 0) when hostname is not fully qualified (no dot, localhost, *.localdomain), naming the fix; the shipped config runs with that warning",
		"TestCheckConfigWarnsOfAnUnqualifiedHostname")
	_ = claim("global flags before the subcommand: `helpdesk -config FILE show N`, `--json` too",
		"TestGlobalFlagsBeforeTheCommand")
)

// runIn runs the binary with exactly args (no -config added) in dir,
// stdin from in, and returns stdout, stderr and the exit code; a run that
// takes over 60 s is killed and fails the test.
func runIn(t *testing.T, dir string, in []byte, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	if in != nil {
		cmd.Stdin = bytes.NewReader(in)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("helpdesk %v did not end within 60 s\nstderr: %s", args, errb.String())
	}
	code := 0
	if x, ok := err.(*exec.ExitError); ok {
		code = x.ExitCode()
	} else if err != nil {
		t.Fatalf("running helpdesk %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// Issue 12.10: global flags may stand before the subcommand.
func TestGlobalFlagsBeforeTheCommand(t *testing.T) {
	e := Start(t, Options{})
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"},
		Subject: "Flags first", Body: "Hello.\n"})
	for _, args := range [][]string{
		{"-config", e.Config, "show", "1"},
		{"--config=" + e.Config, "--json", "show", "1"},
		{"-config", e.Config, "--json", "tickets"},
	} {
		out, errs, code := runIn(t, t.TempDir(), nil, args...)
		if code != 0 || !strings.Contains(out, "Flags first") {
			t.Errorf("helpdesk %v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errs)
		}
		if strings.Contains(args[2]+args[1], "json") && !strings.HasPrefix(strings.TrimSpace(out), "{") && !strings.HasPrefix(strings.TrimSpace(out), "[") {
			t.Errorf("helpdesk %v: --json before the command was ignored:\n%s", args, out)
		}
	}
	// A subcommand's own flag before the command is refused clearly.
	_, errs, code := runIn(t, t.TempDir(), nil, "--status", "open", "-config", e.Config, "tickets")
	if code != 2 || !strings.Contains(errs, "--status") || !strings.Contains(errs, "after the command") {
		t.Errorf("a subcommand flag before the command: exit %d, stderr %q", code, errs)
	}
}

// Issue 11.9: a damaged store file (truncated to half, to a size that is
// no whole number of pages, to 0 bytes) is refused before it is mapped:
// serve, tickets and show exit non-zero with a message naming the file
// and the fix (restore from backup), nothing crashes with SIGBUS, and the
// file is left as it was. Following the message restores the store.
func TestDamagedStoreFileIsRefusedWithTheFix(t *testing.T) {
	bboltOnly(t)
	e := Start(t, Options{})
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"},
		Subject: "Keep me safe", Body: "Hello.\n"})
	backup := filepath.Join(t.TempDir(), "backup.tar")
	e.MustCLI("backup", backup)
	e.Stop()
	db := filepath.Join(e.Dir, "helpdesk.db")
	orig, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	// bbolt grows the file in large steps, so its tail is unused zeros:
	// the cuts are of the part that holds data.
	used := len(bytes.TrimRight(orig, "\x00"))
	t.Logf("store file: %d bytes, data up to byte %d", len(orig), used)
	for _, c := range []struct {
		name string
		size int
	}{
		{"half", used / 2 / 4096 * 4096},
		{"not a page multiple", used - 1000},
		{"empty", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(db, orig[:c.size], 0o600); err != nil {
				t.Fatal(err)
			}
			for _, args := range [][]string{{"serve"}, {"tickets"}, {"show", "1"}} {
				out, errs, code := runIn(t, e.Dir, nil, append(args, "-config", e.Config)...)
				if code == 0 {
					t.Errorf("helpdesk %v on a %d-byte store: exit 0\nstdout: %s", args, c.size, out)
				}
				for _, bad := range []string{"SIGBUS", "fatal error", "goroutine ", "panic", "bad file descriptor"} {
					if strings.Contains(errs, bad) {
						t.Errorf("helpdesk %v on a %d-byte store crashed (%s):\n%s", args, c.size, bad, errs)
					}
				}
				for _, want := range []string{db, "helpdesk restore"} {
					if !strings.Contains(errs, want) {
						t.Errorf("helpdesk %v on a %d-byte store: message lacks %q:\n%s", args, c.size, want, errs)
					}
				}
				now, err := os.ReadFile(db)
				if err != nil || !bytes.Equal(now, orig[:c.size]) {
					t.Fatalf("helpdesk %v changed the damaged store file (%d bytes, was %d): %v", args, len(now), c.size, err)
				}
			}
		})
	}
	// The fix the message gives: move the damaged file aside, restore.
	if err := os.Rename(db, db+".damaged"); err != nil {
		t.Fatal(err)
	}
	e.MustCLI("restore", backup)
	if out := e.MustCLI("tickets"); !strings.Contains(out, "Keep me safe") {
		t.Errorf("after restore, tickets:\n%s", out)
	}
}

// rawESC finds terminal control characters a screen would act on.
var rawControl = regexp.MustCompile("[\x00-\x08\x0b-\x1f\x7f\u0080-\u009f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")

// Issue 11.13: a subject with ESC[2J, an encoded CR LF forging a line and
// a bidi override is printed escaped by tickets, show and quarantine;
// JSON stays exact; the agent notification's Subject carries no control
// characters; a #tag with a control character is refused.
func TestControlCharactersNeverReachTheTerminal(t *testing.T) {
	e := Start(t, Options{})
	evil := "Refund \x1b[2J now\r\nForged: line \u202eevil"
	raw := testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"},
		Subject: "x", Body: "Hello.\n", MessageID: e.ID("c")}.Build()
	raw = bytes.Replace(raw, []byte("Subject: x\r\n"), []byte("Subject: "+mime.BEncoding.Encode("UTF-8", evil)+"\r\n"), 1)
	e.MustSend("ken@e-fun.example", []string{"support@example.com"}, raw)

	tk := e.Show(1)
	if !strings.Contains(tk.Subject, "\x1b[2J") || !strings.Contains(tk.Subject, "\u202e") {
		t.Errorf("JSON subject is not exact: %q", tk.Subject)
	}
	for _, args := range [][]string{{"tickets"}, {"show", "1"}} {
		out := e.MustCLI(args...)
		if m := rawControl.FindString(out); m != "" {
			t.Errorf("helpdesk %v prints a raw %q:\n%q", args, m, out)
		}
		for _, want := range []string{`\x1b[2J`, `\u202e`} {
			if !strings.Contains(out, want) {
				t.Errorf("helpdesk %v does not show %s escaped:\n%s", args, want, out)
			}
		}
		if regexp.MustCompile(`(?m)^Forged: line`).MatchString(out) {
			t.Errorf("helpdesk %v prints a forged line:\n%s", args, out)
		}
	}
	// The group's agents are notified of the new ticket.
	n := e.Find("victoria@certs.example", "Refund")
	if m := regexp.MustCompile("[\x00-\x1f\x7f]").FindString(n.Header("Subject")); m != "" {
		t.Errorf("agent notification Subject has a C0 control %q: %q", m, n.Header("Subject"))
	}

	// A tag with a control character is refused; nothing is tagged.
	e.Agent(testkit.Mail{From: "Victoria <victoria@certs.example>", To: []string{"support@example.com"},
		Subject: "Re: [#1] Refund", Body: "#tag ok \x1b[31mred\n#end\nLooking.\n"})
	if tk := e.Show(1); len(tk.Tags) != 0 {
		t.Errorf("tags after a refused #tag: %q", tk.Tags)
	}
	reply := e.Find("victoria@certs.example", "tag")
	if !strings.Contains(reply.Env.Text, `\x1b`) {
		t.Errorf("the transcript does not name the bad tag escaped:\n%s", reply.Env.Text)
	}

	// The quarantine lists subjects escaped too: a staff-looking mail
	// without authentication is kept aside.
	raw2 := testkit.Mail{From: "Victoria <victoria@certs.example>", To: []string{"support@example.com"},
		Subject: "x", Body: "#close\n", MessageID: e.ID("q")}.Build()
	raw2 = bytes.Replace(raw2, []byte("Subject: x\r\n"), []byte("Subject: "+mime.BEncoding.Encode("UTF-8", evil)+"\r\n"), 1)
	e.MustSend("victoria@certs.example", []string{"support@example.com"}, raw2)
	out := e.MustCLI("quarantine")
	if !strings.Contains(out, `\x1b[2J`) {
		t.Fatalf("quarantine list does not show the subject escaped (or nothing was quarantined):\n%s", out)
	}
	if m := rawControl.FindString(out); m != "" {
		t.Errorf("quarantine list prints a raw %q:\n%q", m, out)
	}
}

const twoMailboxes = Staff + `
[[group]]
name = "billing"

[[mailbox]]
address = "billing@example.com"
name = "Billing"
group = "billing"
`

// inject runs `helpdesk inject` with raw on stdin.
func (e *Env) inject(t *testing.T, raw []byte, args ...string) (string, string, int) {
	t.Helper()
	out, errs, code := runIn(t, e.Dir, raw, append(append([]string{"inject"}, args...), "-config", e.Config)...)
	e.Settle()
	return out, errs, code
}

// Issue 11.10: inject routes by the envelope (--rcpt, what Postfix's pipe
// passes as ${recipient}; --sender, ${sender}) as SMTP does: a mailbox
// only in Bcc gets the ticket, an unknown recipient is refused with
// EX_NOUSER (67), a reply token as --rcpt threads, and the null sender is
// never answered.
func TestInjectRoutesByTheEnvelope(t *testing.T) {
	e := Start(t, Options{Config: twoMailboxes})
	mail := func(subject string) []byte {
		return testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"someone@elsewhere.example"},
			Subject: subject, Body: "Please look at invoice 42.\n", MessageID: e.ID("i")}.Build()
	}
	out, errs, code := e.inject(t, mail("Invoice 42 is wrong"), "--rcpt", "billing@example.com", "--sender", "ken@e-fun.example")
	if code != 0 {
		t.Fatalf("inject --rcpt billing: exit %d\n%s%s", code, out, errs)
	}
	tk := e.Show(1)
	if tk.Mailbox != "billing@example.com" || tk.Requester != "ken@e-fun.example" {
		t.Fatalf("ticket 1 is in mailbox %q for %q, want billing@example.com for ken", tk.Mailbox, tk.Requester)
	}
	ack := e.Find("ken@e-fun.example", "[#1]")
	if !strings.HasPrefix(ReplyTo(ack), "billing+") {
		t.Errorf("acknowledgement Reply-To %q is not billing's", ReplyTo(ack))
	}

	// An unknown recipient: refused like SMTP's 550, nothing stored.
	out, errs, code = e.inject(t, mail("Lost mail"), "--rcpt", "nobody@example.com", "--sender", "ken@e-fun.example")
	if code != 67 || !strings.Contains(errs, "nobody@example.com") {
		t.Errorf("inject --rcpt nobody: exit %d (want 67 EX_NOUSER)\nstdout: %s\nstderr: %s", code, out, errs)
	}
	var list []Ticket
	e.JSON(&list, "tickets")
	if len(list) != 1 {
		t.Errorf("after a refused recipient there are %d tickets, want 1", len(list))
	}

	// The reply token as envelope recipient threads the reply, whatever
	// the headers say.
	before := len(e.Show(1).Comments)
	out, errs, code = e.inject(t, mail("Something unrelated"), "--rcpt", ReplyTo(ack), "--sender", "ken@e-fun.example")
	if code != 0 {
		t.Fatalf("inject --rcpt token: exit %d\n%s%s", code, out, errs)
	}
	if got := len(e.Show(1).Comments); got != before+1 {
		t.Errorf("ticket 1 has %d comments after the reply on its token, want %d", got, before+1)
	}
	e.JSON(&list, "tickets")
	if len(list) != 1 {
		t.Errorf("the reply on a token opened a new ticket: %d tickets", len(list))
	}

	// The null sender (a bounce path): stored, never answered.
	for i, sender := range []string{"", "<>"} {
		n := len(e.Mailbox("anna@e-fun.example"))
		raw := testkit.Mail{From: "Anna <anna@e-fun.example>", To: []string{"support@example.com"},
			Subject: "Null sender " + sender, Body: "Hello.\n", MessageID: e.ID("n")}.Build()
		out, errs, code = e.inject(t, raw, "--rcpt", "support@example.com", "--sender", sender)
		if code != 0 {
			t.Fatalf("inject --sender %q: exit %d\n%s%s", sender, code, out, errs)
		}
		if tk := e.Show(uint64(2 + i)); tk.Mailbox != "support@example.com" {
			t.Errorf("null-sender mail: ticket %d in %q", 2+i, tk.Mailbox)
		}
		if got := len(e.Mailbox("anna@e-fun.example")); got != n {
			t.Errorf("a mail with the null sender %q was answered (%d mails to anna)", sender, got)
		}
	}
}

// Issue 12.13: a hostname that is no fully qualified name puts @localhost
// in every Message-ID; check-config warns and says what to set (the run
// still succeeds: the shipped config runs as is).
func TestCheckConfigWarnsOfAnUnqualifiedHostname(t *testing.T) {
	e := Start(t, Options{})
	text, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"localhost", "helpdesk", "mail.localdomain"} {
		bad := strings.Replace(string(text), `hostname = "helpdesk.test"`, `hostname = "`+host+`"`, 1)
		path := filepath.Join(t.TempDir(), "helpdesk.toml")
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errs, code := runIn(t, e.Dir, nil, "check-config", "-config", path)
		if code != 0 || !regexp.MustCompile(`(?m)^warning: .*hostname: .*`+regexp.QuoteMeta(host)+`.*fully qualified.*fix: `).MatchString(out) {
			t.Errorf("check-config with hostname %q: exit %d\nstdout: %s\nstderr: %s", host, code, out, errs)
		}
	}
	out := e.MustCLI("check-config")
	if strings.Contains(out, "hostname") {
		t.Errorf("check-config warns about the FQDN helpdesk.test:\n%s", out)
	}
	// The shipped config runs as is and says what to set.
	out, errs, code := runIn(t, "../..", nil, "check-config", "-config", "helpdesk.toml")
	if code != 0 || !strings.Contains(out, "hostname") {
		t.Errorf("check-config of the shipped helpdesk.toml: exit %d\n%s%s", code, out, errs)
	}
}

var _ = claim("a read-only command (tickets, show, outbox, quarantine) where no store exists says so and creates nothing",
	"TestReadOnlyCommandCreatesNoStore")

// Found by a black-box run: `helpdesk tickets` run in the wrong directory
// created an empty 64 MiB store there and printed "(no tickets)".
func TestReadOnlyCommandCreatesNoStore(t *testing.T) {
	bboltOnly(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "helpdesk.toml")
	if err := os.WriteFile(cfg, []byte(testkit.BaseConfig(filepath.Join(dir, "data"), "", "127.0.0.1:1")+Staff), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"tickets"}, {"show", "1"}, {"outbox"}, {"quarantine"}} {
		out, errOut, code := runBin(t, append(args, "-config", cfg)...)
		if code == 0 || !strings.Contains(errOut, "no store") {
			t.Errorf("helpdesk %v without a store: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "helpdesk.db")); !os.IsNotExist(err) {
		t.Errorf("a read-only command created the store (stat: %v)", err)
	}
}

var _ = claim("`helpdesk inject` without --rcpt, for a mail with none of our addresses on To or Cc, stores nothing and exits 75 (EX_TEMPFAIL: the MTA keeps the mail) asking for --rcpt; it never guesses a mailbox",
	"TestInjectWithoutRecipientIsRefused")

// Found by a black-box run: without --rcpt a mail addressed To someone
// else was filed in the first mailbox, and that address became a public
// CC of the ticket.
func TestInjectWithoutRecipientIsRefused(t *testing.T) {
	e := Start(t, Options{})
	mail := filepath.Join(e.Dir, "bcc.eml")
	os.WriteFile(mail, []byte("From: Ken <ken@e-fun.example>\r\nTo: partner@z.example\r\nSubject: Bcc'd to support\r\nMessage-ID: <"+e.ID("i")+">\r\n\r\nHello.\r\n"), 0o600)
	_, errOut, code := e.CLI("inject", mail)
	if code != 75 || !strings.Contains(errOut, "--rcpt") {
		t.Errorf("inject without --rcpt: exit %d, stderr %q; want 75 asking for --rcpt", code, errOut)
	}
	var list []struct{ ID uint64 }
	e.JSON(&list, "tickets")
	if len(list) != 0 {
		t.Errorf("%d tickets opened", len(list))
	}
	if n := len(e.Mailbox("partner@z.example")); n != 0 {
		t.Errorf("the To address got %d mails", n)
	}
	e.MustCLI("inject", mail, "--rcpt", "support@example.com")
	if tk := e.Show(1); tk.Mailbox != "support@example.com" {
		t.Errorf("with --rcpt: mailbox %q", tk.Mailbox)
	}
}
