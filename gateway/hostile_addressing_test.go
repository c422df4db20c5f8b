package gateway_test

// Hostile input: unknown recipients, forged plus-address tokens, duplicate
// deliveries.

import (
	"testing"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/model"
)

func TestHostileRecipientsAndDuplicates(t *testing.T) {
	d := startHD(t, hopts{})

	t.Run("unknown recipients", func(t *testing.T) {
		script := []testkit.Step{testkit.Expect(220), testkit.Cmd("EHLO client.test", 250), testkit.Cmd("MAIL FROM:<x@client.test>", 250)}
		for _, rc := range []string{"nobody@example.com", "support@other.test", "supportx@example.com",
			"support@example.com.evil.test", "x+support@example.com", "support+@evil.test", "postmaster@example.com"} {
			script = append(script, testkit.Cmd("RCPT TO:<"+rc+">", 550).Text("5.1.1"))
		}
		script = append(script, testkit.Cmd("DATA", 502)) // no valid recipient
		testkit.DialSMTP(t, d.SMTPAddr).Run(script...)
		if n := len(d.messages()); n != 0 {
			t.Errorf("%d messages stored", n)
		}
		if n := d.SMTP.Metrics.RcptRefused.Load(); n != 7 {
			t.Errorf("RcptRefused = %d, want 7", n)
		}
	})

	t.Run("garbage plus-address token", func(t *testing.T) {
		first := testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"}, Subject: "Printer", MessageID: "p1@e-fun.example", Body: "It jams."}
		if err := testkit.SendMail(d.SMTPAddr, "ken@e-fun.example", []string{"support@example.com"}, first.Build()); err != nil {
			t.Fatal(err)
		}
		tk1 := d.lastMessage().Ticket
		// The same follow-up, once without a token and once to a garbage
		// token: both are threaded alike.
		disp := map[string]*model.Message{}
		for _, to := range []string{"support@example.com", "support+garbage0000@example.com", "SUPPORT+Zz9--..@Example.COM"} {
			err := testkit.SendMail(d.SMTPAddr, "ken@e-fun.example", []string{to}, testkit.Mail{
				From: "Ken <ken@e-fun.example>", To: []string{to}, Subject: "Re: Printer", InReplyTo: "p1@e-fun.example",
				Body: "Still jams (to " + to + ").",
			}.Build())
			if err != nil {
				t.Fatalf("to %s: %v", to, err)
			}
			disp[to] = d.lastMessage()
		}
		plain := disp["support@example.com"]
		for to, m := range disp {
			if m.Ticket != plain.Ticket || m.Disposition != plain.Disposition {
				t.Errorf("to %s: ticket %d %s; without token: ticket %d %s", to, m.Ticket, m.Disposition, plain.Ticket, plain.Disposition)
			}
		}
		if plain.Ticket != tk1 || plain.Disposition != model.DispComment {
			t.Errorf("follow-up: ticket %d %s, want a comment on %d", plain.Ticket, plain.Disposition, tk1)
		}
		if n := d.Engine.Metrics.ForgedTokens.Load(); n != 2 {
			t.Errorf("ForgedTokens = %d, want 2", n)
		}
		// Without any other cue a garbage token opens a new ticket, as no
		// token would.
		before := d.ticketCount()
		if err := testkit.SendMail(d.SMTPAddr, "ann@client.test", []string{"support+abcdefghijklmnop@example.com"}, testkit.Mail{
			From: "ann@client.test", To: []string{"support+abcdefghijklmnop@example.com"}, Subject: "Hello", Body: "new question",
		}.Build()); err != nil {
			t.Fatal(err)
		}
		if m := d.lastMessage(); d.ticketCount() != before+1 || m.Disposition != model.DispTicket {
			t.Errorf("garbage token without cues: %d tickets (want %d), disposition %s", d.ticketCount(), before+1, m.Disposition)
		}
	})

	t.Run("same mail twice", func(t *testing.T) {
		raw := testkit.Mail{From: "dup@client.test", To: []string{"support@example.com"}, Subject: "twice", MessageID: "dup-1@client.test", Body: "same body"}.Build()
		msgs, tickets := len(d.messages()), d.ticketCount()
		for i := 0; i < 2; i++ {
			if err := testkit.SendMail(d.SMTPAddr, "dup@client.test", []string{"support@example.com"}, raw); err != nil {
				t.Fatalf("delivery %d: %v", i+1, err)
			}
		}
		if n := len(d.messages()); n != msgs+1 {
			t.Errorf("%d messages stored for one mail delivered twice", n-msgs)
		}
		if n := d.ticketCount(); n != tickets+1 {
			t.Errorf("%d tickets opened for one mail delivered twice", n-tickets)
		}
		if n := d.Engine.Metrics.Duplicates.Load(); n != 1 {
			t.Errorf("Duplicates = %d", n)
		}
	})
}
