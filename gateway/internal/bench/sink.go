package bench

import (
	"bufio"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// Sink is the relay the bench daemon delivers its outbound mail to. It
// discards the mail but harvests the reply tokens it carries: the
// acknowledgement and public replies give customers their reply address,
// the notifications give agents theirs. The mix mode answers with them.
type Sink struct {
	Addr string
	srv  *smtp.Server
	// Delivered counts mails accepted (one per envelope recipient).
	Delivered atomic.Int64
	Bytes     atomic.Int64

	agents map[string]bool
	mu     sync.Mutex
	cust   *ring
	staff  *ring
	// ticketStaff is the newest agent token of each ticket (by the
	// "[#N]" of its subject): -mode size resolves every ticket.
	ticketStaff map[uint64]Token
}

// Token is a reply address harvested from an outbound mail.
type Token struct {
	Rcpt    string // who received it (the customer or the agent)
	Addr    string // the signed reply address (Reply-To)
	Subject string
	MsgID   string // the outbound mail's Message-ID, without brackets
}

type ring struct {
	items []Token
	next  int
	full  bool
}

func newRing(n int) *ring { return &ring{items: make([]Token, n)} }

func (r *ring) add(t Token) {
	r.items[r.next] = t
	r.next++
	if r.next == len(r.items) {
		r.next, r.full = 0, true
	}
}

func (r *ring) size() int {
	if r.full {
		return len(r.items)
	}
	return r.next
}

func (r *ring) pick(rng *rand.Rand) (Token, bool) {
	n := r.size()
	if n == 0 {
		return Token{}, false
	}
	return r.items[rng.IntN(n)], true
}

// StartSink listens on listen (loopback) and records tokens; agents are
// the staff addresses (lowercase).
func StartSink(listen string, agents []string) (*Sink, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	s := &Sink{Addr: ln.Addr().String(), agents: map[string]bool{}, cust: newRing(20000), staff: newRing(20000), ticketStaff: map[uint64]Token{}}
	for _, a := range agents {
		s.agents[strings.ToLower(a)] = true
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }))
	srv.Domain = "sink.bench"
	srv.MaxMessageBytes = 64 << 20
	srv.MaxRecipients = 1000
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = nopLogger{}
	s.srv = srv
	go srv.Serve(ln)
	return s, nil
}

// Close stops the sink.
func (s *Sink) Close() error { return s.srv.Close() }

// CustomerToken picks a harvested customer reply address.
func (s *Sink) CustomerToken(rng *rand.Rand) (Token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cust.pick(rng)
}

// AgentToken picks a harvested agent reply address.
func (s *Sink) AgentToken(rng *rand.Rand) (Token, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.staff.pick(rng)
}

// TicketAgentTokens returns the newest agent token of every ticket seen,
// by ticket number.
func (s *Sink) TicketAgentTokens() map[uint64]Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.ticketStaff)
}

// Tokens reports how many customer and agent tokens are known.
func (s *Sink) Tokens() (customers, agents int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cust.size(), s.staff.size()
}

type sinkSession struct {
	s  *Sink
	to []string
}

func (ss *sinkSession) Reset()                               { ss.to = nil }
func (ss *sinkSession) Logout() error                        { return nil }
func (ss *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, strings.ToLower(to))
	return nil
}

var (
	tokenAddrRe = regexp.MustCompile(`[A-Za-z0-9._-]+[+-][a-z2-7]{16,}@[A-Za-z0-9.-]+`)
	ticketRe    = regexp.MustCompile(`\[#(\d+)\]`)
)

func (ss *sinkSession) Data(r io.Reader) error {
	br := bufio.NewReaderSize(r, 16<<10)
	h, err := textproto.NewReader(br).ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		n, _ := io.Copy(io.Discard, br)
		ss.s.Bytes.Add(n)
		ss.s.Delivered.Add(int64(len(ss.to)))
		return nil
	}
	n, _ := io.Copy(io.Discard, br)
	ss.s.Bytes.Add(n)
	ss.s.Delivered.Add(int64(len(ss.to)))
	addr := tokenAddrRe.FindString(h.Get("Reply-To"))
	if addr == "" {
		return nil
	}
	t := Token{Addr: strings.ToLower(addr), Subject: h.Get("Subject"), MsgID: strings.Trim(h.Get("Message-Id"), "<> ")}
	ss.s.mu.Lock()
	for _, rc := range ss.to {
		t.Rcpt = rc
		if ss.s.agents[rc] {
			ss.s.staff.add(t)
			if m := ticketRe.FindStringSubmatch(t.Subject); m != nil {
				if n, err := strconv.ParseUint(m[1], 10, 64); err == nil {
					ss.s.ticketStaff[n] = t
				}
			}
		} else {
			ss.s.cust.add(t)
		}
	}
	ss.s.mu.Unlock()
	return nil
}
