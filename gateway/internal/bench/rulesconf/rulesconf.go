// Package rulesconf writes the rules of the rules bench.
package rulesconf

import (
	"fmt"
	"strings"
)

// Config is the [[webhook]] and [[trigger]] tables of `helpdesk bench
// -mode rules` (issue 15), in a package of its own so that the engine's
// in-process benchmark of the same rules can import it (package bench
// imports the engine):
// webhook k POSTs to answer for even k and to hang for odd k.
func Config(answer, hang string) string {
	var b strings.Builder
	for k := range 10 {
		url := answer
		if k%2 == 1 {
			url = hang
		}
		fmt.Fprintf(&b, "\n[[webhook]]\nname = \"hook-%d\"\nurl = %q\nformat = %q\nallow_private = true\ntimeout = \"30s\"\n",
			k, url, []string{"json", "slack", "teams"}[k%3])
	}
	// Three triggers every bench mail matches (a service tag from the
	// subject, as the shipped example does; a priority from the body; a
	// tag by the sender's domain).
	for i, m := range []struct{ all, actions string }{
		{`"event is created", "subject matches (?i)\\bprinter\\b"`, `"#tag service:printer"`},
		{`"event is created", "body contains queue"`, `"#priority high"`},
		{`"event is created", "sender domain matches ^cust[0-9]+\\.example$"`, `"#tag customer"`},
	} {
		fmt.Fprintf(&b, "\n[[trigger]]\nname = \"match-%d\"\nall = [%s]\nactions = [%s]\n", i, m.all, m.actions)
	}
	// Thirty-seven that match none of them: subjects, bodies (English
	// and Korean), senders, a few case-insensitive body expressions,
	// other events.
	for i := range 37 {
		var cond string
		switch i % 8 {
		case 0, 1:
			cond = fmt.Sprintf(`"event is created", "subject contains refund %d"`, i)
		case 2:
			cond = fmt.Sprintf(`"event is created", "subject matches (?i)\\b(dns|domain)-%d\\b"`, i)
		case 3:
			cond = fmt.Sprintf(`"event is created", "body contains outage in region %d"`, i)
		case 4:
			cond = fmt.Sprintf(`"event is created", "sender domain is vip%d.example"`, i)
		case 5:
			cond = fmt.Sprintf(`"event is created", "text contains 환불 요청 %d"`, i)
		case 6:
			cond = fmt.Sprintf(`"event is created", "body matches (?i)\\bcontract\\s+no\\.?\\s*%d\\b"`, i)
		case 7:
			cond = fmt.Sprintf(`"event is customer-comment", "tags include escalated-%d"`, i)
		}
		fmt.Fprintf(&b, "\n[[trigger]]\nname = \"other-%d\"\nall = [%s]\nactions = [\"#tag other-%d\", \"#priority urgent\"]\n", i, cond, i)
	}
	// Ten webhook triggers: request numbers ending in k0 fire hook-k.
	for k := range 10 {
		fmt.Fprintf(&b, "\n[[trigger]]\nname = \"announce-%d\"\nall = [\"event is created\", \"body matches request [0-9]*%d0 from\"]\nwebhook = \"hook-%d\"\n", k, k, k)
	}
	return b.String()
}
