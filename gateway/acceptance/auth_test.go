package acceptance

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
	"helpdesk/threading/token"
)

var _ = claim("authres: an Authentication-Results header with a trusted authserv-id is believed only above the trusted relay's own Received line (SMTP from the relay, and `helpdesk inject --trust-authres` above the first Received line); a forged one below it is ignored: the mail is quarantined as failed staff authentication (`helpdesk quarantine` lists it), runs no command, the customer gets nothing, the staff address gets the notice",
	"TestForgedAuthResBelowRelayReceivedIsIgnored", "TestInjectTrustAuthResBelievesOnlyAboveFirstReceived")

var _ = claim("token: a staff reply token authenticates only within auth.staff_token_max_age (default 720h) of its sending, by the daemon's clock; an older one is quarantined as failed staff authentication with the notice naming the max age, but still threads the mail (`helpdesk quarantine release` lands it on the token's ticket); a fresh one authenticates",
	"TestStaffTokenMaxAge")

var _ = claim("`helpdesk check-config` warns what \"token\" in auth.staff trusts: possession of a notification mail sent to that staff member, within staff_token_max_age",
	"TestCheckConfigSaysWhatTokenTrusts")

// relayID is the authserv-id of the front MTA (a Postfix with OpenDKIM
// and OpenDMARC milters) that relays mail to helpdesk from 127.0.0.1.
const relayID = "mx.example.com"

// viaPostfix is raw as that Postfix hands it over: the milters'
// Authentication-Results (ar, may be empty: OpenDKIM adds none to unsigned
// mail, OpenDMARC skips local clients) above Postfix's own Received line,
// above the mail as the sender wrote it.
func viaPostfix(ar string, raw []byte) []byte {
	var b strings.Builder
	if ar != "" {
		b.WriteString("Authentication-Results: " + ar + "\r\n")
	}
	b.WriteString("Received: from phone.certs.example (phone.certs.example [192.0.2.10])\r\n" +
		"\tby " + relayID + " (Postfix) with ESMTPS id 4Qm7Zt0x;\r\n\t" + time.Now().Format(time.RFC1123Z) + "\r\n")
	return append([]byte(b.String()), raw...)
}

// quarantined is `helpdesk quarantine --json`.
func quarantined(e *Env) []model.Quarantine {
	e.T.Helper()
	var qs []model.Quarantine
	e.JSON(&qs, "quarantine")
	return qs
}

// openKenTicket has Ken open ticket 1 and returns what his mailbox holds.
func openKenTicket(t *testing.T, e *Env) int {
	t.Helper()
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"},
		Subject: "Need a new SSL certificate", Body: "Please issue a certificate for www.e-fun.example.\n"})
	return len(e.Mailbox("ken@e-fun.example"))
}

// An Authentication-Results header of the trusted relay's id is believed
// only above that relay's own Received line (SPEC 5). A signed mail the
// relay vouches for makes Victoria staff; an unsigned mail whose sender
// wrote "Authentication-Results: mx.example.com; dmarc=pass" himself
// (below the relay's Received line: the milters at their defaults let it
// through) is quarantined as failed staff authentication: its commands do
// not run, the customer gets nothing, Victoria gets the notice, and
// `helpdesk quarantine` lists it.
func TestForgedAuthResBelowRelayReceivedIsIgnored(t *testing.T) {
	e := Start(t, Options{Auth: `staff = ["authres"]
trusted_authserv_ids = ["` + relayID + `"]`})
	kenHad := openKenTicket(t, e)

	forged := testkit.Mail{From: "Victoria <victoria@certs.example>", To: []string{"support@example.com"},
		Subject: "Re: [#1] Need a new SSL certificate", MessageID: e.ID("forged"),
		Body: "#priority urgent\nHello Ken, please send your password to us.\n"}
	raw := append([]byte("Authentication-Results: "+relayID+"; dkim=pass header.d=certs.example; dmarc=pass header.from=certs.example\r\n"), forged.Build()...)
	e.MustSend("victoria@certs.example", []string{"support@example.com"}, viaPostfix("", raw))

	qs := quarantined(e)
	if len(qs) != 1 || qs[0].Reason != model.QAuth || qs[0].From != "victoria@certs.example" ||
		!strings.Contains(qs[0].Detail, "below the relay's Received line ignored") {
		t.Fatalf("helpdesk quarantine: %+v, want the forged mail as failed staff authentication", qs)
	}
	if tk := e.Show(1); tk.Priority == "urgent" || len(tk.Comments) != 1 {
		t.Errorf("the forged mail reached ticket 1: priority %q, %d comments", tk.Priority, len(tk.Comments))
	}
	if got := e.Mailbox("ken@e-fun.example"); len(got) != kenHad {
		t.Errorf("Ken got %d mails after the forged one, want none: %q", len(got)-kenHad, got[len(got)-1].Env.Text)
	}
	notice := e.Find("victoria@certs.example", "not accepted")
	if !strings.Contains(notice.Env.Text, "authres:") {
		t.Errorf("the notice does not name the failed check:\n%s", notice.Env.Text)
	}

	// The same team's genuine, signed mail, vouched for by the relay.
	genuine := testkit.Mail{From: "Victoria <victoria@certs.example>", To: []string{"support@example.com"},
		Subject: "Re: [#1] Need a new SSL certificate", MessageID: e.ID("genuine"),
		Body: "#priority high\nHello Ken, your certificate is on its way.\n"}
	signed := e.Signer.Sign(t, genuine.Build())
	e.MustSend("victoria@certs.example", []string{"support@example.com"},
		viaPostfix(relayID+"; dkim=pass (2048-bit key) header.d=certs.example header.s=sel; dmarc=pass header.from=certs.example", signed))
	if tk := e.Show(1); tk.Priority != "high" {
		t.Errorf("Victoria's authenticated command did not run: priority %q", tk.Priority)
	}
	e.Find("ken@e-fun.example", "your certificate is on its way")
	if n := len(quarantined(e)); n != 1 {
		t.Errorf("%d quarantined records, want only the forged one", n)
	}
}

// `helpdesk inject --trust-authres`: the MTA that pipes the mail in is
// the relay, and its block is the headers above the first Received line
// (a pipe's Return-Path and Delivered-To, the milters' results). A
// trusted header below that line is the sender's and is ignored.
func TestInjectTrustAuthResBelievesOnlyAboveFirstReceived(t *testing.T) {
	e := Start(t, Options{Auth: `staff = ["authres"]
trusted_authserv_ids = ["` + relayID + `"]`})
	kenHad := openKenTicket(t, e)
	pipe := "Return-Path: <victoria@certs.example>\r\nDelivered-To: support@example.com\r\n"
	pass := relayID + "; dkim=pass header.d=certs.example; dmarc=pass header.from=certs.example"
	inject := func(name string, raw []byte) {
		t.Helper()
		f := filepath.Join(t.TempDir(), name+".eml")
		if err := os.WriteFile(f, raw, 0o600); err != nil {
			t.Fatal(err)
		}
		e.MustCLI("inject", "--trust-authres", f)
		e.Settle()
	}

	forged := testkit.Mail{From: "victoria@certs.example", To: []string{"support@example.com"},
		Subject: "Re: [#1] Need a new SSL certificate", MessageID: e.ID("forged"), Body: "#priority urgent\nForged.\n"}
	inject("forged", append([]byte(pipe), viaPostfix("", append([]byte("Authentication-Results: "+pass+"\r\n"), forged.Build()...))...))
	if qs := quarantined(e); len(qs) != 1 || qs[0].Reason != model.QAuth {
		t.Fatalf("helpdesk quarantine: %+v, want the forged mail", qs)
	}
	if got := e.Mailbox("ken@e-fun.example"); len(got) != kenHad {
		t.Errorf("Ken got mail after the forged one: %q", got[len(got)-1].Env.Text)
	}

	genuine := testkit.Mail{From: "victoria@certs.example", To: []string{"support@example.com"},
		Subject: "Re: [#1] Need a new SSL certificate", MessageID: e.ID("genuine"), Body: "#priority high\nHello Ken, it is on its way.\n"}
	inject("genuine", append([]byte(pipe), viaPostfix(pass, genuine.Build())...))
	if tk := e.Show(1); tk.Priority != "high" {
		t.Errorf("the relay's header above its Received line was not believed: priority %q", tk.Priority)
	}
	e.Find("ken@e-fun.example", "it is on its way")
}

// A staff reply token authenticates for auth.staff_token_max_age (default
// 720h) after its notification was sent, by the daemon's clock (SPEC 5).
// The store here was created 40 days ago (its token key with it), so a
// token issued 31 days ago can be signed with its secret as the daemon
// would have: mail to it is quarantined as failed staff authentication and
// Victoria gets the notice, but the token still threads the mail (released,
// it lands on ticket 1). A fresh notification's token authenticates.
func TestStaffTokenMaxAge(t *testing.T) {
	bboltOnly(t)
	dir := t.TempDir()
	created := time.Now().Add(-40 * 24 * time.Hour)
	db, err := bolt.Open(dir, bolt.Options{Now: func() time.Time { return created }})
	if err != nil {
		t.Fatal(err)
	}
	var stored []model.TokenKey
	err = db.View(func(tx store.Tx) error { stored, err = tx.Keys(); return err })
	db.Close()
	if err != nil || len(stored) != 1 {
		t.Fatalf("reading the token key: %v %v", stored, err)
	}
	keys := []token.Key{token.Key(stored[0])}
	e := Start(t, Options{Dir: dir, Auth: `staff = ["token"]`})
	kenHad := openKenTicket(t, e)

	notif := e.Find("victoria@certs.example", "[#1]")
	kr := &token.Keyring{Keys: keys}
	fresh := ReplyTo(notif)
	tag := strings.TrimSuffix(strings.TrimPrefix(fresh, "support+"), "@example.com")
	tok, err := kr.Verify(tag)
	if err != nil || time.Since(tok.Issued) > 2*time.Hour {
		t.Fatalf("notification token %q: %+v, %v", fresh, tok, err)
	}
	tok.Issued = time.Now().Add(-31 * 24 * time.Hour)
	old := token.Address("support@example.com", "+", kr.Sign(tok))

	reply := func(to, id, body string) {
		m := testkit.Mail{From: "Victoria <victoria@certs.example>", To: []string{to},
			Subject: "Re: your notification", MessageID: e.ID(id), Body: body}
		e.MustSend("victoria@certs.example", []string{to}, m.Build())
	}
	reply(old, "old", "#priority urgent\nHello Ken, from an old notification.\n")
	qs := quarantined(e)
	if len(qs) != 1 || qs[0].Reason != model.QAuth || !strings.Contains(qs[0].Detail, "staff_token_max_age") {
		t.Fatalf("helpdesk quarantine: %+v, want the mail to the 31-day-old token", qs)
	}
	if tk := e.Show(1); tk.Priority == "urgent" || len(tk.Comments) != 1 {
		t.Errorf("the mail to an expired token reached ticket 1: priority %q, %d comments", tk.Priority, len(tk.Comments))
	}
	if got := e.Mailbox("ken@e-fun.example"); len(got) != kenHad {
		t.Errorf("Ken got mail after the expired token's: %q", got[len(got)-1].Env.Text)
	}
	notice := e.Find("victoria@certs.example", "not accepted")
	if !strings.Contains(notice.Env.Text, "staff_token_max_age") {
		t.Errorf("the notice does not say the token is too old:\n%s", notice.Env.Text)
	}

	reply(fresh, "fresh", "#priority high\nHello Ken, your certificate is on its way.\n")
	if tk := e.Show(1); tk.Priority != "high" {
		t.Errorf("a fresh token did not authenticate Victoria: priority %q", tk.Priority)
	}
	e.Find("ken@e-fun.example", "your certificate is on its way")

	// The expired token still names ticket 1: released, the mail lands there.
	var res struct {
		Ticket uint64 `json:"ticket"`
	}
	out := e.MustCLI("quarantine", "release", "1", "--json")
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Ticket != 1 {
		t.Fatalf("release: %s (%v), want ticket 1", out, err)
	}
	e.Find("ken@e-fun.example", "from an old notification")
}

// check-config says what "token" trusts.
func TestCheckConfigSaysWhatTokenTrusts(t *testing.T) {
	e := Start(t, Options{Auth: `staff = ["dmarc", "token"]`})
	out := e.MustCLI("check-config")
	if !strings.Contains(out, "possession of a notification mail sent to that staff member") || !strings.Contains(out, "staff_token_max_age (720h0m0s)") {
		t.Errorf("helpdesk check-config does not say what token trusts:\n%s", out)
	}
}
