package auth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// DMARC results (RFC 7489 section 11.2 / RFC 8601 values).
const (
	DMARCPass      = "pass"
	DMARCFail      = "fail"
	DMARCNone      = "none"
	DMARCTempError = "temperror"
	DMARCPermError = "permerror"
)

const (
	defaultDNSTimeout = 5 * time.Second
	// maxSignatures bounds the DKIM signatures verified per mail (each costs
	// a DNS query and a hash of the body); the rest are ignored.
	maxSignatures = 5
	// maxHeaderBytes bounds the header block we scan; the SMTP layer limits
	// headers to 64 KiB long before this.
	maxHeaderBytes = 1 << 20
)

// Config configures a Checker. It mirrors the [auth] section of
// helpdesk.toml (resolver, dns_timeout, trusted_authserv_ids,
// trusted_relays); see ParsePrefixes for the last.
type Config struct {
	// Resolver is the DNS server (host:port; a bare host means port 53) all
	// DKIM and DMARC lookups go to. "" uses the system's resolv.conf servers.
	Resolver string
	// DNSTimeout bounds each DNS lookup; 0 means 5s.
	DNSTimeout time.Duration
	// TrustedAuthservIDs are the authserv-ids of Authentication-Results
	// headers we believe (compared case-insensitively).
	TrustedAuthservIDs []string
	// TrustedRelays are the SMTP client addresses whose Authentication-Results
	// we believe.
	TrustedRelays []netip.Prefix
	// CacheTTL keeps TXT answers (DKIM keys, DMARC records, "no such
	// name") this long; 0 disables the cache. Temporary failures are never
	// cached.
	CacheTTL time.Duration
}

// Checker verifies inbound mail. It is safe for concurrent use.
type Checker struct {
	res        *net.Resolver
	timeout    time.Duration
	authservID map[string]bool
	relays     []netip.Prefix

	cacheTTL time.Duration
	cacheMu  sync.Mutex
	cache    map[string]txtEntry
}

// txtEntry is a cached TXT answer: records, or "no such name".
type txtEntry struct {
	txts     []string
	notFound bool
	expires  time.Time
}

// maxCached bounds the TXT cache; when full it starts over.
const maxCached = 10000

// New returns a Checker for cfg.
func New(cfg Config) *Checker {
	c := &Checker{
		res:        &net.Resolver{PreferGo: true},
		timeout:    cfg.DNSTimeout,
		authservID: make(map[string]bool),
		relays:     append([]netip.Prefix(nil), cfg.TrustedRelays...),
		cacheTTL:   cfg.CacheTTL,
	}
	if c.timeout <= 0 {
		c.timeout = defaultDNSTimeout
	}
	if addr := cfg.Resolver; addr != "" {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(strings.Trim(addr, "[]"), "53")
		}
		c.res.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
	}
	for _, id := range cfg.TrustedAuthservIDs {
		if id = strings.ToLower(strings.TrimSpace(id)); id != "" {
			c.authservID[id] = true
		}
	}
	return c
}

// ParsePrefixes parses trusted_relays entries: CIDR prefixes or bare
// addresses (a bare address means just that address).
func ParsePrefixes(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted relay %q: not an address or CIDR prefix", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// DKIMSig is the outcome of one DKIM-Signature header field.
type DKIMSig struct {
	Domain     string // d=
	Selector   string // s=
	Identifier string // i= (or "@" + d= when absent)
	Pass       bool
	Temp       bool   // failed for a temporary (DNS) reason: may pass later
	Err        string // why it did not pass; "" when Pass
}

// AuthRes is what the Authentication-Results headers of the trusted relay
// said: those with a trusted authserv-id in the relay's block (see Check).
type AuthRes struct {
	Present    bool   // the mail has an Authentication-Results header
	AuthservID string // the authserv-id of the first believed header (else of the topmost one)
	// Trusted: a header with a trusted authserv-id stands in the relay's
	// block and the SMTP client is a trusted relay (or the caller vouched
	// for it with TrustAuthRes). The fields below are filled only when
	// Trusted.
	Trusted  bool
	DKIMPass bool   // dkim=pass with header.d (or header.i) aligned with the From domain
	DMARC    string // the first dmarc result for the From domain among them, "" if none
	// Ignored counts headers with a trusted authserv-id below the relay's
	// Received line: the sender wrote them.
	Ignored int
}

// Origin says how a mail reached us, for the authres check.
type Origin struct {
	// ClientIP is the SMTP client's address (zero for mail injected from
	// the command line).
	ClientIP netip.Addr
	// TrustAuthRes stands in for the trusted-relay condition when the
	// caller knows the mail came from a trusted MTA (helpdesk inject
	// --trust-authres).
	TrustAuthRes bool
	// OwnReceived is the number of Received lines we prepended ourselves
	// at the top of raw (1 for SMTP, 0 for inject): the relay's block
	// starts below them.
	OwnReceived int
}

// Result is the outcome of Check.
type Result struct {
	FromDomain string // the From domain as evaluated (lower-case, A-labels)
	DKIM       []DKIMSig
	// DKIMAligned: a DKIM signature passed whose d= is aligned with the From
	// domain, under the DMARC record's adkim mode (relaxed without a record).
	DKIMAligned bool
	// DMARC is pass, fail, none, temperror or permerror; a trusted
	// Authentication-Results dmarc verdict overrides our own.
	DMARC string
	// Policy is the p= (or sp= for a subdomain) of the DMARC record found,
	// "" without one.
	Policy      string
	AuthRes     AuthRes
	AuthResPass bool // the authres check passed
	// Failed names each failed check for the notice to staff, e.g.
	// "dmarc: no DKIM signature aligned with example.com".
	Failed []string
}

// Check authenticates the mail in raw (the whole message as received; an
// *os.File of the spool or a *bytes.Reader). The header block is read twice
// (it is small), the body once, streamed through the DKIM body hashes, and
// only when there is a signature.
//
// fromDomain is the domain of the single From address; o says how the mail
// came (see Origin). The authserv-id must be trusted in every case.
//
// Authentication-Results are believed only in the trusted relay's block
// (SPEC 5): the header fields the relay prepended, from the top (below our
// own Received lines) down to and including the relay's own topmost
// Received line. Everything below that line came from the sender, who may
// have written "Authentication-Results: <trusted id>; dmarc=pass"
// himself; a front MTA at its defaults does not always remove such a
// header (OpenDKIM adds none to unsigned mail, OpenDMARC skips local
// clients), so it is ignored here. Without a Received line of the relay no
// block can be told from the sender's headers and nothing is believed.
//
// Check never fails: problems become temperror/permerror results and
// entries in Failed. Each DNS lookup is bounded by the DNS timeout and ctx.
func (c *Checker) Check(ctx context.Context, raw io.ReaderAt, fromDomain string, o Origin) Result {
	from := normDomain(fromDomain)
	res := Result{FromDomain: from}
	lookup := c.lookupTXT(ctx)

	// The DMARC record is fetched while DKIM hashes the body.
	type dmarcOutcome struct {
		rec    *dmarc.Record
		status string // "found", or none/temperror/permerror
		detail string
	}
	dmarcCh := make(chan dmarcOutcome, 1)
	if from != "" {
		go func() {
			rec, status, detail := lookupDMARC(from, lookup)
			dmarcCh <- dmarcOutcome{rec, status, detail}
		}()
	} else {
		dmarcCh <- dmarcOutcome{status: DMARCPermError, detail: "no From domain"}
	}

	fields, herr := readHeader(io.NewSectionReader(raw, 0, math.MaxInt64))
	var sigSelectors []string
	// The relay's block: after our own Received lines, up to and including
	// the next Received line.
	var block []string // Authentication-Results values in the relay's block, topmost first
	firstAR, haveAuthRes, relayReceived := "", false, false
	ownLeft := o.OwnReceived
	ignored := 0
	for _, f := range fields {
		switch {
		case strings.EqualFold(f.name, "DKIM-Signature"):
			sigSelectors = append(sigSelectors, tagValue(f.value, "s"))
		case strings.EqualFold(f.name, "Received"):
			switch {
			case ownLeft > 0:
				ownLeft--
			case !relayReceived:
				relayReceived = true
			}
		case strings.EqualFold(f.name, "Authentication-Results"):
			if !haveAuthRes {
				firstAR, haveAuthRes = f.value, true
			}
			switch {
			case !relayReceived:
				block = append(block, f.value)
			case c.authservID[authservID(f.value)]:
				ignored++
			}
		}
	}
	if !relayReceived {
		block = nil // no block can be told from the sender's headers
	}

	dkimProblem := ""
	switch {
	case herr != nil:
		dkimProblem = "unreadable header: " + herr.Error()
	case len(sigSelectors) == 0:
		dkimProblem = "no DKIM signature"
	default:
		verifs, err := dkim.VerifyWithOptions(io.NewSectionReader(raw, 0, math.MaxInt64), &dkim.VerifyOptions{
			LookupTXT:        lookup,
			MaxVerifications: maxSignatures,
		})
		if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) && len(verifs) == 0 {
			dkimProblem = "DKIM verification failed: " + err.Error()
		}
		for i, v := range verifs {
			s := DKIMSig{Domain: strings.ToLower(v.Domain), Identifier: v.Identifier, Pass: v.Err == nil}
			if i < len(sigSelectors) {
				s.Selector = sigSelectors[i]
			}
			if v.Err != nil {
				s.Err = strings.TrimPrefix(v.Err.Error(), "dkim: ")
				s.Temp = dkim.IsTempFail(v.Err)
			}
			res.DKIM = append(res.DKIM, s)
		}
	}

	var dm dmarcOutcome
	select {
	case dm = <-dmarcCh:
	case <-ctx.Done(): // the lookup returns soon too; it is bounded by ctx
		dm = dmarcOutcome{status: DMARCTempError, detail: ctx.Err().Error()}
	}
	mode := dmarc.AlignmentMode(dmarc.AlignmentRelaxed)
	if dm.rec != nil {
		if dm.rec.DKIMAlignment == dmarc.AlignmentStrict {
			mode = dmarc.AlignmentStrict
		}
		res.Policy = string(dm.rec.Policy)
		if dm.rec.SubdomainPolicy != "" && dm.status == "found" && !strings.EqualFold(dm.detail, from) {
			res.Policy = string(dm.rec.SubdomainPolicy)
		}
	}
	alignedTemp := false
	for _, s := range res.DKIM {
		if from == "" || !aligned(s.Domain, from, mode) {
			continue
		}
		if s.Pass {
			res.DKIMAligned = true
		} else if s.Temp {
			alignedTemp = true
		}
	}
	switch dm.status {
	case "found":
		switch {
		case res.DKIMAligned:
			res.DMARC = DMARCPass
		case alignedTemp:
			// A signature that would align could not be checked: the
			// verdict is unknown, not fail (RFC 7489 section 6.6.2).
			res.DMARC = DMARCTempError
		default:
			res.DMARC = DMARCFail
		}
	default:
		res.DMARC = dm.status
	}

	// Authentication-Results.
	authresProblem := ""
	var believed []AuthRes
	untrustedID := ""
	for _, v := range block {
		ar := parseAuthRes(v, from, mode)
		if ar.AuthservID != "" && c.authservID[ar.AuthservID] {
			believed = append(believed, ar)
		} else if untrustedID == "" {
			untrustedID = ar.AuthservID
		}
	}
	switch {
	case !haveAuthRes:
		authresProblem = "no Authentication-Results header"
	case !relayReceived:
		res.AuthRes = AuthRes{Present: true, AuthservID: authservID(firstAR)}
		authresProblem = "no Received line of the relay above which its Authentication-Results would stand"
	case len(believed) == 0 && ignored > 0:
		res.AuthRes = AuthRes{Present: true, AuthservID: authservID(firstAR)}
		authresProblem = fmt.Sprintf("%d Authentication-Results header(s) with a trusted authserv-id below the relay's Received line ignored (the sender wrote them); none above it", ignored)
	case len(believed) == 0 && untrustedID != "":
		res.AuthRes = AuthRes{Present: true, AuthservID: untrustedID}
		authresProblem = fmt.Sprintf("authserv-id %q is not trusted", untrustedID)
	case len(believed) == 0:
		res.AuthRes = AuthRes{Present: true, AuthservID: authservID(firstAR)}
		authresProblem = "no Authentication-Results header above the relay's Received line"
	case !o.TrustAuthRes && !c.trustedRelay(o.ClientIP):
		res.AuthRes = AuthRes{Present: true, AuthservID: believed[0].AuthservID}
		ip := "unknown"
		if o.ClientIP.IsValid() {
			ip = o.ClientIP.Unmap().String()
		}
		authresProblem = "header from untrusted client " + ip
	default:
		ar := AuthRes{Present: true, AuthservID: believed[0].AuthservID, Trusted: true}
		for _, b := range believed {
			ar.DKIMPass = ar.DKIMPass || b.DKIMPass
			if ar.DMARC == "" {
				ar.DMARC = b.DMARC
			}
		}
		res.AuthRes = ar
		res.AuthResPass = ar.DKIMPass || ar.DMARC == DMARCPass
		if ar.DMARC != "" {
			res.DMARC = ar.DMARC
		}
		if !res.AuthResPass {
			authresProblem = fmt.Sprintf("%s reports no dkim or dmarc pass for %s", ar.AuthservID, displayDomain(from))
		}
	}
	res.AuthRes.Ignored = ignored

	if res.DMARC != DMARCPass && !res.DKIMAligned {
		res.Failed = append(res.Failed, "dmarc: "+dmarcProblem(&res, dm.detail, dkimProblem))
	}
	if !res.AuthResPass {
		res.Failed = append(res.Failed, "authres: "+authresProblem)
	}
	return res
}

// dmarcProblem says, in one line, why the dmarc check failed.
func dmarcProblem(res *Result, lookupDetail, dkimProblem string) string {
	if res.FromDomain == "" {
		return "no From domain"
	}
	if res.AuthRes.Trusted && res.AuthRes.DMARC != "" && res.AuthRes.DMARC != DMARCPass {
		return fmt.Sprintf("%s reports dmarc=%s for %s", res.AuthRes.AuthservID, res.AuthRes.DMARC, res.FromDomain)
	}
	var why []string
	if dkimProblem != "" {
		why = append(why, dkimProblem)
	}
	for _, s := range res.DKIM {
		if s.Pass {
			why = append(why, "d="+s.Domain+" passed")
		} else {
			why = append(why, "d="+s.Domain+": "+s.Err)
		}
	}
	switch res.DMARC {
	case DMARCTempError, DMARCPermError:
		if lookupDetail != "" {
			why = append(why, "DMARC record: "+lookupDetail)
		}
	}
	msg := "no DKIM signature aligned with " + res.FromDomain
	if res.DMARC == DMARCTempError {
		msg = "temporary DNS error checking " + res.FromDomain
	}
	if len(why) > 0 {
		msg += " (" + strings.Join(why, "; ") + ")"
	}
	return msg
}

// authservID is the authserv-id of an Authentication-Results value,
// lower-cased ("" when it has none).
func authservID(value string) string {
	id, _, _ := authres.Parse(cleanAuthRes(value))
	return strings.ToLower(id)
}

func (c *Checker) trustedRelay(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	for _, p := range c.relays {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// lookupTXT returns the TXT lookup handed to go-msgauth. go-msgauth tells a
// missing record (a *net.DNSError with IsNotFound) from a temporary failure
// (a net.Error with Temporary()) by type assertion, so every other failure
// (timeout, refused, SERVFAIL, cancelled) is reported as temporary here:
// it must become temperror, never "no record".
func (c *Checker) lookupTXT(ctx context.Context) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		if err := ctx.Err(); err != nil {
			return nil, &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true}
		}
		key := strings.ToLower(strings.TrimSuffix(name, "."))
		if c.cacheTTL > 0 {
			c.cacheMu.Lock()
			e, ok := c.cache[key]
			c.cacheMu.Unlock()
			if ok && time.Now().Before(e.expires) {
				if e.notFound {
					return nil, &net.DNSError{Err: "no such host (cached)", Name: name, IsNotFound: true}
				}
				return e.txts, nil
			}
		}
		lctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		// Rooted, so no resolv.conf search domain is ever appended.
		txts, err := c.res.LookupTXT(lctx, key+".")
		if err == nil {
			c.remember(key, txtEntry{txts: txts})
			return txts, nil
		}
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			c.remember(key, txtEntry{notFound: true})
			return nil, &net.DNSError{Err: de.Err, Name: name, IsNotFound: true}
		}
		timeout := errors.As(err, &de) && de.IsTimeout || errors.Is(err, context.DeadlineExceeded)
		return nil, &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true, IsTimeout: timeout}
	}
}

// remember caches a TXT answer (never a temporary failure).
func (c *Checker) remember(key string, e txtEntry) {
	if c.cacheTTL <= 0 {
		return
	}
	e.expires = time.Now().Add(c.cacheTTL)
	c.cacheMu.Lock()
	if c.cache == nil || len(c.cache) >= maxCached {
		c.cache = map[string]txtEntry{}
	}
	c.cache[key] = e
	c.cacheMu.Unlock()
}

// lookupDMARC finds the DMARC record of from, falling back to its
// organizational domain (RFC 7489 section 6.6.3). status is "found",
// DMARCNone, DMARCTempError or DMARCPermError; with "found", detail is the
// domain the record was found at, else what went wrong.
func lookupDMARC(from string, lookup func(string) ([]string, error)) (*dmarc.Record, string, string) {
	opts := &dmarc.LookupOptions{LookupTXT: lookup}
	domain := from
	rec, err := dmarc.LookupWithOptions(domain, opts)
	if errors.Is(err, dmarc.ErrNoPolicy) {
		if org := orgDomain(from); org != from {
			domain = org
			rec, err = dmarc.LookupWithOptions(domain, opts)
		}
	}
	switch {
	case err == nil:
		return rec, "found", domain
	case errors.Is(err, dmarc.ErrNoPolicy):
		return nil, DMARCNone, "no DMARC record"
	case dmarc.IsTempFail(err):
		return nil, DMARCTempError, err.Error()
	default:
		return nil, DMARCPermError, err.Error()
	}
}

// normDomain lower-cases d, drops a trailing dot and converts an IDN to
// A-labels, the form DKIM d= and DNS use.
func normDomain(d string) string {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	if d == "" {
		return ""
	}
	if a, err := idna.Lookup.ToASCII(d); err == nil {
		return a
	}
	return d
}

func displayDomain(d string) string {
	if d == "" {
		return "the From domain"
	}
	return d
}

// orgDomain returns the organizational domain of d (RFC 7489 section 3.2):
// the public suffix plus one label, from the public suffix list compiled
// into golang.org/x/net/publicsuffix (ICANN and private sections; unknown
// TLDs count as one-label suffixes). A public suffix itself is its own
// organizational domain.
func orgDomain(d string) string {
	if o, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return o
	}
	return d
}

// aligned reports DKIM identifier alignment (RFC 7489 section 3.1.1): strict
// needs d= equal to the From domain, relaxed the same organizational domain.
func aligned(d, from string, mode dmarc.AlignmentMode) bool {
	d = normDomain(d)
	if d == "" || from == "" {
		return false
	}
	if d == from {
		return true
	}
	return mode != dmarc.AlignmentStrict && orgDomain(d) == orgDomain(from)
}

type headerField struct{ name, value string }

// headerReaders are readHeader's buffers, reused (every mail is read).
var headerReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

// readHeader reads the header block of a message, unfolding continuation
// lines. It is lenient (bare LF, lines without a colon are skipped) and
// reads at most maxHeaderBytes.
func readHeader(r io.Reader) ([]headerField, error) {
	// ReadString joins buffer-sized pieces of a longer line: a small
	// buffer costs nothing for the usual header of a few KiB.
	br := headerReaders.Get().(*bufio.Reader)
	br.Reset(io.LimitReader(r, maxHeaderBytes+1))
	defer func() {
		br.Reset(nil)
		headerReaders.Put(br)
	}()
	var fields []headerField
	read := 0
	for {
		line, err := br.ReadString('\n')
		read += len(line)
		if read > maxHeaderBytes {
			return fields, errors.New("header block too large")
		}
		trimmed := strings.TrimRight(line, "\r\n")
		if trimmed == "" && (err == nil || line != "") {
			return fields, nil // end of header
		}
		if trimmed != "" {
			if (trimmed[0] == ' ' || trimmed[0] == '\t') && len(fields) > 0 {
				fields[len(fields)-1].value += " " + strings.TrimSpace(trimmed)
			} else if name, value, ok := strings.Cut(trimmed, ":"); ok {
				fields = append(fields, headerField{strings.TrimSpace(name), strings.TrimSpace(value)})
			}
		}
		if err != nil {
			if err == io.EOF {
				return fields, nil
			}
			return fields, err
		}
	}
}

// tagValue returns the value of tag in a DKIM tag list ("a=1; s=sel"),
// whitespace removed.
func tagValue(list, tag string) string {
	for _, part := range strings.Split(list, ";") {
		k, v, ok := strings.Cut(part, "=")
		if ok && strings.TrimSpace(k) == tag {
			return strings.Join(strings.Fields(v), "")
		}
	}
	return ""
}
