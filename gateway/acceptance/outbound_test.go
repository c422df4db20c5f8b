package acceptance

import (
	"fmt"
	"net/mail"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

// rcptArg returns the mails whose RCPT TO argument was exactly arg.
func rcptArg(s *testkit.Sink, arg string) []*testkit.Received {
	var out []*testkit.Received
	for _, m := range s.All() {
		for _, a := range m.RcptArgs {
			if a == arg {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// A quoted local part containing "@" and ">" goes out quoted (RFC 5321
// Quoted-string) in RCPT TO and in the To header, so a lenient relay
// cannot read it as another address; a mixed-case local part keeps its
// case on the wire while identity stays case-insensitive.
func TestOutboundAddressesQuotedAndCaseKept(t *testing.T) {
	e := Start(t, Options{})
	e.Customer(testkit.Mail{From: `Eve <"evil@attacker.example>"@e-fun.example>`, To: []string{"support@example.com"},
		Subject: "Quoted local part", Body: "Hello from a quoted local part.\n"})
	e.Customer(testkit.Mail{From: "Ken Smith <Ken.Smith@e-fun.example>", To: []string{"support@example.com"},
		Subject: "Mixed case", Body: "Hello from Ken.\n"})

	const quoted = `"evil@attacker.example>"@e-fun.example`
	got := rcptArg(e.Sink, quoted)
	if len(got) != 1 {
		var args []string
		for _, m := range e.Sink.All() {
			args = append(args, m.RcptArgs...)
		}
		t.Fatalf("want one mail with RCPT TO:<%s>, got %d; RCPT arguments seen: %q\n%s", quoted, len(got), args, e.MustCLI("outbox"))
	}
	ack := got[0]
	if !strings.Contains(ack.Header("Subject"), "[#1]") {
		t.Errorf("mail to the quoted address is not the acknowledgement of #1: %q", ack.Header("Subject"))
	}
	to, err := mail.ParseAddress(ack.Header("To"))
	if err != nil || to.Address != "evil@attacker.example>@e-fun.example" {
		t.Errorf("acknowledgement To %q does not parse back to the customer's address: %v %v", ack.Header("To"), to, err)
	}
	if m := rcptArg(e.Sink, "evil@attacker.example"); len(m) != 0 {
		t.Errorf("%d mails went to evil@attacker.example", len(m))
	}

	kens := rcptArg(e.Sink, "Ken.Smith@e-fun.example")
	if len(kens) != 1 {
		t.Fatalf("want the acknowledgement at RCPT TO:<Ken.Smith@e-fun.example> (case kept), got %d", len(kens))
	}
	if h := kens[0].Header("To"); !strings.Contains(h, "<Ken.Smith@e-fun.example>") {
		t.Errorf("acknowledgement To %q lost the local part's case", h)
	}
	if tk := e.Show(2); tk.Requester != "ken.smith@e-fun.example" {
		t.Errorf("requester of #2 is %q; identity should stay the comparison form", tk.Requester)
	}
	// Identity stays case-insensitive: another spelling lands on #2.
	e.Customer(testkit.Mail{From: "KEN.SMITH@E-FUN.EXAMPLE", To: []string{"support@example.com"},
		Subject: "Re: [#2] Mixed case", Body: "Same person.\n"})
	if n := len(e.Show(2).Comments); n < 2 {
		t.Errorf("a reply spelled in capitals did not land on #2 (%d comments)", n)
	}
}

// countLines counts the log lines containing every one of subs.
func countLines(log string, subs ...string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		ok := l != ""
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			n++
		}
	}
	return n
}

// A relay answering AUTH with 535 (wrong password) keeps mail queued and
// retried: nothing fails for good, the failure is logged once, shown by
// `helpdesk outbox` and /healthz; once the relay takes the password the
// mail goes out. `helpdesk outbox retry ID|--failed` requeues given-up
// mail, with the daemon running and without it.
func TestRelayAuthFailureIsTemporaryAndOutboxRetry(t *testing.T) {
	sink := testkit.StartSink(t)
	sink.Password = "the-right-one"
	e := Start(t, Options{Sink: sink, Outbound: `username = "helpdesk"` + "\n" + `password = "wrong"`})
	if err := e.Send("ken@e-fun.example", []string{"support@example.com"},
		testkit.Mail{From: "ken@e-fun.example", To: []string{"support@example.com"}, Subject: "Relay says 535", Body: "Hello.\n"}.Build()); err != nil {
		t.Fatal(err)
	}
	// Several rounds of attempts (retry_max is 200ms in tests), and
	// their results recorded: the relay sees an AUTH before the attempt
	// is written to the store (on PostgreSQL and under load, visibly so).
	var ob *Outbox
	recorded := func() bool {
		for _, it := range ob.Items {
			if it.Attempts > 0 {
				return true
			}
		}
		return false
	}
	e.Eventually(60*time.Second, func() bool { ob = e.Outbox(); return sink.AuthCount() >= 4 && recorded() },
		func() string {
			return fmt.Sprintf("%d AUTH attempts, want 4 or more with an attempt recorded:\n%s", sink.AuthCount(), e.MustCLI("outbox"))
		})
	if ob.Failed != 0 || ob.Queued != 4 {
		t.Fatalf("with the relay refusing our password: queued %d failed %d, want 4 queued and none failed\n%s", ob.Queued, ob.Failed, e.MustCLI("outbox"))
	}
	tried := 0
	for _, it := range ob.Items {
		if it.Attempts > 0 {
			tried++
			if !strings.Contains(it.LastError, "535") {
				t.Errorf("item %d last error %q does not name the 535", it.ID, it.LastError)
			}
		}
	}
	if tried == 0 {
		t.Errorf("no attempt counted: %+v", ob.Items)
	}
	if ob.Relay.State != "failing" || !strings.Contains(ob.Relay.LastError, "535") || !strings.Contains(ob.Relay.Hint, "password") {
		t.Errorf("outbox --json relay = %+v, want failing with the 535 and a hint about the password", ob.Relay)
	}
	text := e.MustCLI("outbox")
	if !strings.Contains(text, "relay "+sink.Addr+": failing since") || !strings.Contains(text, "535") {
		t.Errorf("helpdesk outbox does not say the relay is failing and why:\n%s", text)
	}
	body, code := e.HTTPStatus("/healthz")
	if code != 503 || !strings.Contains(body, "relay") || !strings.Contains(body, "535") {
		t.Errorf("/healthz while the relay refuses our login: %d %q, want 503 naming the relay and the 535", code, body)
	}
	if n := countLines(e.Logs(), "relay failing"); n != 1 {
		t.Errorf("the relay failure was logged %d times, want once:\n%s", n, e.Logs())
	}
	if n := countLines(e.Logs(), "outbound attempt failed"); n != 0 {
		t.Errorf("%d per-mail failure lines for a relay failure, want none (logged once per relay state)", n)
	}

	// The relay takes the password now (as after fixing the config).
	sink.SetPassword("wrong")
	e.Settle()
	if got := e.Mailbox("ken@e-fun.example"); len(got) != 1 {
		t.Errorf("customer got %d mails after the relay recovered, want the one acknowledgement", len(got))
	}
	if body, code := e.HTTPStatus("/healthz"); code != 200 || !strings.HasPrefix(body, "ok") {
		t.Errorf("/healthz after the relay recovered: %d %q", code, body)
	}
	if ob := e.Outbox(); ob.Relay.State != "ok" || ob.Sent != 4 {
		t.Errorf("after recovery: relay %+v, sent %d (want ok, 4)", ob.Relay, ob.Sent)
	}
	if n := countLines(e.Logs(), "relay works again"); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}

	// Given-up mail: a recipient the relay refuses with 550.
	sink.SetRefuse("amy@e-fun.example", true)
	sink.SetRefuse("bob@e-fun.example", true)
	for _, who := range []string{"amy", "bob"} {
		e.Customer(testkit.Mail{From: who + "@e-fun.example", To: []string{"support@example.com"}, Subject: "Refused " + who, Body: "Hi.\n"})
	}
	failedID := map[string]uint64{}
	for _, it := range e.Outbox().Items {
		if it.State == "failed" {
			failedID[it.Rcpt] = it.ID
		}
	}
	if len(failedID) != 2 {
		t.Fatalf("want the two refused acknowledgements failed, got %v\n%s", failedID, e.MustCLI("outbox"))
	}
	sink.SetRefuse("amy@e-fun.example", false)
	sink.SetRefuse("bob@e-fun.example", false)
	out := e.MustCLI("outbox", "retry", fmt.Sprint(failedID["amy@e-fun.example"]))
	if !strings.Contains(out, "1 ") {
		t.Errorf("outbox retry ID said %q", out)
	}
	e.Settle()
	if got := e.Mailbox("amy@e-fun.example"); len(got) != 1 {
		t.Errorf("amy got %d mails after outbox retry, want 1", len(got))
	}
	if got := e.Mailbox("bob@e-fun.example"); len(got) != 0 {
		t.Errorf("bob got %d mails though only amy's was retried", len(got))
	}
	if _, _, code := e.CLI("outbox", "retry", fmt.Sprint(failedID["amy@e-fun.example"])); code == 0 {
		t.Errorf("retrying a sent item succeeded; want an error")
	}
	// Without a daemon: the store is changed directly.
	e.Stop()
	out = e.MustCLI("outbox", "retry", "--failed")
	if !strings.Contains(out, "1 ") {
		t.Errorf("outbox retry --failed (no daemon) said %q", out)
	}
	e.Restart()
	e.Settle()
	if got := e.Mailbox("bob@e-fun.example"); len(got) != 1 {
		t.Errorf("bob got %d mails after outbox retry --failed, want 1", len(got))
	}
	if ob := e.Outbox(); ob.Failed != 0 {
		t.Errorf("%d items still failed", ob.Failed)
	}
}

// A relay that never answers AUTH costs one attempt per command_timeout:
// counted, logged, retried; the mail goes out once the relay answers.
func TestRelayCommandTimeout(t *testing.T) {
	sink := testkit.StartSink(t)
	sink.Password = "secret"
	sink.HangAuth = -1
	e := Start(t, Options{Sink: sink, Outbound: "username = \"helpdesk\"\npassword = \"secret\"\ncommand_timeout = \"3s\""})
	if err := e.Send("ken@e-fun.example", []string{"support@example.com"},
		testkit.Mail{From: "ken@e-fun.example", To: []string{"support@example.com"}, Subject: "Hung relay", Body: "Hello.\n"}.Build()); err != nil {
		t.Fatal(err)
	}
	e.Eventually(30*time.Second, func() bool {
		for _, it := range e.Outbox().Items {
			if it.Attempts > 0 && strings.Contains(it.LastError, "timeout") {
				return true
			}
		}
		return false
	}, func() string { return "no attempt counted with a timeout:\n" + e.MustCLI("outbox") })
	if n := countLines(e.Logs(), "relay failing", "AUTH", "timeout"); n != 1 {
		t.Errorf("the AUTH timeout was logged %d times, want once:\n%s", n, e.Logs())
	}
	if _, code := e.HTTPStatus("/healthz"); code != 503 {
		t.Errorf("/healthz while the relay hangs: %d, want 503", code)
	}
	sink.SetHangAuth(0)
	e.Settle()
	if got := e.Mailbox("ken@e-fun.example"); len(got) != 1 {
		t.Errorf("customer got %d mails after the relay answered again, want 1", len(got))
	}
	if ob := e.Outbox(); ob.Sent != 4 || ob.Relay.State != "ok" {
		t.Errorf("after recovery: sent %d relay %+v", ob.Sent, ob.Relay)
	}
}

// One connection hung on AUTH holds only its own mail: the others of its
// round, and mail queued after it, go out before it times out.
func TestHungRelayConnectionDoesNotHoldTheQueue(t *testing.T) {
	sink := testkit.StartSink(t)
	sink.Password = "secret"
	sink.HangAuth = 1
	e := Start(t, Options{Sink: sink, Outbound: "username = \"helpdesk\"\npassword = \"secret\"\ncommand_timeout = \"15s\""})
	send := func(who string) {
		if err := e.Send(who+"@e-fun.example", []string{"support@example.com"},
			testkit.Mail{From: who + "@e-fun.example", To: []string{"support@example.com"}, Subject: "From " + who, Body: "Hello.\n"}.Build()); err != nil {
			t.Fatal(err)
		}
	}
	send("ken")
	// Each customer mail queues 4: the acknowledgement and 3 notifications.
	e.Eventually(30*time.Second, func() bool { return len(sink.All()) >= 3 }, func() string { return "the 3 mails on free connections did not arrive" })
	send("amy")
	e.Eventually(30*time.Second, func() bool { return len(sink.All()) >= 7 }, func() string {
		return fmt.Sprintf("mail queued after the hung one is stuck behind it (%d arrived)", len(sink.All()))
	})
	if strings.Contains(e.Logs(), "timeout") {
		t.Fatalf("the hung AUTH timed out before the other mail went out: the test proves nothing on this machine")
	}
	e.Eventually(60*time.Second, func() bool { return len(sink.All()) >= 8 }, func() string { return "the hung mail was not retried" })
	e.Settle()
	if got := len(sink.All()); got != 8 {
		t.Errorf("sink got %d mails, want 8 (each once)", got)
	}
}

var _ = claim("outbound envelope (MAIL FROM, RCPT TO) and header addresses are formatted with net/mail: a quoted local part stays quoted; the local part keeps its case while identity stays case-insensitive",
	"TestOutboundAddressesQuotedAndCaseKept")

var _ = claim("a relay refusing our login (535) keeps mail queued and retried, never failed; logged once; `helpdesk outbox` shows the relay's state and last error; /healthz answers 503 naming it; recovery delivers each mail once",
	"TestRelayAuthFailureIsTemporaryAndOutboxRetry")

var _ = claim("`helpdesk outbox retry ID` and `helpdesk outbox retry --failed` queue given-up mail again, with the daemon running (control socket) and without it (store)",
	"TestRelayAuthFailureIsTemporaryAndOutboxRetry")

var _ = claim("[outbound] command_timeout: a relay that never answers AUTH costs a counted, logged attempt per timeout; mail is retried and goes out when the relay answers",
	"TestRelayCommandTimeout")

var _ = claim("one relay connection hung on a command holds only its own mail: the rest of its round and mail queued later go out first",
	"TestHungRelayConnectionDoesNotHoldTheQueue")

var _ = claim("after the relay's configuration is fixed, SIGHUP (or `helpdesk outbox retry --failed`) makes the mail waiting on relay errors due at once instead of after its backoff",
	"TestFixedRelayConfigSendsWaitingMailAtOnce")

// Found by a black-box run: after the password was fixed and the config
// reloaded, queued mail waited for its next retry (up to retry_max, an
// hour by default), and `outbox retry --failed` said "0 mail(s) queued
// again" because the mail was still queued, not failed.
func TestFixedRelayConfigSendsWaitingMailAtOnce(t *testing.T) {
	sink := testkit.StartSink(t)
	sink.Password = "the-right-one"
	e := Start(t, Options{Sink: sink, Outbound: "username = \"helpdesk\"\npassword = \"wrong\""})
	// Backoff of an hour, as in production, so only the fix can send it.
	edit(t, e.Config, `retry_initial = "50ms"`, `retry_initial = "1h"`)
	edit(t, e.Config, `retry_max = "200ms"`, `retry_max = "1h"`)
	e.Restart()
	if err := e.Send(ken, []string{"support@example.com"},
		testkit.Mail{From: ken, To: []string{"support@example.com"}, Subject: "Waiting on the relay", Body: "Hello.\n"}.Build()); err != nil {
		t.Fatal(err)
	}
	e.Eventually(30*time.Second, func() bool { return sink.AuthCount() >= 1 }, func() string { return "no AUTH attempt" })
	// `retry --failed` counts mail waiting on a relay error too.
	out := e.MustCLI("outbox", "retry", "--failed")
	if !strings.Contains(out, "due now") || strings.HasPrefix(out, "0 ") {
		t.Errorf("outbox retry --failed with mail waiting on the relay: %q", out)
	}
	e.Eventually(30*time.Second, func() bool { return sink.AuthCount() >= 2 }, func() string { return "retry --failed did not make the mail due" })

	// Fix the password and reload: the waiting mail goes at once.
	edit(t, e.Config, `password = "wrong"`, `password = "the-right-one"`)
	if err := e.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	e.Eventually(20*time.Second, func() bool { return len(sink.To(ken)) == 1 }, func() string {
		return "the acknowledgement did not leave within 20 s of the reload:\n" + e.MustCLI("outbox")
	})
}

// edit replaces old by new in a file, failing the test when old is absent.
func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}
