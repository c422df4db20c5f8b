package machine

import (
	"regexp"
	"testing"
)

// isRobotName replaced this expression; they must agree.
var robotNameRe = regexp.MustCompile(`(?i)mail deliver(y)? (sub)?system|delivery status notification|` +
	`\bndr\b|postmaster|mail administrator|mail system|interscan|system administrator`)

func TestIsRobotNameMatchesExpression(t *testing.T) {
	for _, from := range []string{
		`"mail delivery subsystem" <mailer-daemon@googlemail.com>`,
		`mail deliver system <x@y>`, `mail deliversystem <x@y>`, `"ndr" <a@b>`, `ndr`, `ndr-bot <a@b>`,
		`sendr <a@b>`, `ndrx <a@b>`, `x_ndr <a@b>`, `ndr_1 <a@b>`, `(ndr)`, `postmaster@example.com`,
		`"interscan messagesecure" <a@b>`, `system administrator <root@x>`, `"the mail system" <x@y>`,
		`delivery status notification (failure)`, `customer 1 <c@cust1.example>`, ``, `ndr ndr`, `xndr ndr`,
		`mail administrator`, `"kim" <kim@example.kr>`, `ndr9 ndr`, `9ndr`,
	} {
		if got, want := isRobotName(from), robotNameRe.MatchString(from); got != want {
			t.Errorf("%q: isRobotName %v, expression %v", from, got, want)
		}
	}
}
