package bench

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Mail kinds of the load mix.
const (
	KindNew4K      = "new-ticket-4k"
	KindNew50K     = "new-ticket-50k"
	KindAttachment = "new-ticket-attachment"
	KindCustReply  = "customer-reply"
	KindAgentReply = "agent-reply"
	KindLarge      = "new-ticket-25m"
	KindFlood      = "new-ticket-8bit-1.9m"
)

// FloodBytes is the size of a charset-flood mail: 1.9 MiB, under the
// parser's large-mail threshold (2 MiB), so it is parsed whole.
const FloodBytes = 19 << 20 / 10

// Mix is the share (percent) of each kind in the "mix" mode. Replies fall
// back to a 4 KiB new ticket while no reply token has been harvested yet.
var Mix = []struct {
	Kind    string
	Percent int
}{
	{KindNew4K, 45},
	{KindNew50K, 10},
	{KindAttachment, 5},
	{KindCustReply, 25},
	{KindAgentReply, 15},
}

// MixString describes Mix for reports.
func MixString() string {
	var parts []string
	for _, m := range Mix {
		parts = append(parts, fmt.Sprintf("%d%% %s", m.Percent, m.Kind))
	}
	return strings.Join(parts, ", ")
}

const (
	benchMailbox = "support@bench.example"
	agentDomain  = "agents.example"
	// attachmentBytes is the decoded size of the mix's attachment.
	attachmentBytes = 100 << 10
)

// Agents of the bench configuration.
var benchAgents = []struct{ Email, Name string }{
	{"alice@" + agentDomain, "Alice Agent"},
	{"bob@" + agentDomain, "Bob Agent"},
}

// AgentAddrs lists the bench agents' addresses.
func AgentAddrs() []string {
	var out []string
	for _, a := range benchAgents {
		out = append(out, a.Email)
	}
	return out
}

var words = strings.Fields(`the printer on the third floor stopped working again after the update
yesterday and now every job sits in the queue with an error about the driver we tried to restart
the spooler and reinstall the package but nothing changed could you please have a look at it soon
our accounting team needs to print the quarterly reports by friday and the backup device is also
offline because of a paper jam that nobody managed to clear I attached the log from the server and
a screenshot of the settings page in case it helps thank you for your support and best regards
invoice order number shipment delivery account password reset login certificate renewal domain
mailbox calendar meeting room projector license subscription upgrade refund contract customer`)

// lorem returns about n bytes of plain text in lines of at most 72
// characters, deterministic for seed.
func lorem(seed uint64, n int) string {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var b strings.Builder
	b.Grow(n + 80)
	line := 0
	para := 0
	for b.Len() < n {
		w := words[rng.IntN(len(words))]
		if line+len(w)+1 > 72 {
			b.WriteString("\r\n")
			line = 0
			para++
			if para%6 == 0 {
				b.WriteString("\r\n")
			}
		} else if line > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	b.WriteString("\r\n")
	return b.String()
}

// Gen builds the mails of one run. Message-IDs and sender addresses are
// unique per run (runID) and message index.
type Gen struct {
	RunID string
	// Tokens supplies reply addresses (nil: replies use made-up tokens,
	// for the reference server, which does not care).
	Tokens TokenSource
	// LargeBytes is the size of a "large" mail.
	LargeBytes int

	text4k, text50k string
	attach          string

	floodOnce sync.Once
	floodBody []byte
}

// TokenSource hands out harvested reply addresses.
type TokenSource interface {
	CustomerToken(*rand.Rand) (Token, bool)
	AgentToken(*rand.Rand) (Token, bool)
}

// NewGen prepares the text blocks.
func NewGen(runID string, tokens TokenSource) *Gen {
	g := &Gen{RunID: runID, Tokens: tokens}
	g.text4k = lorem(1, 4<<10)
	g.text50k = lorem(2, 50<<10)
	bin := make([]byte, attachmentBytes)
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range bin {
		bin[i] = byte(rng.UintN(256))
	}
	g.attach = wrap76(base64.StdEncoding.EncodeToString(bin))
	return g
}

func wrap76(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/76*2 + 2)
	for len(s) > 76 {
		b.WriteString(s[:76])
		b.WriteString("\r\n")
		s = s[76:]
	}
	b.WriteString(s)
	b.WriteString("\r\n")
	return b.String()
}

// Job is one mail to send.
type Job struct {
	Kind  string
	From  string // envelope sender
	Rcpt  string
	MsgID string
	Raw   []byte
}

func (g *Gen) msgID(i int) string { return fmt.Sprintf("bench.%s.%d@client.example", g.RunID, i) }

func (g *Gen) customer(i int) (addr, name string) {
	return fmt.Sprintf("c%s-%d@cust%d.example", g.RunID, i, i%97), fmt.Sprintf("Customer %d", i)
}

func header(b *bytes.Buffer, from, to, subject, msgID string, extra ...string) {
	fmt.Fprintf(b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\n", from, to, subject,
		time.Now().Format(time.RFC1123Z), msgID)
	for _, x := range extra {
		b.WriteString(x)
		b.WriteString("\r\n")
	}
	b.WriteString("MIME-Version: 1.0\r\n")
}

// NewTicket is a plain-text mail from a new sender with a body of about
// the given text block.
func (g *Gen) NewTicket(i int, kind string) Job {
	addr, name := g.customer(i)
	text := g.text4k
	if kind == KindNew50K {
		text = g.text50k
	}
	var b bytes.Buffer
	b.Grow(len(text) + 600)
	id := g.msgID(i)
	header(&b, fmt.Sprintf("%s <%s>", name, addr), benchMailbox, fmt.Sprintf("Printer queue stuck, request %d", i), id,
		"Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit")
	fmt.Fprintf(&b, "\r\nHello support,\r\n\r\nrequest %d from %s.\r\n", i, addr)
	b.WriteString(text)
	fmt.Fprintf(&b, "\r\n-- \r\n%s\r\n", name)
	return Job{Kind: kind, From: addr, Rcpt: benchMailbox, MsgID: id, Raw: b.Bytes()}
}

// WithAttachment is a new ticket with a 100 KiB binary attachment.
func (g *Gen) WithAttachment(i int) Job {
	addr, name := g.customer(i)
	var b bytes.Buffer
	b.Grow(len(g.attach) + 2000)
	id := g.msgID(i)
	header(&b, fmt.Sprintf("%s <%s>", name, addr), benchMailbox, fmt.Sprintf("Invoice %d attached", i), id,
		`Content-Type: multipart/mixed; boundary="b1-bench"`)
	fmt.Fprintf(&b, "\r\n--b1-bench\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello,\r\n\r\nplease find invoice %d attached; it shows the wrong amount.\r\n\r\n%s\r\n", i, name)
	fmt.Fprintf(&b, "--b1-bench\r\nContent-Type: application/pdf; name=\"invoice-%d.pdf\"\r\nContent-Disposition: attachment; filename=\"invoice-%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", i, i)
	b.WriteString(g.attach)
	b.WriteString("--b1-bench--\r\n")
	return Job{Kind: KindAttachment, From: addr, Rcpt: benchMailbox, MsgID: id, Raw: b.Bytes()}
}

// Large is a new ticket whose attachment brings the mail to LargeBytes.
func (g *Gen) Large(i int) Job {
	addr, name := g.customer(i)
	var b bytes.Buffer
	b.Grow(g.LargeBytes + 100)
	id := g.msgID(i)
	header(&b, fmt.Sprintf("%s <%s>", name, addr), benchMailbox, fmt.Sprintf("Disk image %d", i), id,
		`Content-Type: multipart/mixed; boundary="b1-bench"`)
	fmt.Fprintf(&b, "\r\n--b1-bench\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe disk image of the broken laptop is attached.\r\n\r\n%s\r\n", name)
	fmt.Fprintf(&b, "--b1-bench\r\nContent-Type: application/octet-stream; name=\"disk-%d.img\"\r\nContent-Disposition: attachment; filename=\"disk-%d.img\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", i, i)
	end := "--b1-bench--\r\n"
	line := []byte(strings.Repeat("QUJD", 19) + "\r\n") // 78 bytes
	for b.Len()+len(line)+len(end) <= g.LargeBytes {
		b.Write(line)
	}
	b.WriteString(end)
	return Job{Kind: KindLarge, From: addr, Rcpt: benchMailbox, MsgID: id, Raw: b.Bytes()}
}

func madeUpToken(rng *rand.Rand) string {
	const alpha = "abcdefghijklmnopqrstuvwxyz234567"
	var b [30]byte
	for i := range b {
		b[i] = alpha[rng.IntN(len(alpha))]
	}
	return "support+" + string(b[:]) + "@bench.example"
}

// CustomerReply answers an acknowledgement or public reply through its
// reply token, with the usual quoted history below the new text.
func (g *Gen) CustomerReply(i int, rng *rand.Rand) (Job, bool) {
	var t Token
	if g.Tokens == nil {
		t = Token{Rcpt: fmt.Sprintf("c%s-r%d@cust.example", g.RunID, i), Addr: madeUpToken(rng), Subject: "[#1] Printer queue stuck", MsgID: "hd.1.x@bench.example"}
	} else {
		var ok bool
		if t, ok = g.Tokens.CustomerToken(rng); !ok {
			return Job{}, false
		}
	}
	var b bytes.Buffer
	id := g.msgID(i)
	header(&b, "Customer <"+t.Rcpt+">", t.Addr, "Re: "+t.Subject, id,
		"In-Reply-To: <"+t.MsgID+">", "References: <"+t.MsgID+">",
		"Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit")
	fmt.Fprintf(&b, "\r\nThanks, here is more information (reply %d):\r\n", i)
	b.WriteString(g.text4k[:1024])
	b.WriteString("\r\nOn Mon, 3 Mar 2025 at 10:00, Bench Support <support@bench.example> wrote:\r\n")
	for _, l := range strings.SplitAfter(g.text4k[1024:2048], "\r\n") {
		if l != "" {
			b.WriteString("> " + l)
		}
	}
	b.WriteString("\r\n")
	return Job{Kind: KindCustReply, From: t.Rcpt, Rcpt: t.Addr, MsgID: id, Raw: b.Bytes()}, true
}

// AgentReply answers a staff notification through the agent's reply token
// with commands at the top (staff authentication: auth.staff = ["token"]).
func (g *Gen) AgentReply(i int, rng *rand.Rand) (Job, bool) {
	var t Token
	if g.Tokens == nil {
		t = Token{Rcpt: benchAgents[i%len(benchAgents)].Email, Addr: madeUpToken(rng), Subject: "[#1] Printer queue stuck", MsgID: "hd.1.y@bench.example"}
	} else {
		var ok bool
		if t, ok = g.Tokens.AgentToken(rng); !ok {
			return Job{}, false
		}
	}
	name := t.Rcpt
	for _, a := range benchAgents {
		if a.Email == t.Rcpt {
			name = a.Name
		}
	}
	status := []string{"pending", "waiting-customer", "open"}[i%3]
	var b bytes.Buffer
	id := g.msgID(i)
	header(&b, name+" <"+t.Rcpt+">", t.Addr, "Re: "+t.Subject, id,
		"In-Reply-To: <"+t.MsgID+">", "References: <"+t.MsgID+">",
		"Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit")
	fmt.Fprintf(&b, "\r\n#status %s\r\n#priority high\r\n#tag +bench\r\nHello,\r\n\r\nwe restarted the print server (answer %d); please try again and tell us\r\nwhether the queue moves now.\r\n\r\n%s\r\n\r\n", status, i, name)
	b.WriteString("On Mon, 3 Mar 2025 at 10:00, Bench Support <support@bench.example> wrote:\r\n> ##- Reply above this line -##\r\n> \r\n")
	for _, l := range strings.SplitAfter(g.text4k[:1024], "\r\n") {
		if l != "" {
			b.WriteString("> " + l)
		}
	}
	return Job{Kind: KindAgentReply, From: t.Rcpt, Rcpt: t.Addr, MsgID: id, Raw: b.Bytes()}, true
}

// MixJob picks the i-th mail of the mix.
func (g *Gen) MixJob(i int, rng *rand.Rand) Job {
	p := rng.IntN(100)
	kind := Mix[len(Mix)-1].Kind
	for _, m := range Mix {
		if p < m.Percent {
			kind = m.Kind
			break
		}
		p -= m.Percent
	}
	switch kind {
	case KindNew50K:
		return g.NewTicket(i, KindNew50K)
	case KindAttachment:
		return g.WithAttachment(i)
	case KindCustReply:
		if j, ok := g.CustomerReply(i, rng); ok {
			return j
		}
	case KindAgentReply:
		if j, ok := g.AgentReply(i, rng); ok {
			return j
		}
	}
	return g.NewTicket(i, KindNew4K)
}

// CharsetFlood is a new ticket of FloodBytes whose 8-bit text does not
// fit its declared charset: every fifth character is a random byte
// 0x80-0xff, declared us-ascii (even i) or iso-2022-jp (odd i), so the
// parser has to detect what it is.
func (g *Gen) CharsetFlood(i int) Job {
	g.floodOnce.Do(func() {
		text := []byte(lorem(4, FloodBytes))
		rng := rand.New(rand.NewPCG(4, 4))
		for j := range text {
			if j%5 == 4 && text[j] != '\r' && text[j] != '\n' {
				text[j] = byte(0x80 + rng.UintN(0x80))
			}
		}
		g.floodBody = text
	})
	addr, name := g.customer(i)
	cs := "us-ascii"
	if i%2 == 1 {
		cs = "iso-2022-jp"
	}
	var b bytes.Buffer
	b.Grow(FloodBytes + 100)
	id := g.msgID(i)
	header(&b, fmt.Sprintf("%s <%s>", name, addr), benchMailbox, fmt.Sprintf("Garbled export %d", i), id,
		"Content-Type: text/plain; charset="+cs, "Content-Transfer-Encoding: 8bit")
	b.WriteString("\r\n")
	end := "\r\n-- \r\n" + name + "\r\n"
	b.Write(g.floodBody[:max(0, min(len(g.floodBody), FloodBytes-b.Len()-len(end)))])
	b.WriteString(end)
	return Job{Kind: KindFlood, From: addr, Rcpt: benchMailbox, MsgID: id, Raw: b.Bytes()}
}
