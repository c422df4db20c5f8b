package acceptance

import (
	"strings"
	"testing"

	"helpdesk/gateway/internal/testkit"
)

// Outside-in tests of views (issue 15 item 6): a [[view]] names a set of
// conditions of the rule vocabulary and a sort.

var _ = claim("[[view]]: `#list NAME` mails the agent the view's tickets (not closed, matching its conditions, in its sort order) and `helpdesk tickets --view NAME [--json]` prints them, with or without a running daemon; an unknown view is refused with the names there are",
	"TestViewsListedByMailAndCLI")

func TestViewsListedByMailAndCLI(t *testing.T) {
	e := Start(t, Options{Config: Staff + `
[[view]]
name = "urgent-unassigned"
all = ["unassigned", "priority is urgent, high"]
sort = "priority"

[[view]]
name = "korean"
all = ["subject contains 환불"]
sort = "created desc"
`})
	n1 := e.Open(kenFr, "Wildcard", "Need a wildcard.", vic)                      // 1
	n2 := e.Open("Ann <ann@e-fun.example>", "Mail server down", "And mail.", vic) // 2
	n3 := e.Open("Bo <bo@e-fun.example>", "환불 요청", "환불해 주세요.", vic)               // 3
	e.Open("Cy <cy@e-fun.example>", "환불 문의", "두 번째 환불.", vic)                     // 4
	e.Reply(vicFr, n1, "#priority high\n#note\nlater")
	e.Reply(vicFr, n2, "#priority urgent\n#note\nnow")
	e.Reply(vicFr, n3, "#priority urgent\n#assign me\n#note\nmine")

	e.Fresh(vicFr, "list", "#list urgent-unassigned\n")
	m := e.Last(vic)
	WantText(t, "#list urgent-unassigned", m, "Tickets (urgent-unassigned): 2")
	txt := Text(m)
	if i, j := strings.Index(txt, "#2 "), strings.Index(txt, "#1 "); i < 0 || j < 0 || i > j || strings.Contains(txt, "#3 ") {
		t.Errorf("view order (urgent #2 before high #1, #3 assigned left out):\n%s", txt)
	}

	var list []struct {
		ID      uint64 `json:"id"`
		Subject string `json:"subject"`
	}
	e.JSON(&list, "tickets", "--view", "korean")
	if len(list) != 2 || list[0].ID != 4 || list[1].ID != 3 {
		t.Errorf("tickets --view korean --json: %+v, want #4 then #3", list)
	}
	out := e.MustCLI("tickets", "--view", "urgent-unassigned")
	if !strings.Contains(out, "Mail server down") || !strings.Contains(out, "Wildcard") || strings.Contains(out, "환불") {
		t.Errorf("tickets --view urgent-unassigned:\n%s", out)
	}
	_, errs, code := e.CLI("tickets", "--view", "nosuch")
	if code == 0 || !strings.Contains(errs, "urgent-unassigned") {
		t.Errorf("unknown view: exit %d, stderr %q", code, errs)
	}

	// A closed ticket leaves the view.
	e.Customer(testkit.Mail{From: "Dee <dee@e-fun.example>", To: []string{"support@example.com"}, Subject: "환불 세 번째", Body: "또."})
	e.Fresh(vicFr, "close", "#ticket 5\n#closed\n")
	e.Fresh(vicFr, "list", "#list korean\n")
	WantText(t, "#list korean", e.Last(vic), "Tickets (korean): 2")

	// Without a daemon the CLI reads the store and its own config.
	e.Stop()
	list = nil
	e.JSON(&list, "tickets", "--view", "korean")
	if len(list) != 2 || list[0].ID != 4 {
		t.Errorf("tickets --view korean without a daemon: %+v", list)
	}
}
