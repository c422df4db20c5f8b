package gateway_test

// Hostile input: clients that stop talking (read and data timeouts).

import (
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
)

// A client that stops talking is cut with 421 after read_timeout (also in
// the middle of a command line) and after data_timeout in the middle of
// DATA; nothing half-received is stored or left in the spool.
func TestHostileSlowClient(t *testing.T) {
	d := startHD(t, hopts{smtp: `read_timeout = "300ms"
data_timeout = "300ms"
spool_threshold = "1KiB"`})

	t.Run("idle after EHLO", func(t *testing.T) {
		c := testkit.DialSMTP(t, d.SMTPAddr)
		c.Hello()
		start := time.Now()
		c.Run(testkit.Expect(421).Text("4.4.2"))
		if el := time.Since(start); el < 250*time.Millisecond {
			t.Errorf("421 after %s, before the 300ms read timeout", el)
		}
		c.Run(testkit.Closed())
	})

	t.Run("half a command line", func(t *testing.T) {
		c := testkit.DialSMTP(t, d.SMTPAddr)
		c.Hello()
		c.Write([]byte("MAIL FROM:<slow@client.test"))
		// go-smtp's line reader hands out the partial line when the
		// read times out, so it may answer it before the 421; the
		// session ends at the first timeout all the same.
		start := time.Now()
		r, err := c.Reply()
		if err == nil && r.Code != 421 {
			t.Logf("partial line answered %d %s", r.Code, r.Text)
			r, err = c.Reply()
		}
		if err != nil || r.Code != 421 {
			t.Fatalf("got %d %s %v, want 421", r.Code, r.Text, err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("421 after %s", el)
		}
		c.Run(testkit.Closed())
	})

	t.Run("stalled DATA", func(t *testing.T) {
		c := testkit.DialSMTP(t, d.SMTPAddr)
		c.Hello()
		c.Envelope("slow@client.test", "support@example.com")
		c.Run(
			testkit.Cmd("DATA", 354),
			// More than spool_threshold, so the body is in a spool file;
			// no end of data follows.
			testkit.SendRaw(testkit.Mail{From: "slow@client.test", To: []string{"support@example.com"}, Subject: "half",
				Body: strings.Repeat("a line of a mail that never ends\n", 200)}.Build()),
		)
		start := time.Now()
		c.Run(testkit.Expect(421))
		if el := time.Since(start); el < 250*time.Millisecond {
			t.Errorf("421 after %s, before the 300ms data timeout", el)
		}
		c.Run(testkit.Closed())
		hostilePoll(t, "the half-received spool file to be removed", 2*time.Second, func() bool { return len(hostileSpoolFiles(t, d.Dir)) == 0 })
		if n := len(d.messages()); n != 0 {
			t.Errorf("%d messages stored from a stalled DATA", n)
		}
		if n := d.ticketCount(); n != 0 {
			t.Errorf("%d tickets from a stalled DATA", n)
		}
	})

	// The daemon still serves a well-behaved client.
	if err := testkit.SendMail(d.SMTPAddr, "ok@client.test", []string{"support@example.com"}, testkit.Mail{
		From: "ok@client.test", To: []string{"support@example.com"}, Subject: "fine", Body: "hello",
	}.Build()); err != nil {
		t.Fatalf("normal mail after slow clients: %v", err)
	}
	if d.ticketCount() != 1 {
		t.Errorf("tickets = %d, want 1", d.ticketCount())
	}
}
