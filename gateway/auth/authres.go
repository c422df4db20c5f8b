package auth

import (
	"strings"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dmarc"
)

// parseAuthRes parses one Authentication-Results field value (RFC 8601)
// with go-msgauth and extracts what concerns the From domain: an aligned
// dkim=pass, and the dmarc result for header.from. Whether the header is to
// be believed is the caller's decision.
func parseAuthRes(value, from string, mode dmarc.AlignmentMode) AuthRes {
	ar := AuthRes{Present: true}
	// go-msgauth does not skip RFC 5322 comments ("mx.example.com (Postfix);
	// dkim=pass (2048-bit key) header.d=..."), which real MTAs write.
	id, results, _ := authres.Parse(stripComments(value)) // partial results are still usable
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

// stripComments removes RFC 5322 comments (nested parentheses, with
// backslash quoting), leaving quoted strings alone.
func stripComments(s string) string {
	var b strings.Builder
	depth := 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s) && (inQuote || depth > 0):
			if depth == 0 {
				b.WriteByte(ch)
				b.WriteByte(s[i+1])
			}
			i++
		case inQuote:
			b.WriteByte(ch)
			if ch == '"' {
				inQuote = false
			}
		case ch == '(':
			depth++
		case ch == ')' && depth > 0:
			depth--
			if depth == 0 {
				b.WriteByte(' ')
			}
		case depth > 0:
		case ch == '"':
			inQuote = true
			b.WriteByte(ch)
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}
