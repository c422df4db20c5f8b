package threading

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"github.com/jhillyerd/enmime/v2"
)

// LoopHeader is the header carrying our installation id on every mail we
// send (SPEC 2); seeing our own id on inbound mail means a loop.
const LoopHeader = "X-Helpdesk-Loop"

// ParseOptions tune Parse.
type ParseOptions struct {
	// MaxTextBytes caps the text kept from one mail (default 1 MiB); the
	// raw message keeps everything.
	MaxTextBytes int
}

// Parse reads a raw message into facts. It never fails: problems are listed
// in Mail.ParseErrors and whatever could be read is returned.
func Parse(r io.Reader, opt ParseOptions) *Mail {
	if opt.MaxTextBytes <= 0 {
		opt.MaxTextBytes = 1 << 20
	}
	raw, err := io.ReadAll(r)
	m := &Mail{}
	if err != nil {
		m.ParseErrors = append(m.ParseErrors, "reading message: "+err.Error())
	}
	m.BodyHash = bodyHash(raw)
	env, err := enmime.NewParser(enmime.SkipMalformedParts(true)).ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		m.ParseErrors = append(m.ParseErrors, "parsing MIME: "+err.Error())
		m.Class = ClassHuman
		m.Text = truncate(string(raw), opt.MaxTextBytes)
		m.NewText = m.Text
		return m
	}
	for _, e := range env.Errors {
		m.ParseErrors = append(m.ParseErrors, e.Error())
	}
	fillHeaders(m, env)
	m.Text = truncate(env.Text, opt.MaxTextBytes)
	m.HTML = truncate(env.HTML, opt.MaxTextBytes)
	if strings.TrimSpace(m.Text) == "" && m.HTML != "" {
		m.TextFromHTML = true
	}
	for _, p := range env.Attachments {
		m.Attachments = append(m.Attachments, attachmentOf(p, false))
	}
	for _, p := range env.Inlines {
		m.Attachments = append(m.Attachments, attachmentOf(p, true))
	}
	m.NewText = StripQuoted(m.Text)
	collectReportParts(m, env.Root)
	return m
}

func attachmentOf(p *enmime.Part, inline bool) Attachment {
	name := p.FileName
	if name == "" {
		name = "unnamed"
	}
	return Attachment{Name: SafeFileName(name), ContentType: p.ContentType, Size: int64(len(p.Content)), Inline: inline, Part: p.PartID}
}

// SafeFileName removes directory parts and control characters from an
// attachment name so it can never name a path outside a folder.
func SafeFileName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ".")
	if name == "" {
		return "unnamed"
	}
	return name
}

// maxReportPart caps each report part kept in Mail.ReportParts.
const maxReportPart = 64 << 10

func collectReportParts(m *Mail, p *enmime.Part) {
	for ; p != nil; p = p.NextSibling {
		switch ct := strings.ToLower(p.ContentType); ct {
		case "message/delivery-status", "message/global-delivery-status", "message/feedback-report",
			"message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers":
			c := p.Content
			if len(c) > maxReportPart {
				c = c[:maxReportPart]
			}
			m.ReportParts = append(m.ReportParts, ReportPart{ContentType: ct, Content: c})
		}
		collectReportParts(m, p.FirstChild)
	}
}

func fillHeaders(m *Mail, env *enmime.Envelope) {
	m.Header = make(map[string][]string)
	for _, k := range env.GetHeaderKeys() {
		m.Header[canonicalKey(k)] = env.GetHeaderValues(k)
	}
	m.MessageID = firstID(env.GetHeader("Message-Id"))
	m.InReplyTo = parseIDs(env.GetHeader("In-Reply-To"))
	m.References = parseIDs(env.GetHeader("References"))
	m.Subject = strings.TrimSpace(env.GetHeader("Subject"))
	if d, err := env.Date(); err == nil {
		m.Date = d
	}
	m.From = firstAddr(env, "From")
	if s := firstAddr(env, "Sender"); s.Addr != "" {
		m.Sender = &s
	}
	m.ReplyTo = addrs(env, "Reply-To")
	m.To = addrs(env, "To")
	m.Cc = addrs(env, "Cc")
	m.AutoSubmitted = strings.ToLower(strings.TrimSpace(env.GetHeader("Auto-Submitted")))
	m.Precedence = strings.ToLower(strings.TrimSpace(env.GetHeader("Precedence")))
	m.AutoResponseSuppress = strings.TrimSpace(env.GetHeader("X-Auto-Response-Suppress"))
	m.XAutoReply = env.GetHeader("X-Autoreply") != "" || env.GetHeader("X-Autorespond") != "" || env.GetHeader("X-Autoresponder") != ""
	m.ListID = strings.TrimSpace(env.GetHeader("List-Id"))
	m.ReceivedCount = len(env.GetHeaderValues("Received"))
	for _, v := range env.GetHeaderValues(LoopHeader) {
		m.LoopIDs = append(m.LoopIDs, strings.TrimSpace(v))
	}
	m.AuthenticationResults = env.GetHeaderValues("Authentication-Results")
	flag := strings.ToLower(env.GetHeader("X-Spam-Flag"))
	m.SpamFlag = strings.HasPrefix(strings.TrimSpace(flag), "yes") || strings.HasPrefix(strings.ToLower(env.GetHeader("X-Spam-Status")), "yes")
	if env.Root != nil {
		m.ContentType = strings.ToLower(env.Root.ContentType)
		m.ReportType = strings.ToLower(env.Root.ContentTypeParams["report-type"])
	}
}

func firstAddr(env *enmime.Envelope, key string) Address {
	l := addrs(env, key)
	if len(l) > 0 {
		return l[0]
	}
	// Fall back to a lenient scan for "<addr>" or a bare address.
	v := env.GetHeader(key)
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return Address{Name: strings.Trim(strings.TrimSpace(v[:i]), `"`), Addr: strings.TrimSpace(v[i+1 : i+j])}
		}
	}
	if strings.Contains(v, "@") {
		return Address{Addr: strings.TrimSpace(v)}
	}
	return Address{}
}

func addrs(env *enmime.Envelope, key string) []Address {
	l, err := env.AddressList(key)
	if err != nil && len(l) == 0 {
		return nil
	}
	out := make([]Address, 0, len(l))
	for _, a := range l {
		if a == nil || a.Address == "" {
			continue
		}
		out = append(out, Address{Name: a.Name, Addr: a.Address})
	}
	return out
}

// parseIDs extracts every <msg-id> of a header value, without brackets.
func parseIDs(v string) []string {
	var out []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		if id := strings.TrimSpace(v[i+1 : i+j]); id != "" {
			out = append(out, id)
		}
		v = v[i+j+1:]
	}
	if len(out) == 0 {
		// Some clients omit the brackets.
		for _, f := range strings.Fields(v) {
			if strings.Contains(f, "@") {
				out = append(out, strings.Trim(f, "<>,"))
			}
		}
	}
	return out
}

func firstID(v string) string {
	ids := parseIDs(v)
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// bodyHash hashes everything after the header block, so a copy that
// gained Received headers on a retry still hashes the same.
func bodyHash(raw []byte) string {
	body := raw
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		body = raw[i+4:]
	} else if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		body = raw[i+2:]
	}
	// Normalise line endings so CRLF and LF copies match.
	body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:16])
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// HeaderOnly reads just the header block of a raw message (for tools that
// must not parse the body).
func HeaderOnly(r io.Reader) (mail.Header, error) {
	msg, err := mail.ReadMessage(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	return msg.Header, nil
}
