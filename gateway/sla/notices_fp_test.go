package sla

import (
	"fmt"
	"testing"
)

// The fingerprint is stored in the tickets' SLA marks (a warning sent
// under it is not sent again): it must stay what fmt made of it.
func TestFingerprintIsFmtsFormat(t *testing.T) {
	for _, c := range []struct {
		r  Result
		tg Target
	}{
		{Result{Policy: "urgent", Calendar: "berlin"}, Target{Kind: "first-reply", Target: 3 * 3600, Business: true}},
		{Result{Policy: "all", Calendar: "24/7"}, Target{Kind: "resolution", Target: -1, Business: false}},
		{Result{Policy: "", Calendar: ""}, Target{Kind: "", Target: 0}},
	} {
		want := fmt.Sprintf("%s|%s|%d|%s|%v", c.r.Policy, c.tg.Kind, c.tg.Target, c.r.Calendar, c.tg.Business)
		if got := c.r.Fingerprint(c.tg); got != want {
			t.Errorf("Fingerprint = %q, want %q", got, want)
		}
	}
}
