package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Bounds used by Validate.
const (
	maxSize    = Size(1 << 30) // no size key may exceed 1 GiB
	dayDur     = Duration(24 * time.Hour)
	minLineLen = 1000 // RFC 5321: 998 octets plus CRLF
	// tokenIssuedUnit is threading/token.IssuedUnit, the resolution of a
	// reply token's issue time (config imports nothing of the project's;
	// gateway/engine's TestStaffTokenMaxAgeFloorIsTokenUnit holds the two
	// together).
	tokenIssuedUnit = time.Hour
)

type validator struct{ probs []Problem }

func (v *validator) add(key, msg, fix string) {
	v.probs = append(v.probs, Problem{Key: key, Msg: msg, Fix: fix})
}

// MaxMailboxLocal is the longest mailbox local part: the separator and a
// reply token (at most 42 characters for tickets and users below 2^28,
// tickets of up to 16383 comments, with the token's issue time, see
// threading/token) must fit in the 64 characters a local part may have.
const MaxMailboxLocal = 21

// Validate returns every problem of a decoded config (nil when it is valid).
// Keys name the offending value as in Problem.Key; Validate does not know
// lines (Parse adds them).
func (c *Config) Validate() []Problem {
	v := &validator{}
	c.validateTop(v)
	c.validateSMTP(v)
	c.validateHTTP(v)
	c.validateOutbound(v)
	c.validateThreading(v)
	c.validateTickets(v)
	c.validateAuth(v)
	c.validatePeople(v)
	c.validateMacros(v)
	c.validateTexts(v)
	c.validateWebhooks(v)
	c.validateCalendars(v)
	c.validateOrganizations(v)
	c.validateSLAs(v)
	c.validateTesting(v)
	c.validateSurvey(v)
	c.validateReports(v)
	c.validateStore(v)
	return v.probs
}

func (c *Config) validateTop(v *validator) {
	if strings.TrimSpace(c.DataDir) == "" {
		v.add("data_dir", "missing", `set the directory for the store and outbox, e.g. data_dir = "./data"`)
	}
	if c.Hostname == "" {
		v.add("hostname", "missing", `set this machine's mail host name, e.g. hostname = "helpdesk.example.com"`)
	} else if why := checkHostname(c.Hostname); why != "" {
		v.add("hostname", fmt.Sprintf("%q is not a host name: %s", c.Hostname, why), `use a DNS name such as "helpdesk.example.com"`)
	}
}

func (c *Config) validateSMTP(v *validator) {
	s := c.SMTP
	if s.Listen == "" {
		v.add("smtp.listen", "missing", `set host:port to accept mail on, e.g. "127.0.0.1:2525"`)
	} else if why := checkListen(s.Listen); why != "" {
		v.add("smtp.listen", fmt.Sprintf("%q: %s", s.Listen, why), `use host:port, e.g. "127.0.0.1:2525" or ":25" for every interface`)
	}
	msgOK := v.size("smtp.max_message_bytes", s.MaxMessageBytes, 10<<10, "25MiB")
	if v.size("smtp.max_header_bytes", s.MaxHeaderBytes, 1<<10, "64KiB") && msgOK && s.MaxHeaderBytes > s.MaxMessageBytes {
		v.add("smtp.max_header_bytes", fmt.Sprintf("%s is larger than smtp.max_message_bytes (%s)", s.MaxHeaderBytes, s.MaxMessageBytes), "make it at most max_message_bytes; 64KiB is usual")
	}
	v.size("smtp.spool_threshold", s.SpoolThreshold, 1, "256KiB")
	v.size("smtp.parse_budget", s.ParseBudget, 64<<10, "16MiB")
	v.count("smtp.max_recipients", s.MaxRecipients, 1, 100000, "100 (RFC 5321 minimum)")
	switch {
	case s.MaxLineLength < minLineLen:
		v.add("smtp.max_line_length", fmt.Sprintf("%d is below the 1000 bytes every SMTP server must accept (RFC 5321)", s.MaxLineLength), "use at least 1000; 10240 tolerates broken clients")
	case s.MaxLineLength > 1<<20:
		v.add("smtp.max_line_length", fmt.Sprintf("%d is more than 1MiB", s.MaxLineLength), "use a value between 1000 and 1048576; 10240 is usual")
	case msgOK && Size(s.MaxLineLength) > s.MaxMessageBytes:
		v.add("smtp.max_line_length", fmt.Sprintf("%d is larger than smtp.max_message_bytes", s.MaxLineLength), "make it smaller than max_message_bytes; 10240 is usual")
	}
	v.dur("smtp.read_timeout", s.ReadTimeout, dayDur, "5m")
	v.dur("smtp.data_timeout", s.DataTimeout, dayDur, "10m")
	v.dur("smtp.write_timeout", s.WriteTimeout, dayDur, "5m")
	v.dur("smtp.shutdown_timeout", s.ShutdownTimeout, Duration(time.Hour), "30s")
	c.validateSMTPTLS(v)
	connOK := v.count("smtp.max_connections", s.MaxConnections, 1, 1000000, "500")
	if v.count("smtp.max_connections_per_ip", s.MaxConnectionsPerIP, 1, 1000000, "50") && connOK && s.MaxConnectionsPerIP > s.MaxConnections {
		v.add("smtp.max_connections_per_ip", fmt.Sprintf("%d is more than smtp.max_connections (%d)", s.MaxConnectionsPerIP, s.MaxConnections), "make it at most max_connections; 50 is usual")
	}
}

func (c *Config) validateSMTPTLS(v *validator) {
	s := c.SMTP
	switch {
	case s.TLSCertFile != "" && s.TLSKeyFile == "":
		v.add("smtp.tls_key_file", "missing while smtp.tls_cert_file is set", `set the certificate's private key, e.g. tls_key_file = "/etc/helpdesk/tls/key.pem", or remove tls_cert_file to offer no STARTTLS`)
	case s.TLSKeyFile != "" && s.TLSCertFile == "":
		v.add("smtp.tls_cert_file", "missing while smtp.tls_key_file is set", `set the certificate (chain) file, e.g. tls_cert_file = "/etc/helpdesk/tls/fullchain.pem", or remove tls_key_file`)
	case s.TLSCertFile != "":
		if err := checkKeyPair(s.TLSCertFile, s.TLSKeyFile); err != nil {
			key := "smtp.tls_cert_file"
			if err.key {
				key = "smtp.tls_key_file"
			}
			v.add(key, err.msg, "point tls_cert_file at a readable PEM certificate (its chain after it) and tls_key_file at its unencrypted PEM private key, e.g. Let's Encrypt's fullchain.pem and privkey.pem")
		}
	}
	if s.RequireTLS && s.TLSCertFile == "" {
		v.add("smtp.require_tls", "true but no certificate is configured, so no client could ever send mail", "set tls_cert_file and tls_key_file, or require_tls = false")
	}
}

func (c *Config) validateHTTP(v *validator) {
	v.dur("http.health_queue_age", c.HTTP.HealthQueueAge, 30*dayDur, "1h")
	// Free space is a file system's size, not a message's: up to 1 PiB.
	if m := c.HTTP.HealthMinFree; m < 0 || m > 1<<50 {
		v.add("http.health_min_free", fmt.Sprintf("%d bytes is out of range", int64(m)), `use a size such as "1GiB", or "0" to not check free space`)
	}
	l := c.HTTP.Listen
	if l == "" {
		return
	}
	if why := checkListen(l); why != "" {
		v.add("http.listen", fmt.Sprintf("%q: %s", l, why), `use a loopback host:port such as "127.0.0.1:2526", or "" to disable it`)
		return
	}
	host, _, _ := net.SplitHostPort(l)
	if !isLoopback(host) {
		v.add("http.listen", fmt.Sprintf("%q is not a loopback address: metrics must not be reachable from the network", l), `use "127.0.0.1:<port>" or "[::1]:<port>", and let a reverse proxy publish it if needed`)
	}
	if _, port, _ := net.SplitHostPort(l); l == c.SMTP.Listen && port != "0" {
		v.add("http.listen", "is the same address as smtp.listen", `use another port, e.g. "127.0.0.1:2526"`)
	}
}

func (c *Config) validateOutbound(v *validator) {
	o := c.Outbound
	if o.Relay != "" {
		if why := checkHostPort(o.Relay, false); why != "" {
			v.add("outbound.relay", fmt.Sprintf("%q: %s", o.Relay, why), `use the smarthost as host:port, e.g. "smtp.example.com:587", or "" to write .eml files to <data_dir>/outbox/`)
		}
	}
	switch {
	case o.Username != "" && o.Password == "":
		v.add("outbound.password", "missing while outbound.username is set", "set the relay password, or remove username to send without AUTH")
	case o.Password != "" && o.Username == "":
		v.add("outbound.username", "missing while outbound.password is set", "set the relay user name, or remove password")
	}
	if o.Username != "" && o.Relay == "" {
		v.add("outbound.username", "set but outbound.relay is empty, so it would never be used", `set relay = "host:port", or remove username and password`)
	}
	switch o.StartTLS {
	case "opportunistic", "required", "none":
	default:
		v.add("outbound.starttls", fmt.Sprintf("%q is not a STARTTLS mode", o.StartTLS), `use one of opportunistic, required, none`)
	}
	if o.StartTLS == "none" && o.Username != "" && o.Relay != "" {
		if host, _, err := net.SplitHostPort(o.Relay); err == nil && !isLoopback(host) {
			v.add("outbound.starttls", `"none" would send the relay password unencrypted over the network`, `use "required" (or "opportunistic")`)
		}
	}
	initOK := v.dur("outbound.retry_initial", o.RetryInitial, dayDur, "1m")
	maxOK := v.dur("outbound.retry_max", o.RetryMax, 7*dayDur, "1h")
	giveOK := v.dur("outbound.give_up_after", o.GiveUpAfter, 60*dayDur, "120h")
	if initOK && maxOK && o.RetryMax < o.RetryInitial {
		v.add("outbound.retry_max", fmt.Sprintf("%s is shorter than outbound.retry_initial (%s)", o.RetryMax, o.RetryInitial), "make retry_max at least retry_initial")
	}
	if initOK && giveOK && o.GiveUpAfter < o.RetryInitial {
		v.add("outbound.give_up_after", fmt.Sprintf("%s is shorter than outbound.retry_initial (%s)", o.GiveUpAfter, o.RetryInitial), "make give_up_after longer than retry_initial; 120h is usual")
	}
	if o.TLSCAFile != "" {
		if err := checkCAFile(o.TLSCAFile); err != nil {
			v.add("outbound.tls_ca_file", err.Error(), "point it at a readable PEM file of the CA certificate(s) that signed the relay's certificate")
		} else if o.StartTLS == "none" {
			v.add("outbound.tls_ca_file", `set but outbound.starttls = "none", so it would never be used`, `use starttls = "required" with a relay that has a certificate of this CA, or remove tls_ca_file`)
		}
	}
	v.dur("outbound.command_timeout", o.CommandTimeout, Duration(10*time.Minute), "30s")
	v.size("outbound.max_attachment_bytes", o.MaxAttachmentBytes, 1, "10MiB")
	switch f := o.FromNameFormat; {
	case strings.TrimSpace(f) == "":
		v.add("outbound.from_name_format", "missing", `set the From display name, e.g. "{agent} ({mailbox})" or "{mailbox}"`)
	case strings.ContainsAny(f, "\r\n"):
		v.add("outbound.from_name_format", "contains a line break", "write it on one line")
	default:
		if bad := unknownPlaceholders(f); len(bad) > 0 {
			v.add("outbound.from_name_format", "unknown placeholder "+strings.Join(bad, ", "), "use only {agent} and {mailbox}")
		}
	}
	c.validateDKIM(v)
}

func (c *Config) validateDKIM(v *validator) {
	o := c.Outbound
	set := map[string]string{"dkim_domain": o.DKIMDomain, "dkim_selector": o.DKIMSelector, "dkim_private_key_file": o.DKIMKeyFile}
	n := 0
	for _, val := range set {
		if val != "" {
			n++
		}
	}
	if n == 0 {
		return
	}
	if n < 3 {
		for _, k := range []string{"dkim_domain", "dkim_selector", "dkim_private_key_file"} {
			if set[k] == "" {
				v.add("outbound."+k, "missing while other dkim_ keys are set", "set all of dkim_domain, dkim_selector and dkim_private_key_file, or none to send unsigned")
			}
		}
	}
	if o.DKIMDomain != "" {
		if why := checkHostname(o.DKIMDomain); why != "" {
			v.add("outbound.dkim_domain", fmt.Sprintf("%q is not a domain: %s", o.DKIMDomain, why), `use the domain of your mailboxes, e.g. "example.com"`)
		}
	}
	if o.DKIMSelector != "" {
		if why := checkHostname(o.DKIMSelector); why != "" {
			v.add("outbound.dkim_selector", fmt.Sprintf("%q is not a DNS label: %s", o.DKIMSelector, why), `use the selector of the published key, e.g. "helpdesk" for helpdesk._domainkey.<domain>`)
		}
	}
	if o.DKIMKeyFile != "" {
		if _, err := LoadDKIMKey(o.DKIMKeyFile); err != nil {
			v.add("outbound.dkim_private_key_file", fmt.Sprintf("%q: %v", o.DKIMKeyFile, err), "point it at a readable PEM RSA (≥1024 bits) or Ed25519 private key, e.g. made with: openssl genpkey -algorithm ed25519")
		}
	}
}

func (c *Config) validateThreading(v *validator) {
	t := c.Threading
	switch {
	case strings.TrimSpace(t.TagPrefix) == "":
		v.add("threading.tag_prefix", "missing", `set the text before the number in subject tags, e.g. "#" for [#123]`)
	case strings.ContainsAny(t.TagPrefix, "[]\r\n\t"):
		v.add("threading.tag_prefix", fmt.Sprintf("%q contains brackets or control characters", t.TagPrefix), `write only what goes inside the brackets, e.g. "Certs #" for [Certs #123]`)
	case len(t.TagPrefix) > 40:
		v.add("threading.tag_prefix", "longer than 40 bytes", `use a short prefix such as "#"`)
	case t.TagPrefix[len(t.TagPrefix)-1] >= '0' && t.TagPrefix[len(t.TagPrefix)-1] <= '9':
		v.add("threading.tag_prefix", fmt.Sprintf("%q ends with a digit, which would run into the ticket number", t.TagPrefix), `end it with "#" or a space, e.g. "T2 #"`)
	}
	if t.TokenSeparator != "+" && t.TokenSeparator != "-" {
		v.add("threading.token_separator", fmt.Sprintf("%q is not a separator", t.TokenSeparator), `use "+" or "-"`)
	}
	v.dur("threading.secret_grace_period", t.SecretGracePeriod, 3650*dayDur, "720h")
	for i, a := range t.Acknowledgements {
		if strings.TrimSpace(a) == "" {
			v.add(fmt.Sprintf("threading.acknowledgements[%d]", i), "empty", "remove it")
		}
	}
	switch m := t.ReplyMarker; {
	case strings.TrimSpace(m) == "":
		v.add("threading.reply_marker", "missing", `set the line that starts staff notifications, e.g. "##- Reply above this line -##"`)
	case strings.ContainsAny(m, "\r\n"):
		v.add("threading.reply_marker", "contains a line break", "write it on one line")
	case len(m) > 1 && m[0] == '#' && unicode.IsLetter(rune(m[1])):
		v.add("threading.reply_marker", fmt.Sprintf("%q would be read as a command line", m), `do not start it with "#" and a letter, e.g. "##- Reply above this line -##"`)
	case m[0] == '>':
		v.add("threading.reply_marker", fmt.Sprintf("%q would be taken for quoted text", m), `do not start it with ">"`)
	}
	if t.MaxReceived < 10 || t.MaxReceived > 1000 {
		v.add("threading.max_received", fmt.Sprintf("%d is out of range: legitimate mail often has 10 or more Received headers", t.MaxReceived), "use a value between 10 and 1000; 50 is usual")
	}
	v.count("threading.fanout_limit_per_hour", t.FanoutLimitPerHour, 1, 100000, "10")
}

func (c *Config) validateTickets(v *validator) {
	v.dur("tickets.auto_close_after", c.Tickets.AutoCloseAfter, 3650*dayDur, "120h")
	v.count("tickets.ack_per_sender_per_hour", c.Tickets.AckPerSenderPerHour, 1, 1000, "5")
	v.count("tickets.ack_per_ip_per_hour", c.Tickets.AckPerIPPerHour, 1, 100000, "20")
	v.count("tickets.ack_per_hour", c.Tickets.AckPerHour, 1, 1000000, "200")
	switch c.Commands.Confirm {
	case "errors", "always":
	default:
		v.add("commands.confirm", fmt.Sprintf("%q is not a confirm mode", c.Commands.Confirm), "use one of errors, always")
	}
	// Below 4 words ordinary phrases ("thank you for your") would hold
	// replies; above 100 the guard would let whole paragraphs through.
	v.count("commands.leak_guard_words", c.Commands.LeakGuardWords, 4, 100, "8")
}

func (c *Config) validateAuth(v *validator) {
	a := c.Auth
	if len(a.Staff) == 0 {
		v.add("auth.staff", "empty: no staff mail could ever be authenticated", `use one or more of dmarc, authres, token, e.g. ["dmarc", "authres"]`)
	}
	seen := map[string]bool{}
	for i, s := range a.Staff {
		k := fmt.Sprintf("auth.staff[%d]", i)
		switch s {
		case "dmarc", "authres", "token":
			if seen[s] {
				v.add(k, fmt.Sprintf("%q is listed twice", s), "remove the duplicate")
			}
			seen[s] = true
		default:
			v.add(k, fmt.Sprintf("%q is not a check", s), "use one of dmarc, authres, token")
		}
	}
	if a.Resolver != "" {
		if why := checkHostPort(a.Resolver, false); why != "" {
			v.add("auth.resolver", fmt.Sprintf("%q: %s", a.Resolver, why), `use a DNS server as host:port, e.g. "127.0.0.53:53", or "" for the system resolver`)
		}
	}
	v.dur("auth.dns_timeout", a.DNSTimeout, Duration(time.Minute), "5s")
	v.dur("auth.notice_interval", a.NoticeInterval, 30*dayDur, "1h")
	// The issue time in a token is in whole hours (tokenIssuedUnit): a
	// shorter lifetime could not be told apart.
	if m := a.StaffTokenMaxAge; m != 0 && (m.D() < tokenIssuedUnit || m > 3650*dayDur) {
		v.add("auth.staff_token_max_age", fmt.Sprintf("%s is out of range (a token's issue time is kept in whole hours)", m), `use "0s" (no limit) or "1h" up to "87600h", e.g. "720h" (30 days)`)
	}
	if a.DNSCache < 0 || a.DNSCache.D() > 24*time.Hour {
		v.add("auth.dns_cache", fmt.Sprintf("%s is out of range", a.DNSCache), `use "0s" (off) up to "24h", e.g. "5m"`)
	}
	for i, id := range a.TrustedAuthservIDs {
		if strings.TrimSpace(id) == "" || strings.ContainsAny(id, " \t;\r\n") {
			v.add(fmt.Sprintf("auth.trusted_authserv_ids[%d]", i), fmt.Sprintf("%q is not an authserv-id", id), `use the host name your MTA writes in Authentication-Results, e.g. "mx.example.com"`)
		}
	}
	for i, r := range a.TrustedRelays {
		k := fmt.Sprintf("auth.trusted_relays[%d]", i)
		p, err := netip.ParsePrefix(r)
		if err != nil {
			if _, err := netip.ParseAddr(r); err == nil {
				continue // one address
			}
			v.add(k, fmt.Sprintf("%q is neither an IP address nor a CIDR", r), `use e.g. "127.0.0.1", "10.0.0.0/8" or "::1/128"`)
			continue
		}
		if shortest := minRelayBits(p.Addr()); p.Bits() < shortest {
			v.add(k, fmt.Sprintf("%q is too broad (shorter than /%d): any client in it could forge Authentication-Results", r, shortest),
				`list only your upstream MTAs, e.g. "10.1.2.3", "10.1.2.0/24" or "2001:db8::25/128"`)
		}
	}
}

// minRelayBits is the shortest trusted_relays prefix accepted: /8 for IPv4,
// /16 for IPv6. Anything broader (such as 0.0.0.0/0 or ::/0) would believe
// Authentication-Results from a good part of the internet.
func minRelayBits(a netip.Addr) int {
	if a.Is4() {
		return 8
	}
	return 16
}

// validatePeople checks mailboxes, groups and agents, and their references.
func (c *Config) validatePeople(v *validator) {
	idx := *c // a copy with a fresh index: lookups below stay O(1)
	idx.idx = newIndex(c)
	groups := map[string]string{} // lower name → key
	var groupNames []string
	for i, g := range c.Groups {
		k := fmt.Sprintf("group[%d].name", i)
		switch {
		case strings.TrimSpace(g.Name) == "":
			v.add(k, "missing", `name the group, e.g. name = "support"`)
			continue
		case g.Name != strings.TrimSpace(g.Name) || strings.ContainsAny(g.Name, "\r\n\t,"):
			v.add(k, fmt.Sprintf("%q has surrounding spaces, tabs, commas or line breaks", g.Name), "write a plain name such as \"support\"")
		}
		if prev, dup := groups[lower(g.Name)]; dup {
			v.add(k, fmt.Sprintf("%q is already declared as %s", g.Name, prev), "remove one of the two [[group]] entries or rename one")
			continue
		}
		groups[lower(g.Name)] = k
		groupNames = append(groupNames, g.Name)
	}
	groupRef := func(key, name string) {
		if strings.TrimSpace(name) == "" {
			v.add(key, "empty group name", "remove it or name a declared [[group]]")
			return
		}
		if _, ok := groups[lower(name)]; ok {
			return
		}
		fix := fmt.Sprintf("declare [[group]] name = %q", name)
		if len(groupNames) > 0 {
			fix += " or use one of: " + strings.Join(groupNames, ", ")
			if s := closest(name, groupNames); s != "" {
				fix = fmt.Sprintf("did you mean %q? Otherwise ", s) + fix
			}
		}
		v.add(key, fmt.Sprintf("no [[group]] is named %q", name), fix)
	}

	// Addresses in use: lower address → key of its first declaration.
	mailboxes := map[string]string{}
	if len(c.Mailboxes) == 0 {
		v.add("mailbox", "no [[mailbox]] is configured, so no mail would be accepted", `add [[mailbox]] with address = "support@example.com"`)
	}
	for i, m := range c.Mailboxes {
		k := fmt.Sprintf("mailbox[%d]", i)
		if m.Address == "" {
			v.add(k+".address", "missing", `set the support address, e.g. address = "support@example.com"`)
		} else if why := checkEmail(m.Address); why != "" {
			v.add(k+".address", fmt.Sprintf("%q is not an email address: %s", m.Address, why), `write a bare address such as "support@example.com"`)
		} else if local := m.Address[:strings.LastIndexByte(m.Address, '@')]; len(local) > MaxMailboxLocal {
			v.add(k+".address", fmt.Sprintf("the local part %q is %d characters: with a reply token (up to %d more) it would exceed the 64 allowed (RFC 5321 section 4.5.3.1.1)", local, len(local), 64-MaxMailboxLocal),
				fmt.Sprintf("use a local part of at most %d characters, e.g. \"support\"", MaxMailboxLocal))
		} else if prev, dup := mailboxes[lower(m.Address)]; dup {
			v.add(k+".address", fmt.Sprintf("%q is already %s", m.Address, prev), "remove one of the two [[mailbox]] entries")
		} else {
			mailboxes[lower(m.Address)] = k + ".address"
		}
		if strings.ContainsAny(m.Name, "\r\n") {
			v.add(k+".name", "contains a line break", "write it on one line")
		}
		if m.Group != "" {
			groupRef(k+".group", m.Group)
		}
		if m.Language != "" && !ValidLang(m.Language) {
			v.add(k+".language", fmt.Sprintf("%q is not a language tag", m.Language), `write a lowercase language code such as "en" or "ko"`)
		}
	}
	// A mailbox that is a sub-address of another is ambiguous.
	for i, m := range c.Mailboxes {
		if other, tag := idx.subAddressOf(lower(m.Address)); other != nil {
			at := strings.LastIndexByte(m.Address, '@')
			sep := m.Address[at-len(tag)-1 : at-len(tag)]
			v.add(fmt.Sprintf("mailbox[%d].address", i), fmt.Sprintf("%q is a sub-address of mailbox %q (separator %s)", m.Address, other.Address, sep), `rename it, or when the separator is "-" use token_separator = "+"`)
		}
	}
	ownAddress := func(addr string) string {
		if k, ok := mailboxes[lower(addr)]; ok {
			return k
		}
		if m, tag := idx.MailboxTag(addr); m != nil && tag != "" {
			return "a sub-address of mailbox " + strconv.Quote(m.Address)
		}
		return ""
	}

	staff := map[string]string{} // lower email or alias → key
	names := map[string]string{}
	for i, a := range c.Agents {
		k := fmt.Sprintf("agent[%d]", i)
		if a.Email == "" {
			v.add(k+".email", "missing", `set the staff member's address, e.g. email = "victoria@example.com"`)
		} else if why := checkEmail(a.Email); why != "" {
			v.add(k+".email", fmt.Sprintf("%q is not an email address: %s", a.Email, why), `write a bare address such as "victoria@example.com"`)
		} else if own := ownAddress(a.Email); own != "" {
			v.add(k+".email", fmt.Sprintf("%q is a mailbox address (%s)", a.Email, own), "use the staff member's own address, not a support address")
		} else if prev, dup := staff[lower(a.Email)]; dup {
			v.add(k+".email", fmt.Sprintf("%q is already %s", a.Email, prev), "remove one of the two [[agent]] entries, or correct the address")
		} else {
			staff[lower(a.Email)] = k + ".email"
		}
		switch {
		case strings.ContainsAny(a.Name, "\r\n"):
			v.add(k+".name", "contains a line break", "write it on one line")
		case a.Name != "":
			n := strings.Join(strings.Fields(lower(a.Name)), " ")
			if prev, dup := names[n]; dup {
				v.add(k+".name", fmt.Sprintf("%q is already the name of %s, so #assign by name would be ambiguous", a.Name, prev), "make the names distinct, e.g. add a last name")
			} else {
				names[n] = k
			}
		}
		switch a.Role {
		case RoleAgent, RoleLight, RoleAdmin:
		case "":
			v.add(k+".role", "missing", "use one of agent, light, admin")
		default:
			fix := "use one of agent, light, admin"
			if r := lower(a.Role); r == RoleAgent || r == RoleLight || r == RoleAdmin {
				fix = "write it in lower case: " + r
			}
			v.add(k+".role", fmt.Sprintf("%q is not a role", a.Role), fix)
		}
		seenG := map[string]bool{}
		for j, g := range a.Groups {
			gk := fmt.Sprintf("%s.groups[%d]", k, j)
			if seenG[lower(g)] {
				v.add(gk, fmt.Sprintf("%q is listed twice", g), "remove the duplicate")
				continue
			}
			seenG[lower(g)] = true
			groupRef(gk, g)
		}
	}
	// Aliases after every email is known, so an alias that is another
	// agent's (later) email is found too.
	for i, a := range c.Agents {
		for j, al := range a.Aliases {
			ak := fmt.Sprintf("agent[%d].aliases[%d]", i, j)
			if why := checkEmail(al); why != "" {
				v.add(ak, fmt.Sprintf("%q is not an email address: %s", al, why), "write another address of this staff member, e.g. \"vic@example.org\"")
				continue
			}
			if own := ownAddress(al); own != "" {
				v.add(ak, fmt.Sprintf("%q is a mailbox address (%s)", al, own), "remove it: a support address cannot be a staff alias")
				continue
			}
			if lower(al) == lower(a.Email) {
				v.add(ak, "is this agent's own email", "remove it")
				continue
			}
			if prev, dup := staff[lower(al)]; dup {
				v.add(ak, fmt.Sprintf("%q is already %s", al, prev), "remove it, or correct the address: each address belongs to one staff member")
				continue
			}
			staff[lower(al)] = ak
		}
	}
}

func (c *Config) validateMacros(v *validator) {
	seen := map[string]string{}
	for i, m := range c.Macros {
		k := fmt.Sprintf("macro[%d]", i)
		switch {
		case strings.TrimSpace(m.Name) == "":
			v.add(k+".name", "missing", `name the macro as used in "#macro <name>", e.g. name = "refund"`)
		case strings.IndexFunc(m.Name, unicode.IsSpace) >= 0 || strings.HasPrefix(m.Name, "#"):
			v.add(k+".name", fmt.Sprintf("%q contains spaces or starts with #", m.Name), `use one word such as "refund" or "need-info"`)
		default:
			if prev, dup := seen[lower(m.Name)]; dup {
				v.add(k+".name", fmt.Sprintf("%q is already %s", m.Name, prev), "rename one of the two macros")
			} else {
				seen[lower(m.Name)] = k + ".name"
			}
		}
		if len(m.Commands) == 0 && strings.TrimSpace(m.Text) == "" {
			v.add(k, "has neither commands nor text", `add commands = ["#status pending"] and/or text = "..."`)
		}
		for j, cmd := range m.Commands {
			ck := fmt.Sprintf("%s.commands[%d]", k, j)
			cmd = strings.TrimRight(cmd, " \t")
			switch {
			case strings.ContainsAny(cmd, "\r\n"):
				v.add(ck, "contains a line break", "put each command in its own list entry")
			case len(cmd) < 2 || cmd[0] != '#' || !unicode.IsLetter(rune(cmd[1])):
				v.add(ck, fmt.Sprintf("%q is not a command", cmd), `start it with "#" and the command name, e.g. "#status pending"`)
			case strings.EqualFold(strings.Fields(cmd)[0], "#macro"):
				v.add(ck, "a macro cannot apply another macro", "list that macro's commands here instead")
			}
		}
	}
}

// size checks a positive size of at most maxSize; below min, a plain
// number is probably missing its unit.
func (v *validator) size(key string, s, minimum Size, usual string) bool {
	n := len(v.probs)
	switch {
	case s <= 0:
		v.add(key, fmt.Sprintf("%d is not positive", int64(s)), fmt.Sprintf("use a size such as %q", usual))
	case s < minimum:
		v.add(key, fmt.Sprintf("%d bytes is too small (a unit missing?)", int64(s)), fmt.Sprintf("use a size with a unit, e.g. %q", usual))
	case s > maxSize:
		v.add(key, fmt.Sprintf("%s is more than 1GiB", s), fmt.Sprintf("use a size such as %q", usual))
	}
	return len(v.probs) == n
}

func (v *validator) dur(key string, d, maximum Duration, usual string) bool {
	n := len(v.probs)
	switch {
	case d <= 0:
		v.add(key, fmt.Sprintf("%s is not positive", d), fmt.Sprintf("use a duration such as %q", usual))
	case d > maximum:
		v.add(key, fmt.Sprintf("%s is more than %s", d, maximum), fmt.Sprintf("use a duration such as %q", usual))
	}
	return len(v.probs) == n
}

func (v *validator) count(key string, n, minimum, maximum int, usual string) bool {
	if n < minimum || n > maximum {
		v.add(key, fmt.Sprintf("%d is out of range %d..%d", n, minimum, maximum), "use e.g. "+usual)
		return false
	}
	return true
}

// checkListen checks host:port for a listener: empty host means every
// interface, port 0 a free port.
func checkListen(s string) string { return checkHostPort(s, true) }

func checkHostPort(s string, listen bool) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "not host:port (" + strings.TrimPrefix(err.Error(), "address "+s+": ") + ")"
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 || (p == 0 && !listen) {
		return fmt.Sprintf("port %q is not a number between 1 and 65535", port)
	}
	if host == "" {
		if listen {
			return ""
		}
		return "the host is missing"
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	if why := checkHostname(host); why != "" {
		return fmt.Sprintf("host %q is neither an IP address nor a host name", host)
	}
	return ""
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// fullyQualified: h (lower case, no final dot) has a dot and is not a
// local-only name (localhost, *.localhost, *.localdomain).
func fullyQualified(h string) bool {
	switch {
	case !strings.Contains(h, "."), h == "localhost", strings.HasSuffix(h, ".localhost"),
		h == "localdomain", strings.HasSuffix(h, ".localdomain"):
		return false
	}
	return true
}

// checkHostname returns why s is not a DNS name, or "".
func checkHostname(s string) string {
	if len(s) > 253 {
		return "longer than 253 characters"
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" {
			return "empty label"
		}
		if len(l) > 63 {
			return "a label is longer than 63 characters"
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return "a label starts or ends with '-'"
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Sprintf("%q is not allowed", r)
			}
		}
	}
	return ""
}

// checkEmail returns why s is not a bare addr-spec, or "".
func checkEmail(s string) string {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return strings.TrimPrefix(err.Error(), "mail: ")
	}
	if a.Name != "" || a.Address != s {
		return "write the bare address, without a name, quotes or angle brackets"
	}
	at := strings.LastIndexByte(s, '@')
	if why := checkHostname(s[at+1:]); why != "" {
		return "domain: " + why
	}
	return ""
}

func unknownPlaceholders(f string) []string {
	var bad []string
	for rest := f; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return bad
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return append(bad, rest[i:])
		}
		if p := rest[i : i+j+1]; p != "{agent}" && p != "{mailbox}" {
			bad = append(bad, p)
		}
		rest = rest[i+j+1:]
	}
}

// Warnings lists settings that are valid but probably not what the
// operator wants (check-config prints them, the daemon logs them at
// start). Keys are as in Problem.Key.
func (c *Config) Warnings() []Problem {
	w := c.warnings()
	ln := &decoder{lines: c.lines}
	for i := range w {
		w[i].Line = ln.lineOf(w[i].Key)
	}
	return w
}

func (c *Config) warnings() []Problem {
	var w []Problem
	if h := strings.ToLower(strings.TrimSuffix(c.Hostname, ".")); h != "" && !fullyQualified(h) {
		w = append(w, Problem{Key: "hostname",
			Msg: fmt.Sprintf("%q is not a fully qualified domain name: every Message-ID we send ends in @%s, which other systems may take for their own, and our greeting names a host nobody can look up", c.Hostname, h),
			Fix: `set hostname to this machine's public mail name, e.g. hostname = "helpdesk.example.com"`})
	}
	for i, s := range c.Auth.Staff {
		if s == "token" {
			// Not a misconfiguration, but the operator must know what it
			// trusts: a reply token is a bearer credential.
			life := "with no time limit (staff_token_max_age = \"0s\")"
			fix := `set auth.staff_token_max_age, e.g. "720h", or drop "token" if staff mail passes dmarc or authres`
			if m := c.Auth.StaffTokenMaxAge; m > 0 {
				life = "within auth.staff_token_max_age (" + m.String() + ") of its sending"
				fix = `nothing to fix if that is intended; drop "token" if staff mail passes dmarc or authres`
			}
			w = append(w, Problem{Key: fmt.Sprintf("auth.staff[%d]", i),
				Msg: `"token" trusts possession of a notification mail sent to that staff member: whoever has the mail (a forwarded copy, a read mailbox) can reply as them, ` + life,
				Fix: fix})
		}
		if s == "authres" && len(c.Auth.TrustedAuthservIDs) == 0 {
			w = append(w, Problem{Key: fmt.Sprintf("auth.staff[%d]", i),
				Msg: `"authres" never passes while auth.trusted_authserv_ids is empty (staff mail is authenticated by the other checks only)`,
				Fix: `set trusted_authserv_ids to the authserv-id your MTA writes in Authentication-Results, e.g. ["mx.example.com"]`})
		}
	}
	if f := c.SMTP.TLSCertFile; f != "" {
		if exp := CertificateExpiry(f); !exp.IsZero() && time.Until(exp) < 14*24*time.Hour {
			msg := fmt.Sprintf("the certificate in %s expires on %s", f, exp.UTC().Format(time.DateOnly))
			if time.Now().After(exp) {
				msg = fmt.Sprintf("the certificate in %s expired on %s: clients that check it refuse STARTTLS", f, exp.UTC().Format(time.DateOnly))
			}
			w = append(w, Problem{Key: "smtp.tls_cert_file", Msg: msg,
				Fix: "renew it (e.g. certbot renew), then send the daemon SIGHUP (systemctl reload helpdesk)"})
		}
	}
	w = append(w, c.holidayWarnings(time.Now())...)

	for i, g := range c.Groups {
		if c.groupAgentCount(g.Name) == 0 {
			w = append(w, Problem{Key: fmt.Sprintf("group[%d]", i),
				Msg: fmt.Sprintf("group %q has no agent: every agent is told of the tickets that wait in it", g.Name),
				Fix: fmt.Sprintf(`add groups = [%q] to the [[agent]] entries of the team that works it`, g.Name)})
		}
	}
	for i, mb := range c.Mailboxes {
		key := fmt.Sprintf("mailbox[%d]", i)
		if mb.Group == "" {
			w = append(w, Problem{Key: key + ".group",
				Msg: fmt.Sprintf("mailbox %s has no group: its tickets belong to no team, so every agent is told of each of them", mb.Address),
				Fix: `set group = "<name of a [[group]]>" on the mailbox`})
			continue
		}
		if c.groupAgentCount(mb.Group) == 0 && c.Group(mb.Group) == nil {
			w = append(w, Problem{Key: key + ".group",
				Msg: fmt.Sprintf("group %q of mailbox %s has no agent: every agent is told of its tickets instead", mb.Group, mb.Address),
				Fix: fmt.Sprintf(`add groups = [%q] to the [[agent]] entries of the team that answers %s`, mb.Group, mb.Address)})
		}
	}
	return w
}

// groupAgentCount is how many agents and admins (not light agents) are in
// the group.
func (c *Config) groupAgentCount(group string) int {
	n := 0
	for _, ag := range c.Agents {
		if (ag.Role == RoleAgent || ag.Role == RoleAdmin) && slices.ContainsFunc(ag.Groups, func(g string) bool { return strings.EqualFold(g, group) }) {
			n++
		}
	}
	return n
}

// ValidLang accepts a lowercase language code of 2-3 letters with an
// optional region ("en", "ko", "pt-br"): it names a template folder, and
// #customer lang sets one.
func ValidLang(s string) bool {
	base, region, has := strings.Cut(s, "-")
	letters := func(x string, lo, hi int) bool {
		return len(x) >= lo && len(x) <= hi && strings.Trim(x, "abcdefghijklmnopqrstuvwxyz") == ""
	}
	return letters(base, 2, 3) && (!has || letters(region, 2, 4))
}

// validateTexts checks [knowledge_base] and [templates]. The templates
// themselves are parsed and tried by check-config and at start
// (gateway/mailtext): config reads no template language.
func (c *Config) validateTexts(v *validator) {
	if d := c.KnowledgeBase.Dir; d != "" {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			v.add("knowledge_base.dir", fmt.Sprintf("%q is not a readable directory", d), "point it at the folder of Markdown articles (*.md), e.g. dir = \"/etc/helpdesk/kb\", or remove the key")
		}
	}
	if s := c.KnowledgeBase.MinScore; s < 0 || s > 100 {
		v.add("knowledge_base.min_score", fmt.Sprintf("%v is out of range", s), "use a score between 0 (the default, 1.5) and 100, e.g. min_score = 2.5")
	}
	if d := c.Templates.Dir; d != "" {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			v.add("templates.dir", fmt.Sprintf("%q is not a readable directory", d), "point it at the folder of template overrides (<lang>/ack.txt, <mailbox>/<lang>/ack.txt), or remove the key")
		}
	}
	if c.Templates.StaffLanguage != "en" {
		v.add("templates.staff_language", fmt.Sprintf("%q: staff notifications exist in English only", c.Templates.StaffLanguage), `use staff_language = "en"`)
	}
}

// validateRetention checks [retention]: kept periods positive, the
// optional ones zero (off) or long enough to mean something.
func (c *Config) validateRetention(v *validator) {
	r := c.Retention
	v.dur("retention.sent_outbound", r.SentOutbound, 3650*dayDur, "30d")
	v.dur("retention.quarantine", r.Quarantine, 3650*dayDur, "30d")
	if r.RawAfterClosed != 0 {
		if r.RawAfterClosed < dayDur || r.RawAfterClosed > 3650*dayDur {
			v.add("retention.raw_after_closed", fmt.Sprintf("%s is not between 1 day and 10 years", r.RawAfterClosed), `use days such as "90d", or "0s" to keep raw mail`)
		}
	}
	if r.Compact != 0 {
		if r.Compact < Duration(time.Hour) || r.Compact > 3650*dayDur {
			v.add("retention.compact", fmt.Sprintf("%s is not between 1 hour and 10 years", r.Compact), `use e.g. "7d" (weekly), or "0s" for no schedule`)
		}
	}
}
