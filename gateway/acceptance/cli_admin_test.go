package acceptance

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

var _ = claim("`helpdesk serve` runs the daemon: SMTP in, mail out through the relay, CLI over its socket (every test of this package)",
	"TestCustomerMailOpensTicketAndAcknowledges", "TestCLIBackupRestore")
var _ = claim("`helpdesk quarantine` lists mail kept aside (a forged staff mail), `quarantine show N` shows it, `quarantine release N` applies it once",
	"TestCLIQuarantine")
var _ = claim("`helpdesk backup FILE` while the daemon runs; `helpdesk restore FILE` into an empty data_dir; the daemon started on it has the same tickets and old reply addresses still thread",
	"TestCLIBackupRestore")
var _ = claim("`helpdesk rotate-key`: a new reply-token secret; reply addresses signed with the old one still thread",
	"TestCLIRotateKey")
var _ = claim("`helpdesk version` prints the version; `helpdesk bench -h` lists the bench modes",
	"TestCLIVersionAndBenchHelp")

// runBin runs the binary with exactly args (no -config added).
func runBin(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if x, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), x.ExitCode()
	} else if err != nil {
		t.Fatalf("running helpdesk %v: %v", args, err)
	}
	return out.String(), errb.String(), 0
}

// A mail claiming a staff address without passing authentication is
// quarantined (no ticket, no answer to it); the CLI lists, shows and
// releases it, once.
func TestCLIQuarantine(t *testing.T) {
	e := Start(t, Options{})
	e.Customer(testkit.Mail{From: vicFr, To: []string{"support@example.com"}, Subject: "Urgent wire transfer",
		Body: "#priority urgent\nPlease pay invoice 4711 today."})
	var qs []struct {
		ID      uint64 `json:"id"`
		From    string `json:"from"`
		Subject string `json:"subject"`
		Reason  string `json:"reason"`
	}
	e.JSON(&qs, "quarantine")
	if len(qs) != 1 || !strings.Contains(qs[0].From, vic) || qs[0].Subject != "Urgent wire transfer" {
		t.Fatalf("quarantine --json: %+v", qs)
	}
	var list []struct{ ID uint64 }
	if e.JSON(&list, "tickets"); len(list) != 0 {
		t.Errorf("a quarantined mail opened %d tickets", len(list))
	}
	for _, m := range e.Mailbox(vic) {
		if strings.Contains(m.Env.Text, "Please pay invoice 4711") && !strings.Contains(strings.ToLower(m.Env.Text), "authentic") {
			t.Errorf("the forged mail reached Victoria as if it were hers:\n%s", m.Env.Text)
		}
	}
	if out := e.MustCLI("quarantine"); !strings.Contains(out, "Urgent wire transfer") {
		t.Errorf("quarantine list:\n%s", out)
	}
	n := fmt.Sprint(qs[0].ID)
	show := e.MustCLI("quarantine", "show", n)
	if !strings.Contains(show, "Please pay invoice 4711") || !strings.Contains(show, qs[0].Reason) {
		t.Errorf("quarantine show:\n%s", show)
	}
	rel := e.MustCLI("quarantine", "release", n)
	if !strings.Contains(rel, "released record 1") {
		t.Errorf("quarantine release: %s", rel)
	}
	e.Settle()
	if e.JSON(&list, "tickets"); len(list) != 1 {
		t.Fatalf("released mail: %d tickets", len(list))
	}
	if tk := e.Show(1); tk.Priority != "urgent" || !tkHasComment(tk, "Please pay invoice 4711") {
		t.Errorf("released mail applied as: %+v", tk)
	}
	if _, errs, code := e.CLI("quarantine", "release", n); code == 0 || !strings.Contains(errs, "already released") {
		t.Errorf("second release: exit %d, %s", code, errs)
	}
	if _, _, code := e.CLI("quarantine", "show", "99"); code == 0 {
		t.Errorf("quarantine show 99 succeeded")
	}
}

// backup while running, restore into an empty directory, start on it.
func TestCLIBackupRestore(t *testing.T) {
	bboltOnly(t)
	e := Start(t, Options{})
	e.Open(kenFr, "Backup me", "Please keep this.", vic)
	e.Open("Ann <ann@e-fun.example>", "And me", "Me too.", vic)
	ack := e.Find(ken, "[#1]")
	bk := filepath.Join(t.TempDir(), "helpdesk-backup.tar")
	e.MustCLI("backup", bk)
	if st, err := os.Stat(bk); err != nil || st.Size() == 0 {
		t.Fatalf("backup file: %v", err)
	}
	before1, before2 := e.Show(1), e.Show(2)
	e.Stop()

	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "restore.toml")
	text, err := os.ReadFile(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, bytes.Replace(text, []byte(e.Dir), []byte(dir), -1), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := runBin(t, "restore", bk, "-config", cfg); code != 0 {
		t.Fatalf("restore: exit %d\n%s%s", code, out, errs)
	}
	if _, errs, code := runBin(t, "restore", bk, "-config", cfg); code == 0 || !strings.Contains(errs, "already holds a store") {
		t.Errorf("restore over a store: exit %d %s", code, errs)
	}
	r := Start(t, Options{Dir: dir})
	after1, after2 := r.Show(1), r.Show(2)
	if after1.Subject != before1.Subject || after1.Requester != ken || len(after1.Comments) != len(before1.Comments) ||
		after2.Subject != before2.Subject || after2.Requester != before2.Requester {
		t.Fatalf("restored tickets differ:\n%+v\n%+v", after1, after2)
	}
	// The restored secret still verifies the old acknowledgement's address.
	r.Customer(testkit.Mail{From: kenFr, To: []string{ReplyTo(ack)}, Subject: "Re: whatever", Body: "Still there?"})
	var list []struct{ ID uint64 }
	if r.JSON(&list, "tickets"); len(list) != 2 {
		t.Errorf("a reply to an old address opened a ticket on the restored store: %d tickets", len(list))
	}
	if !tkHasComment(r.Show(1), "Still there?") {
		t.Errorf("the reply did not land on ticket 1")
	}
	r.Find(vic, "Still there?")
	r.Count(ken, 0) // his own comment is not mailed back
}

// rotate-key: old reply addresses keep threading.
func TestCLIRotateKey(t *testing.T) {
	e := Start(t, Options{})
	e.Open(kenFr, "Rotate", "Before rotation.", vic)
	old := e.Find(ken, "[#1]")
	if out := e.MustCLI("rotate-key"); !strings.Contains(out, "new reply-token secret in use") {
		t.Errorf("rotate-key: %s", out)
	}
	e.Open("Ann <ann@e-fun.example>", "After", "After rotation.", vic)
	fresh := e.Find("ann@e-fun.example", "[#2]")
	if ReplyTo(fresh) == "" || ReplyTo(old) == "" {
		t.Fatal("no reply addresses")
	}
	e.Customer(testkit.Mail{From: kenFr, To: []string{ReplyTo(old)}, Subject: "no tag", Body: "Reply through the old address."})
	e.Customer(testkit.Mail{From: "Ann <ann@e-fun.example>", To: []string{ReplyTo(fresh)}, Subject: "no tag", Body: "Reply through the new address."})
	var list []struct{ ID uint64 }
	if e.JSON(&list, "tickets"); len(list) != 2 {
		t.Errorf("%d tickets, want 2: a reply address stopped threading after rotate-key", len(list))
	}
	if !tkHasComment(e.Show(1), "Reply through the old address.") || !tkHasComment(e.Show(2), "Reply through the new address.") {
		t.Errorf("replies did not land on their tickets")
	}
	if strings.Contains(e.Logs(), "failed verification") {
		t.Errorf("a token failed verification after rotate-key:\n%s", e.Logs())
	}
}

func TestCLIVersionAndBenchHelp(t *testing.T) {
	out, _, code := runBin(t, "version")
	if code != 0 || !strings.HasPrefix(out, "helpdesk ") || len(strings.TrimSpace(out)) <= len("helpdesk ") {
		t.Errorf("version: exit %d %q", code, out)
	}
	out, errs, code := runBin(t, "bench", "-h")
	help := out + errs
	if code != 0 {
		t.Errorf("bench -h: exit %d", code)
	}
	for _, mode := range []string{"new-ticket-4k", "sequential", "mix", "large", "all", "-mode"} {
		if !strings.Contains(help, mode) {
			t.Errorf("bench -h does not list %q:\n%s", mode, help)
		}
	}
}
