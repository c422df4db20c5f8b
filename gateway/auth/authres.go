package auth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dmarc"
)

// parseAuthRes parses one Authentication-Results field value (RFC 8601)
// with go-msgauth and extracts what concerns the From domain: an aligned
// dkim=pass, and the dmarc result for header.from. Whether the header is to
// be believed is the caller's decision.
func parseAuthRes(value, from string, mode dmarc.AlignmentMode) AuthRes {
	ar := AuthRes{Present: true}
	// go-msgauth knows neither comments nor quoted strings: see cleanAuthRes.
	id, results, _ := authres.Parse(cleanAuthRes(value)) // partial results are still usable
	ar.AuthservID = strings.ToLower(id)
	for _, r := range results {
		switch r := r.(type) {
		case *authres.DKIMResult:
			if r.Value != authres.ResultPass {
				continue
			}
			d := unquote(r.Domain)
			if d == "" {
				// header.i is an AUID: "@example.com" or "user@sub.example.com".
				i := unquote(r.Identifier)
				d = i[strings.LastIndexByte(i, '@')+1:]
			}
			if aligned(d, from, mode) {
				ar.DKIMPass = true
			}
		case *authres.DMARCResult:
			hf := normDomain(unquote(r.From))
			if hf != "" && hf != from {
				continue // a verdict about another domain
			}
			switch v := string(r.Value); v {
			case DMARCPass, DMARCFail, DMARCNone, DMARCTempError, DMARCPermError:
				// A pass counts for the authres check only when it names
				// the From domain.
				if v == DMARCPass && hf == "" {
					continue
				}
				if ar.DMARC != DMARCPass {
					ar.DMARC = v
				}
			}
		}
	}
	return ar
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return s
}

// cleanAuthRes prepares an Authentication-Results value for
// authres.Parse, which knows no RFC 5322 syntax: it splits the value on
// every ";", each resinfo on white space (any Unicode space, as
// strings.Fields sees it) and each property at its first "=", even inside
// quoted strings. A quoted string holds text the sender chose (a local
// part in smtp.mailfrom, a reason), so
//   - comments (nested parentheses, with quoted-pairs) are removed, as real
//     MTAs write them ("mx.example.com (Postfix); dkim=pass (2048-bit key)");
//   - inside a quoted string (quoted-pairs included), ";", "=" and white
//     space become "_", so its content stays within one value and can never
//     become a new resinfo, result or property. An unterminated quoted
//     string runs to the end of the value.
//
// Plain values such as header.d="example.com" are unchanged.
func cleanAuthRes(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	quoted := func(r rune) {
		if r == ';' || r == '=' || unicode.IsSpace(r) {
			r = '_'
		}
		b.WriteRune(r)
	}
	depth := 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case inQuote:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b.WriteByte(ch) // not a space to strings.Fields either
				continue
			}
			i += n - 1
			switch r {
			case '"':
				inQuote = false
				b.WriteByte('"')
			case '\\':
				b.WriteByte('\\')
				if i+1 < len(s) {
					r, n := utf8.DecodeRuneInString(s[i+1:])
					if r == utf8.RuneError && n == 1 {
						b.WriteByte(s[i+1])
					} else {
						quoted(r)
					}
					i += n
				}
			default:
				quoted(r)
			}
		case depth > 0:
			switch ch {
			case '\\':
				i++ // quoted-pair: skip the escaped byte (all of a comment is dropped)
			case '(':
				depth++
			case ')':
				depth--
				if depth == 0 {
					b.WriteByte(' ')
				}
			}
		case ch == '(':
			depth++
		case ch == '"':
			inQuote = true
			b.WriteByte(ch)
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}
