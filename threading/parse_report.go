package threading

import (
	"bytes"
	"strings"

	"github.com/jhillyerd/enmime/v2"
)

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
