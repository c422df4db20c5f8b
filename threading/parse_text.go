package threading

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
	"github.com/jhillyerd/enmime/v2/mediatype"
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
