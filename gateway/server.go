package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"helpdesk/gateway/engine"
	"helpdesk/gateway/lograte"
)

// logInterval bounds how often one kind of failure is logged: under load
// the same failure repeats for every mail (79,000 identical lines in 20 s
// with a broken store); a line per interval with the count says as much.
const logInterval = 10 * time.Second

// Server is the inbound SMTP server.
type Server struct {
	eng  *engine.Engine
	log  *slog.Logger
	smtp *smtp.Server
	lim  *limiter
	logs *lograte.Limiter
	// parse bounds the bytes of mail parsed and applied at once
	// ([smtp] parse_budget).
	parse *budget
	// certs is the STARTTLS certificate (nil: STARTTLS not offered).
	certs *certSource

	nextID  atomic.Uint64
	Metrics ServerMetrics
}

// ServerMetrics are SMTP-level counters for /metrics.
type ServerMetrics struct {
	Connections    atomic.Int64
	RefusedConns   atomic.Int64
	RcptRefused    atomic.Int64
	TooLarge       atomic.Int64
	HeaderTooLarge atomic.Int64
	TempFailures   atomic.Int64
	// BudgetTimeouts counts mails answered 451 because the parse budget
	// stayed full for their whole data timeout.
	BudgetTimeouts atomic.Int64
	// Latency of DATA end to 250, in seconds (set by NewServer).
	Latency prometheus.Histogram
}

// NewServer builds the server from the current config of eng.
func NewServer(eng *engine.Engine, log *slog.Logger) *Server {
	cfg := eng.Config()
	s := &Server{eng: eng, log: log, logs: lograte.New(logInterval)}
	s.Metrics.Latency = newLatencyHistogram()
	srv := smtp.NewServer(s)
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = int64(cfg.SMTP.MaxMessageBytes)
	srv.MaxRecipients = cfg.SMTP.MaxRecipients
	// go-smtp's own line limit is fatal even inside DATA (it closes the
	// connection while the client is still sending, so the client never
	// sees the refusal and retries forever). limitConn enforces the limit
	// on command lines instead, and Data refuses long message lines after
	// reading the body to its end. After STARTTLS limitConn reads TLS
	// records, and bounds what it reads between replies instead.
	srv.MaxLineLength = 0
	srv.ReadTimeout = cfg.SMTP.ReadTimeout.D()
	srv.WriteTimeout = cfg.SMTP.WriteTimeout.D()
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slogLogger{log, s.logs}
	s.smtp = srv
	s.parse = newBudget(int64(cfg.SMTP.ParseBudget))
	s.lim = &limiter{max: cfg.SMTP.MaxConnections, perIP: cfg.SMTP.MaxConnectionsPerIP, per: map[string]int{}, m: &s.Metrics,
		maxLine: cfg.SMTP.MaxLineLength}
	return s
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.smtp.Serve(&limitListener{Listener: ln, lim: s.lim})
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil // already shut down; or the listener was closed first
	}
	return err
}

// Shutdown stops accepting and waits for sessions to finish, up to ctx;
// then it cuts the rest (their mail never got a 250, so the client retries).
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.smtp.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		s.log.Warn("shutdown: sessions still running at the deadline were cut")
		return s.smtp.Close()
	}
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil // already shut down; or the listener was closed first
	}
	return err
}

// Sessions is the number of open client connections, from accept to
// close, whether or not they have said EHLO yet (go-smtp creates its
// session only at EHLO).
func (s *Server) Sessions() int64 { return s.lim.open.Load() }

// ParseBudgetInUse is the bytes of mail being parsed and applied now.
func (s *Server) ParseBudgetInUse() int64 { return s.parse.inUse() }

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	id := s.nextID.Add(1)
	var ip netip.Addr
	if ta, ok := c.Conn().RemoteAddr().(*net.TCPAddr); ok {
		ip, _ = netip.AddrFromSlice(ta.IP)
		ip = ip.Unmap()
	}
	return &session{s: s, conn: c, ip: ip, id: id, log: s.log.With("session", id, "client", c.Conn().RemoteAddr().String())}, nil
}

type session struct {
	s    *Server
	conn *smtp.Conn
	ip   netip.Addr
	id   uint64
	log  *slog.Logger

	from  string
	rcpts []string
}

func (ss *session) Reset() {
	ss.from = ""
	ss.rcpts = nil
	// go-smtp resets the session after its reply to DATA (having drained
	// a refused body in data mode): back to command mode.
	if lc := connOf(ss.conn.Conn()); lc != nil {
		lc.endData()
	}
}

func (ss *session) Logout() error { return nil }

var errNeedTLS = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Must issue a STARTTLS command first: this server takes mail over TLS only (smtp.require_tls)"}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if ss.s.eng.Config().SMTP.RequireTLS {
		if _, ok := ss.conn.TLSConnectionState(); !ok {
			return errNeedTLS
		}
	}
	ss.from = from
	ss.rcpts = nil
	return nil
}

// Rcpt accepts our mailboxes and any plus-address of them; tokens are
// verified later and a bad one is treated as absent, never bounced. Any
// other recipient is refused here, so we never accept and then bounce
// (no backscatter, SPEC 2).
func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	cfg := ss.s.eng.Config()
	if cfg.Mailbox(to) == nil {
		ss.s.Metrics.RcptRefused.Add(1)
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox here"}
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

var (
	errHeaderTooLarge = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Header block too large"}
	errTemporary      = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure storing the message, please try again later"}
	errBusy           = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Too much mail being processed, please try again later"}
	errLineTooLong    = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 4, 0}, Message: "Line too long"}
	// A timeout closes the session (RFC 5321 section 4.5.3.2): the rest
	// of a body that arrives late must never be read as commands.
	errTimeout = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Message not received within the time limit, closing connection"}
)

// copyBufs are Data's copy buffers (io.Copy would allocate 32 KiB per
// mail).
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Data streams the message through the limits into a spool, then hands it
// to the engine. It returns nil (250) only after the message and all its
// effects are committed and fsync'd; a store failure is a 451 so the
// client retries (SPEC 11).
func (ss *session) Data(r io.Reader) error {
	began := time.Now()
	cfg := ss.s.eng.Config()
	db := ss.s.eng.DB()
	sp := db.NewSpool(int64(cfg.SMTP.SpoolThreshold))
	defer sp.Close()

	// Our Received line (RFC 5321 section 4.4) records where it came from.
	// The authres check skips it (Envelope.Via "smtp"): the relay's block
	// of headers starts below it.
	// Over TLS it says so (RFC 3848 "ESMTPS") and with what, as Postfix
	// does.
	with, using := "ESMTP", ""
	if st := tlsState(ss.conn.Conn()); st != "" {
		with, using = "ESMTPS", "\r\n\t"+st
	}
	fmt.Fprintf(sp, "Received: from %s (%s)%s\r\n\tby %s with %s id %d;\r\n\t%s\r\n",
		sanitizeHelo(ss.conn.Hostname()), ss.ip, using, cfg.Hostname, with, ss.id, time.Now().Format(time.RFC1123Z))

	// DATA (not BDAT, whose chunks the command loop reads): the whole
	// body, and go-smtp's drain of a refused one after we return, must
	// arrive within data_timeout of now. A deadline per read would let a
	// client trickling a byte now and then hold its connection forever.
	// A timeout ends the session, so the rest is never taken for commands.
	lc := connOf(ss.conn.Conn())
	if _, bdat := r.(*io.PipeReader); !bdat {
		if lc != nil {
			lc.beginData(cfg.SMTP.DataTimeout.D())
		} else if d := cfg.SMTP.DataTimeout.D(); d > 0 {
			ss.conn.Conn().SetReadDeadline(time.Now().Add(d))
		}
	} else if lc != nil {
		// BDAT chunks are read by the command loop, not in data mode:
		// under TLS each read of the body tells limitConn that what it
		// read was message data, not a command line.
		r = progressReader{r, lc}
	}
	hl := &headerLimiter{max: int(cfg.SMTP.MaxHeaderBytes)}
	ll := &lineLimiter{max: cfg.SMTP.MaxLineLength}
	buf := copyBufs.Get().(*[]byte)
	_, err := io.CopyBuffer(sp, io.TeeReader(r, io.MultiWriter(hl, ll)), *buf)
	copyBufs.Put(buf)
	if err != nil {
		var se *smtp.SMTPError
		switch {
		case errors.As(err, &se):
			if se.Code == 552 {
				ss.s.Metrics.TooLarge.Add(1)
			}
			return se
		case errors.Is(err, errHeaderLimit):
			ss.s.Metrics.HeaderTooLarge.Add(1)
			return errHeaderTooLarge
		case isTimeout(err):
			return errTimeout
		case errors.Is(err, errLineLimit), errors.Is(err, smtp.ErrTooLongLine):
			return errLineTooLong
		}
		ss.s.logs.Log(ss.log, slog.LevelWarn, "data-read", "reading DATA failed", "err", err)
		ss.s.Metrics.TempFailures.Add(1)
		return errTemporary
	}
	// Parsing waits for its share of the parse budget, within the time
	// the data timeout leaves this mail; a mail that cannot get it in
	// time gets 451 and its client tries again later (nothing is lost).
	wait, cancel := context.Background(), context.CancelFunc(func() {})
	if d := cfg.SMTP.DataTimeout.D(); d > 0 { // 0 (configs built in code): no deadline
		wait, cancel = context.WithDeadline(wait, began.Add(d))
	}
	held, err := ss.s.parse.acquire(wait, sp.Size())
	cancel()
	if err != nil {
		ss.s.Metrics.BudgetTimeouts.Add(1)
		ss.s.Metrics.TempFailures.Add(1)
		ss.s.logs.Log(ss.log, slog.LevelWarn, "parse-budget", "parse budget stayed full for the data timeout; answered 451", "size", sp.Size(), "budget", int64(cfg.SMTP.ParseBudget))
		return errBusy
	}
	defer ss.s.parse.release(held)
	start := time.Now()
	res, err := ss.s.eng.Deliver(context.Background(), engine.Envelope{
		MailFrom: ss.from, Rcpts: append([]string(nil), ss.rcpts...), RemoteIP: ss.ip, Via: "smtp",
	}, sp)
	if err != nil {
		ss.s.Metrics.TempFailures.Add(1)
		ss.s.logs.Log(ss.log, slog.LevelError, "store-451", "storing message failed; answered 451", "err", err)
		return errTemporary
	}
	ss.s.Metrics.Latency.Observe(time.Since(start).Seconds())
	_ = res
	return nil
}

func sanitizeHelo(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '(' || r == ')' {
			return -1
		}
		return r
	}, s)
	if len(s) > 255 {
		s = s[:255]
	}
	if s == "" {
		return "unknown"
	}
	return s
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

var errHeaderLimit = errors.New("header block too large")

// headerLimiter counts bytes until the blank line ending the header block
// and fails once the block exceeds max (a header bomb is refused before
// memory is spent on parsing it).
type headerLimiter struct {
	max  int
	n    int
	done bool
	prev []byte // the last 3 bytes seen, to find CRLFCRLF or LFLF across writes
}

func (h *headerLimiter) Write(p []byte) (int, error) {
	if h.done || h.max <= 0 {
		return len(p), nil
	}
	// A blank line starting in the previous write is found in the seam
	// (its last bytes and the first of p); any other, in p itself. p is
	// not copied.
	var seamBuf [6]byte
	seam := append(append(seamBuf[:0], h.prev...), p[:min(3, len(p))]...)
	found, end := false, 0 // where the header ends, relative to p (negative: in prev)
	if i := blankLine(seam); i >= 0 && i < len(h.prev) {
		found, end = true, i-len(h.prev)
	} else if i := blankLine(p); i >= 0 {
		found, end = true, i
	}
	if found {
		h.done = true
		h.n += end
	} else {
		h.n += len(p)
	}
	if h.n > h.max {
		return 0, errHeaderLimit
	}
	if len(p) >= 3 {
		h.prev = append(h.prev[:0], p[len(p)-3:]...)
	} else {
		h.prev = append(h.prev[:0], seam[max(0, len(seam)-3):]...)
	}
	return len(p), nil
}

// blankLine returns the index of the first "\r\n\r\n" or "\n\n" in b, or -1.
func blankLine(b []byte) int {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 && (end < 0 || i < end) {
		end = i
	}
	return end
}

var errLineLimit = errors.New("line too long")

// lineLimiter fails once a line of the message exceeds max bytes, its
// line break included (RFC 5321 section 4.5.3.1.6).
type lineLimiter struct {
	max int
	n   int
}

func (l *lineLimiter) Write(p []byte) (int, error) {
	if l.max <= 0 {
		return len(p), nil
	}
	if l.n = lineRun(l.n, p, l.max); l.n > l.max {
		return 0, errLineLimit
	}
	return len(p), nil
}

// lineRun continues a count of n bytes since the last LF over p and
// returns the count after p, or a count above max as soon as a line in p
// with its LF makes more than max bytes.
func lineRun(n int, p []byte, max int) int {
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			return n + len(p)
		}
		if n+i+1 > max {
			return n + i + 1
		}
		n, p = 0, p[i+1:]
	}
}

// ---- connection limits ----

// limiter bounds connections in total and per client IP (SPEC 10).
type limiter struct {
	mu    sync.Mutex
	max   int
	perIP int
	total int
	per   map[string]int
	m     *ServerMetrics
	// maxLine bounds command lines (limitConn).
	maxLine int
	// open counts connections from accept to close (the sessions gauge);
	// a slot may be freed a little earlier, at the session's last reply.
	open atomic.Int64
}

func (l *limiter) acquire(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if (l.max > 0 && l.total >= l.max) || (l.perIP > 0 && l.per[ip] >= l.perIP) {
		return false
	}
	l.total++
	l.per[ip]++
	return true
}

func (l *limiter) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.per[ip]--; l.per[ip] <= 0 {
		delete(l.per, ip)
	}
}

type limitListener struct {
	net.Listener
	lim *limiter
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := hostOf(c.RemoteAddr())
		if !l.lim.acquire(ip) {
			l.lim.m.RefusedConns.Add(1)
			// RFC 5321 section 3.8: a 421 greeting refuses the session.
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "421 4.7.0 Too many connections, try again later\r\n")
			c.Close()
			continue
		}
		l.lim.m.Connections.Add(1)
		l.lim.open.Add(1)
		return &limitConn{Conn: c, release: func() { l.lim.release(ip) }, closed: func() { l.lim.open.Add(-1) },
			maxLine: l.lim.maxLine}, nil
	}
}

func hostOf(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	h, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return h
}

// limitConn is a client connection as go-smtp reads it. Besides freeing
// the connection slot at the session's last reply (see Write) or on close,
// it
//   - bounds command lines to maxLine bytes (smtp.ErrTooLongLine: go-smtp
//     answers 500 and closes), so a line is never buffered without limit;
//   - in DATA (beginData to endData) lets lines of any length through
//     (Data refuses them itself) under one deadline for the whole data;
//   - makes a read timeout final: go-smtp reads commands with
//     textproto/bufio, which hand out a partial line without its error,
//     so without this a timed-out session would go on reading.
//
// Read, beginData (Data) and endData (Reset) all run in the session's
// goroutine today; the flags are atomic anyway, since go-smtp runs Data in
// a goroutine of its own for BDAT.
type limitConn struct {
	net.Conn
	once    sync.Once // release
	release func()
	shut    sync.Once // closed
	closed  func()

	maxLine int
	lineLen int
	inData  atomic.Bool
	err     error // sticky: a timeout or a too long command line

	// After STARTTLS (tlsOn) the bytes read are TLS records, whose line
	// breaks mean nothing. A command line cannot be answered before it
	// has been read whole, so what is bounded instead is what is read
	// without a reply being written or message data coming out of it
	// (raw): maxLine plus what TLS records and read buffers may hold.
	tlsOn atomic.Bool
	raw   atomic.Int64
}

// startTLSReady is go-smtp's reply to STARTTLS, written just before the
// handshake.
var startTLSReady = []byte("220 2.0.0 Ready to start TLS")

// tlsSlack is what TLS and the read buffers may read ahead of the line
// being read: a record (16 KiB and its overhead) and more, so that no
// command line within maxLine is ever refused.
const tlsSlack = 64 << 10

// startTLS switches the line bound to the TLS form (the handshake has
// begun on this connection).
func (c *limitConn) startTLS() {
	c.tlsOn.Store(true)
	c.raw.Store(0)
}

// progressReader tells its limitConn that message data was read (BDAT
// under TLS).
type progressReader struct {
	r  io.Reader
	lc *limitConn
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.lc.raw.Store(0)
	return n, err
}

// beginData sets the deadline for the whole DATA: total from now (none
// when total is 0), replacing the one go-smtp set for the DATA command.
func (c *limitConn) beginData(total time.Duration) {
	c.inData.Store(true)
	var deadline time.Time
	if total > 0 {
		deadline = time.Now().Add(total)
	}
	c.Conn.SetReadDeadline(deadline)
}

func (c *limitConn) endData() {
	if c.inData.Swap(false) {
		// go-smtp sets a deadline before each command when it has a read
		// timeout; without one, none is meant.
		c.Conn.SetReadDeadline(time.Time{})
	}
}

// Write frees the connection slot just before the session's last reply
// goes out: go-smtp writes 221 to QUIT and 421 (timeouts, errors) only
// when it closes the connection next. A client that reconnects as soon
// as it has read the 221 (a front MTA's parallel sessions, each at the
// per-IP limit) must find its slot free; freed on Close, it would still be
// counted until the server's goroutine got round to closing. (Under TLS
// the 221 is encrypted here and the slot is freed on Close.)
func (c *limitConn) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("221 ")) || bytes.HasPrefix(p, []byte("421 ")) {
		c.once.Do(c.release)
	}
	if bytes.HasPrefix(p, startTLSReady) {
		// What the client sends next is its ClientHello, binary: a
		// post-quantum key share alone is 1.2 KB of random bytes, often
		// without a line feed, which the line bound would refuse (and
		// go-smtp answer 550 in plain text). GetCertificate comes only
		// after the whole hello has been read.
		c.startTLS()
	}
	// A reply (under TLS: a record) ends what the command bound counts.
	c.raw.Store(0)
	return c.Conn.Write(p)
}

func (c *limitConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	data := c.inData.Load()
	n, err := c.Conn.Read(p)
	if isTimeout(err) {
		c.err = err
	}
	if data || c.maxLine <= 0 {
		c.lineLen = 0
		return n, err
	}
	if c.tlsOn.Load() {
		if c.raw.Add(int64(n)) > int64(c.maxLine)+tlsSlack {
			c.err = smtp.ErrTooLongLine
			return 0, c.err
		}
		return n, err
	}
	if c.lineLen = lineRun(c.lineLen, p[:n], c.maxLine); c.lineLen > c.maxLine {
		c.err = smtp.ErrTooLongLine
		return 0, c.err
	}
	return n, err
}

func (c *limitConn) Close() error {
	c.once.Do(c.release)
	defer c.shut.Do(c.closed)
	if errors.Is(c.err, smtp.ErrTooLongLine) {
		// We refused a line the client is still sending. Closing now
		// would reset the connection and the client could lose our 500:
		// half-close, and read what it still sends for a moment first.
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			tc.CloseWrite()
			tc.SetReadDeadline(time.Now().Add(time.Second))
			io.CopyN(io.Discard, tc, 8<<20)
		}
	}
	return c.Conn.Close()
}

// slogLogger adapts go-smtp's logger to slog, rate-limited: its lines
// (connection errors, one per client) repeat under load.
type slogLogger struct {
	l    *slog.Logger
	logs *lograte.Limiter
}

func (s slogLogger) Printf(format string, v ...interface{}) {
	s.logs.Log(s.l, slog.LevelWarn, "go-smtp", "smtp", "msg", strings.TrimSpace(fmt.Sprintf(format, v...)))
}
func (s slogLogger) Println(v ...interface{}) {
	s.logs.Log(s.l, slog.LevelWarn, "go-smtp", "smtp", "msg", strings.TrimSpace(fmt.Sprintln(v...)))
}
