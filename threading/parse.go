package threading

// Parsing, by concern: this file is the entry point (options, Parse, the
// choice between the two MIME paths); parse_whole.go parses a message held
// in memory with enmime, parse_large.go streams a large or complex one with
// go-message; parse_text.go repairs text parts and their charsets,
// parse_attachments.go lists attachments, parse_report.go keeps the parts
// of delivery and disposition reports, parse_headers.go reads header fields
// and addresses.

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
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
