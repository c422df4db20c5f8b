package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/mailtext"
	"helpdesk/gateway/rules"
	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/threading"
	"helpdesk/threading/machine"
	"helpdesk/threading/token"
)

const hour = time.Hour

// Envelope is the SMTP envelope of an accepted mail.
type Envelope struct {
	MailFrom string
	Rcpts    []string
	RemoteIP netip.Addr
	// TrustAuthRes: believe Authentication-Results regardless of the
	// client IP (helpdesk inject --trust-authres).
	TrustAuthRes bool
	// Via names the intake path in logs ("smtp", "inject").
	Via string
}

// AuthVerdict is what sender authentication found (SPEC 5), computed
// outside any store transaction.
type AuthVerdict struct {
	Checked bool
	// DMARC is pass, fail, none, temperror or permerror.
	DMARC       string
	DKIMAligned bool
	AuthResPass bool
	// Failed names each failed check, for the notice to staff.
	Failed []string
}

// Authenticator checks a mail's sender (DKIM, DMARC, Authentication-Results).
// It may do DNS; it is never called inside a store transaction.
type Authenticator func(ctx context.Context, raw io.ReaderAt, size int64, m *threading.Mail, env Envelope) AuthVerdict

// Result says what became of a delivered mail.
type Result struct {
	Message     uint64 // stored message id
	Ticket      uint64
	Disposition string
	Duplicate   bool
	Outbound    int // mails enqueued
	Detail      string
	// Quarantine is the quarantined record's id, if any.
	Quarantine uint64
	// Security: a staff address failed authentication (SPEC 5).
	Security bool
	// Loop: quarantined as a mail loop.
	Loop bool
	// AckLimit names the acknowledgement limit that stopped this new
	// ticket's acknowledgement: "sender", "ip" or "global".
	AckLimit string
}

// Engine is shared by all SMTP sessions and the CLI's inject.
type Engine struct {
	cfg  atomic.Pointer[config.Config]
	db   store.Store
	log  *slog.Logger
	auth atomic.Pointer[Authenticator]
	now  func() time.Time

	keysMu sync.RWMutex
	keys   *token.Keyring

	// Wake is called after a commit that enqueued outbound mail.
	Wake func()

	Metrics Metrics
	// Commits says whether deliveries' store writes are failing (/healthz).
	Commits CommitHealth

	lastDeliver atomic.Int64 // unix nanos of the last Deliver start
	inflight    atomic.Int64
	// coming counts deliveries on their way to the store write (parsing,
	// spooling), not those waiting on DNS: the store's writer waits
	// briefly for these only.
	coming atomic.Int64

	// rules are the compiled triggers and views (triggers.go).
	rules ruleCache

	// ackLog rate-limits the log line about skipped acknowledgements.
	ackLogMu      sync.Mutex
	ackLogged     time.Time
	ackUnreported int

	// textsP are the customer templates and the knowledge base (texts.go).
	textsP atomic.Pointer[mailtext.Texts]

	// sched is the scheduler's state (timers.go).
	sched scheduler

	// eraseMu runs erases (by mail and the CLI) one at a time;
	// eraseWake tells RunErasures of an erase confirmed by mail.
	eraseMu   sync.Mutex
	eraseWake chan struct{}
}

// Coming is how many deliveries are on their way to their store write
// (parsing, spooling; not those waiting on DNS). Whoever opens the store
// may give it to an engine that groups commits (bolt.Options.Coming), so
// the writer waits briefly for them to share one.
func (e *Engine) Coming() int { return int(e.coming.Load()) }

// Busy reports whether mail is coming in: a delivery is under way or one
// started in the last 50ms. The outbound worker yields to ingest then.
func (e *Engine) Busy() bool {
	return e.inflight.Load() > 0 || time.Since(time.Unix(0, e.lastDeliver.Load())) < 50*time.Millisecond
}

// Metrics are counters exported on /metrics.
type Metrics struct {
	Accepted       atomic.Int64
	Duplicates     atomic.Int64
	NewTickets     atomic.Int64
	Comments       atomic.Int64
	Quarantined    atomic.Int64
	SecurityEvents atomic.Int64
	Loops          atomic.Int64
	Machine        atomic.Int64
	Rejected       atomic.Int64
	Enqueued       atomic.Int64
	ForgedTokens   atomic.Int64
	StoreErrors    atomic.Int64
	// Acknowledgements skipped by each limit.
	AcksLimitedSender, AcksLimitedIP, AcksLimitedGlobal atomic.Int64
	// RetentionSweeps counts the retention sweeps this process ran (on
	// a shared database only the leader's loop runs them).
	RetentionSweeps atomic.Int64
}

// Options configure New.
type Options struct {
	Logger *slog.Logger
	Auth   Authenticator
	Now    func() time.Time
}

// New creates an engine over an open store.
func New(cfg *config.Config, db store.Store, opt Options) (*Engine, error) {
	e := &Engine{db: db, log: opt.Logger, now: opt.Now, eraseWake: make(chan struct{}, 1)}
	e.sched.init()
	if opt.Auth != nil {
		e.SetAuthenticator(opt.Auth)
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.now == nil {
		e.now = time.Now
	}
	e.cfg.Store(cfg)
	if err := e.ReloadKeys(); err != nil {
		return nil, err
	}
	return e, nil
}

// Config returns the current configuration.
func (e *Engine) Config() *config.Config { return e.cfg.Load() }

// SetConfig swaps the configuration (SIGHUP). A removed staff member stops
// receiving anything at once, since every fan-out reads the current config.
func (e *Engine) SetConfig(c *config.Config) { e.cfg.Store(c) }

// SetAuthenticator swaps the sender authentication (SIGHUP: trusted
// relays, authserv-ids and the resolver apply at once).
func (e *Engine) SetAuthenticator(a Authenticator) { e.auth.Store(&a) }

// DB is the store.
func (e *Engine) DB() store.Store { return e.db }

// ReloadKeys reads the reply-token keys from the store.
func (e *Engine) ReloadKeys() error {
	var stored []model.TokenKey
	err := e.db.View(func(tx store.Tx) error {
		var err error
		stored, err = tx.Keys()
		return err
	})
	if err != nil {
		return fmt.Errorf("reading token keys: %w", err)
	}
	cfg := e.Config()
	e.keysMu.Lock()
	e.keys = &token.Keyring{Keys: tokenKeys(stored), Grace: cfg.Threading.SecretGracePeriod.D(), Now: e.now}
	e.keysMu.Unlock()
	return nil
}

// tokenKeys converts the key ring as the store keeps it to the token
// package's keys (the store knows nothing of tokens). A struct conversion,
// not field by field: should the two types drift apart, this stops
// compiling instead of dropping a field.
func tokenKeys(stored []model.TokenKey) []token.Key {
	keys := make([]token.Key, len(stored))
	for i, k := range stored {
		keys[i] = token.Key(k)
	}
	return keys
}

func (e *Engine) keyring() *token.Keyring {
	e.keysMu.RLock()
	defer e.keysMu.RUnlock()
	return e.keys
}

// inbound is one mail on its way through Deliver.
type inbound struct {
	env     Envelope
	mail    *threading.Mail
	raw     []byte // packed (store.Blobs.PackRaw); nil when spooled
	blob    string
	size    int64
	sender  string // normalized From (plus tag stripped when configured)
	spelled string // sender as written: local part's case kept (for sending)
	agent   *config.Agent
	verdict AuthVerdict
	tokens  []rcptToken // valid tokens among the recipients
	forged  []string    // recipient tags that failed verification
	started time.Time
	// reports are the #report answers built before the write (reports.go).
	reports map[reportKey]*prebuilt
	// prep is the mail's text prepared for the triggers' conditions
	// before the write (nil: none configured, or not prepared).
	prep *rules.Prepared
}

// hints name what applying the mail looks up first (the duplicate
// check, the sender's user, domain user and customer profile, the
// threads it refers to): an engine reading from a database server
// fetches them with the other mails of the group in one round trip.
func (in *inbound) hints() *store.Hints {
	m := in.mail
	h := &store.Hints{
		Identities: []store.MessageIdentity{{MessageID: m.MessageID, BodyHash: m.BodyHash}},
		MessageIDs: append(append(make([]string, 0, len(m.InReplyTo)+len(m.References)), m.InReplyTo...), m.References...),
	}
	if in.sender != "" {
		h.Users = []string{in.sender}
		if d := threading.Domain(in.sender); d != "" {
			h.Users = append(h.Users, "@"+d)
		}
		h.Customers = []string{in.sender}
	}
	return h
}

type rcptToken struct {
	addr string
	tok  token.Token
}

// Deliver stores and applies one accepted mail. It returns only after the
// message and everything it caused are committed and fsync'd; an error
// means nothing was stored and the client must retry (451).
func (e *Engine) Deliver(ctx context.Context, env Envelope, sp store.Spool) (Result, error) {
	e.inflight.Add(1)
	defer e.inflight.Add(-1)
	e.coming.Add(1)
	defer e.coming.Add(-1)
	e.lastDeliver.Store(time.Now().UnixNano())
	start := e.now()
	cfg := e.Config()
	in := &inbound{env: env, size: sp.Size(), started: start}
	popt := threading.ParseOptions{ReplyMarker: cfg.Threading.ReplyMarker}
	if sp.Spooled() {
		r, err := sp.Reader()
		if err != nil {
			return Result{}, fmt.Errorf("reading spool: %w", err)
		}
		in.mail = threading.Parse(r, popt)
	} else {
		in.mail = threading.ParseBytes(sp.Bytes(), popt)
	}
	in.mail.EnvelopeFrom = env.MailFrom
	machine.Classify(in.mail)
	e.identify(cfg, in)
	e.verifyTokens(cfg, in)
	prepareRules(cfg, in)

	// Authentication needs DNS: only when the answer matters, and never
	// inside the store write (SPEC 5).
	e.authenticate(ctx, cfg, in, func() (io.ReaderAt, int64, bool) {
		ra, ok := readerAt(sp)
		return ra, sp.Size(), ok
	}, true)
	var err error
	if sp.Spooled() {
		in.blob, err = sp.Commit()
		if err != nil {
			e.Metrics.StoreErrors.Add(1)
			e.Commits.Record(err, time.Now())
			return Result{}, fmt.Errorf("spooling message: %w", err)
		}
	} else {
		in.raw = e.db.PackRaw(sp.Bytes())
	}

	e.prepareReports(cfg, in)

	var res Result
	var enqueued int
	var erase bool
	e.sched.mailWrites.Add(1) // firing writes make way (timers.go)
	err = e.updateHinted(in.hints(), func(tx store.Tx) error {
		a := &applier{e: e, cfg: cfg, tx: tx, in: in, now: tx.Now()}
		if err := a.run(); err != nil {
			return err
		}
		res, enqueued, erase = a.res, a.enqueued, a.erasing
		return nil
	})
	e.sched.mailWrites.Add(-1)
	if err != nil {
		e.Metrics.StoreErrors.Add(1)
		e.Commits.Record(err, time.Now())
		return Result{}, fmt.Errorf("storing message: %w", err)
	}
	e.Commits.Record(nil, time.Now())
	if erase {
		// Not in this SMTP session: an erase compacts the store.
		e.WakeErasures()
	}
	res.Outbound = enqueued
	e.Metrics.Accepted.Add(1)
	e.Metrics.Enqueued.Add(int64(enqueued))
	e.count(res, in.mail)
	e.ackLimited(res, env, in.mail.From.Addr)
	if enqueued > 0 && e.Wake != nil {
		e.Wake()
	}
	for _, f := range in.forged {
		e.Metrics.ForgedTokens.Add(1)
		e.log.Warn("reply token failed verification; treated as absent", "rcpt", f, "from", in.mail.From.Addr)
	}
	e.log.Info("accepted",
		"via", env.Via, "message", res.Message, "ticket", res.Ticket, "disposition", res.Disposition,
		"duplicate", res.Duplicate, "class", string(in.mail.Class), "from", in.mail.From.Addr,
		"size", in.size, "outbound", enqueued, "detail", res.Detail,
		"ms", float64(e.now().Sub(start).Microseconds())/1000)
	return res, nil
}

// count updates the metrics for a committed delivery.
func (e *Engine) count(res Result, m *threading.Mail) {
	if res.Duplicate {
		e.Metrics.Duplicates.Add(1)
		return
	}
	if m.Class.Machine() {
		e.Metrics.Machine.Add(1)
	}
	switch res.Disposition {
	case model.DispTicket:
		e.Metrics.NewTickets.Add(1)
	case model.DispComment, model.DispCommands:
		e.Metrics.Comments.Add(1)
	case model.DispRejected:
		e.Metrics.Rejected.Add(1)
	case model.DispQuarantine:
		e.Metrics.Quarantined.Add(1)
		if res.Loop {
			e.Metrics.Loops.Add(1)
		}
	}
	if res.Security {
		e.Metrics.SecurityEvents.Add(1)
	}
}

// ackLogEvery is the least time between two log lines about skipped
// acknowledgements: a reflection attempt of thousands of mails must not
// flood the log as well.
const ackLogEvery = time.Minute

// ackLimited counts an acknowledgement skipped by a limit and logs it, at
// most once per ackLogEvery with the number skipped since the last line.
func (e *Engine) ackLimited(res Result, env Envelope, from string) {
	switch res.AckLimit {
	case "":
		return
	case "sender":
		e.Metrics.AcksLimitedSender.Add(1)
	case "ip":
		e.Metrics.AcksLimitedIP.Add(1)
	case "global":
		e.Metrics.AcksLimitedGlobal.Add(1)
	}
	now := e.now()
	e.ackLogMu.Lock()
	e.ackUnreported++
	if !e.ackLogged.IsZero() && now.Sub(e.ackLogged) < ackLogEvery {
		e.ackLogMu.Unlock()
		return
	}
	n := e.ackUnreported
	e.ackLogged, e.ackUnreported = now, 0
	e.ackLogMu.Unlock()
	e.log.Warn("acknowledgement limit reached; the ticket is open, its acknowledgement skipped",
		"limit", res.AckLimit, "ticket", res.Ticket, "from", from, "client", env.RemoteIP.String(),
		"skipped", n, "next_log_after", ackLogEvery.String())
}

// authenticate sets in.verdict: the staff authentication checks when the
// answer matters (needsAuth), over DNS, with the raw mail from body; a
// mail with several From addresses fails without a lookup (DKIM and this
// parser may disagree on which one signed, RFC 7489 section 6.6.1:
// nobody in particular). delivering: a real delivery, which no commit
// should wait for while DNS answers (explain is none).
func (e *Engine) authenticate(ctx context.Context, cfg *config.Config, in *inbound, body func() (io.ReaderAt, int64, bool), delivering bool) {
	if auth := e.auth.Load(); auth != nil && in.mail.FromCount <= 1 && e.needsAuth(cfg, in) {
		if ra, size, ok := body(); ok {
			actx, cancel := context.WithTimeout(ctx, 3*cfg.Auth.DNSTimeout.D()+time.Second)
			if delivering {
				e.coming.Add(-1) // DNS may take a while: no commit waits for it
			}
			in.verdict = (*auth)(actx, ra, size, in.mail, in.env)
			if delivering {
				e.coming.Add(1)
			}
			cancel()
		}
	}
	if in.mail.FromCount > 1 {
		in.verdict = AuthVerdict{Checked: true, DMARC: "fail",
			Failed: []string{"dmarc: the mail has more than one From address"}}
	}
}

func readerAt(sp store.Spool) (io.ReaderAt, bool) {
	r, err := sp.Reader()
	if err != nil {
		return nil, false
	}
	ra, ok := r.(io.ReaderAt)
	return ra, ok
}

// unknownSender stands for a mail with neither a From address nor an
// envelope sender: it still becomes a ticket (SPEC 11), never a 451.
const unknownSender = "unknown-sender@invalid"

// identify sets who the mail is from: the From address, else the
// envelope sender, else unknownSender; and the staff member it claims.
func (e *Engine) identify(cfg *config.Config, in *inbound) {
	in.sender = e.normSender(cfg, in.mail.From.Addr)
	in.spelled = e.spellSender(cfg, in.mail.From.Addr)
	if in.sender == "" || !strings.Contains(in.sender, "@") {
		in.sender = e.normSender(cfg, in.env.MailFrom)
		in.spelled = e.spellSender(cfg, in.env.MailFrom)
	}
	if in.sender == "" || !strings.Contains(in.sender, "@") {
		in.sender, in.spelled = unknownSender, unknownSender
	}
	if in.mail.From.Addr == "" {
		in.mail.From.Addr = in.sender
	}
	in.agent = cfg.Agent(in.sender)
	if in.agent == nil && in.sender != in.mail.From.Norm() {
		in.agent = cfg.Agent(in.mail.From.Norm())
	}
}

// normSender is the comparison form of a sender address.
func (e *Engine) normSender(cfg *config.Config, addr string) string {
	a := threading.NormalizeAddr(addr)
	if cfg.Threading.IgnorePlusTags {
		a = threading.StripPlus(a, "+")
	}
	return a
}

// spellSender is a sender address as written, for sending to it: like
// normSender, but the local part keeps its case.
func (e *Engine) spellSender(cfg *config.Config, addr string) string {
	a := threading.SpellAddr(addr)
	if cfg.Threading.IgnorePlusTags {
		a = threading.StripPlus(a, "+")
	}
	return a
}

// verifyTokens checks every recipient's plus tag; valid tokens are kept in
// recipient order, forged ones are logged and otherwise ignored (SPEC 2).
func (e *Engine) verifyTokens(cfg *config.Config, in *inbound) {
	kr := e.keyring()
	seen := map[string]bool{}
	addrs := append([]string{}, in.env.Rcpts...)
	for _, a := range in.mail.AllRecipients() {
		addrs = append(addrs, a.Addr)
	}
	for _, a := range addrs {
		a = threading.NormalizeAddr(a)
		if seen[a] {
			continue
		}
		seen[a] = true
		mb, tag := cfg.MailboxTag(a)
		if mb == nil || tag == "" {
			continue
		}
		t, err := kr.Verify(tag)
		if err != nil {
			in.forged = append(in.forged, a)
			continue
		}
		in.tokens = append(in.tokens, rcptToken{addr: a, tok: t})
	}
}

// needsAuth: staff claims always; other senders only when a Message-ID or
// subject tag could decide the ticket (SPEC 3.2: a forged From must not
// reach a ticket by knowing its number).
func (e *Engine) needsAuth(cfg *config.Config, in *inbound) bool {
	if in.agent != nil {
		return true
	}
	m := in.mail
	if len(in.tokens) > 0 {
		return false // a signed reply address decides; unchecked, no acknowledgement goes out
	}
	keys := len(m.InReplyTo) > 0 || len(m.References) > 0
	switch {
	case m.Class == threading.ClassAutoReply:
		return keys // may attach to a ticket only if not forged
	case m.Class.Machine():
		return false
	}
	// Human mail: the Message-ID and subject-tag keys, and any automatic
	// answer, depend on the sender's domain not failing DMARC (SPEC 3.1,
	// 3.2): an acknowledgement to a forged From is backscatter.
	return keys || threading.SubjectTag(m.Subject, cfg.Threading.TagPrefix) != 0 || !m.SuppressAutoAnswer()
}

// FromNameFor formats the display name of mail sent on behalf of an agent
// (or the mailbox itself when agentName is empty).
func FromNameFor(cfg *config.Config, agentName, mailboxName string) string {
	if agentName == "" {
		return mailboxName
	}
	f := cfg.Outbound.FromNameFormat
	if f == "" {
		f = "{agent} ({mailbox})"
	}
	return strings.NewReplacer("{agent}", agentName, "{mailbox}", mailboxName).Replace(f)
}
