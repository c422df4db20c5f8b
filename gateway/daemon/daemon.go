package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"helpdesk/config"
	"helpdesk/gateway"
	"helpdesk/gateway/auth"
	"helpdesk/gateway/clock"
	"helpdesk/gateway/control"
	"helpdesk/gateway/engine"
	"helpdesk/gateway/mailtext"
	"helpdesk/gateway/outbound"
	"helpdesk/gateway/webhook"
	"helpdesk/store"
	"helpdesk/threading"
)

// Daemon is a running helpdesk.
type Daemon struct {
	// reloadRefused is the last refused SIGHUP, until a reload succeeds.
	reloadRefused atomic.Pointer[refusal]

	Config   *config.Config
	DB       store.Store
	Engine   *engine.Engine
	Worker   *outbound.Worker
	Hooks    *webhook.Worker
	SMTP     *gateway.Server
	SMTPAddr string
	HTTPAddr string
	// Clock is the manual ticket clock ([testing] clock = "manual"); nil
	// on the wall clock.
	Clock *clock.Manual

	log     *slog.Logger
	smtpLn  net.Listener
	httpSrv *http.Server
	ctlSrv  *http.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started time.Time
	// releaseNode lets go of the node name's lock (a shared store).
	releaseNode context.CancelFunc
	// leading: this daemon runs the one-node work (lead).
	leading atomic.Bool
}

// Options tune Start.
type Options struct {
	Logger *slog.Logger
	// NoControlSocket skips the unix socket (tests running many daemons).
	NoControlSocket bool
	// Now is the store and engine clock (tests).
	Now func() time.Time
}

// Start opens the store and starts every service. On error nothing keeps
// running.
func Start(cfg *config.Config, opt Options) (d *Daemon, err error) {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	d = &Daemon{Config: cfg, log: log, started: time.Now()}
	partial := d // d itself is nil when an error is returned
	defer func() {
		if err != nil {
			if partial.smtpLn != nil {
				partial.smtpLn.Close() // never served
			}
			partial.closeAll()
		}
	}()
	now := opt.Now
	if cfg.Testing.Clock == config.ClockManual && now == nil {
		// Until Load reads the stored instant, the wall clock's: a new
		// store's first start is now.
		d.Clock = clock.New(time.Now())
		now = d.Clock.Now
	}
	// The store is opened before the engine that tells it of deliveries
	// under way: it asks through eng once the engine exists.
	var eng atomic.Pointer[engine.Engine]
	d.DB, err = OpenStore(cfg, StoreOptions{Now: now, Coming: func() int {
		if e := eng.Load(); e != nil {
			return e.Coming()
		}
		return 0
	}})
	if err != nil {
		return nil, err
	}
	if nc, ok := d.DB.(nodeClaimer); ok {
		// One daemon per node name: the outbound leases are held by it.
		ctx, release := context.WithCancel(context.Background())
		if err := nc.ClaimNode(ctx, NodeName(cfg), 15*time.Second, log); err != nil {
			release()
			d.DB.Close()
			return nil, err
		}
		d.releaseNode = release
	}
	if d.Clock != nil {
		if err := d.Clock.Load(d.DB, true); err != nil {
			return nil, err
		}
		log.Warn("the ticket clock is manual ([testing] clock): it moves only by helpdesk clock set|advance", "at", d.Clock.Now())
	}
	checker, err := NewAuthenticator(cfg)
	if err != nil {
		return nil, err
	}
	// The customer templates and the knowledge base: read now and on
	// SIGHUP, never per mail.
	texts, err := mailtext.Load(cfg)
	if err != nil {
		return nil, fmt.Errorf("customer texts: %w", err)
	}
	d.Engine, err = engine.New(cfg, d.DB, engine.Options{Logger: log, Auth: checker, Now: now})
	if err != nil {
		return nil, err
	}
	d.Engine.SetTexts(texts)
	eng.Store(d.Engine)
	var signer *auth.Signer
	if cfg.Outbound.DKIMKeyFile != "" {
		signer, err = auth.LoadSigner(cfg.Outbound.DKIMDomain, cfg.Outbound.DKIMSelector, cfg.Outbound.DKIMKeyFile)
		if err != nil {
			return nil, fmt.Errorf("outbound.dkim_private_key_file: %w", err)
		}
	}
	d.Worker = outbound.New(d.DB, d.Engine.Config, log.With("component", "outbound"), signer)
	// Daemons sharing a store hold leases under their own names.
	d.Worker.Holder = NodeName(cfg)
	d.Engine.Wake = d.Worker.Wake
	d.Worker.Busy = d.Engine.Busy
	d.Hooks = webhook.New(d.DB, d.Engine.Config, log.With("component", "webhook"))
	d.SMTP = gateway.NewServer(d.Engine, log.With("component", "smtp"))
	if cfg.SMTP.TLSCertFile != "" {
		if err := d.SMTP.EnableTLS(cfg.SMTP.TLSCertFile, cfg.SMTP.TLSKeyFile); err != nil {
			return nil, fmt.Errorf("smtp.tls_cert_file: %w", err)
		}
	}

	d.smtpLn, err = net.Listen("tcp", cfg.SMTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("smtp.listen %s: %w", cfg.SMTP.Listen, err)
	}
	d.SMTPAddr = d.smtpLn.Addr().String()
	if cfg.HTTP.Listen != "" {
		hl, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			return nil, fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)
		}
		d.HTTPAddr = hl.Addr().String()
		d.httpSrv = &http.Server{Handler: d.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
		go d.httpSrv.Serve(hl)
	}
	if !opt.NoControlSocket {
		d.ctlSrv, err = control.Serve(cfg.DataDir, &control.Local{DB: d.DB, Engine: d.Engine, Worker: d.Worker, Hooks: d.Hooks, Manual: d.Clock})
		if err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(4)
	go func() { defer d.wg.Done(); d.backfill(ctx) }()
	go func() { defer d.wg.Done(); d.Worker.Run(ctx) }()
	go func() { defer d.wg.Done(); d.lead(ctx, log) }()
	go func() {
		defer d.wg.Done()
		if err := d.SMTP.Serve(d.smtpLn); err != nil {
			log.Error("smtp server stopped", "err", err)
		}
	}()
	log.Info("helpdesk started", "smtp", d.SMTPAddr, "http", d.HTTPAddr, "data_dir", cfg.DataDir,
		"relay", cfg.Outbound.Relay, "installation", d.DB.InstallationID())
	return d, nil
}

// backfill builds customer profiles for the tickets of a store written
// before profiles existed (once; resumed after a restart; nothing to do
// on a store that has done it), in the background: mail is taken
// meanwhile and keeps its own profiles current.
func (d *Daemon) backfill(ctx context.Context) {
	start := time.Now()
	n, err := d.Engine.Backfill(ctx.Done())
	switch {
	case err != nil && ctx.Err() == nil:
		d.log.Error("building customer profiles for existing tickets", "err", err, "tickets", n)
	case n > 0:
		d.log.Info("customer profiles built for existing tickets", "tickets", n, "took", time.Since(start).Round(time.Millisecond))
	}
}

// leaderElector is a store several daemons share (engine postgres): of
// those daemons one at a time runs lead's work.
type leaderElector interface {
	Lead(ctx context.Context, interval time.Duration, node string, log *slog.Logger, lead func(context.Context))
}

// lead runs the work that must run on one node only: the scheduler (the
// timers it fires), the webhook deliveries, whose queue has no leases,
// erases confirmed by mail and those a crash interrupted, and the
// retention sweep (with its scheduled compaction: on PostgreSQL
// a VACUUM FULL that holds every daemon's writes, which must not run
// once per node). On a store of its own this daemon always leads; on a
// shared one, while it holds the store's leader lock.
func (d *Daemon) lead(ctx context.Context, log *slog.Logger) {
	work := func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Add(4)
		go func() { defer wg.Done(); d.retain(ctx) }()
		// Erases confirmed by mail, and erasures a crash left
		// unfinished (engine/erasures.go): once, by the leader.
		go func() { defer wg.Done(); d.Engine.RunErasures(ctx) }()
		// Webhooks have their own worker: a hanging receiver holds none
		// of the mail's.
		go func() { defer wg.Done(); d.Hooks.Run(ctx) }()
		// The scheduler fires timers as they fall due (engine/timers.go).
		go func() { defer wg.Done(); d.Engine.RunScheduler(ctx) }()
		wg.Wait()
	}
	if l, ok := d.DB.(leaderElector); ok {
		d.leading.Store(false)
		l.Lead(ctx, 2*time.Second, NodeName(d.Config), log, func(ctx context.Context) {
			d.leading.Store(true)
			defer d.leading.Store(false)
			work(ctx)
		})
		return
	}
	d.leading.Store(true)
	work(ctx)
}

// nodeClaimer is a store several daemons share (engine postgres): each
// runs under a node name of its own, held while it runs.
type nodeClaimer interface {
	ClaimNode(ctx context.Context, node string, wait time.Duration, log *slog.Logger) error
}

// Leading reports whether this daemon runs the one-node work now.
func (d *Daemon) Leading() bool { return d.leading.Load() }

// retain runs the retention sweep ([retention]) when this daemon starts
// leading and hourly while it leads; on a manual clock every clock move
// runs it as well, on the daemon told to move it (control).
func (d *Daemon) retain(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := d.Engine.Retain(); err != nil {
			d.log.Error("retention sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// NewAuthenticator builds the sender-authentication function from config.
func NewAuthenticator(cfg *config.Config) (engine.Authenticator, error) {
	relays, err := auth.ParsePrefixes(cfg.Auth.TrustedRelays)
	if err != nil {
		return nil, fmt.Errorf("auth.trusted_relays: %w", err)
	}
	c := auth.New(auth.Config{
		Resolver:           cfg.Auth.Resolver,
		DNSTimeout:         cfg.Auth.DNSTimeout.D(),
		TrustedAuthservIDs: cfg.Auth.TrustedAuthservIDs,
		TrustedRelays:      relays,
		CacheTTL:           cfg.Auth.DNSCache.D(),
	})
	return func(ctx context.Context, raw io.ReaderAt, size int64, m *threading.Mail, env engine.Envelope) engine.AuthVerdict {
		// An unknown client address (inject, or one that did not parse)
		// stays invalid: auth trusts no relay for it.
		o := auth.Origin{ClientIP: env.RemoteIP, TrustAuthRes: env.TrustAuthRes}
		if env.Via == "smtp" {
			o.OwnReceived = 1 // the SMTP server prepends our Received line (gateway/server.go)
		}
		r := c.Check(ctx, raw, threading.Domain(m.From.Addr), o)
		return engine.AuthVerdict{Checked: true, DMARC: r.DMARC, DKIMAligned: r.DKIMAligned, AuthResPass: r.AuthResPass, Failed: r.Failed}
	}, nil
}

// Reload swaps in a new configuration (SIGHUP). Listen addresses and the
// data directory need a restart; everything else applies at once.
func (d *Daemon) Reload(cfg *config.Config) error {
	old := d.Engine.Config()
	var restart []string
	for _, k := range []struct {
		key      string
		was, now any
	}{
		{"data_dir", old.DataDir, cfg.DataDir},
		{"testing.clock", old.Testing.Clock, cfg.Testing.Clock},
		{"smtp.listen", old.SMTP.Listen, cfg.SMTP.Listen},
		{"http.listen", old.HTTP.Listen, cfg.HTTP.Listen},
		{"smtp limits", smtpLimits(old.SMTP), smtpLimits(cfg.SMTP)},
		// STARTTLS is offered or not from the start; a certificate
		// (renewed, or at another path) is read again on every reload.
		{"smtp.tls_cert_file (STARTTLS on or off)", old.SMTP.TLSCertFile != "", cfg.SMTP.TLSCertFile != ""},
		{"outbound.dkim_*", old.Outbound.DKIMDomain + old.Outbound.DKIMSelector + old.Outbound.DKIMKeyFile,
			cfg.Outbound.DKIMDomain + cfg.Outbound.DKIMSelector + cfg.Outbound.DKIMKeyFile},
	} {
		if k.was != k.now {
			restart = append(restart, k.key)
		}
	}
	if len(restart) > 0 {
		return fmt.Errorf("reload refused: %s changed, which needs a restart; nothing was changed", strings.Join(restart, ", "))
	}
	authn, err := NewAuthenticator(cfg)
	if err != nil {
		return fmt.Errorf("reload refused: %w", err)
	}
	texts, err := mailtext.Load(cfg)
	if err != nil {
		return fmt.Errorf("reload refused: customer texts: %w", err)
	}
	var cert *tls.Certificate
	if cfg.SMTP.TLSCertFile != "" {
		if cert, err = gateway.LoadCertificate(cfg.SMTP.TLSCertFile, cfg.SMTP.TLSKeyFile); err != nil {
			return fmt.Errorf("reload refused: smtp.tls_cert_file: %w; the previous certificate stays in use", err)
		}
		d.SMTP.SetCertificate(cert)
	}
	d.Engine.SetAuthenticator(authn)
	d.Engine.SetTexts(texts)
	d.Engine.SetConfig(cfg)
	d.Engine.WakeTimers()                         // timers follow the new settings
	if err := d.Engine.ReloadKeys(); err != nil { // the token grace period
		return err
	}
	d.Config = cfg
	d.reloadRefused.Store(nil)
	if !reflect.DeepEqual(old.Outbound, cfg.Outbound) {
		// The relay settings changed, most likely to fix what the relay
		// refused: mail waiting for a retry goes now, not after its
		// backoff (up to retry_max).
		if n, err := d.Worker.RetryWaiting(); err != nil {
			d.log.Error("reload: retrying waiting mail", "err", err)
		} else if n > 0 {
			d.log.Info("outbound settings changed: waiting mail is due now", "count", n)
		}
	}
	d.log.Info("configuration reloaded", "agents", len(cfg.Agents), "mailboxes", len(cfg.Mailboxes), "kb_articles", texts.KB.Len())
	for _, w := range cfg.Warnings() {
		d.log.Warn("configuration", "key", w.Key, "problem", w.Msg, "fix", w.Fix)
	}
	return nil
}

// smtpLimits is the [smtp] table without what a reload may change:
// require_tls (read for every MAIL) and the certificate files (read again
// on every reload).
func smtpLimits(s config.SMTP) config.SMTP {
	s.TLSCertFile, s.TLSKeyFile, s.RequireTLS = "", "", false
	return s
}

// Shutdown stops accepting mail, lets sessions finish within ctx, stops
// the outbound worker after its current attempt and closes the store.
func (d *Daemon) Shutdown(ctx context.Context) error {
	var errs []error
	if d.smtpLn != nil {
		// Closed first: go-smtp closes only the listeners Serve has
		// registered, and right after Start it may not have yet (it
		// would then accept from the backlog after the store closed).
		d.smtpLn.Close()
	}
	if d.SMTP != nil {
		if err := d.SMTP.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	d.closeAll()
	return errors.Join(errs...)
}

func (d *Daemon) closeAll() {
	if d.httpSrv != nil {
		d.httpSrv.Close()
	}
	if d.ctlSrv != nil {
		d.ctlSrv.Close()
	}
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	if d.releaseNode != nil {
		d.releaseNode()
	}
	if d.DB != nil {
		if err := d.DB.Close(); err != nil {
			d.log.Error("closing store", "err", err)
		}
	}
}
