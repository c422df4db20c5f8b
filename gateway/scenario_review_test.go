package gateway_test

import (
	"helpdesk/config"
	"slices"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store"
	"helpdesk/store/model"
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
	if c := lastComment(cs, model.KindHeld); c == nil || !c.Hidden {
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
		if c.Kind == model.KindHeld && !c.Released {
			t.Errorf("held comment %d still held", c.ID)
		}
	}
}

// A light agent's commands in a side-thread reply run (never silently
// ignored), and his text stays a private message of the thread: the
// collaborator never gets it.
func TestScenarioLightAgentInSideThread(t *testing.T) {
	w := newWorld(t, "")
	const partner = "orders@partner-a.example"
	n1 := w.open("Ken <"+ken+">", "Certificates", "Five wildcard certificates please.", vic)
	w.reply("Victoria <"+vic+">", n1, "#assign me\n#follower +venkat\n")
	w.reply("Victoria <"+vic+">", n1, "#forward "+partner+"\nPlease quote five wildcard certificates.")
	pm := w.expectCount(partner, 1)[0]
	w.send(testkit.Mail{From: partner, To: []string{replyTok(t, pm)}, Subject: "Re: " + pm.Header("Subject"), InReplyTo: midOf(pm), Body: "500 EUR."})
	side := w.last(venkat)
	if !strings.Contains(side.Env.Text, "500 EUR") {
		t.Fatalf("Venkat's side-thread notification:\n%s", side.Env.Text)
	}
	partnerBefore := len(w.mails(partner))
	w.reply("Venkat <"+venkat+">", side, "#unfollow\n\nLooks fine to me.")
	tk, cs := w.ticket(1)
	if slices.Contains(tk.Followers, venkat) {
		t.Errorf("the light agent's #unfollow was ignored: followers %v", tk.Followers)
	}
	c := lastComment(cs, model.KindComment)
	if c == nil || c.Text != "Looks fine to me." || c.Thread != 1 || c.Visibility != model.Private {
		t.Errorf("light agent's side-thread text = %+v", c)
	}
	if n := len(w.mails(partner)); n != partnerBefore {
		t.Errorf("the collaborator got %d mails from the light agent", n-partnerBefore)
	}
}

// SIGHUP: a removed staff member receives nothing from then on, queued
// mail included; settings that need a restart are refused.
func TestReloadRemovesStaff(t *testing.T) {
	sink := testkit.StartSink(t)
	d := testkit.Start(t, testkit.Options{Relay: sink, Config: agents})
	// Hold outbound mail so a notification for Bob is still queued.
	sink.SetFail(true)
	d.MustSend(ken, []string{"support@example.com"}, testkit.Mail{From: ken, To: []string{"support@example.com"}, Subject: "One", Body: "first"}.Build())
	without := strings.Replace(agents, "[[agent]]\nemail = \"bob@certs.example\"\nname = \"Bob Builder\"\nrole = \"agent\"\ngroups = [\"support\"]\n", "", 1)
	if without == agents {
		t.Fatal("test setup: Bob not found in the agent list")
	}
	cfg, err := config.Parse(testkit.BaseConfig(d.Dir, sink.Addr, d.DNS.Addr()) + without + "\n[[mailbox]]\naddress = \"support@example.com\"\nname = \"Example Support\"\ngroup = \"support\"\n")
	if err != nil {
		t.Fatal(err)
	}
	cfg.SMTP.Listen = d.Config.SMTP.Listen
	cfg.HTTP.Listen = d.Config.HTTP.Listen
	if err := d.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	// A delivery already under way at the reload (past its staff check,
	// its DATA on the wire) is sent before it, not after: let such
	// rounds end, still refused, before the relay takes mail again.
	d.Flush()
	sink.SetFail(false)
	d.MustSend(ken, []string{"support@example.com"}, testkit.Mail{From: ken, To: []string{"support@example.com"}, Subject: "Two", Body: "second"}.Build())
	// Mail One's notifications wait out a retry backoff: poll until the
	// queue is empty (generously: a loaded machine), never assume it.
	for deadline := time.Now().Add(60 * time.Second); ; {
		d.Flush()
		var queued int
		d.DB.View(func(tx store.Tx) error { queued = tx.QueueDepth(); return nil })
		if queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d mails still queued after 60 s", queued)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(sink.To(bob)); n != 0 {
		t.Errorf("Bob, removed from the staff, got %d mails", n)
	}
	if n := len(sink.To(vic)); n == 0 {
		t.Errorf("Victoria got nothing")
	}
	bad := *cfg
	bad.DataDir = t.TempDir()
	if err := d.Reload(&bad); err == nil || !strings.Contains(err.Error(), "data_dir") {
		t.Errorf("a data_dir change was not refused: %v", err)
	}
}

// Releasing a quarantined forged-looking staff mail applies it once, with
// the failed check waived and no false "not accepted" notice; a second
// release is refused.
func TestQuarantineReleaseOnce(t *testing.T) {
	sink := testkit.StartSink(t)
	d := testkit.Start(t, testkit.Options{Relay: sink, Config: agents})
	d.DKIM(t, "certs.example")
	d.MustSend(ken, []string{"support@example.com"}, testkit.Mail{From: ken, To: []string{"support@example.com"}, Subject: "Help", Body: "hello"}.Build())
	d.MustSend(vic, []string{"support@example.com"}, testkit.Mail{
		From: "Victoria <" + vic + ">", To: []string{"support@example.com"}, Subject: "Re: [#1] Help",
		Body: "#ticket 1\n#priority urgent\nFrom my phone.",
	}.Build())
	var qs []*model.Quarantine
	d.DB.View(func(tx store.Tx) error { qs, _ = tx.Quarantined(0); return nil })
	if len(qs) != 1 || qs[0].Reason != model.QAuth {
		t.Fatalf("quarantine = %+v", qs)
	}
	d.Flush()
	notices := len(sink.To(vic))
	res, err := d.Engine.Release(t.Context(), qs[0].ID)
	if err != nil || res.Ticket != 1 {
		t.Fatalf("release: %+v %v", res, err)
	}
	if tk, _ := d.Ticket(1); tk.Priority != "urgent" {
		t.Errorf("released commands not applied: priority %s", tk.Priority)
	}
	if _, err := d.Engine.Release(t.Context(), qs[0].ID); err == nil {
		t.Error("a second release was accepted")
	}
	d.Flush()
	for _, m := range sink.To(vic)[notices:] {
		if strings.Contains(m.Header("Subject"), "not accepted") {
			t.Errorf("release sent a false 'not accepted' notice")
		}
	}
}
