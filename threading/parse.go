package threading

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
	"github.com/jhillyerd/enmime/v2/mediatype"
)

// LoopHeader is the header carrying our installation id on every mail we
// send (SPEC 2); seeing our own id on inbound mail means a loop.
const LoopHeader = "X-Helpdesk-Loop"

// ParseOptions tune Parse. The zero value gives the defaults.
type ParseOptions struct {
	// MaxTextBytes caps the text kept from one mail (Text, HTML, NewText;
	// default 1 MiB); the raw message keeps everything.
	MaxTextBytes int
	// LargeThreshold is the raw size above which attachment bodies are not
	// held in memory at all (default 2 MiB): they are measured while
	// streaming and replaced by empty placeholders before enmime parses
	// the rest. Below it they are parsed normally.
	LargeThreshold int64
	// MaxHeaderBytes caps the message's header block (default 1 MiB);
	// fields beyond it are ignored and noted in ParseErrors.
	MaxHeaderBytes int
	// MaxDepth caps MIME nesting (multiparts and attached messages;
	// default 20). Deeper parts are kept as opaque attachments.
	MaxDepth int
	// MaxParts caps the number of MIME parts read (default 1000).
	MaxParts int
	// ReplyMarker, when set, is the marker line our notifications start
	// with ("##- Reply above this line -##"); Parse then fills
	// Mail.StaffText.
	ReplyMarker string

	depth int // attached-message nesting of Parse calls: 1 for a forward, which is not searched for forwards itself
}

func (o ParseOptions) withDefaults() ParseOptions {
	if o.MaxTextBytes <= 0 {
		o.MaxTextBytes = 1 << 20
	}
	if o.LargeThreshold <= 0 {
		o.LargeThreshold = 2 << 20
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 1 << 20
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 20
	}
	if o.MaxParts <= 0 {
		o.MaxParts = 1000
	}
	return o
}

// Parse reads a raw message into facts. It never fails and never panics:
// problems are listed in Mail.ParseErrors (and undecodable text in
// Mail.CharsetProblems) and whatever could be read is returned. It reads r
// to the end exactly once.
//
// MIME is parsed by libraries, never by hand: a message up to
// LargeThreshold is parsed whole by enmime; a larger one is streamed with
// go-message, which decodes each part as it passes, keeps the text parts
// (capped) and only measures attachments, so memory stays bounded for any
// size. Charset decoding is ours on top (charset.go): enmime and x/text
// lack ISO-2022-KR, and a declaration that does not fit the bytes is
// checked against detection rather than trusted.
func Parse(r io.Reader, opt ParseOptions) (m *Mail) {
	return parse(r, nil, opt)
}

// ParseBytes is Parse for a message already in memory (a spool that did
// not go to disk): it is read in place rather than copied. raw is not
// changed, and nothing returned refers to it.
func ParseBytes(raw []byte, opt ParseOptions) *Mail {
	if int64(len(raw)) > opt.withDefaults().LargeThreshold {
		return parse(bytes.NewReader(raw), nil, opt)
	}
	return parse(nil, raw, opt)
}

// parse reads r, or takes whole when r is nil (then whole is at most
// LargeThreshold bytes).
func parse(r io.Reader, whole []byte, opt ParseOptions) (m *Mail) {
	opt = opt.withDefaults()
	m = &Mail{}
	if r == nil {
		r = bytes.NewReader(nil) // whole is hashed below; nothing more to read
	}
	hasher := newBodyHasher(r)
	defer func() {
		if p := recover(); p != nil {
			m.ParseErrors = append(m.ParseErrors, fmt.Sprintf("internal error while parsing: %v", p))
			_, _ = io.Copy(io.Discard, hasher)
			m.BodyHash = hasher.Sum()
		}
	}()
	head := whole
	if whole != nil {
		hasher.consume(whole)
	} else {
		var err error
		head, err = readHead(hasher, r, opt.LargeThreshold+1)
		if err != nil {
			m.ParseErrors = append(m.ParseErrors, "reading message: "+err.Error())
		}
	}
	// Large or not is decided on the input as read: head holds all of it
	// only when it is not longer than the threshold. The mbox line is
	// dropped after that, on both paths.
	large := int64(len(head)) > opt.LargeThreshold
	head = skipMboxLine(head)
	var text, htmlBody string
	var fwd *Mail
	if large || complexStructure(head, opt) {
		text, htmlBody, fwd = parseLarge(m, io.MultiReader(bytes.NewReader(head), hasher), opt)
		head = nil
		if _, err := io.Copy(io.Discard, hasher); err != nil {
			m.ParseErrors = append(m.ParseErrors, "reading message: "+err.Error())
		}
	} else {
		var env *enmime.Envelope
		env, text, htmlBody = parseWhole(m, head, opt)
		if env != nil && opt.depth == 0 {
			fwd = attachedForward(env.Root, opt)
		}
	}
	m.BodyHash = hasher.Sum()

	text = strings.TrimRight(text, " \t\r\n")
	m.Text = truncate(normalizeNewlines(text), opt.MaxTextBytes)
	m.HTML = truncate(htmlBody, opt.MaxTextBytes)
	m.TextTruncated = m.TextTruncated || len(text) > opt.MaxTextBytes || len(htmlBody) > opt.MaxTextBytes
	if strings.TrimSpace(m.Text) == "" && strings.TrimSpace(m.HTML) != "" {
		m.TextFromHTML = true
		m.Text, _ = convertHTML(m.HTML, false, opt.MaxTextBytes)
	}
	fromHTML := m.TextFromHTML
	lines := splitLines(m.Text)
	if m.TextFromHTML {
		m.NewText, _ = stripQuotedHTML(m.HTML, opt.MaxTextBytes)
	} else {
		var removed bool
		m.NewText, removed = stripQuotedLines(lines)
		if !removed && m.HTML != "" {
			// The plain part shows no quoting, but the HTML part may: some
			// clients flatten the quoted history of the plain part.
			if h, strong := stripQuotedHTML(m.HTML, opt.MaxTextBytes); strong && strings.TrimSpace(h) != "" {
				m.NewText, fromHTML = h, true
			}
		}
	}
	// What is below our reply marker is our own notification: a forward
	// in it is history, so forwards are looked for above the marker only.
	var cut string
	var cutFound bool
	fwLines := lines
	if opt.ReplyMarker != "" {
		if cut, cutFound = cutAtMarker(m.Text, opt.ReplyMarker); cutFound {
			fwLines = splitLines(cut)
		}
	}
	detectForward(m, fwLines, fwd, opt)
	if opt.ReplyMarker != "" {
		m.StaffText = m.NewText
		if m.Forwarded == nil && !fromHTML {
			if cutFound {
				m.StaffText = StripQuoted(cut)
			}
		} else {
			m.StaffText = CutAtMarker(m.NewText, opt.ReplyMarker)
		}
	}
	return m
}

// complexStructure reports a message with more multipart boundaries than
// MaxDepth, or more delimiter-like lines than MaxParts, allows: enmime
// parses recursively and appends parts in quadratic time, without limits,
// so thousands of nested or sibling parts cost it minutes. Such a message goes the
// streaming way, which stops at the limits.
func complexStructure(raw []byte, opt ParseOptions) bool {
	return countUpTo(raw, []byte("oundary="), opt.MaxDepth+1) > opt.MaxDepth ||
		countUpTo(raw, []byte("\n--"), 2*opt.MaxParts+1) > 2*opt.MaxParts
}

// countUpTo counts occurrences of sep in b, stopping at limit.
func countUpTo(b, sep []byte, limit int) int {
	n := 0
	for i := 0; i < len(b) && n < limit; n++ {
		j := bytes.Index(b[i:], sep)
		if j < 0 {
			break
		}
		i += j + len(sep)
	}
	return n
}

// readHead reads up to limit bytes, into a buffer sized from the input's
// length when it tells (a spool or bytes.Reader does), so a mail is not
// copied again and again while the buffer grows.
func readHead(src io.Reader, orig io.Reader, limit int64) ([]byte, error) {
	size := int64(512)
	if l, ok := orig.(interface{ Len() int }); ok {
		size = int64(l.Len()) + 1
	} else if s, ok := orig.(interface{ Size() int64 }); ok {
		size = s.Size() + 1
	}
	// ReadFrom wants bytes.MinRead free bytes before each read: with
	// them the whole message is read without growing the buffer.
	buf := bytes.NewBuffer(make([]byte, 0, min(size, limit)+bytes.MinRead))
	_, err := buf.ReadFrom(io.LimitReader(src, limit))
	return buf.Bytes(), err
}

// skipMboxLine drops a leading mbox "From " line (a mail saved from a
// mailbox file and piped to helpdesk inject).
func skipMboxLine(raw []byte) []byte {
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			return raw[i+1:]
		}
	}
	return raw
}

// parseWhole parses a message held in memory with enmime and returns the
// envelope and the body text and HTML, decoded.
func parseWhole(m *Mail, raw []byte, opt ParseOptions) (*enmime.Envelope, string, string) {
	env, err := wholeParser.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		m.ParseErrors = append(m.ParseErrors, "parsing MIME: "+err.Error())
		return headerOnlyFallback(m, raw, wholeParser)
	}
	n := 0
	for _, e := range env.Errors {
		switch e.Name {
		case enmime.ErrorPlainTextFromHTML, enmime.ErrorCharsetDeclaration,
			enmime.ErrorCharsetConversion, enmime.ErrorMissingContentType:
			continue // reported by fixTextParts in our own words
		}
		if n++; n > 50 {
			break
		}
		m.ParseErrors = append(m.ParseErrors, e.Error())
	}
	fillHeaders(m, envHeaders{env})
	text, htmlBody, hint := fixTextParts(m, env, raw)
	fixHeaders(m, hint)
	if env.Root != nil && env.Root.FirstChild != nil && text == "" && htmlBody == "" && len(env.Attachments) == 0 && len(env.Inlines) == 0 {
		// A multipart whose boundary never appears: enmime finds no part
		// at all. Keep the body as text rather than lose it.
		if body := bodyOf(raw); len(bytes.TrimSpace(body)) > 0 && !bytes.Contains(body, []byte("--"+env.Root.Boundary)) {
			t, problem, _ := decodeText(body, "", false)
			if problem != "" {
				m.CharsetProblems = append(m.CharsetProblems, "body: "+problem)
			}
			text = t
			m.ParseErrors = append(m.ParseErrors, "multipart boundary not found; body kept as text")
		}
	}
	if text == "" && htmlBody == "" {
		text = bodyFallback(m, env, raw)
	}
	m.Attachments = attachments(env)
	collectReportParts(m, env.Root)
	return env, text, htmlBody
}

// bodyFallback finds text enmime did not recognise as the body: a part
// without Content-Type (text/plain by RFC 2045 section 5.2), a single part
// whose Content-Type is garbage, or a message with no header block at all.
func bodyFallback(m *Mail, env *enmime.Envelope, raw []byte) string {
	var body []byte
	var from *enmime.Part
	if env.Root != nil {
		env.Root.DepthMatchAll(func(p *enmime.Part) bool {
			if from != nil || p.FirstChild != nil || p.FileName != "" || strings.EqualFold(p.Disposition, "attachment") {
				return false
			}
			ct := strings.ToLower(p.ContentType)
			if _, _, err := mime.ParseMediaType(p.Header.Get("Content-Type")); ct == "" || err != nil {
				if len(bytes.TrimSpace(p.Content)) > 0 {
					from, body = p, p.Content
				}
			}
			return false
		})
	}
	if from == nil && !looksLikeHeader(raw) {
		body = raw // no header block: it is all body
	}
	if body == nil {
		return ""
	}
	if from != nil {
		// It is the body now, not an attachment.
		drop := func(l []*enmime.Part) []*enmime.Part {
			out := l[:0]
			for _, p := range l {
				if p != from {
					out = append(out, p)
				}
			}
			return out
		}
		env.Attachments, env.Inlines, env.OtherParts = drop(env.Attachments), drop(env.Inlines), drop(env.OtherParts)
	}
	t, problem, _ := decodeText(body, "", false)
	if problem != "" {
		m.CharsetProblems = append(m.CharsetProblems, "body: "+problem)
	}
	return t
}

// looksLikeHeader reports whether raw starts with a header field
// ("Name: value", RFC 5322 section 2.2).
func looksLikeHeader(raw []byte) bool {
	for i, c := range raw {
		switch {
		case c == ':':
			return i > 0
		case c <= ' ' || c > '~':
			return false
		}
	}
	return false
}

// wholeParser is enmime set up for Parse: malformed parts are skipped,
// HTML is converted by html.go, and no text part is ever charset-sniffed
// by enmime (see declaredCharset): decodeText detects, only when a
// declaration does not fit the bytes.
var wholeParser = enmime.NewParser(
	enmime.SkipMalformedParts(true),
	enmime.DisableCharacterDetection(true),
	enmime.DisableTextConversion(true),
	enmime.MaxStoredPartErrors(20),
	enmime.SetCustomParseMediaType(declaredCharset),
)

// declaredCharset parses a Content-Type like enmime does, and gives a text
// part that declares no charset "us-ascii" (RFC 2045 section 5.2): enmime
// runs a costly charset detector on every undeclared text part even with
// detection disabled. 8-bit text declared us-ascii is detected by
// fixTextParts instead.
func declaredCharset(ctype string) (string, map[string]string, []string, error) {
	// A well-formed value parses with the standard library (enmime's
	// repairs only change values it rejects, and cost several times
	// more); anything else goes through enmime's repairing parser.
	mt, params, err := mime.ParseMediaType(ctype)
	var invalid []string
	if err != nil {
		mt, params, invalid, err = mediatype.Parse(ctype)
	}
	if err == nil && strings.HasPrefix(strings.ToLower(mt), "text/") && params["charset"] == "" {
		if params == nil {
			params = map[string]string{}
		}
		params["charset"] = "us-ascii"
	}
	return mt, params, invalid, err
}

// headerOnlyFallback reads what it can when enmime refuses the message:
// the header block through enmime, and the body as plain text.
func headerOnlyFallback(m *Mail, raw []byte, parser *enmime.Parser) (*enmime.Envelope, string, string) {
	if !looksLikeHeader(raw) {
		// No header block at all: it is all body.
		text, problem, _ := decodeText(raw, "", false)
		if problem != "" {
			m.CharsetProblems = append(m.CharsetProblems, "body: "+problem)
		}
		m.Header = map[string][]string{}
		return nil, text, ""
	}
	body := bodyOf(raw)
	headerBlock := raw[:len(raw)-len(body)]
	// Drop MIME structure fields so the header block parses on its own.
	var hb bytes.Buffer
	skipping := false
	for _, line := range bytes.SplitAfter(headerBlock, []byte("\n")) {
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			if !skipping {
				hb.Write(line)
			}
			continue
		}
		l := bytes.ToLower(line)
		skipping = bytes.HasPrefix(l, []byte("content-type:")) || bytes.HasPrefix(l, []byte("content-transfer-encoding:"))
		if !skipping {
			hb.Write(line)
		}
	}
	hb.WriteString("\r\n")
	if env, err := parser.ReadEnvelope(&hb); err == nil {
		fillHeaders(m, envHeaders{env})
	}
	text, problem, _ := decodeText(body, "", false)
	if problem != "" {
		m.CharsetProblems = append(m.CharsetProblems, "body: "+problem)
	}
	fixHeaders(m, "")
	return nil, text, ""
}

// bodyOf returns what follows the header block (the first empty line).
func bodyOf(raw []byte) []byte {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			return nil
		}
		line := bytes.TrimRight(raw[i:i+j], "\r")
		i += j + 1
		if len(line) == 0 {
			return raw[i:]
		}
	}
	return nil
}

// fixTextParts decodes the text parts enmime could not (ISO-2022-KR, a
// declaration that does not fit the bytes, undeclared 8-bit text) with
// decodeText, undoes format=flowed, and returns the body text and HTML
// and the charset of the body (a hint for raw 8-bit header values).
func fixTextParts(m *Mail, env *enmime.Envelope, raw []byte) (text, htmlBody, hint string) {
	text, htmlBody = env.Text, env.HTML
	var rawParts map[string]*enmime.Part // transfer-decoded, not charset-converted; parsed on demand
	if env.Root == nil {
		return text, htmlBody, ""
	}
	env.Root.DepthMatchAll(func(p *enmime.Part) bool {
		ct := strings.ToLower(p.ContentType)
		isHTML := ct == "text/html"
		if (ct != "text/plain" && ct != "text/html" && !(ct == "" && p.FirstChild == nil)) || p.FirstChild != nil {
			return false
		}
		declared := p.Charset
		if p.OrigCharset != "" {
			declared = p.OrigCharset
		}
		cs, known := lookupCharset(normalizeCharsetLabel(declared))
		// content is what enmime made of the part (old, below, is the
		// same bytes): it is compared and searched as it is, never
		// copied, since a text part may be most of a mail.
		content := p.Content
		old := content
		var fixed string
		redo, needRaw := false, false
		switch {
		case cs.iso2022kr:
			// enmime maps ISO-2022-KR to the WHATWG "replacement"
			// encoding: its Content is a lone U+FFFD.
			redo, needRaw = true, true
		case hasCharsetError(p), !utf8.Valid(content):
			// Conversion failed or was not attempted: Content holds the
			// transfer-decoded bytes.
			redo = true
		case (cs.ascii || declared == "") && !isASCII(content):
			// Declared 7-bit (or nothing) but 8-bit: enmime read it as
			// windows-1252; detect what it really is.
			redo, needRaw = true, true
		case known && !cs.utf8 && !cs.ascii && bytes.ContainsRune(old, utf8.RuneError):
			// Converted with invalid sequences: the declaration may be
			// wrong; decode the original bytes again, with detection.
			redo, needRaw = true, true
		}
		if needRaw {
			if p == env.Root && p.FirstChild == nil {
				// A single-part mail: its raw content is the body,
				// read in place rather than parsed again.
				content = transferDecodeBytes(bodyOf(raw), p.Header.Get("Content-Transfer-Encoding"))
			} else {
				if rawParts == nil {
					rawParts = rawPartsOf(raw)
				}
				if rp, ok := rawParts[p.PartID]; ok {
					content = transferDecode(rp)
				} else {
					redo = false
				}
			}
		}
		if !redo {
			if hint == "" && known && !cs.ascii {
				hint = cs.name
			}
			if ct != "text/plain" || !isFlowed(p) {
				return false // nothing changes
			}
			fixed = string(old)
		} else {
			t, used, problem, note := decodeTextAs(content, declared, isHTML)
			if problem != "" {
				m.CharsetProblems = append(m.CharsetProblems, fmt.Sprintf("part %s: %s", p.PartID, problem))
			}
			if note != "" {
				m.ParseErrors = append(m.ParseErrors, fmt.Sprintf("part %s: %s", p.PartID, note))
			}
			if used != "" && hint == "" {
				hint = used
			}
			fixed = t
		}
		if ct == "text/plain" && isFlowed(p) {
			fixed = unflow(fixed, strings.EqualFold(flowedParams(p)["delsp"], "yes"))
		}
		if fixed != string(old) && len(old) > 0 {
			// enmime joins several inline text parts into one body:
			// replace this part's share of it (all of it, when the body
			// is this part alone).
			body := &text
			if isHTML {
				body = &htmlBody
			}
			if *body == string(old) {
				*body = fixed
			} else {
				*body = strings.Replace(*body, string(old), fixed, 1)
			}
		}
		return false
	})
	return text, htmlBody, hint
}

func hasCharsetError(p *enmime.Part) bool {
	for _, e := range p.Errors {
		if e.Name == enmime.ErrorCharsetConversion {
			return true
		}
	}
	return false
}

// isFlowed reports a text/plain part with format=flowed.
func isFlowed(p *enmime.Part) bool {
	return strings.EqualFold(flowedParams(p)["format"], "flowed")
}

func flowedParams(p *enmime.Part) map[string]string {
	if _, params, err := mime.ParseMediaType(p.Header.Get("Content-Type")); err == nil {
		return params
	}
	return nil
}

// rawPartsOf parses raw again without any decoding, indexed by part id.
func rawPartsOf(raw []byte) map[string]*enmime.Part {
	out := map[string]*enmime.Part{}
	root, err := enmime.NewParser(enmime.SkipMalformedParts(true), enmime.RawContent(true)).ReadParts(bytes.NewReader(raw))
	if err != nil || root == nil {
		return out
	}
	root.DepthMatchAll(func(p *enmime.Part) bool {
		out[p.PartID] = p
		return false
	})
	return out
}

// transferDecode undoes the Content-Transfer-Encoding of a raw part with
// the standard library's decoders.
func transferDecode(p *enmime.Part) []byte {
	return transferDecodeBytes(p.Content, p.Header.Get("Content-Transfer-Encoding"))
}

// transferDecodeBytes undoes the transfer encoding cte of b. For 7bit,
// 8bit, binary and unknown encodings it returns b itself (not a copy);
// the others are decoded into one buffer of the decoded size at most.
func transferDecodeBytes(b []byte, cte string) []byte {
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(bytes.NewReader(b))
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, newBase64Filter(bytes.NewReader(b)))
	default:
		return b
	}
	out := bytes.NewBuffer(make([]byte, 0, len(b)+bytes.MinRead))
	out.ReadFrom(r)
	return out.Bytes()
}

// newBase64Filter drops the white space and junk base64 lines carry, so the
// standard decoder sees only the alphabet.
func newBase64Filter(r io.Reader) io.Reader {
	b, _ := io.ReadAll(r)
	out := b[:0]
	for _, c := range b {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
			out = append(out, c)
		}
	}
	return bytes.NewReader(out)
}

// attachments lists attachments and inline parts: what enmime sorts as
// such, plus other non-text leaves with a file name or a non-text type
// (a PDF without Content-Disposition, an attached message).
func attachments(env *enmime.Envelope) []Attachment {
	var out []Attachment
	seen := map[*enmime.Part]bool{}
	add := func(p *enmime.Part, inline bool) {
		if p == nil || seen[p] {
			return
		}
		ct := strings.ToLower(p.ContentType)
		if (ct == "text/plain" || ct == "text/html") && p.FileName == "" && !strings.EqualFold(p.Disposition, "attachment") {
			return // a body part marked inline (Sparrow, Apple Mail), not a file
		}
		seen[p] = true
		out = append(out, attachmentOf(partFileName(p), ct, int64(len(p.Content)), inline, p.PartID))
	}
	for _, p := range env.Attachments {
		add(p, false)
	}
	for _, p := range env.Inlines {
		add(p, true)
	}
	for _, p := range env.OtherParts {
		if attachmentLike(p) {
			add(p, strings.EqualFold(p.Disposition, "inline"))
		}
	}
	return out
}

// partFileName is the part's file name; a name enmime could not decode
// (an ISO-2022-KR encoded word) is read again from the raw parameters.
func partFileName(p *enmime.Part) string {
	name := p.FileName
	if name != "" && !strings.ContainsRune(name, utf8.RuneError) && !strings.Contains(name, "=?") {
		return name
	}
	for _, h := range []string{"Content-Disposition", "Content-Type"} {
		if _, params, err := mime.ParseMediaType(p.Header.Get(h)); err == nil {
			for _, k := range []string{"filename", "name"} {
				if v := decodeWords(params[k]); v != "" && !strings.ContainsRune(v, utf8.RuneError) {
					return v
				}
			}
		}
	}
	return name
}

func attachmentLike(p *enmime.Part) bool {
	if p.Parent != nil && strings.EqualFold(p.Parent.ContentType, "multipart/report") {
		return false
	}
	ct := strings.ToLower(p.ContentType)
	if p.FileName != "" {
		return true
	}
	switch {
	case ct == "", strings.HasPrefix(ct, "text/"), strings.HasPrefix(ct, "multipart/"):
		return false
	case strings.HasPrefix(ct, "message/"):
		return ct == "message/rfc822" || ct == "message/global"
	}
	return true
}

// attachmentOf describes one attachment with a safe name.
func attachmentOf(name, ctype string, size int64, inline bool, part string) Attachment {
	name = fixHeaderText(name, "")
	if name == "" {
		if ctype == "message/rfc822" || ctype == "message/global" {
			name = "message.eml"
		} else {
			name = "unnamed"
		}
	}
	return Attachment{Name: SafeFileName(name), ContentType: ctype, Size: size, Inline: inline, Part: part}
}

// SafeFileName makes an attachment name safe to use as a file name in a
// folder: no directory parts (either slash), no drive or stream colons, no
// control characters, no leading dots or spaces, at most 200 bytes.
func SafeFileName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			return -1
		case r == ':' || r == '*' || r == '?' || r == '"' || r == '<' || r == '>' || r == '|':
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ". ")
	name = strings.TrimRight(name, ". ")
	if len(name) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		ext := ""
		if i := strings.LastIndexByte(name, '.'); i > len(name)-12 && i > 0 {
			ext = name[i:]
		}
		if cut > len(ext) {
			name = name[:cut-len(ext)]
			for len(name) > 0 && !utf8.ValidString(name) {
				name = name[:len(name)-1]
			}
			name += ext
		} else {
			name = name[:cut]
		}
	}
	if name == "" {
		return "unnamed"
	}
	return name
}

// maxReportPart caps each report part kept in Mail.ReportParts.
const maxReportPart = 64 << 10

// collectReportParts walks the MIME tree for Mail.ReportParts. enmime does
// not parse inside message/rfc822 (or other message/*) parts: each is one
// leaf whose Content is the embedded message, raw, with its transfer
// encoding removed (only a bogus boundary parameter would make it a
// multipart node). So the report's own parts are all found here, and the
// parts of a returned or forwarded message are never mistaken for them.
//
// Besides the RFC 3462/3464/5965 types this keeps the variants real
// reports use: text/rfc822-header (sic), message/partial (the returned
// message's first fragment, headers included), message/disposition-
// notification (read receipts) and text/delivery-status. Two malformed
// shapes of a returned message are kept as text/rfc822-headers: a part
// with no MIME header of its own, whose message header fields (Received,
// Message-Id, ...) enmime read as the part's header; and a text/plain
// attachment that begins with a message header block with trace fields.
func collectReportParts(m *Mail, p *enmime.Part) {
	for ; p != nil; p = p.NextSibling {
		ct := strings.ToLower(p.ContentType)
		var c []byte
		switch ct {
		case "message/delivery-status", "message/global-delivery-status", "text/delivery-status",
			"message/feedback-report", "message/disposition-notification", "message/global-disposition-notification",
			"message/rfc822", "message/global", "message/partial",
			"text/rfc822-headers", "text/rfc822-header", "message/global-headers":
			c = p.Content
		default:
			if p.Parent == nil || p.FirstChild != nil || strings.HasPrefix(ct, "multipart/") {
				break
			}
			if len(p.Header["Received"]) > 0 || p.Header.Get("Message-Id") != "" || p.Header.Get("Return-Path") != "" {
				keys := make([]string, 0, len(p.Header))
				for k := range p.Header {
					keys = append(keys, k)
				}
				for i := 1; i < len(keys); i++ { // sorted, for a stable result
					for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
						keys[j], keys[j-1] = keys[j-1], keys[j]
					}
				}
				var b bytes.Buffer
				for _, k := range keys {
					for _, v := range p.Header[k] {
						b.WriteString(k + ": " + v + "\r\n")
					}
				}
				ct, c = "text/rfc822-headers", b.Bytes()
				break
			}
			if ct == "text/plain" && strings.EqualFold(p.Disposition, "attachment") {
				head := bytes.TrimLeft(p.Content, "\r\n")
				if i := bytes.Index(head, []byte("\n\n")); i >= 0 {
					head = head[:i]
				} else if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
					head = head[:i]
				}
				var trace, id bool
				for _, line := range bytes.Split(bytes.ToLower(head), []byte("\n")) {
					switch {
					case bytes.HasPrefix(line, []byte("received:")):
						trace = trace || bytes.Contains(line, []byte("by ")) || bytes.Contains(line, []byte("from "))
					case bytes.HasPrefix(line, []byte("return-path:")):
						trace = trace || bytes.Contains(line, []byte("@"))
					case bytes.HasPrefix(line, []byte("message-id:")):
						id = bytes.Contains(line, []byte("@"))
					}
				}
				if trace && id {
					ct, c = "text/rfc822-headers", p.Content
				}
			}
		}
		if c != nil {
			if len(c) > maxReportPart {
				c = c[:maxReportPart]
			}
			m.ReportParts = append(m.ReportParts, ReportPart{ContentType: ct, Content: c})
		}
		collectReportParts(m, p.FirstChild)
	}
}

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

// truncate cuts s to at most n bytes, at a UTF-8 character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
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
