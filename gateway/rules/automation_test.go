package rules

import (
	"strings"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/config/calendar"
)

// seoul is Mon–Fri 09:00–18:00 Asia/Seoul.
func seoul(t *testing.T) *calendar.Calendar {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	h, err := calendar.ParseHours("mon-fri 09:00-18:00")
	if err != nil {
		t.Fatal(err)
	}
	c, err := calendar.New("seoul", loc, []calendar.Hours{h}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The automations' time fields, in calendar and business time, and the
// instants at which their answer changes.
func TestTimeConditionsAndInstants(t *testing.T) {
	cfg := testConfig(t)
	kst := time.FixedZone("KST", 9*3600)
	fri4pm := time.Date(2026, 12, 4, 16, 0, 0, 0, kst) // Friday 16:00 in Seoul
	f := facts()
	f.Created, f.Now = fri4pm, fri4pm
	f.LastCustomer = fri4pm
	f.StatusChanged = fri4pm.Add(-time.Hour)
	f.Calendar = seoul(t)
	for _, tc := range []struct {
		line    string
		at      time.Time
		want    bool
		instant time.Time // zero: none after f.Now
	}{
		{"created more than 4h ago", fri4pm.Add(4 * time.Hour), true, fri4pm.Add(4 * time.Hour)},
		{"created more than 4h ago", fri4pm.Add(4*time.Hour - time.Second), false, fri4pm.Add(4 * time.Hour)},
		// 2h on Friday, 2h on Monday: Monday 11:00.
		{"created more than 4h ago in business time", time.Date(2026, 12, 7, 11, 0, 0, 0, kst), true, time.Date(2026, 12, 7, 11, 0, 0, 0, kst)},
		{"created more than 4h ago in business time", time.Date(2026, 12, 7, 10, 59, 0, 0, kst), false, time.Date(2026, 12, 7, 11, 0, 0, 0, kst)},
		{"created more than 4h ago in business time", time.Date(2026, 12, 6, 12, 0, 0, 0, kst), false, time.Date(2026, 12, 7, 11, 0, 0, 0, kst)},
		{"last customer comment less than 1h ago", fri4pm.Add(59 * time.Minute), true, fri4pm.Add(time.Hour)},
		{"status changed more than 2h ago", fri4pm.Add(time.Hour), true, fri4pm.Add(time.Hour)},
		{"last response more than 1h ago", fri4pm.Add(24 * time.Hour), false, time.Time{}},
		{"sla breached more than 1h ago", fri4pm.Add(24 * time.Hour), false, time.Time{}},
	} {
		c, probs := Compile([]string{tc.line}, nil, cfg)
		if len(probs) > 0 {
			t.Errorf("%q: %v", tc.line, probs)
			continue
		}
		g := *f
		g.Now = tc.at
		if got := c.Match(&g); got != tc.want {
			t.Errorf("%q at %s = %v, want %v", tc.line, tc.at, got, tc.want)
		}
		ins := c.Instants(f)
		switch {
		case tc.instant.IsZero() && len(ins) != 0:
			t.Errorf("%q: instants %v, want none", tc.line, ins)
		case !tc.instant.IsZero() && (len(ins) != 1 || !ins[0].Equal(tc.instant)):
			t.Errorf("%q: instants %v, want %s", tc.line, ins, tc.instant)
		}
	}
	if _, probs := Compile([]string{"created more than 4h in business time"}, nil, cfg); len(probs) != 1 {
		t.Errorf("an age without \"ago\": problems %v", probs)
	}
	// "status changed" alone stays the update condition.
	if c, probs := Compile([]string{"status changed"}, nil, cfg); len(probs) != 0 || c.all[0].op != "changed" {
		t.Errorf("status changed: %+v %v", c, probs)
	}
}

// check-config on automations: an update condition can never hold, the
// built-in name is taken, actions are commands, and auto-close is the
// last automation.
func TestLoadAutomations(t *testing.T) {
	cfg := testConfig(t)
	cfg.Tickets.AutoCloseAfter = config.Duration(72 * time.Hour)
	cfg.Automations = []config.Automation{
		{Name: "stale", All: []string{"status is open", "created more than 24h ago in business time"}, Actions: []string{"#tag stale"}, Notify: []string{"group"}},
		{Name: "auto-close", All: []string{"event is created", "status is open", "status is closed"}, Actions: []string{"#frobnicate"}},
	}
	s, probs := Load(cfg)
	var keys []string
	for _, p := range probs {
		keys = append(keys, p.Key+": "+p.Msg)
	}
	got := strings.Join(keys, "\n")
	for _, want := range []string{
		`automation[1].name: "auto-close" is the built-in automation`,
		`automation[1].all[0]: "event is created" is about what an update did`,
		`automation[1].all[2]: "status is open" and "status is closed" can never hold together`,
		`automation[1].actions[0]: #frobnicate is not an action`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "automation[0]") {
		t.Errorf("the good automation has problems:\n%s", got)
	}
	if n := len(s.Automations); n != 3 || s.Automations[2].Builtin != BuiltinAutoClose || s.Automations[0].What != "automation" {
		t.Fatalf("automations %+v", s.Automations)
	}
	if s.FindAutomation("stale") == nil || s.FindAutomation("nope") != nil {
		t.Error("FindAutomation")
	}
}
