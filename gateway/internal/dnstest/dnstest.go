// Package dnstest is a tiny authoritative DNS server for tests. It listens on
// 127.0.0.1 (UDP and TCP on the same port), answers TXT queries from an
// in-memory zone that tests fill with SetTXT, and shuts down on t.Cleanup.
//
// It exists so that DKIM and DMARC are exercised end to end: the real
// go-msgauth verifier resolves keys through a real net.Resolver talking DNS
// over loopback, exactly like production minus the internet.
//
// Behaviour, per query name (case-insensitive, trailing dot optional):
//   - a name set with SetTXT answers its TXT records (NOERROR, AA);
//     other types at that name answer NOERROR with no data (NODATA);
//   - an ancestor of a set name (an "empty non-terminal", e.g.
//     _domainkey.example.com when sel._domainkey.example.com exists)
//     answers NODATA, as RFC 8020 requires;
//   - any other name answers NXDOMAIN;
//   - SetServFail makes a name answer SERVFAIL, SetDrop makes the server
//     swallow queries for it (the client times out).
//
// UDP answers larger than the client's advertised EDNS0 payload size (512
// bytes without EDNS0) are sent truncated (TC bit, no answers), so resolvers
// retry over TCP, which this server also serves.
package dnstest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

type behaviour int

const (
	answer behaviour = iota
	servFail
	drop
)

type entry struct {
	txt  []string
	mode behaviour
}

// Server is a running test DNS server. All methods are safe for concurrent
// use, including while queries are being answered.
type Server struct {
	t    testing.TB // nil for a server made by New
	udp  net.PacketConn
	tcp  net.Listener
	addr string

	mu      sync.Mutex
	zone    map[string]*entry // key: lower-case FQDN with trailing dot
	queries map[string]int
	total   int
	conns   map[net.Conn]struct{}
	closed  bool

	wg sync.WaitGroup
}

// Start starts a server on 127.0.0.1 with a kernel-chosen port, serving UDP
// and TCP on the same port. It is stopped by t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	s.t = t
	t.Cleanup(s.Close)
	return s
}

// New starts a server like Start, outside a test (the bench's DNS stub);
// the caller closes it. With no names set, every query answers NXDOMAIN.
func New() (*Server, error) { return NewAt("127.0.0.1:0") }

// NewAt is New on a given loopback address, e.g. "127.0.0.1:53" for
// programs that read /etc/resolv.conf and know no port (the Postfix
// drill). A fixed port is tried once.
func NewAt(listen string) (*Server, error) {
	s := &Server{
		zone:    make(map[string]*entry),
		queries: make(map[string]int),
		conns:   make(map[net.Conn]struct{}),
	}
	tries := 20
	if !strings.HasSuffix(listen, ":0") {
		tries = 1
	}
	var lastErr error
	for range tries {
		udp, err := net.ListenPacket("udp4", listen)
		if err != nil {
			lastErr = err
			continue
		}
		addr := udp.LocalAddr().String()
		tcp, err := net.Listen("tcp4", addr)
		if err != nil { // TCP port taken by someone else: try another port
			udp.Close()
			lastErr = err
			continue
		}
		s.udp, s.tcp, s.addr = udp, tcp, addr
		break
	}
	if s.udp == nil {
		return nil, fmt.Errorf("dnstest: listen on 127.0.0.1: %v", lastErr)
	}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	return s, nil
}

// Addr returns the server's address as host:port, the same for UDP and TCP;
// it is what a resolver setting such as auth.resolver wants.
func (s *Server) Addr() string { return s.addr }

// Close stops the server and waits for its goroutines. Start registers it
// with t.Cleanup; calling it earlier (to simulate a dead server) is fine and
// calling it twice is harmless.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.udp.Close()
	s.tcp.Close()
	s.wg.Wait()
}

func canon(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// SetTXT replaces the TXT records of name with values, one TXT record per
// value; a value longer than 255 bytes is split into several
// character-strings of one record (which resolvers join again). With no
// values the name is removed from the zone (NXDOMAIN).
func (s *Server) SetTXT(name string, values ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(values) == 0 {
		delete(s.zone, canon(name))
		return
	}
	s.zone[canon(name)] = &entry{txt: append([]string(nil), values...)}
}

// SetServFail makes queries for name answer SERVFAIL (a temporary DNS error
// for the client) until SetTXT is called for it again.
func (s *Server) SetServFail(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zone[canon(name)] = &entry{mode: servFail}
}

// SetDrop makes the server silently ignore queries for name (the client
// times out) until SetTXT is called for it again.
func (s *Server) SetDrop(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zone[canon(name)] = &entry{mode: drop}
}

// Queries returns how many queries (any type, UDP or TCP) were received for
// name so far.
func (s *Server) Queries(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[canon(name)]
}

// TotalQueries returns how many well-formed queries the server received.
func (s *Server) TotalQueries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// AddDKIMKey generates an Ed25519 key, publishes it as
// selector._domainkey.domain and returns the private key for dkim.Sign.
func (s *Server) AddDKIMKey(domain, selector string) crypto.Signer {
	s.t.Helper()
	key, txt := DKIMKey(s.t)
	s.SetTXT(selector+"._domainkey."+domain, txt)
	return key
}

// DKIMKey generates an Ed25519 key pair and returns the private key and its
// DKIM key record ("v=DKIM1; k=ed25519; p=...", RFC 8463).
func DKIMKey(t testing.TB) (crypto.Signer, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("dnstest: generate ed25519 key: %v", err)
	}
	return priv, "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
}

// DKIMKeyRSA generates a 2048-bit RSA key pair and returns the private key
// and its DKIM key record ("v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo>").
// The record is longer than 255 bytes, so it also exercises string splitting.
func DKIMKeyRSA(t testing.TB) (crypto.Signer, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("dnstest: generate rsa key: %v", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatalf("dnstest: marshal rsa public key: %v", err)
	}
	return key, "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
}

// KeyPEM returns key as a PKCS#8 "PRIVATE KEY" PEM block, the format a DKIM
// key file in the configuration holds.
func KeyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("dnstest: marshal private key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func (s *Server) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP errors surfacing on the socket
		}
		resp := s.handle(buf[:n], true)
		if resp != nil {
			s.udp.WriteTo(resp, from) //nolint:errcheck // client gone: nothing to do
		}
	}
}

func (s *Server) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

// serveConn answers length-prefixed DNS messages (RFC 1035 section 4.2.2)
// until the client closes the connection or is idle for 10 seconds.
func (s *Server) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	var lenBuf [2]byte
	for {
		c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(lenBuf[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		resp := s.handle(msg, false)
		if resp == nil {
			continue // dropped: the client times out
		}
		out := make([]byte, 2, 2+len(resp))
		binary.BigEndian.PutUint16(out, uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

// handle answers one query; nil means send nothing.
func (s *Server) handle(msg []byte, udp bool) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil || h.Response {
		return nil // not a query we can even answer FORMERR to
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 || h.OpCode != 0 {
		return s.reply(h, qs, dnsmessage.RCodeFormatError, nil, 512)
	}
	q := qs[0]

	// The client's UDP payload size from an EDNS0 OPT record (RFC 6891
	// section 6.2.3); 512 without one.
	limit := 512
	if err := p.SkipAllAnswers(); err == nil {
		if err := p.SkipAllAuthorities(); err == nil {
			for {
				ah, err := p.AdditionalHeader()
				if err != nil {
					break
				}
				if ah.Type == dnsmessage.TypeOPT && int(ah.Class) > limit {
					limit = int(ah.Class)
				}
				if err := p.SkipAdditional(); err != nil {
					break
				}
			}
		}
	}
	if !udp {
		limit = 65535
	}

	name := canon(q.Name.String())
	s.mu.Lock()
	s.queries[name]++
	s.total++
	e := s.zone[name]
	var txt []string
	mode := answer
	exists := e != nil
	if e != nil {
		txt, mode = e.txt, e.mode
	} else {
		for k := range s.zone {
			if strings.HasSuffix(k, "."+name) {
				exists = true
				break
			}
		}
	}
	s.mu.Unlock()

	switch {
	case mode == drop:
		return nil
	case mode == servFail:
		return s.reply(h, qs, dnsmessage.RCodeServerFailure, nil, limit)
	case !exists || q.Class != dnsmessage.ClassINET:
		return s.reply(h, qs, dnsmessage.RCodeNameError, nil, limit)
	case q.Type == dnsmessage.TypeTXT || q.Type == dnsmessage.TypeALL:
		return s.reply(h, qs, dnsmessage.RCodeSuccess, txt, limit)
	default:
		return s.reply(h, qs, dnsmessage.RCodeSuccess, nil, limit)
	}
}

func (s *Server) reply(qh dnsmessage.Header, qs []dnsmessage.Question, rcode dnsmessage.RCode, txt []string, limit int) []byte {
	build := func(withAnswers bool) ([]byte, error) {
		b := dnsmessage.NewBuilder(make([]byte, 0, 512), dnsmessage.Header{
			ID:                 qh.ID,
			Response:           true,
			OpCode:             qh.OpCode,
			Authoritative:      true,
			Truncated:          !withAnswers,
			RecursionDesired:   qh.RecursionDesired,
			RecursionAvailable: true, // with AA: not a lame referral to Go's resolver
			RCode:              rcode,
		})
		b.EnableCompression()
		if err := b.StartQuestions(); err != nil {
			return nil, err
		}
		for _, q := range qs {
			if err := b.Question(q); err != nil {
				return nil, err
			}
		}
		if err := b.StartAnswers(); err != nil {
			return nil, err
		}
		if withAnswers {
			for _, v := range txt {
				rh := dnsmessage.ResourceHeader{Name: qs[0].Name, Type: dnsmessage.TypeTXT, Class: dnsmessage.ClassINET, TTL: 60}
				if err := b.TXTResource(rh, dnsmessage.TXTResource{TXT: chunk(v)}); err != nil {
					return nil, err
				}
			}
		}
		return b.Finish()
	}
	out, err := build(true)
	if err == nil && len(out) > limit {
		out, err = build(false)
	}
	if err != nil {
		if s.t != nil {
			s.t.Errorf("dnstest: build reply: %v", err)
		}
		return nil
	}
	return out
}

// chunk splits v into character-strings of at most 255 bytes (RFC 1035
// section 3.3.14; RFC 6376 section 3.6.2.2 for DKIM keys).
func chunk(v string) []string {
	if v == "" {
		return []string{""}
	}
	var out []string
	for len(v) > 255 {
		out = append(out, v[:255])
		v = v[255:]
	}
	return append(out, v)
}
