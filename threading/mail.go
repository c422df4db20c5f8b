package threading

import (
	"net/mail"
	"strings"
	"time"

	"helpdesk/threading/safetext"
)

// Address is a parsed mailbox: display name and address. Addr keeps the
// spelling of the mail; use Norm to compare.
type Address struct {
	Name string `json:"name,omitempty"`
	Addr string `json:"address"`
}

// Norm is the comparison form of the address (SPEC 3.3: case-insensitive).
func (a Address) Norm() string { return NormalizeAddr(a.Addr) }

// String formats the address for a header.
func (a Address) String() string {
	if a.Addr == "" {
		return ""
	}
	// A display name taken from a mail may carry controls (an encoded
	// CR LF, ESC): they never go into a header we write.
	return (&mail.Address{Name: safetext.StripC0(a.Name), Address: a.Addr}).String()
}

// NormalizeAddr lowercases an address and strips angle brackets and spaces.
// Plus tags are kept: whether "ken+x@" equals "ken@" is a configurable
// decision made where addresses are matched (see StripPlus).
func NormalizeAddr(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	return strings.ToLower(s)
}

// SpellAddr is the address as its owner writes it, for sending: angle
// brackets and spaces stripped and the domain lowercased (domains are
// case-insensitive), the local part's case kept (RFC 5321 section 2.4:
// only the receiving host may treat it case-insensitively). Compare with
// NormalizeAddr; send to SpellAddr.
func SpellAddr(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return s
	}
	return s[:at+1] + strings.ToLower(s[at+1:])
}

// EnvelopePath formats an address (local part unquoted, as net/mail
// returns it) for SMTP's MAIL FROM and RCPT TO, without the angle
// brackets: a local part that is not a dot-atom is written as an RFC 5321
// Quoted-string, so `"a@b>"@example.com` stays one mailbox instead of
// reading as a@b. net/mail does the quoting.
func EnvelopePath(addr string) string {
	if addr == "" {
		return ""
	}
	s := (&mail.Address{Address: addr}).String()
	return strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
}

// StripPlus removes a "+tag" (or other separator) from the local part.
func StripPlus(addr, sep string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || sep == "" {
		return addr
	}
	local, domain := addr[:at], addr[at:]
	if i := strings.Index(local, sep); i > 0 {
		local = local[:i]
	}
	return local + domain
}

// Domain returns the lowercased domain of an address.
func Domain(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(addr[at+1:])
}

// Class is what kind of sender produced a mail (SPEC 3.1).
type Class string

const (
	ClassHuman          Class = "human"
	ClassAutoReply      Class = "auto-reply"
	ClassDeliveryStatus Class = "delivery-status"
	ClassFeedbackReport Class = "feedback-report"
)

// Machine reports whether the class is anything but human mail.
func (c Class) Machine() bool { return c != ClassHuman && c != "" }

// DSN holds what a delivery status notification or feedback report says
// about the mail it reports on.
type DSN struct {
	// Action is "failed", "delayed", "delivered", "relayed", "expanded"
	// or "" when unknown (RFC 3464 section 2.3.3).
	Action string `json:"action,omitempty"`
	// Status is the RFC 3463 status code, e.g. "5.1.1".
	Status string `json:"status,omitempty"`
	// Recipients are the final recipients the report is about.
	Recipients []string `json:"recipients,omitempty"`
	// OriginalMessageID is the Message-ID of the reported mail, from the
	// returned message or headers, without angle brackets.
	OriginalMessageID string `json:"original_message_id,omitempty"`
	// Diagnostic is a short human-readable reason.
	Diagnostic string `json:"diagnostic,omitempty"`
	// FeedbackType is the RFC 5965 Feedback-Type of a feedback report
	// ("abuse", "fraud", "unsubscribe", ...); "" for delivery reports.
	FeedbackType string `json:"feedback_type,omitempty"`
	// OriginalMailFrom is the envelope sender of the reported mail
	// (ARF Original-Mail-From), lowercased, without angle brackets.
	OriginalMailFrom string `json:"original_mail_from,omitempty"`
}

// Permanent reports whether the report is a permanent failure (bounce).
func (d *DSN) Permanent() bool {
	if d == nil {
		return false
	}
	return d.Action == "failed" || strings.HasPrefix(d.Status, "5")
}

// Attachment describes one attachment or inline part of a mail.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Inline      bool   `json:"inline,omitempty"`
	// Part is the position of the part in the MIME tree (enmime PartID),
	// so the outbound side can re-read it from the stored raw message.
	Part string `json:"part,omitempty"`
}

// Forwarded is a message an agent forwarded to a mailbox, either inline
// ("---------- Forwarded message ---------" block) or attached as
// message/rfc822 (SPEC 3.5).
type Forwarded struct {
	From    Address `json:"from"`
	Subject string  `json:"subject,omitempty"`
	Date    string  `json:"date,omitempty"`
	// Text is the forwarded body with the forward header block removed.
	Text string `json:"text"`
	// Note is the forwarder's own text above the forwarded block.
	Note string `json:"note"`
}

// Mail is everything the rules need to know about one inbound mail. Parse
// fills it; it never fails outright: what could not be read is listed in
// ParseErrors and the raw message stays stored.
type Mail struct {
	MessageID  string   // without angle brackets; "" when absent
	InReplyTo  []string // without angle brackets
	References []string // without angle brackets, oldest first
	From       Address  // first From address
	// FromCount is the number of From addresses (over all From fields).
	// Anything but 1 makes the sender unverifiable: never staff, DMARC
	// fail (RFC 7489 section 6.6.1).
	FromCount int
	Sender    *Address  // Sender header, never used for identity
	ReplyTo   []Address // never used for identity
	To        []Address
	Cc        []Address
	Subject   string // decoded
	Date      time.Time

	// Text is the full plain text of the mail: the text/plain body, or the
	// HTML body converted to text when there is no text part.
	Text string
	// HTML is the HTML body, if any.
	HTML string
	// NewText is Text with quoted history removed: what the author wrote
	// in this mail (SPEC 3, known failure mode 5).
	NewText string
	// TextFromHTML is true when Text was produced from an HTML-only mail.
	TextFromHTML bool

	Attachments []Attachment
	Forwarded   *Forwarded

	// Headers used by the machine-mail and loop rules (SPEC 3.1).
	AutoSubmitted        string   // Auto-Submitted value, lowercased, "" if absent
	Precedence           string   // lowercased
	AutoResponseSuppress string   // X-Auto-Response-Suppress
	XAutoReply           bool     // X-Autoreply, X-Autorespond, ... with a value other than no/false/0
	ListID               string   // List-Id
	ReceivedCount        int      // number of Received headers
	LoopIDs              []string // values of our loop header (X-Helpdesk-Loop)
	SpamFlag             bool     // an upstream marked the mail as spam (X-Spam-Flag: YES etc.)
	ContentType          string   // top-level media type, lowercased
	ReportType           string   // report-type parameter of multipart/report

	// Header holds every header of the top-level message, decoded
	// (RFC 2047), keyed by canonical name.
	Header map[string][]string
	// EnvelopeFrom is the SMTP MAIL FROM ("" for the null sender <>); it
	// is set by the receiver, not by Parse.
	EnvelopeFrom string
	// ReportParts are the machine-readable parts of a report or bounce:
	// message/delivery-status, message/feedback-report, message/rfc822
	// and text/rfc822-headers (each capped at 64 KiB), in MIME order.
	ReportParts []ReportPart

	// Class and DSN are set by machine.Classify after Parse.
	Class Class // human, auto-reply, delivery-status, feedback-report
	DSN   *DSN  // for delivery-status and feedback-report mail

	// BodyHash is a hex SHA-256 of the body (everything after the header
	// block), used with MessageID to store a mail delivered twice once.
	BodyHash string

	// CharsetProblems lists parts whose text could not be decoded; their
	// content is kept raw (flagged), never dropped.
	CharsetProblems []string
	// ParseErrors lists what could not be parsed. The mail is still
	// handled with whatever was readable.
	ParseErrors []string

	// StaffText is the new text of the mail cut at the reply marker
	// (ParseOptions.ReplyMarker) of our staff notifications (SPEC 2): what
	// an agent's reply contributes. It equals NewText when the marker is
	// absent; "" when no marker was configured.
	StaffText string
	// TextTruncated is true when Text, HTML or a text part was cut at
	// ParseOptions.MaxTextBytes (or a text budget); the raw message keeps
	// everything.
	TextTruncated bool
}

// ReportPart is one machine-readable part of a report (see Mail.ReportParts).
type ReportPart struct {
	ContentType string // lowercased media type
	Content     []byte // decoded content, capped
}

// Get returns the first value of a header (canonical or any case).
func (m *Mail) Get(name string) string {
	if v := m.Header[canonicalKey(name)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// isCanonicalKey reports an ASCII name canonicalKey would return unchanged.
func isCanonicalKey(s string) bool {
	up := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80:
			return false
		case up && c >= 'a' && c <= 'z', !up && c >= 'A' && c <= 'Z':
			return false
		}
		up = c == '-'
	}
	return true
}

// AllRecipients returns To and Cc, in that order.
func (m *Mail) AllRecipients() []Address {
	out := make([]Address, 0, len(m.To)+len(m.Cc))
	out = append(out, m.To...)
	return append(out, m.Cc...)
}

// SuppressAutoAnswer reports whether no automatic answer (acknowledgement,
// survey) may be sent to this mail (SPEC 3.1, RFC 3834 section 2).
func (m *Mail) SuppressAutoAnswer() bool {
	if m.Class.Machine() || m.SpamFlag {
		return true
	}
	switch m.Precedence {
	case "bulk", "junk", "list":
		return true
	}
	if m.AutoResponseSuppress != "" || m.ListID != "" {
		return true
	}
	return false
}

func canonicalKey(s string) string {
	if isCanonicalKey(s) {
		return s // the common case: callers pass constants like "Message-Id"
	}
	return canonicalizeKey(s)
}

// canonicalizeKey is canonicalKey without the fast path.
func canonicalizeKey(s string) string {
	b := []byte(strings.ToLower(s))
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '-'
	}
	return string(b)
}
