package acceptance

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"helpdesk/threading/command"
)

// claimed maps every promise the README and the #help card make to the
// outside-in tests (in this package) that prove it, and the promises that
// moved from the README to where it points (`helpdesk help COMMAND`,
// helpdesk.toml, the package documentation) keep theirs. A claim is keyed
// by what it promises; the #help card's commands, the README's CLI
// subcommands and those `helpdesk help` lists must each appear in at least
// one key (TestEveryClaimHasATest reads all three), so a new command or
// subcommand without a test fails the suite.
var claimed []claimEntry

type claimEntry struct {
	claim string
	tests []string
}

// claim registers a promise of the README or the #help card and the
// outside-in tests that prove it. Each test file registers its own claims
// next to its tests: var _ = claim("...", "TestX").
func claim(text string, tests ...string) bool {
	claimed = append(claimed, claimEntry{text, tests})
	return true
}

var _ = claim("a customer mail opens a ticket; acknowledgement with number and reply token; no staff address reaches the customer; `helpdesk show N --json`",
	"TestCustomerMailOpensTicketAndAcknowledges")

// notYetCovered lists #help commands and CLI subcommands whose
// outside-in test is still to be written. It must only shrink.
var notYetCovered = setOf()

func setOf(xs ...string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

var (
	helpCmdRe   = regexp.MustCompile(`(?m)(?:^|\s)(#[a-z][a-z-]*)`)
	readmeCmdRe = regexp.MustCompile("(?m)^\\| `(helpdesk [a-z-]+)")
)

func TestEveryClaimHasATest(t *testing.T) {
	defined := testFuncs(t)
	keys := ""
	for _, c := range claimed {
		if len(c.tests) == 0 {
			t.Errorf("claim %q names no test", c.claim)
		}
		for _, name := range c.tests {
			if !defined[name] {
				t.Errorf("claim %q names %s, which is not a test of this package", c.claim, name)
			}
		}
		keys += " " + c.claim + " "
	}
	want := map[string]bool{}
	for _, m := range helpCmdRe.FindAllStringSubmatch(command.HelpCard(), -1) {
		want[m[1]] = true
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range readmeCmdRe.FindAllStringSubmatch(string(readme), -1) {
		want[m[1]] = true
	}
	// The binary's own list too, so a command the README's table leaves
	// out still needs its claim.
	for _, c := range helpCommands(t) {
		want["helpdesk "+c] = true
	}
	var missing []string
	for w := range want {
		covered := regexp.MustCompile(regexp.QuoteMeta(w) + `\b`).MatchString(keys)
		switch {
		case covered && notYetCovered[w]:
			t.Errorf("%s has a claim now: remove it from notYetCovered", w)
		case !covered && !notYetCovered[w]:
			missing = append(missing, w)
		}
	}
	sort.Strings(missing)
	for _, w := range missing {
		t.Errorf("%s is promised by the #help card or the README but no claim covers it", w)
	}
	for w := range notYetCovered {
		if !want[w] {
			t.Errorf("notYetCovered lists %s, which neither the #help card nor the README mentions", w)
		}
	}
}

// testFuncs are the Test functions declared in this package's files.
func testFuncs(t *testing.T) map[string]bool {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && strings.HasPrefix(fd.Name.Name, "Test") {
				out[fd.Name.Name] = true
			}
		}
	}
	return out
}
