package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestEveryCommandHasHelp keeps the usage list, the help topics and the
// dispatch in step: the README's command table points to `helpdesk help
// COMMAND` for everything it no longer says.
func TestEveryCommandHasHelp(t *testing.T) {
	list, _, _ := strings.Cut(usage, "\ncommon flags")
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z][a-z-]*)\b`).FindAllStringSubmatch(list, -1) {
		listed[m[1]] = true
	}
	for c := range listed {
		if _, ok := helpTopics[c]; !ok && c != "bench" {
			t.Errorf("%s is in the usage list but has no help topic", c)
		}
	}
	for c, text := range helpTopics {
		if !listed[c] {
			t.Errorf("help topic %s is not in the usage list", c)
		}
		if !strings.HasPrefix(text, "usage: helpdesk "+c) || !strings.HasSuffix(text, "\n") {
			t.Errorf("help topic %s must start with its usage line and end with a newline", c)
		}
		var out, errb bytes.Buffer
		if code := run([]string{"help", c}, nil, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), text) {
			t.Errorf("helpdesk help %s: exit %d, output %q", c, code, out.String())
		}
		// The command must be dispatched: -h is answered by the command's
		// own flag set, not by "unknown command".
		out.Reset()
		if code := run([]string{c, "--help"}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "\nflags:\n") {
			t.Errorf("helpdesk %s --help: exit %d, output %q", c, code, out.String())
		}
	}
}

func TestHelpUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"help", "tickts"}, nil, &out, &errb); code != 2 || out.Len() != 0 ||
		!strings.Contains(errb.String(), "did you mean tickets?") {
		t.Errorf("helpdesk help tickts: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
