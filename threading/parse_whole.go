package threading

import (
	"bytes"
	"mime"
	"strings"

	"github.com/jhillyerd/enmime/v2"
)

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
