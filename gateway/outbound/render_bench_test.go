package outbound

import (
	"html"
	"strings"
	"testing"
	"time"

	"helpdesk/store/model"
)

// benchMail is a new ticket's acknowledgement as the bench queues it: a
// few lines of template, the customer's 4 KiB text included, a footer.
func benchMail() (*model.Outbound, CommentText) {
	var b strings.Builder
	for b.Len() < 4<<10 {
		b.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore.\n")
	}
	text := b.String()
	o := &model.Outbound{ID: 7, Kind: "ack", MailFrom: "support@example.com", Rcpt: "c17@cust.example",
		From: `"Certs Support" <support@example.com>`, To: []string{"c17@cust.example"}, ReplyTo: "support@example.com",
		Subject: "[#1234] Expired certificate on the portal", MessageID: "hd.1234.5.abcdef@example.com",
		InReplyTo: "c17-1.123@cust.example", References: []string{"c17-1.123@cust.example"},
		Headers: []model.Header{{Name: "Auto-Submitted", Value: "auto-replied"}, {Name: "X-Helpdesk-Loop", Value: "b46759d668d9373e"}},
		Text:    "Hello,\n\nwe received your request and opened ticket #1234. Reply to this mail to add to it.\n\n> ",
		Include: &model.CommentRef{Ticket: 1234, Comment: 1}, TextAfter: "\n\n-- \nCerts Support\n"}
	return o, func(uint64, uint32) (string, error) { return text, nil }
}

func BenchmarkRender(b *testing.B) {
	o, text := benchMail()
	now := time.Date(2026, 12, 8, 0, 30, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(o, nil, text, now); err != nil {
			b.Fatal(err)
		}
	}
}

// oldTextToHTML is TextToHTML as it was before it appended to a buffer:
// the reference the new one must match byte for byte.
func oldTextToHTML(text string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><body><div style=\"font-family: sans-serif; white-space: normal\">\n")
	inQuote := false
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		q := strings.HasPrefix(line, ">")
		if q != inQuote {
			if q {
				b.WriteString("<blockquote style=\"margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex\">\n")
			} else {
				b.WriteString("</blockquote>\n")
			}
			inQuote = q
		}
		if q {
			line = strings.TrimPrefix(strings.TrimPrefix(line, ">"), " ")
		}
		b.WriteString(html.EscapeString(line))
		b.WriteString("<br>\n")
	}
	if inQuote {
		b.WriteString("</blockquote>\n")
	}
	b.WriteString("</div></body></html>\n")
	return b.String()
}

func TestTextToHTMLUnchanged(t *testing.T) {
	cases := []string{"", "\n", "\r\n", "\r", "a\r", "a\r\r\n", "\r\r\n\r", "x\n> q\n>> qq\n>\nback\n", "> only quote", "<b>&'\"</b>\r\nline 2\r\n",
		"Grüße, 日本語 <x@y>\n\n> > nested\n\r\n-- \nsig\n"}
	// And random mixes of the characters that matter.
	alphabet := []string{"a", "b", " ", ">", "<", "&", "'", "\"", "\r", "\n", "\r\n", "é"}
	seed := uint32(1)
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for j := 0; j < i%40; j++ {
			seed = seed*1664525 + 1013904223
			b.WriteString(alphabet[seed>>24%uint32(len(alphabet))])
		}
		cases = append(cases, b.String())
	}
	for _, c := range cases {
		if got, want := TextToHTML(c), oldTextToHTML(c); got != want {
			t.Fatalf("TextToHTML(%q) = %q, want %q", c, got, want)
		}
	}
}
