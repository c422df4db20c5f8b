package acceptance

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
)

// randomBytes is n bytes of random binary: every byte value occurs, so a
// charset conversion, a line-ending fix or a truncation shows.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// koreanFiles are what a customer's client attaches: a PDF with a Korean
// name in RFC 2231 form and a screenshot whose name is an RFC 2047
// encoded word.
func koreanFiles(t *testing.T) []testkit.File {
	return []testkit.File{
		{Name: "견적서 2026.pdf", ContentType: "application/pdf", Data: randomBytes(t, 48<<10)},
		{Name: "스크린샷 1.png", ContentType: "image/png", Data: randomBytes(t, 20<<10), EncodedWord: true},
	}
}

// hasFiles checks that the received mail carries exactly want as
// attachments: name, content type and content byte for byte, as the
// sink's MIME parser (enmime) reads them.
func hasFiles(t *testing.T, who string, m *testkit.Received, want []testkit.File) {
	t.Helper()
	parts := append(append(append([]*enmime.Part{}, m.Env.Attachments...), m.Env.Inlines...), m.Env.OtherParts...)
	byName := map[string]int{}
	for i, p := range parts {
		if p.FileName != "" {
			byName[p.FileName] = i
		}
	}
	for _, f := range want {
		i, ok := byName[f.Name]
		if !ok {
			var names []string
			for _, p := range parts {
				names = append(names, fmt.Sprintf("%q (%s)", p.FileName, p.ContentType))
			}
			t.Errorf("%s: mail %q lacks attachment %q; its parts: %v", who, m.Header("Subject"), f.Name, names)
			continue
		}
		p := parts[i]
		if p.ContentType != f.ContentType {
			t.Errorf("%s: attachment %q has content type %q, want %q", who, f.Name, p.ContentType, f.ContentType)
		}
		if !bytes.Equal(p.Content, f.Data) {
			t.Errorf("%s: attachment %q differs: %d bytes, want %d", who, f.Name, len(p.Content), len(f.Data))
		}
		delete(byName, f.Name)
	}
	for name := range byName {
		t.Errorf("%s: mail %q carries an unexpected attachment %q", who, m.Header("Subject"), name)
	}
}

// noStuckMail fails when the queue holds a failed item or one retrying.
func noStuckMail(t *testing.T, e *Env) {
	t.Helper()
	for _, it := range e.Outbox().Items {
		if it.State != "sent" || it.LastError != "" {
			t.Errorf("outbox item %d to %s (%s): state %s, %d attempts, last error %q", it.ID, it.Rcpt, it.Kind, it.State, it.Attempts, it.LastError)
		}
	}
}

// A customer's files reach the staff notification byte for byte, with
// their (Korean) names and content types.
func TestCustomerAttachmentsReachStaffNotification(t *testing.T) {
	e := Start(t, Options{})
	files := koreanFiles(t)
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"},
		Subject: "Quote for the wildcard certificate", Body: "The quote and a screenshot are attached.\n", Files: files})
	note := e.Find("victoria@certs.example", "Quote for the wildcard certificate")
	hasFiles(t, "staff notification", note, files)
	tk := e.Show(1)
	if len(tk.Attachments) != 2 || tk.Attachments[0].Name != files[0].Name || tk.Attachments[1].Name != files[1].Name {
		t.Errorf("show 1 lists attachments %+v", tk.Attachments)
	}
	// The acknowledgement is ours, not a copy of the customer's mail.
	hasFiles(t, "acknowledgement", e.Find("ken@e-fun.example", "[#1]"), nil)
	noStuckMail(t, e)
}

// kenOpensTicket has the customer open ticket 1 and returns the notification
// victoria got (her reply goes to its Reply-To).
func kenOpensTicket(t *testing.T, e *Env) *testkit.Received {
	t.Helper()
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"},
		Subject: "Need a new SSL certificate", Body: "Please issue a certificate for www.e-fun.example.\n"})
	return e.Find("victoria@certs.example", "Need a new SSL certificate")
}

// An agent's public reply with files reaches the customer with them, and
// nobody else's mail loses them.
func TestAgentReplyAttachmentsReachCustomer(t *testing.T) {
	e := Start(t, Options{})
	note := kenOpensTicket(t, e)
	files := koreanFiles(t)
	e.Agent(testkit.Mail{From: "Victoria <victoria@certs.example>", To: []string{ReplyTo(note)},
		Subject: "Re: " + note.Header("Subject"), InReplyTo: Addr(note.Header("Message-ID")),
		Body: "Here is the quote you asked for.\n", Files: files})
	reply := e.Find("ken@e-fun.example", "Here is the quote")
	hasFiles(t, "public reply to the customer", reply, files)
	if strings.Contains(string(reply.Raw), "certs.example") {
		t.Errorf("the public reply names a staff address")
	}
	noStuckMail(t, e)
}

// `#forward <addr>` with a file: the vendor's side-thread mail carries it.
func TestForwardAttachmentsReachVendor(t *testing.T) {
	e := Start(t, Options{})
	note := kenOpensTicket(t, e)
	files := koreanFiles(t)
	e.Agent(testkit.Mail{From: "Victoria <victoria@certs.example>", To: []string{ReplyTo(note)},
		Subject: "Re: " + note.Header("Subject"), InReplyTo: Addr(note.Header("Message-ID")),
		Body: "#forward sales@vendor.example\n\nPlease check the attached quote.\n", Files: files})
	side := e.Find("sales@vendor.example", "Please check the attached quote")
	hasFiles(t, "side thread to the vendor", side, files)
	for _, m := range e.Mailbox("ken@e-fun.example") {
		if strings.Contains(m.Env.Text, "Please check the attached quote") {
			t.Errorf("the customer got the side-thread message")
		}
	}
	noStuckMail(t, e)
}

// [outbound] max_attachment_bytes: the files that fit go along; one that
// does not is left out, and the mail says so by name.
func TestAttachmentCapLeavesOutAndSaysSo(t *testing.T) {
	e := Start(t, Options{Outbound: `max_attachment_bytes = 40000`})
	small := testkit.File{Name: "log.bin", ContentType: "application/octet-stream", Data: randomBytes(t, 10000)}
	big := testkit.File{Name: "견적서 2026.pdf", ContentType: "application/pdf", Data: randomBytes(t, 60000)}
	e.Customer(testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"},
		Subject: "Two files", Body: "One small, one large.\n", Files: []testkit.File{big, small}})
	note := e.Find("victoria@certs.example", "Two files")
	hasFiles(t, "staff notification", note, []testkit.File{small})
	if !strings.Contains(note.Env.Text, "견적서 2026.pdf") || !strings.Contains(note.Env.Text, "not attached") {
		t.Errorf("the notification does not say that %q was left out:\n%s", big.Name, note.Env.Text)
	}
	tk := e.Show(1)
	if len(tk.Attachments) != 2 {
		t.Errorf("the ticket keeps every file (helpdesk show): %+v", tk.Attachments)
	}
	noStuckMail(t, e)
}

// Mail queued by an older binary, which stored neither the part nor the
// message of an attachment (in the queued mail and in the comment): the
// worker finds the files again through the comment the mail includes and
// delivers them; an item whose files cannot be found fails at once with a
// clear error instead of retrying for 120 hours.
func TestAttachmentsQueuedByOlderBinaryAreRecovered(t *testing.T) {
	bboltOnly(t)
	e := Start(t, Options{})
	e.Sink.SetFail(true) // everything stays queued
	files := koreanFiles(t)
	for i, subject := range []string{"Quote attached", "Screenshot attached"} {
		m := testkit.Mail{From: "Ken <ken@e-fun.example>", To: []string{"support@example.com"},
			Subject: subject, Body: "See the files.\n", Files: files, MessageID: e.ID(fmt.Sprint("old", i))}
		if err := e.Send("ken@e-fun.example", []string{"support@example.com"}, m.Build()); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.Outbox().Queued < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("nothing queued:\n%s", e.MustCLI("outbox"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.Stop()

	// Make the store look as the older binary left it. Ticket 2's
	// comment also loses its message, so its files cannot be found.
	db, err := bolt.Open(e.Dir, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx store.Tx) error {
		var items []*model.Outbound
		if err := tx.ForEachOutbound(func(o *model.Outbound) error {
			if len(o.Attach) > 0 {
				items = append(items, o)
			}
			return nil
		}); err != nil {
			return err
		}
		if len(items) == 0 {
			return fmt.Errorf("no queued mail carries attachments")
		}
		for _, o := range items {
			for i := range o.Attach {
				o.Attach[i].Part, o.Attach[i].Message = "", 0
			}
			if err := tx.PutOutbound(o, o.NextAttempt); err != nil {
				return err
			}
		}
		for _, n := range []uint64{1, 2} {
			cs, err := tx.Comments(n)
			if err != nil {
				return err
			}
			for _, c := range cs {
				for i := range c.Attachments {
					c.Attachments[i].Part, c.Attachments[i].Message = "", 0
				}
				if n == 2 {
					c.Message = 0
				}
				if err := tx.PutComment(c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	e.Sink.SetFail(false)
	e.Restart()
	e.Settle()
	which := map[uint64]string{1: "Quote attached", 2: "Screenshot attached"}
	hasFiles(t, "recovered staff notification", e.Find("victoria@certs.example", which[1]), files)
	for _, m := range e.Mailbox("victoria@certs.example") {
		if strings.Contains(m.Header("Subject"), which[2]) {
			t.Errorf("ticket 2's notification went out although its files cannot be found")
		}
	}
	failed := 0
	for _, it := range e.Outbox().Items {
		switch {
		case it.State == "failed" && it.Ticket == 2:
			failed++
			if !strings.Contains(it.LastError, "older helpdesk") {
				t.Errorf("item %d: %d attempts, error %q", it.ID, it.Attempts, it.LastError)
			}
		case it.State != "sent":
			t.Errorf("item %d (ticket %d, %s to %s): %s, %q", it.ID, it.Ticket, it.Kind, it.Rcpt, it.State, it.LastError)
		}
	}
	if failed == 0 {
		t.Errorf("ticket 2's mail with lost files did not fail:\n%s", e.MustCLI("outbox"))
	}
}

var (
	_ = claim("a customer's attachments reach the staff notification byte for byte, with their names (Korean, RFC 2231 and encoded-word) and content types; `helpdesk show` lists them",
		"TestCustomerAttachmentsReachStaffNotification")
	_ = claim("an agent's public reply with files reaches the customer with the files byte for byte",
		"TestAgentReplyAttachmentsReachCustomer")
	_ = claim("#forward <addr> with files: the side-thread mail to the outside address carries them byte for byte; the customer gets nothing of it",
		"TestForwardAttachmentsReachVendor")
	_ = claim("[outbound] max_attachment_bytes: files that fit go along, one that does not is left out and named in the mail; the ticket keeps every file",
		"TestAttachmentCapLeavesOutAndSaysSo")
	_ = claim("mail queued by an older binary without its attachments' location is repaired from the included comment's stored message; one whose files cannot be found fails at once with a clear error, not after 120 hours of retries",
		"TestAttachmentsQueuedByOlderBinaryAreRecovered")
)
