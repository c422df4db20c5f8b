package crashdrill

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"helpdesk/gateway/control"
	"helpdesk/gateway/internal/bench"
	"helpdesk/gateway/internal/dnstest"
	"helpdesk/gateway/internal/testkit"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// helpdeskBinary builds cmd/helpdesk once: the drill runs the real binary.
func helpdeskBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "helpdesk-crashdrill-bin-*")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "helpdesk")
		out, err := exec.Command("go", "build", "-o", binPath, "helpdesk/cmd/helpdesk").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

const (
	mailbox = "support@example.com"
	clients = 6
)

var agents = []string{"alice@agents.test", "bob@agents.test"}

func config(data, relay, resolver string) string {
	s := fmt.Sprintf(`data_dir = %q
hostname = "helpdesk.drill"
[smtp]
listen = "127.0.0.1:0"
max_connections_per_ip = 100
shutdown_timeout = "5s"
[http]
listen = ""
[outbound]
relay = %q
starttls = "none"
retry_initial = "50ms"
retry_max = "200ms"
[auth]
resolver = %q
dns_timeout = "1s"
staff = ["token"]
[[mailbox]]
address = %q
name = "Drill Support"
group = "support"
[[group]]
name = "support"
auto_assign = true
`, data, relay, resolver, mailbox)
	for i, a := range agents {
		s += fmt.Sprintf("[[agent]]\nemail = %q\nname = \"Agent %d\"\nrole = \"agent\"\ngroups = [\"support\"]\n", a, i)
	}
	return s
}

// mail is one message the drill sent, by Message-ID.
type mail struct {
	id, kind   string
	from, rcpt string
	raw        []byte
	iter       int
	acked      bool // got 250 at least once
	cut        bool // an attempt ended without an answer (the kill)
}

type counts struct {
	Iterations     int
	Sent           int // mails (distinct Message-IDs)
	Attempts       int // SMTP transactions
	Acked          int // distinct mails answered 250
	NotSent        int // attempts the kill stopped before the message was sent
	Cut            int // mails sent whose answer the kill cut
	CutStored      int // of those, found stored after the crash (committed, 250 lost)
	Retried        int // cut mails sent again after the restart
	Resent         int // mails that had their 250 and were sent again
	Kinds          map[string]int
	OutboundItems  int
	Delivered      int // mails the relay sink received
	DuplicatesSeen int // outbound mails the sink received more than once
	DupLogged      int // deliveries the daemon logged as possible duplicates
	QueuedAtEnd    int
	KillAfterMs    []int
}

type drill struct {
	t      *testing.T
	bin    string
	dir    string
	data   string
	cfg    string
	sink   *testkit.Sink
	rng    *rand.Rand
	starts int
	// iterations is the number the drill runs.
	iterations int

	tokMu               sync.Mutex
	tokSeen             int
	custToks, agentToks []harvested

	mu    sync.Mutex
	mails map[string]*mail
	order []*mail
	n     counts
	// outSeen is every outbound item a check found, by Message-ID, with
	// the state it had: a later check must still find it (queued or
	// sent), and one recorded as sent never goes back.
	outSeen map[string]string
}

func iterations(t *testing.T) int {
	n := defaultIterations
	if v := os.Getenv("HELPDESK_CRASH_ITERATIONS"); v != "" {
		x, err := strconv.Atoi(v)
		if err != nil || x < 1 {
			t.Fatalf("HELPDESK_CRASH_ITERATIONS=%q: want a positive number", v)
		}
		n = x
	}
	return n
}

// TestCrashDrill loops: start the daemon, send mail from several clients,
// SIGKILL it at a random moment, check the store as the crash left it,
// restart, retry, drain, stop, and check again.
func TestCrashDrill(t *testing.T) {
	if testing.Short() {
		t.Skip("crash drill skipped in -short mode")
	}
	n := iterations(t)
	dir, err := os.MkdirTemp("", "helpdesk-crashdrill-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the drill's data directory and daemon logs are kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	d := &drill{t: t, bin: helpdeskBinary(t), dir: dir, mails: map[string]*mail{},
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 6))}
	d.n.Kinds = map[string]int{}
	d.iterations = n
	d.data = filepath.Join(d.dir, "data")
	d.sink = testkit.StartSink(t)
	dns := dnstest.Start(t)
	d.cfg = filepath.Join(d.dir, "helpdesk.toml")
	if err := os.WriteFile(d.cfg, []byte(config(d.data, d.sink.Addr, dns.Addr())), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 1; i <= n; i++ {
		d.iteration(i)
		if t.Failed() {
			t.Fatalf("iteration %d failed", i)
		}
	}
	c := d.n
	t.Logf("crash drill: %d iterations in %s; kills after %v ms", c.Iterations, time.Since(start).Round(time.Millisecond), c.KillAfterMs)
	t.Logf("inbound: %d mails (%v), %d SMTP attempts, %d answered 250 and all stored exactly once; %d attempts refused by the dead daemon before DATA; %d mails cut by the kill after DATA, %d of them committed before the kill (250 lost); %d unanswered mails retried, %d mails with a 250 resent, no second copy",
		c.Sent, c.Kinds, c.Attempts, c.Acked, c.NotSent, c.Cut, c.CutStored, c.Retried, c.Resent)
	t.Logf("outbound: %d queue items, %d deliveries received by the relay, %d delivered twice (%d deliveries logged as possible duplicates), %d still queued at the end",
		c.OutboundItems, c.Delivered, c.DuplicatesSeen, c.DupLogged, c.QueuedAtEnd)
	fmt.Printf("crash drill: %d iterations, %d mails answered 250, %d cut by kill -9 (%d committed before the kill), %d retried, %d resent, %d outbound deliveries, %d duplicate deliveries (all logged), %d queued\n",
		c.Iterations, c.Acked, c.Cut, c.CutStored, c.Retried, c.Resent, c.Delivered, c.DuplicatesSeen, c.QueuedAtEnd)
}

func (d *drill) startDaemon() *bench.Proc {
	d.t.Helper()
	d.starts++
	logf, err := os.Create(filepath.Join(d.dir, fmt.Sprintf("daemon-%03d.log", d.starts)))
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { logf.Close() })
	p, err := bench.StartProc("helpdesk", d.bin, []string{"serve", "-config", d.cfg}, d.dir, logf, nil)
	if err != nil {
		d.t.Fatalf("start %d: %v", d.starts, err)
	}
	d.t.Cleanup(p.Kill)
	return p
}

func (d *drill) iteration(i int) {
	t := d.t
	var phases []string
	mark := time.Now()
	phase := func(name string) {
		phases = append(phases, fmt.Sprintf("%s %dms", name, time.Since(mark).Milliseconds()))
		mark = time.Now()
	}
	defer func() { t.Logf("iteration %d: %s", i, strings.Join(phases, ", ")) }()
	p := d.startDaemon()
	phase("start")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			d.client(i, c, p.SMTPAddr, stop)
		}(c)
	}
	// The random moment of the crash, bounded to 0.1-1.0 s of traffic.
	after := 100 + d.rng.IntN(900)
	time.Sleep(time.Duration(after) * time.Millisecond)
	p.Kill()
	close(stop)
	wg.Wait()
	d.n.KillAfterMs = append(d.n.KillAfterMs, after)
	d.n.Iterations++
	phase("traffic+kill")

	// The store as the crash left it: bbolt's consistency check passes,
	// and every mail answered 250 is there exactly once.
	d.check(i, "after kill -9", true)
	phase("check")
	if t.Failed() {
		return
	}
	p = d.startDaemon()
	phase("restart")
	d.retry(i, p.SMTPAddr)
	phase("retry")
	// Every iteration but the last ends with a second kill -9 while the
	// outbound worker is busy; the last drains the queue and stops
	// gracefully.
	if i < d.iterations {
		d.drain(400 * time.Millisecond)
		phase("drain")
		p.Kill()
		phase("kill")
	} else {
		if !d.drain(30 * time.Second) {
			t.Errorf("iteration %d: the outbound queue did not drain within 30s", i)
		}
		phase("drain")
		if err := p.Stop(30 * time.Second); err != nil {
			t.Errorf("iteration %d: graceful stop: %v\n%s", i, err, p.LogTail())
		}
		phase("stop")
	}
	d.check(i, "after restart and retries", false)
	phase("check")
}

var tokenRe = regexp.MustCompile(`support\+[a-z2-7]{16,}@example\.com`)

type harvested struct{ rcpt, addr, subject string }

// token picks a reply address the relay received for a customer
// (agent=false) or an agent.
func (d *drill) token(agent bool, rng *rand.Rand) (rcpt, addr, subject string, ok bool) {
	all := d.sink.All()
	d.tokMu.Lock()
	defer d.tokMu.Unlock()
	for _, m := range all[d.tokSeen:] {
		if len(m.To) == 0 {
			continue
		}
		a := tokenRe.FindString(m.Header("Reply-To"))
		if a == "" {
			continue
		}
		h := harvested{strings.ToLower(m.To[0]), a, m.Header("Subject")}
		if strings.HasSuffix(h.rcpt, "@agents.test") {
			d.agentToks = append(d.agentToks, h)
		} else {
			d.custToks = append(d.custToks, h)
		}
	}
	d.tokSeen = len(all)
	cands := d.custToks
	if agent {
		cands = d.agentToks
	}
	if len(cands) == 0 {
		return "", "", "", false
	}
	h := cands[rng.IntN(len(cands))]
	return h.rcpt, h.addr, h.subject, true
}

func (d *drill) newMail(i, c, k int, rng *rand.Rand) *mail {
	id := fmt.Sprintf("drill.%d.%d.%d.%d@client.test", i, c, k, rng.Uint32())
	m := &mail{id: id, iter: i}
	p := rng.IntN(100)
	switch {
	case p < 25:
		if rcpt, addr, subj, ok := d.token(false, rng); ok {
			m.kind, m.from, m.rcpt = "customer-reply", rcpt, addr
			m.raw = testkit.Mail{From: rcpt, To: []string{addr}, Subject: "Re: " + subj, MessageID: id,
				Body: fmt.Sprintf("More details for you (%s).\n\nOn Mon, Support wrote:\n> earlier text", id)}.Build()
			return m
		}
	case p < 37:
		if rcpt, addr, subj, ok := d.token(true, rng); ok {
			m.kind, m.from, m.rcpt = "agent-reply", rcpt, addr
			m.raw = testkit.Mail{From: rcpt, To: []string{addr}, Subject: "Re: " + subj, MessageID: id,
				Body: fmt.Sprintf("#status pending\n#tag +drill\nWe are on it (%s).\n", id)}.Build()
			return m
		}
	case p < 45:
		m.kind = "new-ticket-300k"
		m.from = fmt.Sprintf("big%d.%d.%d@cust.test", i, c, k)
		m.rcpt = mailbox
		m.raw = testkit.Mail{From: m.from, To: []string{mailbox}, Subject: "Big log " + id, MessageID: id,
			Body: strings.Repeat("log line with some text to make the mail large enough to spool\n", 300<<10/64)}.Build()
		return m
	}
	m.kind = "new-ticket"
	m.from = fmt.Sprintf("cust%d.%d.%d@cust.test", i, c, k)
	m.rcpt = mailbox
	m.raw = testkit.Mail{From: "Customer <" + m.from + ">", To: []string{mailbox}, Subject: "Help " + id, MessageID: id,
		Body: "Hello,\n\nthe printer is broken again.\n\nCustomer"}.Build()
	return m
}

// client sends new mail until stop; every answer is recorded.
func (d *drill) client(i, c int, addr string, stop chan struct{}) {
	rng := rand.New(rand.NewPCG(uint64(i), uint64(c)+uint64(time.Now().UnixNano())))
	for k := 0; ; k++ {
		select {
		case <-stop:
			return
		default:
		}
		m := d.newMail(i, c, k, rng)
		d.mu.Lock()
		d.mails[m.id] = m
		d.order = append(d.order, m)
		d.n.Sent++
		d.n.Kinds[m.kind]++
		d.mu.Unlock()
		d.attempt(addr, m)
	}
}

// attempt sends m once and records the outcome.
func (d *drill) attempt(addr string, m *mail) bool {
	res, err := sendOne(addr, m)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n.Attempts++
	switch res {
	case acked:
		if !m.acked {
			d.n.Acked++
		}
		m.acked = true
	case cut:
		if !m.cut {
			d.n.Cut++
		}
		m.cut = true
	case notSent:
		d.n.NotSent++
	case refused:
		d.t.Errorf("%s (%s): refused: %v", m.id, m.kind, err)
	}
	return res == acked
}

type outcome int

const (
	notSent outcome = iota // the connection failed before the message was sent
	cut                    // the message was sent; the connection ended without an answer
	acked                  // 250
	refused                // an SMTP error answer
)

// sendOne runs one SMTP transaction.
func sendOne(addr string, m *mail) (outcome, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return notSent, err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = 10 * time.Second
	c.SubmissionTimeout = 10 * time.Second
	defer c.Close()
	res := notSent
	if err = c.Hello("client.test"); err == nil {
		if err = c.Mail(m.from, nil); err == nil {
			err = c.Rcpt(m.rcpt, nil)
		}
	}
	if err == nil {
		var w *smtp.DataCommand
		if w, err = c.Data(); err == nil {
			res = cut
			if _, err = w.Write(m.raw); err == nil {
				if err = w.Close(); err == nil {
					c.Quit()
					return acked, nil
				}
			}
		}
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return refused, err
	}
	return res, err
}

// retry sends every mail that never got its 250 again (an MTA's retry),
// and a few that did (a sender that missed the 250's effect).
func (d *drill) retry(i int, addr string) {
	d.mu.Lock()
	var todo, again []*mail
	for _, m := range d.order {
		if !m.acked {
			todo = append(todo, m)
		}
	}
	for range 5 {
		m := d.order[d.rng.IntN(len(d.order))]
		if m.acked {
			again = append(again, m)
		}
	}
	d.mu.Unlock()
	// MTAs retry concurrently: so does the drill.
	work := make(chan *mail)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range work {
				ok := false
				for try := 0; try < 3 && !ok; try++ {
					ok = d.attempt(addr, m)
				}
				if !ok {
					d.t.Errorf("iteration %d: sending %s again never got a 250", i, m.id)
				}
			}
		}()
	}
	for _, m := range todo {
		d.n.Retried++
		work <- m
	}
	for _, m := range again {
		d.n.Resent++
		work <- m
	}
	close(work)
	wg.Wait()
}

// drain waits (at most limit) for the outbound queue to empty and
// reports whether it did.
func (d *drill) drain(limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		cl, err := control.Dial(d.data)
		if err == nil {
			v, err := cl.Outbox(1)
			if err == nil && v.Queued == 0 {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// check verifies the store in data (no daemon running).
func (d *drill) check(i int, when string, afterKill bool) {
	t := d.t
	found, err := bolt.Verify(d.data)
	if err != nil {
		t.Errorf("iteration %d %s: %v", i, when, err)
		return
	}
	for _, e := range found {
		t.Errorf("iteration %d %s: bbolt check: %v", i, when, e)
	}
	db, err := bolt.Open(d.data, bolt.Options{ReadOnly: true})
	if err != nil {
		t.Errorf("iteration %d %s: the store does not open: %v", i, when, err)
		return
	}
	defer db.Close()
	msgs := map[string][]*model.Message{}
	comments := map[string]int{}
	outbox := map[string]*model.Outbound{}
	err = db.View(func(tx store.Tx) error {
		if err := tx.ForEachMessage(func(m *model.Message) error {
			id := strings.ToLower(strings.Trim(m.MessageID, "<> "))
			msgs[id] = append(msgs[id], m)
			return nil
		}); err != nil {
			return err
		}
		for _, tid := range tx.TicketIDs("", 0) {
			cs, err := tx.Comments(tid)
			if err != nil {
				return err
			}
			for _, c := range cs {
				if c.MessageID != "" && (c.Kind == model.KindComment || c.Kind == model.KindHeld) {
					comments[strings.ToLower(strings.Trim(c.MessageID, "<> "))]++
				}
			}
		}
		return tx.ForEachOutbound(func(o *model.Outbound) error {
			oc := *o
			outbox[strings.ToLower(o.MessageID)] = &oc
			return nil
		})
	})
	if err != nil {
		t.Errorf("iteration %d %s: reading the store: %v", i, when, err)
		return
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range d.order {
		got := msgs[strings.ToLower(m.id)]
		switch {
		case m.acked && len(got) != 1:
			t.Errorf("iteration %d %s: %s (%s, answered 250) stored %d times", i, when, m.id, m.kind, len(got))
		case !m.acked && len(got) > 1:
			t.Errorf("iteration %d %s: %s (%s, no 250) stored %d times", i, when, m.id, m.kind, len(got))
		}
		if afterKill && m.iter == i && m.cut && !m.acked && len(got) == 1 {
			d.n.CutStored++
		}
		if len(got) != 1 {
			continue
		}
		msg := got[0]
		// The raw bytes (in the store or a spooled blob) are the mail as
		// sent, after our Received line, and as long as recorded.
		if raw, err := readRaw(db, msg); err != nil {
			t.Errorf("iteration %d %s: %s: raw bytes: %v", i, when, m.id, err)
		} else if int64(len(raw)) != msg.Size || !bytes.HasSuffix(raw, m.raw) || !bytes.HasPrefix(raw, []byte("Received: ")) {
			t.Errorf("iteration %d %s: %s (blob %q): raw bytes differ from the mail sent (%d bytes stored, size %d recorded, %d sent)",
				i, when, m.id, msg.Blob, len(raw), msg.Size, len(m.raw))
		}
		switch nc := comments[strings.ToLower(m.id)]; msg.Disposition {
		case model.DispTicket, model.DispComment, model.DispHeld:
			if nc != 1 {
				t.Errorf("iteration %d %s: %s (%s, disposition %s) is %d comments, want 1", i, when, m.id, m.kind, msg.Disposition, nc)
			}
		default:
			if m.kind != "agent-reply" || nc > 1 {
				t.Errorf("iteration %d %s: %s (%s) has disposition %q and %d comments", i, when, m.id, m.kind, msg.Disposition, nc)
			}
		}
	}

	// Outbound: everything the relay received was queued by us; a mail
	// received twice was logged as a possible duplicate; a mail recorded
	// as sent was received.
	received := map[string]int{}
	for _, r := range d.sink.All() {
		id := strings.ToLower(strings.Trim(r.Header("Message-Id"), "<> "))
		received[id]++
		if _, ok := outbox[id]; !ok {
			t.Errorf("iteration %d %s: the relay received %q (to %v), which is not in the outbound queue", i, when, id, r.To)
		}
	}
	if d.outSeen == nil {
		d.outSeen = map[string]string{}
	}
	for id, state := range d.outSeen {
		o, ok := outbox[id]
		switch {
		case !ok:
			t.Errorf("iteration %d %s: outbound %s (%s at an earlier check) is gone from the queue", i, when, id, state)
		case state == model.OutSent && o.State != model.OutSent:
			t.Errorf("iteration %d %s: outbound %s was sent at an earlier check and is now %s", i, when, id, o.State)
		}
	}
	for id, o := range outbox {
		d.outSeen[id] = o.State
	}
	logged := d.loggedDuplicates()
	queued, dups := 0, 0
	for id, o := range outbox {
		switch o.State {
		case model.OutQueued:
			queued++
		case model.OutSent:
			if received[id] == 0 {
				t.Errorf("iteration %d %s: outbound %d (%s to %s) is recorded as sent but the relay never received it", i, when, o.ID, o.Kind, o.Rcpt)
			}
		default:
			t.Errorf("iteration %d %s: outbound %d (%s to %s) is %s: %s", i, when, o.ID, o.Kind, o.Rcpt, o.State, o.LastError)
		}
		if received[id] > 1 {
			dups++
			if !logged[id] {
				t.Errorf("iteration %d %s: outbound %d (%s) reached the relay %d times and no possible duplicate was logged", i, when, o.ID, id, received[id])
			}
		}
	}
	if !afterKill && i == d.iterations && queued > 0 {
		t.Errorf("iteration %d %s: %d outbound mails still queued after the final drain", i, when, queued)
	}
	if !afterKill {
		d.n.OutboundItems, d.n.QueuedAtEnd, d.n.DuplicatesSeen, d.n.DupLogged = len(outbox), queued, dups, len(logged)
		d.n.Delivered = len(d.sink.All())
	}
}

// readRaw reads a stored message's raw bytes.
func readRaw(db store.Store, m *model.Message) ([]byte, error) {
	r, err := db.OpenRaw(m)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// loggedDuplicates reads every daemon log for deliveries the worker
// flagged as possibly duplicated, by Message-ID.
func (d *drill) loggedDuplicates() map[string]bool {
	out := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(d.dir, "daemon-*.log"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if !strings.Contains(string(line), "may duplicate") {
				continue
			}
			var rec map[string]any
			if json.Unmarshal(line, &rec) == nil {
				if id, ok := rec["message_id"].(string); ok {
					out[strings.ToLower(id)] = true
				}
			}
		}
		fh.Close()
	}
	return out
}
