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

// claims maps every promise the README and the #help card make to the
// outside-in tests (in this package) that prove it. A claim is keyed by
// what it promises; the #help card's commands and the README's CLI
// subcommands must each appear in at least one key (TestEveryClaimHasATest
// reads both documents), so a new command or subcommand without a test
// fails the suite.
var claims = []struct {
	claim string
	tests []string
}{
	{"a customer mail opens a ticket; acknowledgement with number and reply token; no staff address reaches the customer; `helpdesk show N --json`",
		[]string{"TestCustomerMailOpensTicketAndAcknowledges"}},
	{"quoted history is stripped from replies written on phones (an attribution above an unquoted original); a forwarded message is content and stays",
		[]string{"TestPhoneReplyKeepsOnlyNewText"}},
	{"acknowledgement limits per SMTP client and in total ([tickets] ack_per_ip_per_hour, ack_per_hour): forged senders get at most the limit, every ticket still opens, counted and logged once; a trusted relay is exempt from the per-client limit",
		[]string{"TestAckLimitPerClientIP", "TestAckLimitGlobalAndTrustedRelay"}},
	{"all or nothing: every bad line of a block is named in one transcript with its did-you-mean, syntax and context errors alike; nothing is applied, nothing reaches the customer",
		[]string{"TestTranscriptNamesEveryBadLine"}},
	{"#ticket <n> belongs in a new mail; in an answer about another ticket the whole mail is refused and neither ticket changes",
		[]string{"TestTicketCommandInAnswerToAnotherTicketIsRefused"}},
	{"#report is not available yet: an error line, never claimed as applied",
		[]string{"TestReportIsRefusedNotClaimed"}},
	{"transcript and held-mail subjects carry one prefix and the ticket's subject",
		[]string{"TestTranscriptSubjectsDoNotSnowball"}},
}

// notYetCovered lists #help commands and CLI subcommands whose
// outside-in test is still to be written. It must only shrink.
var notYetCovered = map[string]bool{
	"#status": true, "#open": true, "#pending": true, "#resolved": true, "#solved": true, "#closed": true,
	"#waiting-customer": true, "#waiting-third-party": true, "#on-hold": true,
	"#assign": true, "#group": true, "#priority": true, "#type": true, "#tag": true, "#cc": true,
	"#requester": true, "#follow": true, "#unfollow": true, "#follower": true,
	"#reply": true, "#note": true, "#notify": true,
	"#forward": true, "#include": true, "#subject": true, "#done": true,
	"#merge": true, "#parent": true, "#child": true,
	"#macro": true, "#available": true, "#away": true, "#list": true, "#spam": true,
	"#send": true, "#help": true, "#end": true,
	"helpdesk serve": true, "helpdesk tickets": true, "helpdesk inject": true,
	"helpdesk outbox": true, "helpdesk quarantine": true, "helpdesk backup": true, "helpdesk restore": true,
	"helpdesk rotate-key": true, "helpdesk check-config": true, "helpdesk bench": true, "helpdesk version": true,
}

var (
	helpCmdRe   = regexp.MustCompile(`(?m)(?:^|\s)(#[a-z][a-z-]*)`)
	readmeCmdRe = regexp.MustCompile("(?m)^\\| `(helpdesk [a-z-]+)")
)

func TestEveryClaimHasATest(t *testing.T) {
	defined := testFuncs(t)
	keys := ""
	for _, c := range claims {
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
		t.Errorf("%s is promised by the #help card or the README but no claim in claims covers it", w)
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
