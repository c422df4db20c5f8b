package threading

import (
	"bufio"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
)

// fixHeaders repairs what the MIME library could not: header values with
// raw 8-bit text (decoded with the charset of the body as a hint) and
// address lists the strict parser refused.
func fixHeaders(m *Mail, hint string) {
	if m.Header == nil {
		m.Header = make(map[string][]string)
	}
	for k, vs := range m.Header {
		for i, v := range vs {
			vs[i] = fixHeaderText(v, hint)
		}
		m.Header[k] = vs
	}
	m.Subject = fixHeaderText(m.Subject, hint)
	fix := func(a *Address) {
		a.Name = fixHeaderText(decodeWords(a.Name), hint)
		a.Addr = fixHeaderText(a.Addr, hint)
	}
	if m.From.Addr == "" && m.From.Name == "" {
		if l := lenientAddrs(m.Get("From")); len(l) > 0 {
			m.From = l[0]
		}
	}
	fix(&m.From)
	if m.Sender != nil {
		fix(m.Sender)
	}
	if len(m.To) == 0 {
		m.To = lenientAddrs(m.Get("To"))
	}
	if len(m.Cc) == 0 {
		m.Cc = lenientAddrs(m.Get("Cc"))
	}
	if len(m.ReplyTo) == 0 {
		m.ReplyTo = lenientAddrs(m.Get("Reply-To"))
	}
	for _, p := range []*[]Address{&m.To, &m.Cc, &m.ReplyTo} {
		for i := range *p {
			fix(&(*p)[i])
		}
	}
}

// wordDecoder decodes RFC 2047 encoded words with every charset we know,
// ISO-2022-KR included (the standard library's decoder, our charsets).
var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// charsetReader converts input in charset to UTF-8 (for mime.WordDecoder).
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	cs, ok := lookupCharset(normalizeCharsetLabel(charset))
	if !ok {
		return nil, fmt.Errorf("unknown charset %q", charset)
	}
	b, err := io.ReadAll(io.LimitReader(input, 1<<20))
	if err != nil {
		return nil, err
	}
	s, _ := cs.decode(b)
	return strings.NewReader(s), nil
}

// decodeWords decodes encoded words the MIME library left undecoded
// (charsets it does not know); anything else is returned as is.
func decodeWords(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// headerSource is a message header as the two MIME paths expose it.
type headerSource interface {
	keys() []string
	values(key string) []string // decoded
	addresses(key string) []Address
	date() (time.Time, bool)
	contentType() (string, map[string]string)
}

// envHeaders reads headers through enmime.
type envHeaders struct{ env *enmime.Envelope }

func (h envHeaders) keys() []string { return h.env.GetHeaderKeys() }

func (h envHeaders) values(key string) []string {
	if h.env.Root == nil {
		return h.env.GetHeaderValues(key)
	}
	raw := h.env.Root.Header.Values(key)
	total, words := 0, false
	for _, v := range raw {
		total += len(v)
		words = words || strings.Contains(v, "=?")
	}
	if !words {
		// Nothing encoded: the value is the raw one (raw 8-bit text is
		// decoded by fixHeaders with the body's charset as the hint).
		return append([]string(nil), raw...)
	}
	if total > 16<<10 {
		// enmime's header decoder is quadratic in the number of encoded
		// words (a 1 MiB subject of words costs it over a GiB): decode
		// large values with the standard library's decoder instead.
		out := make([]string, len(raw))
		for i, v := range raw {
			out[i] = decodeWords(v)
		}
		return out
	}
	vs := h.env.GetHeaderValues(key)
	for i, v := range vs {
		if i < len(raw) && !utf8.ValidString(raw[i]) && !strings.Contains(raw[i], "=?") {
			// Raw 8-bit text: fixHeaders decodes it with the body's
			// charset as the hint; enmime would read it as Latin-1.
			vs[i] = raw[i]
			continue
		}
		if i < len(raw) && strings.Contains(raw[i], "=?") && (strings.Contains(v, "=?") || strings.ContainsRune(v, utf8.RuneError)) {
			// Words enmime could not decode (ISO-2022-KR becomes U+FFFD).
			if d := decodeWords(raw[i]); !strings.Contains(d, "=?") && !strings.ContainsRune(d, utf8.RuneError) {
				vs[i] = d
			}
		}
	}
	return vs
}

func (h envHeaders) addresses(key string) []Address {
	if h.env.Root == nil {
		return addressList(h.env.GetHeader(key))
	}
	return addressList(h.env.Root.Header.Get(key))
}

func (h envHeaders) date() (time.Time, bool) {
	v := h.env.GetHeader("Date")
	if v == "" {
		return time.Time{}, false
	}
	return parseDate(v)
}

// commonDate is the layout nearly every client writes (RFC 5322 with a
// numeric zone, day of one or two digits).
const commonDate = "Mon, 2 Jan 2006 15:04:05 -0700"

// parseDate reads a Date field: the common layout first (net/mail tries
// layouts in an order that fails, and allocates an error, several times
// for it), then everything net/mail accepts (obsolete zones, comments, no
// day of week).
func parseDate(v string) (time.Time, bool) {
	if d, err := time.Parse(commonDate, strings.TrimSpace(v)); err == nil {
		return d, true
	}
	d, err := mail.ParseDate(v)
	return d, err == nil
}

func (h envHeaders) contentType() (string, map[string]string) {
	if h.env.Root == nil {
		return "", nil
	}
	if mt, params, err := mime.ParseMediaType(h.env.Root.Header.Get("Content-Type")); err == nil {
		return mt, params
	}
	return strings.ToLower(h.env.Root.ContentType), nil
}

// addrParser is the standard address parser with our word decoder: it
// knows every charset we do (ks_c_5601-1987, ISO-2022-KR names).
var addrParser = mail.AddressParser{WordDecoder: wordDecoder}

// addressList reads a raw (undecoded) address header value, the same way
// on both MIME paths: the strict parser first, then lenientAddrs for a
// list it refuses or raw 8-bit names (decoded later by fixHeaders with the
// body's charset as the hint).
func addressList(v string) []Address {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	if utf8.ValidString(v) {
		if l, err := addrParser.ParseList(v); err == nil {
			out := make([]Address, 0, len(l))
			for _, a := range l {
				if a != nil && a.Address != "" {
					out = append(out, Address{Name: a.Name, Addr: a.Address})
				}
			}
			if len(out) > 0 {
				return out
			}
		}
	}
	return lenientAddrs(v)
}

// lenientAddrs splits an address list the strict parser refused and reads
// each address loosely. Addresses end at a comma or semicolon outside
// quotes and angle brackets, and after a closing angle bracket ("<a@x>
// <b@y>" is two); a piece without "@" between separators is the start of
// the next one's name ("Kim, Ken <k@x>"). It counts rather more than
// fewer: a mail with more than one From is never staff.
func lenientAddrs(v string) []Address {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	var out []Address
	var cur strings.Builder
	carry := ""         // a name piece without an address, for the next address
	afterAngle := false // the current piece follows a closed angle address
	quoted, angle := false, false
	flush := func(sep bool) {
		piece := cur.String()
		cur.Reset()
		if sep && !afterAngle && !strings.Contains(piece, "@") && strings.TrimSpace(piece) != "" {
			carry += piece + ","
			return
		}
		if !afterAngle || strings.Contains(piece, "@") {
			if a := looseAddress(carry + piece); a.Addr != "" {
				out = append(out, a)
			}
			carry = ""
		}
		afterAngle = !sep
	}
	for i := 0; i < len(v); i++ { // bytes, not runes: raw 8-bit names stay intact
		switch c := v[i]; {
		case c == '"':
			quoted = !quoted
		case c == '<' && !quoted:
			angle = true
		case c == '>' && !quoted && angle:
			angle = false
			cur.WriteByte(c)
			flush(false)
			continue
		case (c == ',' || c == ';') && !quoted && !angle:
			flush(true)
			continue
		}
		cur.WriteByte(v[i])
	}
	flush(true)
	return out
}

func fillHeaders(m *Mail, h headerSource) {
	m.Header = make(map[string][]string)
	for _, k := range h.keys() {
		m.Header[canonicalKey(k)] = h.values(k)
	}
	get := func(k string) string {
		if v := m.Header[canonicalKey(k)]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	m.MessageID = firstID(get("Message-Id"))
	m.InReplyTo = parseIDs(get("In-Reply-To"))
	m.References = parseIDs(get("References"))
	m.Subject = strings.TrimSpace(get("Subject"))
	if d, ok := h.date(); ok {
		m.Date = d
	}
	if l := h.addresses("From"); len(l) > 0 {
		m.From = l[0]
		m.FromCount = len(l)
	} else {
		m.From = looseFirst(get("From"))
		if m.From.Addr != "" {
			m.FromCount = 1
		}
	}
	if n := len(m.Header["From"]); n > 1 {
		// Several From fields: a DKIM verifier checks the last one (RFC
		// 6376 section 5.4.2), this parser reads the first. Such a mail
		// must never pass as anyone in particular (RFC 7489 section 6.6.1).
		m.FromCount = max(m.FromCount, n)
	}
	if l := h.addresses("Sender"); len(l) > 0 {
		m.Sender = &l[0]
	}
	m.ReplyTo = h.addresses("Reply-To")
	m.To = h.addresses("To")
	m.Cc = h.addresses("Cc")
	m.AutoSubmitted = strings.ToLower(strings.TrimSpace(get("Auto-Submitted")))
	m.Precedence = strings.ToLower(strings.TrimSpace(get("Precedence")))
	m.AutoResponseSuppress = strings.TrimSpace(get("X-Auto-Response-Suppress"))
	for _, k := range autoReplyHeaders {
		switch v := strings.ToLower(strings.TrimSpace(get(k))); v {
		case "", "no", "false", "0":
		default:
			m.XAutoReply = true
		}
	}
	m.ListID = strings.TrimSpace(get("List-Id"))
	m.ReceivedCount = len(m.Header["Received"])
	for _, v := range m.Header[canonicalKey(LoopHeader)] {
		m.LoopIDs = append(m.LoopIDs, strings.TrimSpace(v))
	}
	flag := strings.ToLower(get("X-Spam-Flag"))
	m.SpamFlag = strings.HasPrefix(strings.TrimSpace(flag), "yes") || strings.HasPrefix(strings.ToLower(get("X-Spam-Status")), "yes")
	mt, params := h.contentType()
	m.ContentType = strings.ToLower(mt)
	m.ReportType = strings.ToLower(params["report-type"])
}

// autoReplyHeaders are the vendor headers responders mark their mail with
// (SPEC 3.1); "no", "false" or "0" says the mail is not an auto-reply.
var autoReplyHeaders = []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Autoreply-From",
	"X-Mail-Autoreply", "X-Autoresponse", "X-Auto-Reply"}

// looseFirst reads "<addr>" or a bare address from a header value the
// strict parser refused.
func looseFirst(v string) Address {
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

// HeaderOnly reads just the header block of a raw message (for tools that
// must not parse the body).
func HeaderOnly(r io.Reader) (mail.Header, error) {
	msg, err := mail.ReadMessage(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	return msg.Header, nil
}
