package engine

import (
	"strings"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/threading/token"
)

// auth.staff applied to verdicts (SPEC 5): one configured check must pass,
// and a refusal names every check's failure for the notice.
func TestStaffChecks(t *testing.T) {
	dmarcPass := AuthVerdict{Checked: true, DMARC: "pass"}
	alignedOnly := AuthVerdict{Checked: true, DMARC: "temperror", DKIMAligned: true}
	authresPass := AuthVerdict{Checked: true, DMARC: "fail", AuthResPass: true,
		Failed: []string{"dmarc: no DKIM signature aligned with example.com"}}
	nothing := AuthVerdict{Checked: true, DMARC: "fail", Failed: []string{
		"dmarc: no DKIM signature aligned with example.com",
		"authres: header from untrusted client 10.1.2.3"}}
	unchecked := AuthVerdict{}
	def := []string{"dmarc", "authres"}
	tests := []struct {
		name     string
		v        AuthVerdict
		checks   []string
		token    bool
		wantOK   bool
		wantFail []string
	}{
		{"default, dmarc pass", dmarcPass, def, false, true, nil},
		{"default, aligned dkim", alignedOnly, def, false, true, nil},
		{"default, authres", authresPass, def, false, true, nil},
		{"default ignores a token", nothing, def, true, false, []string{"dmarc: no DKIM signature aligned with example.com", "authres: header from untrusted client 10.1.2.3"}},
		{"dmarc only, authres pass", authresPass, []string{"dmarc"}, false, false, []string{"dmarc: no DKIM signature aligned with example.com"}},
		{"authres only, dmarc pass", dmarcPass, []string{"authres"}, false, false, []string{"authres: no trusted Authentication-Results header with a pass"}},
		{"token only, with token", nothing, []string{"token"}, true, true, nil},
		{"token only, no token", dmarcPass, []string{"token"}, false, false, []string{"token: not sent to a reply address"}},
		{"dmarc or token, token", nothing, []string{"dmarc", "token"}, true, true, nil},
		{"all three fail", nothing, []string{"dmarc", "authres", "token"}, false, false,
			[]string{"dmarc: no DKIM", "authres: header from untrusted", "token: not sent"}},
		{"not checked", unchecked, []string{"dmarc"}, false, false, []string{"dmarc: no DKIM signature aligned with the From domain (DMARC not checked)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked := false
			ok, failed := staffChecks(tt.checks, tt.v, func() (bool, string) { asked = true; return tt.token, notIssued })
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v (failed %q)", ok, tt.wantOK, failed)
			}
			if ok && failed != "" {
				t.Errorf("ok with failed = %q", failed)
			}
			for _, w := range tt.wantFail {
				if !strings.Contains(failed, w) {
					t.Errorf("failed = %q, want it to contain %q", failed, w)
				}
			}
			if !ok && len(strings.Split(failed, "; ")) != len(tt.checks) {
				t.Errorf("failed = %q does not name each of %v", failed, tt.checks)
			}
			hasToken := false
			for _, c := range tt.checks {
				hasToken = hasToken || c == "token"
			}
			if asked && !hasToken {
				t.Error("the token was consulted though auth.staff does not list it")
			}
		})
	}
}

// The "token" check with auth.staff_token_max_age (SPEC 5): a staff token
// authenticates only while it is young enough by the daemon's clock; a
// token whose age is unknown (from before tokens carried an issue time)
// only when there is no limit.
func TestTokenFresh(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	month := 720 * time.Hour
	at := func(ago time.Duration) token.Token { return token.Token{Ticket: 1, Party: 5, Issued: now.Add(-ago)} }
	undated := token.Token{Ticket: 1, Party: 5}
	tests := []struct {
		name   string
		mine   []token.Token
		maxAge time.Duration
		wantOK bool
		why    string
	}{
		{"no token", nil, month, false, "not sent to a reply address issued to this staff member"},
		{"fresh", []token.Token{at(time.Hour)}, month, true, ""},
		{"exactly the max age", []token.Token{at(month)}, month, true, ""},
		{"one hour too old", []token.Token{at(month + time.Hour)}, month, false, "issued 721h0m0s ago, more than auth.staff_token_max_age (720h0m0s)"},
		{"an old and a fresh one", []token.Token{at(90 * 24 * time.Hour), at(time.Hour)}, month, true, ""},
		{"undated, with a limit", []token.Token{undated}, month, false, "carries no issue time"},
		{"undated and too old", []token.Token{undated, at(2 * month)}, month, false, "issued 1440h0m0s ago"},
		{"undated, no limit", []token.Token{undated}, 0, true, ""},
		{"ancient, no limit", []token.Token{at(10 * month)}, 0, true, ""},
		{"issued in the future (clock skew)", []token.Token{at(-time.Hour)}, month, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, why := tokenFresh(tt.mine, now, tt.maxAge)
			if ok != tt.wantOK || !strings.Contains(why, tt.why) || (ok && why != "") {
				t.Errorf("tokenFresh = %v, %q; want %v, %q", ok, why, tt.wantOK, tt.why)
			}
		})
	}
}

// config keeps its own copy of token.IssuedUnit (it imports nothing of the
// project's): auth.staff_token_max_age must accept exactly the lifetimes a
// token's issue time can tell apart, one IssuedUnit and up.
func TestStaffTokenMaxAgeFloorIsTokenUnit(t *testing.T) {
	base := "data_dir = \"" + t.TempDir() + "\"\nhostname = \"helpdesk.test\"\n" +
		"[[mailbox]]\naddress = \"support@example.com\"\nname = \"Support\"\ngroup = \"support\"\n[[group]]\nname = \"support\"\n[auth]\n"
	for _, tt := range []struct {
		age    time.Duration
		wantOK bool
	}{
		{token.IssuedUnit, true},
		{token.IssuedUnit - time.Second, false},
	} {
		_, err := config.Parse(base + "staff_token_max_age = \"" + tt.age.String() + "\"\n")
		if (err == nil) != tt.wantOK {
			t.Errorf("staff_token_max_age = %s: err %v, want accepted = %v", tt.age, err, tt.wantOK)
		}
		if err != nil && !strings.Contains(err.Error(), "auth.staff_token_max_age") {
			t.Errorf("staff_token_max_age = %s: %v does not name the key", tt.age, err)
		}
	}
}
