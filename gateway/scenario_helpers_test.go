package gateway_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/control"
	"helpdesk/gateway/internal/testkit"
	"helpdesk/store"
	"helpdesk/store/model"
)

// Helpers shared by the scenario tests (issues 3, 4 and 5): a daemon with
// the staff of e2e_test.go, a sink, and DKIM-signed staff mail.

const scenarioWait = 5 * time.Second

// world is one running helpdesk with a sink and a signer for the staff
// domain certs.example.
type world struct {
	t      *testing.T
	sink   *testkit.Sink
	d      *testkit.Daemon
	signer *testkit.Signer
	seq    int
}

func newWorld(t *testing.T, extra string) *world {
	t.Helper()
	sink := testkit.StartSink(t)
	d := testkit.Start(t, testkit.Options{Relay: sink, Config: agents + extra})
	return &world{t: t, sink: sink, d: d, signer: d.DKIM(t, "certs.example")}
}

// settle waits until the outbound queue is empty: every mail the daemon
// enqueued so far has been accepted by the sink (the sink records a mail
// before it answers 250, and the worker marks it sent only after that).
func (w *world) settle() {
	w.t.Helper()
	deadline := time.Now().Add(scenarioWait)
	for {
		n := 0
		w.d.DB.View(func(tx store.Tx) error { n = tx.QueueDepth(); return nil })
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("outbound queue still holds %d mails after %s", n, scenarioWait)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// id returns a fresh Message-ID for a test mail.
func (w *world) id(who string) string {
	w.seq++
	return fmt.Sprintf("%s-%d.%d@client.test", who, w.seq, time.Now().UnixNano())
}

// ours reports whether an address is one of the daemon's mailboxes.
func isOurAddr(addr string) bool {
	a := strings.ToLower(addr)
	if i := strings.LastIndexByte(a, '<'); i >= 0 {
		a = strings.TrimSuffix(a[i+1:], ">")
	}
	return strings.HasPrefix(a, "support") && strings.HasSuffix(a, "@example.com")
}

// rcptsOf are the envelope recipients our MX would get: our addresses on
// the To and Cc lines.
func rcptsOf(m testkit.Mail) []string {
	var out []string
	for _, a := range append(append([]string{}, m.To...), m.Cc...) {
		if isOurAddr(a) {
			if i := strings.LastIndexByte(a, '<'); i >= 0 {
				a = strings.TrimSuffix(a[i+1:], ">")
			}
			out = append(out, a)
		}
	}
	return out
}

// raw delivers a raw mail over SMTP and waits until everything it caused
// has reached the sink: each step of a scenario is complete before the
// next one starts (the worker delivers in parallel, so mails of one step
// to one recipient may arrive in any order; tests look those up by content).
func (w *world) raw(from string, rcpts []string, raw []byte) {
	w.t.Helper()
	w.d.MustSend(from, rcpts, raw)
	w.settle()
}

// send delivers an end user's (or collaborator's) mail and returns its
// Message-ID. The envelope sender is the From address.
func (w *world) send(m testkit.Mail) string {
	w.t.Helper()
	if m.MessageID == "" {
		m.MessageID = w.id("u")
	}
	w.raw(addrOf(m.From), rcptsOf(m), m.Build())
	return m.MessageID
}

// staff delivers a DKIM-signed mail from a staff member.
func (w *world) staff(m testkit.Mail) string {
	w.t.Helper()
	if m.MessageID == "" {
		m.MessageID = w.id("s")
	}
	w.raw(addrOf(m.From), rcptsOf(m), w.signer.Sign(w.t, m.Build()))
	return m.MessageID
}

// find is the newest mail to addr whose subject or text contains sub.
func (w *world) find(addr, sub string) *testkit.Received {
	w.t.Helper()
	ms := w.mails(addr)
	for i := len(ms) - 1; i >= 0; i-- {
		if strings.Contains(ms[i].Header("Subject"), sub) || strings.Contains(ms[i].Env.Text, sub) {
			return ms[i]
		}
	}
	w.t.Fatalf("no mail to %s contains %q", addr, sub)
	return nil
}

func addrOf(s string) string {
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		return strings.TrimSuffix(s[i+1:], ">")
	}
	return s
}

// mails returns what addr received so far, after the queue settled.
func (w *world) mails(addr string) []*testkit.Received {
	w.t.Helper()
	w.settle()
	return w.sink.To(addr)
}

// last is the newest mail addr received; it fails when there is none.
func (w *world) last(addr string) *testkit.Received {
	w.t.Helper()
	ms := w.mails(addr)
	if len(ms) == 0 {
		w.t.Fatalf("%s received nothing", addr)
	}
	return ms[len(ms)-1]
}

// expectCount fails unless addr received exactly n mails; it returns them.
func (w *world) expectCount(addr string, n int) []*testkit.Received {
	w.t.Helper()
	ms := w.mails(addr)
	if len(ms) != n {
		var subj []string
		for _, m := range ms {
			subj = append(subj, m.Header("Subject"))
		}
		w.t.Errorf("%s received %d mails, want %d: %q", addr, len(ms), n, subj)
	}
	return ms
}

// tok is the signed reply address of a received mail (Reply-To).
func replyTok(t *testing.T, m *testkit.Received) string {
	t.Helper()
	a := tokenRe.FindString(m.Header("Reply-To"))
	if a == "" {
		t.Fatalf("no reply token in Reply-To %q of %q", m.Header("Reply-To"), m.Header("Subject"))
	}
	return a
}

// msgID is a received mail's Message-ID without brackets.
func midOf(m *testkit.Received) string {
	return strings.Trim(m.Header("Message-Id"), "<> ")
}

// headerBlock is the raw header block of a received mail.
func headerBlock(m *testkit.Received) string {
	s := string(m.Raw)
	if i := strings.Index(s, "\r\n\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// everything is all a recipient can see of a mail: the raw header block,
// every decoded header value, the decoded text and HTML bodies.
func everything(m *testkit.Received) string {
	var b strings.Builder
	b.WriteString(headerBlock(m))
	b.WriteString("\n")
	for _, k := range m.Env.GetHeaderKeys() {
		for _, v := range m.Env.GetHeaderValues(k) {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	b.WriteString(m.Env.Text)
	b.WriteString("\n")
	b.WriteString(m.Env.HTML)
	return strings.ToLower(b.String())
}

// noneOf fails when any of the forbidden strings appears anywhere in m.
func noneOf(t *testing.T, who string, m *testkit.Received, forbidden ...string) {
	t.Helper()
	all := everything(m)
	for _, f := range forbidden {
		if strings.Contains(all, strings.ToLower(f)) {
			t.Errorf("mail to %s (%q) contains %q:\n%s", who, m.Header("Subject"), f, all)
		}
	}
}

// ticket loads a ticket and its comments.
func (w *world) ticket(id uint64) (*model.Ticket, []*model.Comment) {
	w.t.Helper()
	return w.d.Ticket(id)
}

// view is the show --json view of a ticket.
func (w *world) view(id uint64) *control.TicketView {
	tk, cs := w.ticket(id)
	return control.BuildView(tk, cs)
}

func hasLink(tk *model.Ticket, kind string, to uint64) bool {
	for _, l := range tk.Links {
		if l.Kind == kind && l.Ticket == to {
			return true
		}
	}
	return false
}

// lastComment is the newest comment of a ticket with the given kind.
func lastComment(cs []*model.Comment, kind string) *model.Comment {
	for i := len(cs) - 1; i >= 0; i-- {
		if cs[i].Kind == kind {
			return cs[i]
		}
	}
	return nil
}

func wantText(t *testing.T, what string, m *testkit.Received, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(m.Env.Text, s) {
			t.Errorf("%s (%q) lacks %q:\n%s", what, m.Header("Subject"), s, m.Env.Text)
		}
	}
}

// dump logs every mail the sink received (for debugging: HD_DUMP=1).
func (w *world) dump() {
	if os.Getenv("HD_DUMP") == "" {
		return
	}
	w.settle()
	for i, m := range w.sink.All() {
		w.t.Logf("=== mail %d to %v\n%s\n%s", i, m.To, headerBlock(m), m.Env.Text)
	}
}
