package gateway_test

import (
	"strings"
	"testing"

	"helpdesk/store"
)

// A held mail is held whole: its commands wait with its text, and #send
// applies both (a held reply must never silently drop a #merge).
func TestScenarioHoldKeepsCommands(t *testing.T) {
	w := newWorld(t, "")
	const secret = "Finance says the customer owes us two invoices already"
	n1 := w.open("Ken <"+ken+">", "Renewal", "Please renew.", vic)
	w.open("Ken <"+ken+">", "Renewal again", "Did you get my first mail?", vic)
	w.reply("Victoria <"+vic+">", n1, "#assign me\n#note\n"+secret+".")
	kenBefore := len(w.mails(ken))

	// A public reply on #1 that pastes the note, with commands.
	w.reply("Victoria <"+vic+">", n1, "#reply\n#priority high\n#merge 2\nHi Ken: "+secret+".")
	tk1, cs := w.ticket(1)
	if tk1.Priority == "high" || tk1.MergedInto != 0 {
		t.Fatalf("commands of a held mail were applied: priority %s merged into %d", tk1.Priority, tk1.MergedInto)
	}
	if len(w.mails(ken)) != kenBefore {
		t.Fatal("the held reply reached the customer")
	}
	if c := lastComment(cs, store.KindHeld); c == nil || !c.Hidden {
		t.Fatalf("no hidden held record: %+v", c)
	}
	held := w.last(vic)
	if !strings.HasPrefix(held.Header("Subject"), "Held:") || !strings.Contains(held.Env.Text, "nothing of it was applied") {
		t.Fatalf("held transcript: %q\n%s", held.Header("Subject"), held.Env.Text)
	}

	// Bob cannot release Victoria's held mail from her transcript.
	w.reply("Bob <"+bob+">", held, "#send\n")
	if tk, _ := w.ticket(1); tk.MergedInto != 0 {
		t.Fatal("another agent released the held mail")
	}

	w.reply("Victoria <"+vic+">", held, "#send\n")
	tk1, _ = w.ticket(1)
	if tk1.Priority != "high" || tk1.MergedInto != 2 {
		t.Fatalf("#send did not apply the held commands: priority %s merged into %d", tk1.Priority, tk1.MergedInto)
	}
	km := w.mails(ken)
	found := false
	for _, m := range km[kenBefore:] {
		if strings.Contains(m.Env.Text, "Hi Ken") {
			found = true
		}
	}
	if !found {
		t.Errorf("the released text did not reach the customer")
	}
	_, cs = w.ticket(1)
	for _, c := range cs {
		if c.Kind == store.KindHeld && !c.Released {
			t.Errorf("held comment %d still held", c.ID)
		}
	}
}
