package threading

import (
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/text/encoding/korean"
)

// eml builds a raw message from header lines and a body, with CRLF.
func eml(headers []string, body string) string {
	return strings.Join(headers, "\r\n") + "\r\n\r\n" + strings.ReplaceAll(body, "\n", "\r\n")
}

func parseString(t *testing.T, raw string, opt ParseOptions) *Mail {
	t.Helper()
	m := Parse(strings.NewReader(raw), opt)
	for _, e := range m.ParseErrors {
		if strings.HasPrefix(e, "internal error") {
			t.Fatal(e)
		}
	}
	return m
}

func TestForwardInline(t *testing.T) {
	tests := []struct {
		name, subject, body string
		want                *Forwarded
		newText             string // "" to skip
	}{
		{
			name:    "gmail",
			subject: "Fwd: Broken certificate",
			body:    "Please help this customer.\n\n---------- Forwarded message ---------\nFrom: Ken Kim <ken@efun.example>\nDate: Mon, Apr 2, 2012 at 6:26 PM\nSubject: Broken certificate\nTo: Victoria <victoria@certs.example>\n\nOur certificate expired.\nPlease renew it.\n",
			want: &Forwarded{From: Address{Name: "Ken Kim", Addr: "ken@efun.example"}, Subject: "Broken certificate",
				Date: "Mon, Apr 2, 2012 at 6:26 PM", Text: "Our certificate expired.\nPlease renew it.", Note: "Please help this customer."},
			newText: "Please help this customer.\n\n---------- Forwarded message ---------\nFrom: Ken Kim <ken@efun.example>\nDate: Mon, Apr 2, 2012 at 6:26 PM\nSubject: Broken certificate\nTo: Victoria <victoria@certs.example>\n\nOur certificate expired.\nPlease renew it.",
		},
		{
			name:    "gmail bold names",
			subject: "Fwd: x",
			body:    "---------- Forwarded message ---------\nFrom: *Ken Kim* <ken@efun.example>\nDate: Mon, Apr 2, 2012\nSubject: x\n\nbody\n",
			want:    &Forwarded{From: Address{Name: "Ken Kim", Addr: "ken@efun.example"}, Subject: "x", Date: "Mon, Apr 2, 2012", Text: "body"},
		},
		{
			name:    "apple mail quoted",
			subject: "Fwd: Order",
			body:    "See below.\n\nBegin forwarded message:\n\n> From: \"Lee, Min\" <min@example.com>\n> Subject: Order\n> Date: April 2, 2012 at 6:26:00 PM GMT+9\n> To: sales@example.com\n> \n> Where is my order?\n",
			want: &Forwarded{From: Address{Name: "Lee, Min", Addr: "min@example.com"}, Subject: "Order",
				Date: "April 2, 2012 at 6:26:00 PM GMT+9", Text: "Where is my order?", Note: "See below."},
		},
		{
			name:    "thunderbird",
			subject: "Fwd: Invoice",
			body:    "\n\n-------- Forwarded Message --------\nSubject: \tInvoice\nDate: \tMon, 2 Apr 2012 18:26:00 +0900\nFrom: \tAcct <acct@vendor.example>\nTo: \tme@example.com\n\nInvoice attached.\n",
			want:    &Forwarded{From: Address{Name: "Acct", Addr: "acct@vendor.example"}, Subject: "Invoice", Date: "Mon, 2 Apr 2012 18:26:00 +0900", Text: "Invoice attached."},
		},
		{
			name:    "outlook FW original message",
			subject: "FW: Login problem",
			body:    "Can you take this one?\n\n-----Original Message-----\nFrom: Park <park@example.co.kr>\nSent: Monday, April 2, 2012 6:26 PM\nTo: Support <support@example.com>\nSubject: Login problem\n\nI cannot log in.\n",
			want: &Forwarded{From: Address{Name: "Park", Addr: "park@example.co.kr"}, Subject: "Login problem",
				Date: "Monday, April 2, 2012 6:26 PM", Text: "I cannot log in.", Note: "Can you take this one?"},
			newText: "Can you take this one?\n\n-----Original Message-----\nFrom: Park <park@example.co.kr>\nSent: Monday, April 2, 2012 6:26 PM\nTo: Support <support@example.com>\nSubject: Login problem\n\nI cannot log in.",
		},
		{
			name:    "outlook FW header block under underscores, mailto form",
			subject: "FW: Login",
			body:    "FYI\n\n________________________________\nFrom: Park Jisoo [mailto:park@example.co.kr]\nSent: Monday, April 2, 2012 6:26 PM\nTo: Support\nSubject: Login\n\nHelp\n",
			want:    &Forwarded{From: Address{Name: "Park Jisoo", Addr: "park@example.co.kr"}, Subject: "Login", Date: "Monday, April 2, 2012 6:26 PM", Text: "Help", Note: "FYI"},
		},
		{
			name:    "outlook korean 전달",
			subject: "전달: 환불 요청",
			body:    "확인 부탁드립니다.\n\n-----Original Message-----\n보낸 사람: 김현진 <hj@efun.example>\n보낸 날짜: 2026년 11월 20일 금요일 오후 3:00\n받는 사람: support@certs.example\n제목: 환불 요청\n\n환불해 주세요.\n",
			want: &Forwarded{From: Address{Name: "김현진", Addr: "hj@efun.example"}, Subject: "환불 요청",
				Date: "2026년 11월 20일 금요일 오후 3:00", Text: "환불해 주세요.", Note: "확인 부탁드립니다."},
		},
		{
			name:    "german WG",
			subject: "WG: Rechnung",
			body:    "Bitte prüfen.\n\nVon: Müller <m@example.de>\nGesendet: Montag, 2. April 2012 18:26\nAn: support@example.com\nBetreff: Rechnung\n\nDie Rechnung fehlt.\n",
			want: &Forwarded{From: Address{Name: "Müller", Addr: "m@example.de"}, Subject: "Rechnung",
				Date: "Montag, 2. April 2012 18:26", Text: "Die Rechnung fehlt.", Note: "Bitte prüfen."},
		},
		{
			name:    "reply with original message is not a forward",
			subject: "RE: Login",
			body:    "Thanks\n\n-----Original Message-----\nFrom: Park <park@example.co.kr>\nSent: Monday\nTo: Support\nSubject: Login\n\nold\n",
			want:    nil,
			newText: "Thanks",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := eml([]string{"From: Victoria <victoria@certs.example>", "To: support@certs.example",
				"Subject: =?utf-8?B?" + b64s(tt.subject) + "?=", "MIME-Version: 1.0",
				"Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"}, tt.body)
			m := parseString(t, raw, ParseOptions{})
			if m.Subject != tt.subject {
				t.Fatalf("subject %q", m.Subject)
			}
			if tt.want == nil {
				if m.Forwarded != nil {
					t.Errorf("unexpected forward %+v", m.Forwarded)
				}
			} else if m.Forwarded == nil {
				t.Errorf("no forward found")
			} else if *m.Forwarded != *tt.want {
				t.Errorf("forward\n got: %+v\nwant: %+v", *m.Forwarded, *tt.want)
			}
			if tt.newText != "" && m.NewText != tt.newText {
				t.Errorf("NewText\n got: %q\nwant: %q", m.NewText, tt.newText)
			}
		})
	}
}

func TestForwardAttachedMessage(t *testing.T) {
	inner := eml([]string{"From: =?utf-8?B?" + b64s("김현진") + "?= <hj@efun.example>", "To: vendor@example.com",
		"Subject: Order 42", "Date: Mon, 02 Apr 2012 18:26:00 +0900", "Content-Type: text/plain; charset=euc-kr",
		"Content-Transfer-Encoding: base64"}, b64s(string(mustEncode(t, koreanEnc(), "주문이 안 왔어요.\n"))))
	raw := eml([]string{"From: Victoria <victoria@certs.example>", "To: support@certs.example",
		"Subject: Fwd: Order 42", "MIME-Version: 1.0", `Content-Type: multipart/mixed; boundary="b1"`},
		"--b1\nContent-Type: text/plain; charset=utf-8\n\nCustomer mail attached.\n\n--b1\nContent-Type: message/rfc822\nContent-Disposition: attachment; filename=\"order.eml\"\n\n"+
			strings.ReplaceAll(inner, "\r\n", "\n")+"\n--b1--\n")
	for _, threshold := range []int64{0, 64} { // normal and large mode
		m := parseString(t, raw, ParseOptions{LargeThreshold: threshold})
		fw := m.Forwarded
		if fw == nil {
			t.Fatalf("threshold %d: no forward", threshold)
		}
		want := Forwarded{From: Address{Name: "김현진", Addr: "hj@efun.example"}, Subject: "Order 42",
			Date: "Mon, 02 Apr 2012 18:26:00 +0900", Text: "주문이 안 왔어요.", Note: "Customer mail attached."}
		if *fw != want {
			t.Errorf("threshold %d:\n got: %+v\nwant: %+v", threshold, *fw, want)
		}
		if len(m.Attachments) != 1 || m.Attachments[0].Name != "order.eml" || m.Attachments[0].ContentType != "message/rfc822" {
			t.Errorf("attachments %+v", m.Attachments)
		}
	}
}

func TestForwardNotInReports(t *testing.T) {
	raw := eml([]string{"From: MAILER-DAEMON@example.com", "To: support@certs.example", "Subject: Undelivered Mail",
		"MIME-Version: 1.0", `Content-Type: multipart/report; report-type=delivery-status; boundary="r"`},
		"--r\nContent-Type: text/plain\n\nI could not deliver it.\n--r\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; x@example.org\nAction: failed\nStatus: 5.1.1\n--r\nContent-Type: message/rfc822\n\nFrom: support@certs.example\nSubject: [#1] hi\n\nhi\n--r--\n")
	m := parseString(t, raw, ParseOptions{})
	if m.Forwarded != nil {
		t.Errorf("a bounce is not a forward: %+v", m.Forwarded)
	}
	if len(m.ReportParts) != 2 {
		t.Errorf("report parts: %d", len(m.ReportParts))
	}
}

func TestIsForwardSubject(t *testing.T) {
	for s, want := range map[string]bool{
		"Fwd: x": true, "FW: x": true, "fw:x": true, "WG: x": true, "TR: x": true, "RV: x": true,
		"전달: x": true, "[ext] FW: x": true, "Re: Fwd: x": false, "RE: x": false, "Forward planning": false,
		"Fwd[2]: x": true,
	} {
		if got := IsForwardSubject(s); got != want {
			t.Errorf("IsForwardSubject(%q) = %v", s, got)
		}
	}
}

func b64s(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func koreanEnc() interface{ Bytes([]byte) ([]byte, error) } { return korean.EUCKR.NewEncoder() }

// A forward marker inside the reply history (below an Outlook header
// block, an "On ... wrote:" line, or our reply marker) belongs to an old
// mail: the reply is not a forward, and the history stays out of NewText
// and StaffText.
func TestForwardMarkerInHistory(t *testing.T) {
	const marker = "##- Reply above this line -##"
	tests := []struct {
		name, subject, body string
		newText, staffText  string
	}{
		{
			name:    "outlook history",
			subject: "RE: Login",
			body: "I reset your password.\n\n________________________________\nFrom: Park <park@example.co.kr>\nSent: Monday, April 2, 2012 6:26 PM\nTo: Support <support@example.com>\nSubject: FW: Login\n\n" +
				"See below.\n\n---------- Forwarded message ---------\nFrom: Boss <boss@example.co.kr>\nDate: Mon, Apr 2, 2012 at 5:00 PM\nSubject: Login\nTo: Park <park@example.co.kr>\n\nPrivate: the admin password is hunter2.\n",
			newText:   "I reset your password.",
			staffText: "I reset your password.",
		},
		{
			name:    "unquoted history under an attribution",
			subject: "Re: Login",
			body: "I reset your password.\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Park <park@example.co.kr> wrote:\n\n" +
				"---------- Forwarded message ---------\nFrom: Boss <boss@example.co.kr>\nDate: Mon, Apr 2, 2012 at 5:00 PM\nSubject: Login\nTo: Park <park@example.co.kr>\n\nPrivate: the admin password is hunter2.\n",
		},
		{
			name:    "below our reply marker",
			subject: "Re: [#12] Login",
			body: "I reset your password.\n\n" + marker + "\n\nPark wrote on ticket #12:\n\n" +
				"---------- Forwarded message ---------\nFrom: Boss <boss@example.co.kr>\nDate: Mon, Apr 2, 2012 at 5:00 PM\nSubject: Login\nTo: Park <park@example.co.kr>\n\nPrivate: the admin password is hunter2.\n",
			staffText: "I reset your password.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := eml([]string{"From: Victoria <victoria@certs.example>", "To: support@certs.example",
				"Subject: " + tt.subject, "MIME-Version: 1.0",
				"Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"}, tt.body)
			m := parseString(t, raw, ParseOptions{ReplyMarker: marker})
			if m.Forwarded != nil {
				t.Errorf("taken as a forward: %+v", *m.Forwarded)
			}
			if strings.Contains(m.StaffText, "hunter2") {
				t.Errorf("history in StaffText: %q", m.StaffText)
			}
			if tt.newText != "" && m.NewText != tt.newText {
				t.Errorf("NewText\n got: %q\nwant: %q", m.NewText, tt.newText)
			}
			if tt.staffText != "" && m.StaffText != tt.staffText {
				t.Errorf("StaffText\n got: %q\nwant: %q", m.StaffText, tt.staffText)
			}
		})
	}
}

// TestForwardParsedOneLevel: only the top mail's forward is used, so the
// attached message is parsed without looking for a forward inside it (a
// forwarded forward is not parsed again, on either MIME path).
func TestForwardParsedOneLevel(t *testing.T) {
	innermost := "From: Old <old@example.org>\nSubject: very old\n\nold text\n"
	inner := "From: Ken <ken@efun.example>\nSubject: Fwd: very old\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b2\"\n\n" +
		"--b2\nContent-Type: text/plain\n\nForwarding this.\n\n---------- Forwarded message ---------\nFrom: Old <old@example.org>\nDate: Mon, 2 Apr 2012\nSubject: very old\n\nold text\n" +
		"--b2\nContent-Type: message/rfc822\n\n" + innermost + "\n--b2--\n"
	raw := "From: Victoria <victoria@certs.example>\nTo: support@certs.example\nSubject: Fwd: Fwd: very old\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\n\n" +
		"--b1\nContent-Type: text/plain\n\nSee attached.\n--b1\nContent-Type: message/rfc822\n\n" + inner + "\n--b1--\n"
	opt := ParseOptions{}.withDefaults()

	m := &Mail{}
	env, _, _ := parseWhole(m, []byte(raw), opt)
	sub := attachedForward(env.Root, opt)
	if sub == nil || sub.Subject != "Fwd: very old" {
		t.Fatalf("whole: attached message %+v", sub)
	}
	if sub.Forwarded != nil {
		t.Errorf("whole: the attached message's own forward was parsed: %+v", *sub.Forwarded)
	}

	_, _, sub = parseLarge(&Mail{}, strings.NewReader(raw), opt)
	if sub == nil || sub.Subject != "Fwd: very old" {
		t.Fatalf("large: attached message %+v", sub)
	}
	if sub.Forwarded != nil {
		t.Errorf("large: the attached message's own forward was parsed: %+v", *sub.Forwarded)
	}

	for _, threshold := range []int64{0, 64} {
		m := parseString(t, raw, ParseOptions{LargeThreshold: threshold})
		if m.Forwarded == nil || m.Forwarded.From.Addr != "ken@efun.example" || m.Forwarded.Note != "See attached." {
			t.Errorf("threshold %d: forward %+v", threshold, m.Forwarded)
		}
	}
}

// forwardBeginFirst must let through every phrase forwardBeginRe knows, in
// any case.
func TestForwardBeginFirstCoversPhrases(t *testing.T) {
	src := forwardBeginRe.String()
	i, j := strings.Index(src, `^\s*(`), strings.LastIndex(src, `)\s*`)
	if i < 0 || j < i {
		t.Fatalf("unexpected expression %s", src)
	}
	phrases := strings.Split(src[i+len(`^\s*(`):j], "|")
	if len(phrases) < 10 {
		t.Fatalf("only %d phrases in %s", len(phrases), src)
	}
	for _, p := range phrases {
		r := []rune(p)
		title := strings.ToUpper(string(r[:1])) + string(r[1:]) + ":"
		for _, v := range []string{p, strings.ToUpper(p), title} {
			if !forwardBeginFirst(v) || !isForwardMarker(v) {
				t.Errorf("%q: first %v, marker %v", v, forwardBeginFirst(v), isForwardMarker(v))
			}
		}
	}
	if isForwardMarker("Hello support,") || forwardBeginFirst("Hello") {
		t.Error("an ordinary line passes")
	}
}
