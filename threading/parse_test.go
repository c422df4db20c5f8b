package threading

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/mail"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
	"golang.org/x/text/encoding/korean"
)

func TestParseHeaders(t *testing.T) {
	raw := eml([]string{
		"Received: from a by b; Mon, 2 Apr 2012 18:26:00 +0900",
		"Received: from c by d; Mon, 2 Apr 2012 18:26:00 +0900",
		`From: "Ken Kim" <Ken@EFun.example>`,
		"Sender: bulk@efun.example",
		"To: support@certs.example, =?utf-8?B?" + b64s("빅토리아") + "?= <victoria@certs.example>",
		"Cc: a@example.com",
		"Reply-To: other@example.com",
		"Subject: =?utf-8?Q?Re:_[#12]_caf=C3=A9?=",
		"Date: Mon, 02 Apr 2012 18:26:00 +0900",
		"Message-ID: <abc@efun.example>",
		"In-Reply-To: <x1@certs.example>",
		"References: <x0@certs.example> <x1@certs.example>",
		"Auto-Submitted: Auto-Replied",
		"X-Helpdesk-Loop: inst-1",
		"Content-Type: text/plain; charset=utf-8",
	}, "Hello\n")
	m := parseString(t, raw, ParseOptions{})
	if m.From != (Address{Name: "Ken Kim", Addr: "Ken@EFun.example"}) || m.From.Norm() != "ken@efun.example" {
		t.Errorf("From %+v", m.From)
	}
	if len(m.To) != 2 || m.To[1].Name != "빅토리아" || len(m.Cc) != 1 || len(m.ReplyTo) != 1 || m.Sender == nil {
		t.Errorf("addresses To=%+v Cc=%+v ReplyTo=%+v Sender=%v", m.To, m.Cc, m.ReplyTo, m.Sender)
	}
	if m.Subject != "Re: [#12] café" || m.MessageID != "abc@efun.example" || len(m.References) != 2 || m.InReplyTo[0] != "x1@certs.example" {
		t.Errorf("subject/ids: %q %q %v %v", m.Subject, m.MessageID, m.References, m.InReplyTo)
	}
	if m.ReceivedCount != 2 || m.AutoSubmitted != "auto-replied" || len(m.LoopIDs) != 1 || m.Date.IsZero() {
		t.Errorf("machine headers: %d %q %v %v", m.ReceivedCount, m.AutoSubmitted, m.LoopIDs, m.Date)
	}
	if got := m.Get("content-type"); got != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type header %q", got)
	}
	if m.NewText != "Hello" || m.TextFromHTML {
		t.Errorf("NewText %q", m.NewText)
	}
}

func TestParseRawEightBitHeaders(t *testing.T) {
	subj := string(mustEncode(t, korean.EUCKR.NewEncoder(), "환불 요청"))
	name := string(mustEncode(t, korean.EUCKR.NewEncoder(), "김현진"))
	body := base64.StdEncoding.EncodeToString(mustEncode(t, korean.EUCKR.NewEncoder(), "환불해 주세요."))
	raw := eml([]string{"From: " + name + " <hj@efun.example>", "To: " + name + " <a@example.com>, b@example.com",
		"Subject: " + subj, "Content-Type: text/plain; charset=euc-kr", "Content-Transfer-Encoding: base64"}, body)
	m := parseString(t, raw, ParseOptions{})
	if m.Subject != "환불 요청" || m.From.Name != "김현진" || m.From.Addr != "hj@efun.example" || m.NewText != "환불해 주세요." {
		t.Errorf("subject %q from %+v text %q", m.Subject, m.From, m.NewText)
	}
	if len(m.To) != 2 || m.To[0].Name != "김현진" {
		t.Errorf("To %+v", m.To)
	}
}

func TestParseISO2022KRMail(t *testing.T) {
	body := encodeISO2022KR(t, "확인했습니다.\n\n> 요청하신 자료입니다.")
	raw := eml([]string{"From: a@example.com", "Subject: =?ISO-2022-KR?B?" + base64.StdEncoding.EncodeToString(encodeISO2022KR(t, "문의 드립니다")) + "?=",
		"Content-Type: text/plain; charset=ISO-2022-KR", "Content-Transfer-Encoding: 7bit"}, string(body))
	m := parseString(t, raw, ParseOptions{})
	if m.Subject != "문의 드립니다" || m.NewText != "확인했습니다." || len(m.CharsetProblems) > 0 {
		t.Errorf("subject %q newtext %q problems %v", m.Subject, m.NewText, m.CharsetProblems)
	}
	if m.Get("Content-Type") != "text/plain; charset=ISO-2022-KR" {
		t.Errorf("original Content-Type not kept: %q", m.Get("Content-Type"))
	}
}

func TestParseCharsetProblemKeptRaw(t *testing.T) {
	raw := eml([]string{"From: a@example.com", "Subject: x", "MIME-Version: 1.0", `Content-Type: multipart/mixed; boundary="b"`},
		"--b\nContent-Type: text/plain; charset=x-klingon\nContent-Transfer-Encoding: base64\n\n"+
			base64.StdEncoding.EncodeToString([]byte{0x00, 0x81, 0xff, 0x82, 0xfe, 0x9f})+
			"\n--b\nContent-Type: text/plain; charset=utf-8\n\nsecond part\n--b--\n")
	m := parseString(t, raw, ParseOptions{})
	if len(m.CharsetProblems) != 1 || !strings.Contains(m.CharsetProblems[0], "x-klingon") {
		t.Errorf("CharsetProblems %v", m.CharsetProblems)
	}
	if !strings.Contains(m.Text, "\x81\xff\x82") || !strings.Contains(m.Text, "second part") {
		t.Errorf("raw bytes or other part lost: %q", m.Text)
	}
}

func TestParseHTMLOnly(t *testing.T) {
	raw := eml([]string{"From: a@example.com", "Subject: RE: x", "Content-Type: text/html; charset=utf-8"},
		`<html><body><div>#status pending</div><div>We fixed it, see <a href="https://kb.example/1">KB 1</a>.</div>`+
			`<div id="appendonsend"></div><hr><div id="divRplyFwdMsg"><b>From:</b> Support<br><b>Sent:</b> Monday</div><div>##- Reply above this line -##<br>old</div></body></html>`)
	m := parseString(t, raw, ParseOptions{ReplyMarker: "##- Reply above this line -##"})
	if !m.TextFromHTML {
		t.Fatal("TextFromHTML not set")
	}
	if want := "#status pending\nWe fixed it, see KB 1 (https://kb.example/1)."; m.NewText != want || m.StaffText != want {
		t.Errorf("NewText %q StaffText %q", m.NewText, m.StaffText)
	}
	if !strings.Contains(m.Text, "old") {
		t.Errorf("Text lost the history: %q", m.Text)
	}
}

func TestParseStaffText(t *testing.T) {
	marker := "##- Reply above this line -##"
	body := "#note\nLooks fine.\n\nOn Mon, Apr 2, 2012 at 6:26 PM, Certs <support+abc@certs.example> wrote:\n> " + marker + "\n> Ken wrote:\n> old\n"
	m := parseString(t, eml([]string{"From: v@certs.example", "Subject: Re: x"}, body), ParseOptions{ReplyMarker: marker})
	if m.StaffText != "#note\nLooks fine." {
		t.Errorf("StaffText %q", m.StaffText)
	}
	// Unquoted notification below an unrecognised attribution.
	body = "Done.\n\nLe 2 avr. 2012, Certs a dit :\n\n" + marker + "\nTicket #12\n"
	m = parseString(t, eml([]string{"From: v@certs.example", "Subject: Re: x"}, body), ParseOptions{ReplyMarker: marker})
	if m.StaffText != "Done." {
		t.Errorf("StaffText %q", m.StaffText)
	}
	if m2 := parseString(t, eml([]string{"From: v@certs.example"}, "x"), ParseOptions{}); m2.StaffText != "" {
		t.Errorf("StaffText without marker option: %q", m2.StaffText)
	}
}

func TestParseFormatFlowed(t *testing.T) {
	raw := eml([]string{"From: a@example.com", "Content-Type: text/plain; charset=utf-8; format=flowed"},
		"This is a long \nparagraph that was \nwrapped.\n\n-- \nsig\n\n> quoted \n> more\n")
	m := parseString(t, raw, ParseOptions{})
	if want := "This is a long paragraph that was wrapped.\n\n-- \nsig\n\n> quoted more"; m.Text != want {
		t.Errorf("Text %q", m.Text)
	}
}

func TestParseAttachments(t *testing.T) {
	pdf := bytes.Repeat([]byte("%PDF-1.4 binary\x00\x01\x02"), 3000)
	png := bytes.Repeat([]byte{0x89, 'P', 'N', 'G', 0, 1, 2, 3}, 1000)
	csv := strings.Repeat("a,b,c=d\n", 500)
	qp := strings.ReplaceAll(strings.ReplaceAll(csv, "=", "=3D"), "\n", "=0A=\n")
	b64lines := func(b []byte) string {
		s := base64.StdEncoding.EncodeToString(b)
		var out strings.Builder
		for len(s) > 76 {
			out.WriteString(s[:76] + "\n")
			s = s[76:]
		}
		return out.String() + s
	}
	raw := eml([]string{"From: a@example.com", "Subject: files", "MIME-Version: 1.0", `Content-Type: multipart/mixed; boundary="outer"`},
		"preamble\n--outer\nContent-Type: multipart/alternative; boundary=\"alt\"\n\n--alt\nContent-Type: text/plain\n\nSee attached.\n--alt\nContent-Type: text/html\n\n<p>See attached.</p>\n--alt--\n"+
			"--outer\nContent-Type: application/pdf; name=\"../../etc/passwd\"\nContent-Disposition: attachment; filename=\"..\\\\..\\\\evil.pdf\"\nContent-Transfer-Encoding: base64\n\n"+b64lines(pdf)+"\n"+
			"--outer\nContent-Type: image/png\nContent-ID: <img1>\nContent-Disposition: inline; filename=\"=?utf-8?B?"+b64s("사진.png")+"?=\"\nContent-Transfer-Encoding: base64\n\n"+b64lines(png)+"\n"+
			"--outer\nContent-Type: text/csv; name=data.csv\nContent-Disposition: attachment\nContent-Transfer-Encoding: quoted-printable\n\n"+qp+"\n"+
			"--outer\nContent-Type: application/octet-stream\n\nraw bytes\n"+
			"--outer--\nepilogue\n")
	want := []Attachment{
		{Name: "evil.pdf", ContentType: "application/pdf", Size: int64(len(pdf))},
		{Name: "data.csv", ContentType: "text/csv", Size: int64(len(csv))},
		{Name: "unnamed", ContentType: "application/octet-stream", Size: 9},
		{Name: "사진.png", ContentType: "image/png", Size: int64(len(png)), Inline: true},
	}
	var first []Attachment
	for _, threshold := range []int64{0, 100} { // enmime sees everything / large mode placeholders
		m := parseString(t, raw, ParseOptions{LargeThreshold: threshold})
		if m.Text != "See attached." || m.NewText != "See attached." {
			t.Errorf("threshold %d: text %q", threshold, m.Text)
		}
		if len(m.Attachments) != len(want) {
			t.Fatalf("threshold %d: attachments %+v", threshold, m.Attachments)
		}
		for i, a := range m.Attachments {
			w := want[i]
			if a.Name != w.Name || a.ContentType != w.ContentType || a.Size != w.Size || a.Inline != w.Inline || a.Part == "" {
				t.Errorf("threshold %d: attachment %d = %+v, want %+v", threshold, i, a, w)
			}
		}
		if first == nil {
			first = m.Attachments
		} else {
			for i := range first {
				if first[i] != m.Attachments[i] {
					t.Errorf("large mode differs: %+v vs %+v", m.Attachments[i], first[i])
				}
			}
		}
	}
	// The part IDs are enmime's for the raw message, so the outbound side
	// can find the attachment again.
	env, err := enmime.ReadEnvelope(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if got := env.Attachments[0].PartID; got != first[0].Part {
		t.Errorf("part id %q, enmime says %q", first[0].Part, got)
	}
	if len(env.Attachments[0].Content) != len(pdf) {
		t.Errorf("enmime decoded %d bytes", len(env.Attachments[0].Content))
	}
}

func TestSafeFileName(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf":                      "report.pdf",
		"../../etc/passwd":                "passwd",
		`..\..\boot.ini`:                  "boot.ini",
		"/abs/path/x.txt":                 "x.txt",
		"C:evil.exe":                      "C_evil.exe",
		"..":                              "unnamed",
		"":                                "unnamed",
		".hidden":                         "hidden",
		"a\x00b\r\nc.txt":                 "abc.txt",
		"name.txt. . ":                    "name.txt",
		"what?*<>|\".doc":                 "what______.doc",
		"사진.png":                          "사진.png",
		"bad\xffutf8.txt":                 "bad_utf8.txt",
		"dir/":                            "unnamed",
		"\u202eexe.txt":                   "\u202eexe.txt",
		strings.Repeat("a", 300) + ".pdf": strings.Repeat("a", 196) + ".pdf",
	} {
		got := SafeFileName(in)
		if got != want {
			t.Errorf("SafeFileName(%q) = %q, want %q", in, got, want)
		}
		if strings.ContainsAny(got, "/\\") || strings.HasPrefix(got, ".") || len(got) > 200 {
			t.Errorf("SafeFileName(%q) = %q is unsafe", in, got)
		}
	}
}

func TestBodyHash(t *testing.T) {
	base := eml([]string{"From: a@example.com", "Message-ID: <1@x>", "Subject: s"}, "Hello\nWorld\n")
	retry := "Received: from relay by mx; Mon, 2 Apr 2012 18:26:00 +0900\r\n" + base
	lf := strings.ReplaceAll(base, "\r\n", "\n")
	other := eml([]string{"From: a@example.com", "Message-ID: <1@x>", "Subject: s"}, "Hello\nWorld!\n")
	h := func(s string, opt ParseOptions) string { return parseString(t, s, opt).BodyHash }
	if h(base, ParseOptions{}) != h(retry, ParseOptions{}) || h(base, ParseOptions{}) != h(lf, ParseOptions{}) {
		t.Error("same body hashes differently")
	}
	if h(base, ParseOptions{}) == h(other, ParseOptions{}) {
		t.Error("different bodies hash the same")
	}
	if h(base, ParseOptions{}) != h(base, ParseOptions{LargeThreshold: 10}) {
		t.Error("streaming (large) hash differs")
	}
	sum := sha256.Sum256([]byte("Hello\nWorld\n"))
	if got := h(base, ParseOptions{}); got != hex.EncodeToString(sum[:16]) {
		t.Errorf("hash %s is not SHA-256 of the LF-normalized body", got)
	}
	// A CR at the end of a read chunk must still pair with the LF after it.
	hr := newBodyHasher(iotestOneByte(strings.NewReader(base)))
	_, _ = io.Copy(io.Discard, hr)
	if hr.Sum() != h(base, ParseOptions{}) {
		t.Error("hash depends on read sizes")
	}
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func iotestOneByte(r io.Reader) io.Reader { return oneByteReader{r} }

func TestParseRobustness(t *testing.T) {
	deep := func(n int) string {
		var b strings.Builder
		b.WriteString("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n", i, i+1)
		}
		fmt.Fprintf(&b, "--b%d\r\nContent-Type: text/plain\r\n\r\ndeep text\r\n", n)
		return b.String()
	}
	manyHeaders := func() string {
		var b strings.Builder
		b.WriteString("From: a@example.com\r\nSubject: many\r\n")
		for i := 0; i < 10000; i++ {
			fmt.Fprintf(&b, "X-Filler-%d: value %d\r\n", i, i)
		}
		b.WriteString("\r\nbody\r\n")
		return b.String()
	}
	manyParts := func(n int) string {
		var b strings.Builder
		b.WriteString("From: a@example.com\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "--p\r\nContent-Type: application/x-part; name=p%d.bin\r\n\r\nx\r\n", i)
		}
		b.WriteString("--p--\r\n")
		return b.String()
	}
	tests := []struct {
		name  string
		raw   string
		check func(t *testing.T, m *Mail)
	}{
		{"empty input", "", func(t *testing.T, m *Mail) {
			if m.Text != "" || m.BodyHash == "" {
				t.Errorf("%+v", m)
			}
		}},
		{"no header at all", "just some text\nand more", func(t *testing.T, m *Mail) {
			if m.Text != "just some text\nand more" {
				t.Errorf("text %q", m.Text)
			}
		}},
		{"bare LF", "From: a@example.com\nSubject: lf\nContent-Type: multipart/alternative; boundary=x\n\n--x\nContent-Type: text/plain\n\nline1\nline2\n--x--\n",
			func(t *testing.T, m *Mail) {
				if m.Subject != "lf" || m.Text != "line1\nline2" {
					t.Errorf("%q %q", m.Subject, m.Text)
				}
			}},
		{"mbox From line", "From a@example.com Mon Apr  2 18:26:00 2012\nFrom: a@example.com\nSubject: mbox\n\nbody\n", func(t *testing.T, m *Mail) {
			if m.Subject != "mbox" || m.Text != "body" {
				t.Errorf("%q %q", m.Subject, m.Text)
			}
		}},
		{"garbage content type", "From: a@example.com\nContent-Type: ;;;==//garbage\n\nstill text\n", func(t *testing.T, m *Mail) {
			if !strings.Contains(m.Text, "still text") {
				t.Errorf("text %q", m.Text)
			}
		}},
		{"multipart without boundary", "From: a@example.com\nContent-Type: multipart/mixed\n\nthe body\n", func(t *testing.T, m *Mail) {
			if !strings.Contains(m.Text, "the body") {
				t.Errorf("text %q", m.Text)
			}
		}},
		{"missing part content type", "From: a@example.com\nContent-Type: multipart/mixed; boundary=q\n\n--q\n\nno type\n--q--\n", func(t *testing.T, m *Mail) {
			if m.Text != "no type" {
				t.Errorf("text %q", m.Text)
			}
		}},
		{"part without blank line", "From: a@example.com\nContent-Type: multipart/mixed; boundary=q\n\n--q\nHello there\n--q--\n", func(t *testing.T, m *Mail) {
			// enmime skips a part whose header block is not one; the
			// stored raw message keeps it, and the problem is reported.
			if m.Text != "" || len(m.ParseErrors) == 0 {
				t.Errorf("text %q errors %v", m.Text, m.ParseErrors)
			}
		}},
		{"unclosed multipart", "From: a@example.com\nContent-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\ncut off", func(t *testing.T, m *Mail) {
			if m.Text != "cut off" || len(m.ParseErrors) == 0 {
				t.Errorf("text %q errors %v", m.Text, m.ParseErrors)
			}
		}},
		{"deep nesting", deep(5000), func(t *testing.T, m *Mail) {
			if !containsErr(m, "nesting deeper") {
				t.Errorf("errors %v", m.ParseErrors)
			}
		}},
		{"nesting within limit", deep(15), func(t *testing.T, m *Mail) {
			if m.Text != "deep text" {
				t.Errorf("text %q", m.Text)
			}
		}},
		{"10000 headers", manyHeaders(), func(t *testing.T, m *Mail) {
			if m.Subject != "many" || m.Get("X-Filler-9999") != "value 9999" || !strings.HasPrefix(m.Text, "body") {
				t.Errorf("subject %q last %q", m.Subject, m.Get("X-Filler-9999"))
			}
		}},
		{"1 MB header line", "From: a@example.com\nSubject: long\nX-Long: " + strings.Repeat("y", 1000000) + "\n\nbody\n", func(t *testing.T, m *Mail) {
			if m.Subject != "long" || len(m.Get("X-Long")) != 1000000 || !strings.HasPrefix(m.Text, "body") {
				t.Errorf("subject %q len %d text %q", m.Subject, len(m.Get("X-Long")), m.Text)
			}
		}},
		{"header block over the cap", "From: a@example.com\nX-A: " + strings.Repeat("z", 3<<20) + "\nSubject: after\n\nbody\n", func(t *testing.T, m *Mail) {
			if !containsErr(m, "header block larger") || !strings.HasPrefix(m.Text, "body") {
				t.Errorf("errors %v text %q", m.ParseErrors, m.Text)
			}
		}},
		{"many parts", manyParts(3000), func(t *testing.T, m *Mail) {
			if len(m.Attachments) != 1000 || !containsErr(m, "more than 1000") {
				t.Errorf("%d attachments, errors %v", len(m.Attachments), m.ParseErrors)
			}
		}},
		{"binary junk", string(bytes.Repeat([]byte{0, 0xff, '\r', '-', '-', '\n', ':'}, 20000)), nil},
		{"boundary lines only", "Content-Type: multipart/mixed; boundary=\"\"\n\n" + strings.Repeat("--\n", 10000), nil},
		{"attachment name traversal", "From: a@example.com\nContent-Type: application/zip; name=\"../../../../tmp/x.zip\"\n\nPK", func(t *testing.T, m *Mail) {
			if len(m.Attachments) != 1 || m.Attachments[0].Name != "x.zip" {
				t.Errorf("%+v", m.Attachments)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := parseString(t, tt.raw, ParseOptions{})
			if m == nil || m.BodyHash == "" {
				t.Fatal("no result")
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func containsErr(m *Mail, s string) bool {
	for _, e := range m.ParseErrors {
		if strings.Contains(e, s) {
			return true
		}
	}
	return false
}

func TestParseTextCap(t *testing.T) {
	raw := eml([]string{"From: a@example.com", "Content-Type: text/plain; charset=utf-8"}, strings.Repeat("가나다라 abcd\n", 20000))
	m := parseString(t, raw, ParseOptions{MaxTextBytes: 10000})
	if len(m.Text) > 10000 || !m.TextTruncated || !strings.HasPrefix(m.Text, "가나다라 abcd\n") {
		t.Errorf("len %d truncated %v", len(m.Text), m.TextTruncated)
	}
	if !utf8Valid(m.Text) || !utf8Valid(m.NewText) {
		t.Error("cut inside a character")
	}
}

type repeatReader struct {
	line []byte
	left int64
	pos  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.left > 0 {
		c := copy(p[n:], r.line[r.pos:])
		if int64(c) > r.left {
			c = int(r.left)
		}
		n += c
		r.left -= int64(c)
		r.pos = (r.pos + c) % len(r.line)
	}
	return n, nil
}

func largeMail(size int64) (io.Reader, int64, int) {
	head := "From: Ken <ken@efun.example>\r\nTo: support@certs.example\r\nSubject: big logs\r\nMessage-ID: <big@efun.example>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BIG\"\r\n\r\n--BIG\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLogs attached.\r\n\r\n" +
		"On Mon, Apr 2, 2012 at 6:26 PM, Support <support@certs.example> wrote:\r\n> Please send the logs.\r\n" +
		"--BIG\r\nContent-Type: application/gzip; name=\"logs.tar.gz\"\r\nContent-Disposition: attachment; filename=\"logs.tar.gz\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	tail := "\r\n--BIG--\r\n"
	line := []byte(strings.Repeat("QUJDRGVmZ2hpamtsbW5vcHFyc3R1dnd4eXo0NTY3", 2)[:76] + "\r\n")
	lines := (size - int64(len(head)+len(tail))) / int64(len(line))
	body := &repeatReader{line: line, left: lines * int64(len(line))}
	decoded := int(lines) * 57
	total := int64(len(head)+len(tail)) + lines*int64(len(line))
	return io.MultiReader(strings.NewReader(head), body, strings.NewReader(tail)), total, decoded
}

// TestParseLargeMailMemory: a 25 MiB mail costs well under 40 MiB of heap.
// TotalAlloc counts every byte allocated during Parse, so it bounds the
// peak heap growth from above.
func TestParseLargeMailMemory(t *testing.T) {
	r, total, decoded := largeMail(25 << 20)
	if total < 25<<20-200 {
		t.Fatalf("generated only %d bytes", total)
	}
	m := allocBound(t, r, 40<<20)
	if m.Subject != "big logs" || m.NewText != "Logs attached." {
		t.Errorf("subject %q newtext %q", m.Subject, m.NewText)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Name != "logs.tar.gz" || m.Attachments[0].Size != int64(decoded) ||
		m.Attachments[0].ContentType != "application/gzip" || m.Attachments[0].Part != "2" {
		t.Errorf("attachments %+v (want size %d)", m.Attachments, decoded)
	}
	// The streamed hash is the hash of the LF-normalized body.
	r2, _, _ := largeMail(25 << 20)
	br := newBodyHasher(r2)
	_, _ = io.Copy(io.Discard, br)
	if m.BodyHash != br.Sum() {
		t.Errorf("BodyHash %s != %s", m.BodyHash, br.Sum())
	}

	// Other shapes of a 25 MiB mail: one huge text body, and the big
	// attachment inside a forwarded message.
	line := []byte(strings.Repeat("log line 0123456789 ", 3) + "\r\n")
	text := io.MultiReader(strings.NewReader("From: a@example.com\r\nSubject: huge text\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"),
		&repeatReader{line: line, left: 25 << 20})
	m = allocBound(t, text, 40<<20)
	if !m.TextTruncated || len(m.Text) > 1<<20 || !strings.HasPrefix(m.Text, "log line") {
		t.Errorf("huge text: truncated=%v len=%d", m.TextTruncated, len(m.Text))
	}
	inner, _, _ := largeMail(25 << 20)
	fwd := io.MultiReader(strings.NewReader("From: v@certs.example\r\nSubject: Fwd: big logs\r\nContent-Type: multipart/mixed; boundary=F\r\n\r\n"+
		"--F\r\nContent-Type: text/plain\r\n\r\nSee attached mail.\r\n--F\r\nContent-Type: message/rfc822\r\n\r\n"), inner, strings.NewReader("\r\n--F--\r\n"))
	m = allocBound(t, fwd, 40<<20)
	if m.Forwarded == nil || m.Forwarded.Subject != "big logs" || m.Forwarded.Text == "" || len(m.Attachments) != 1 || m.Attachments[0].Size < 25<<20-1024 {
		t.Errorf("forwarded big mail: %+v %+v", m.Forwarded, m.Attachments)
	}
}

// allocBound parses r and fails when Parse allocated more than limit.
func allocBound(t *testing.T, r io.Reader, limit uint64) *Mail {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m := Parse(r, ParseOptions{})
	runtime.ReadMemStats(&after)
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("%q: %.1f MiB allocated in total", m.Subject, float64(grew)/(1<<20))
	if grew > limit {
		t.Errorf("%q: Parse allocated %d MiB", m.Subject, grew>>20)
	}
	return m
}

type failingReader struct{ r io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, fmt.Errorf("connection reset")
	}
	return n, err
}

func TestParseReadError(t *testing.T) {
	raw := eml([]string{"From: a@example.com", "Subject: cut"}, "partial body")
	m := Parse(&failingReader{strings.NewReader(raw)}, ParseOptions{})
	if m.Subject != "cut" || m.Text != "partial body" || !containsErr(m, "connection reset") {
		t.Errorf("subject %q text %q errors %v", m.Subject, m.Text, m.ParseErrors)
	}
}

func TestUnflow(t *testing.T) {
	tests := []struct {
		in    string
		delsp bool
		want  string
	}{
		{"a \nb \nc\nd", false, "a b c\nd"},
		{"a \nb", true, "ab"},
		{" From stuffed\n", false, "From stuffed\n"},
		{"-- \nsig", false, "-- \nsig"},
		{"> q1 \n> q2\nanswer", false, "> q1 q2\nanswer"},
		{">> deep \n> shallow", false, ">> deep \n> shallow"},
		{">\n> x", false, ">\n> x"},
		{"", false, ""},
	}
	for _, tt := range tests {
		if got := unflow(tt.in, tt.delsp); got != tt.want {
			t.Errorf("unflow(%q, %v) = %q, want %q", tt.in, tt.delsp, got, tt.want)
		}
	}
}

func utf8Valid(s string) bool { return utf8.ValidString(s) }

// clip shortens s for test messages.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// TestParseLargeMboxLine: a leading mbox "From " line does not change how
// a large mail is parsed: it is streamed whole, not cut at the threshold.
func TestParseLargeMboxLine(t *testing.T) {
	plain, _, decoded := largeMail(3 << 20)
	want := Parse(plain, ParseOptions{})
	withLine, _, _ := largeMail(3 << 20)
	got := Parse(io.MultiReader(strings.NewReader("From ken@efun.example Mon Apr  2 18:26:00 2012\n"), withLine), ParseOptions{})
	if len(want.Attachments) != 1 || want.Attachments[0].Size != int64(decoded) {
		t.Fatalf("without the mbox line: attachments %+v (want size %d)", want.Attachments, decoded)
	}
	if len(got.Attachments) != 1 || got.Attachments[0].Size != int64(decoded) {
		t.Errorf("with the mbox line: attachments %+v (want size %d)", got.Attachments, decoded)
	}
	if got.BodyHash != want.BodyHash {
		t.Errorf("BodyHash %s with the mbox line, %s without", got.BodyHash, want.BodyHash)
	}
	if got.Subject != want.Subject || got.NewText != want.NewText || got.MessageID != want.MessageID {
		t.Errorf("got subject %q newtext %q id %q", got.Subject, got.NewText, got.MessageID)
	}
	if len(got.ParseErrors) != 0 {
		t.Errorf("parse errors %v", got.ParseErrors)
	}
}

// TestParseFromCount: the number of From addresses and the names are the
// same on the whole (enmime) and the streaming (go-message) path, also
// for lists the strict parser refuses and for names in charsets only our
// charset layer knows (a mail with more than one From is never staff).
func TestParseFromCount(t *testing.T) {
	ksc := "=?ks_c_5601-1987?B?" + b64s(string(mustEncode(t, koreanEnc(), "김현준"))) + "?="
	tests := []struct {
		from  string
		count int
		first Address
	}{
		{"a@x, b@y", 2, Address{Addr: "a@x"}},
		{"Ken <a@x.example>", 1, Address{Name: "Ken", Addr: "a@x.example"}},
		{"Kim, Ken <a@x.example>, b@y.example", 2, Address{Name: "Kim, Ken", Addr: "a@x.example"}},
		{"<a@x.example> <b@y.example>", 2, Address{Addr: "a@x.example"}},
		{"a@x.example; b@y.example", 2, Address{Addr: "a@x.example"}},
		{"Ken <a@x.example>, Bob <b@y.example", 2, Address{Name: "Ken", Addr: "a@x.example"}},
		{ksc + " <a@x.example>", 1, Address{Name: "김현준", Addr: "a@x.example"}},
		{ksc + " <a@x.example>, b@y.example", 2, Address{Name: "김현준", Addr: "a@x.example"}},
		{ksc + " <a@x.example>,\r\n " + ksc + " <b@y.example>", 2, Address{Name: "김현준", Addr: "a@x.example"}},
	}
	for _, tt := range tests {
		for _, threshold := range []int64{0, 10} { // whole and streaming
			raw := eml([]string{"From: " + tt.from, "To: " + ksc + " <s@certs.example>, x@certs.example", "Subject: s",
				"Content-Type: text/plain; charset=utf-8"}, "hello\n")
			m := parseString(t, raw, ParseOptions{LargeThreshold: threshold})
			if m.FromCount != tt.count || m.From != tt.first {
				t.Errorf("threshold %d, From: %s: count %d, first %+v; want %d, %+v", threshold, tt.from, m.FromCount, m.From, tt.count, tt.first)
			}
			if len(m.To) != 2 || m.To[0] != (Address{Name: "김현준", Addr: "s@certs.example"}) {
				t.Errorf("threshold %d, From: %s: To %+v", threshold, tt.from, m.To)
			}
		}
	}
}

func TestCanonicalKeyFastPath(t *testing.T) {
	slow := canonicalizeKey
	for _, k := range []string{"Message-Id", "Message-ID", "message-id", "X-MS-Exchange", "X-Ms-Exchange", "From", "from",
		"X-1a", "X--Y", "-X", "", "Content-Type", "CONTENT-TYPE", "X-Ünicode", "x-spam-flag", "Dkim-Signature"} {
		if got, want := canonicalKey(k), slow(k); got != want {
			t.Errorf("canonicalKey(%q) = %q, want %q", k, got, want)
		}
	}
}

func TestParseDateAgreesWithNetMail(t *testing.T) {
	for _, v := range []string{"Sun, 22 Nov 2026 06:30:05 +0000", "Sun, 2 Nov 2026 06:30:05 +0100", " Mon, 02 Nov 2026 06:30:05 -0800 ",
		"22 Nov 2026 06:30:05 GMT", "Sun, 22 Nov 2026 06:30:05 +0000 (UTC)", "Sun, 22 Nov 2026 06:30 +0000", "Tue, 1 Jul 2003 10:52:37 +0200"} {
		want, werr := mail.ParseDate(v)
		got, ok := parseDate(v)
		if ok != (werr == nil) || !got.Equal(want) || got.Format(time.RFC3339) != want.Format(time.RFC3339) {
			t.Errorf("%q: parseDate %v %v, net/mail %v %v", v, got, ok, want, werr)
		}
	}
	if _, ok := parseDate("yesterday"); ok {
		t.Error("nonsense parsed")
	}
}
