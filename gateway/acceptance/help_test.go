package acceptance

import (
	"regexp"
	"strings"
	"testing"
)

var _ = claim("`helpdesk help COMMAND` (and `helpdesk COMMAND -h`) describes every command of `helpdesk help`'s list in full, with its flags, on standard output; an unknown command gets exit 2 and a did-you-mean",
	"TestHelpDescribesEveryCommand")

// usageCmdRe reads a command's name from `helpdesk help`'s list.
var usageCmdRe = regexp.MustCompile(`(?m)^  ([a-z][a-z-]*)\b`)

// helpCommands are the commands `helpdesk help` lists (common flags'
// lines start with '-' and are not read).
func helpCommands(t *testing.T) []string {
	t.Helper()
	out, _, code := runBin(t, "help")
	if code != 0 {
		t.Fatalf("helpdesk help: exit %d", code)
	}
	seen := map[string]bool{}
	var cmds []string
	for _, m := range usageCmdRe.FindAllStringSubmatch(out, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			cmds = append(cmds, m[1])
		}
	}
	if len(cmds) < 20 {
		t.Fatalf("helpdesk help lists %d commands (%v), want every command:\n%s", len(cmds), cmds, out)
	}
	return cmds
}

// The README's command table has a line per command and sends the reader
// to `helpdesk help COMMAND` for the rest: each must answer there.
func TestHelpDescribesEveryCommand(t *testing.T) {
	for _, c := range helpCommands(t) {
		out, errs, code := runBin(t, "help", c)
		if code != 0 || errs != "" {
			t.Errorf("helpdesk help %s: exit %d, stderr %q", c, code, errs)
			continue
		}
		if !strings.HasPrefix(out, "usage: helpdesk "+c) {
			t.Errorf("helpdesk help %s does not start with its usage line:\n%s", c, out)
		}
		if c != "bench" && !strings.Contains(out, "\nflags:\n") {
			t.Errorf("helpdesk help %s lists no flags:\n%s", c, out)
		}
		if desc, _, _ := strings.Cut(out, "\nflags:\n"); strings.Count(desc, "\n") < 3 {
			t.Errorf("helpdesk help %s has no description under its usage line:\n%s", c, out)
		}
		h, herr, hcode := runBin(t, c, "-h")
		if c == "bench" {
			h += herr // bench -h writes to standard error, as before
		}
		if hcode != 0 || h != out {
			t.Errorf("helpdesk %s -h (exit %d) differs from helpdesk help %s:\n%s", c, hcode, c, h)
		}
	}
	// What moved out of the README is still said where it points.
	for c, want := range map[string][]string{
		"inject":  {"75 (EX_TEMPFAIL)", "67 (EX_NOUSER)", "--trust-authres", "--rcpt"},
		"show":    {"rejected", "held", "auto-reply", "rule:NAME", "awaiting_since"},
		"serve":   {"SIGHUP", "SIGTERM", "/healthz answers 503"},
		"outbox":  {"--failed", "give_up_after"},
		"migrate": {"--from", "--dsn", "--data-dir"},
	} {
		out, _, _ := runBin(t, "help", c)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("helpdesk help %s does not say %q:\n%s", c, w, out)
			}
		}
	}
	out, errs, code := runBin(t, "help", "shwo")
	if code != 2 || out != "" || !strings.Contains(errs, `did you mean show?`) {
		t.Errorf("helpdesk help shwo: exit %d, stdout %q, stderr %q; want 2, nothing, a did-you-mean", code, out, errs)
	}
}
