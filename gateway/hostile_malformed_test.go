package gateway_test

// Hostile input: malformed MIME and path-traversal attachment names.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"helpdesk/gateway/internal/testkit"
	"helpdesk/store/model"
)

func nestedMultipart(depth int) []byte {
	var b bytes.Buffer
	b.WriteString("From: nest@client.test\r\nTo: support@example.com\r\nSubject: nested\r\nMessage-ID: <nested@client.test>\r\nMIME-Version: 1.0\r\n")
	for i := 0; i < depth; i++ {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\r\n\r\nthe innermost text\r\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\r\n", i)
	}
	return b.Bytes()
}

// Mail we cannot parse is still accepted with 250, kept raw byte for byte,
// and becomes a ticket (SPEC 11).
func TestHostileMalformedMIME(t *testing.T) {
	d := startHD(t, hopts{})
	cases := []struct {
		name string
		raw  []byte
	}{
		{"1000 nested multiparts", nestedMultipart(1000)},
		{"bad boundaries", hostileCRLF(`From: bad@client.test
To: support@example.com
Subject: bad boundary
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="declared"

--other
Content-Type: text/plain

text under a boundary nobody declared
--declared
Content-Type: multipart/alternative; boundary=
--declared
unterminated part`)},
		{"garbage Content-Type", hostileCRLF("From: garbage@client.test\nTo: support@example.com\nSubject: garbage type\nMIME-Version: 1.0\nContent-Type: ;;;=\"/\x01\xff; charset=\"\"\"; boundary\nContent-Transfer-Encoding: quantum\n\n\xff\xfe body \x00 with NUL and bad UTF-8\n")},
		{"bare LF", []byte("From: lf@client.test\nTo: support@example.com\nSubject: bare LF\nMIME-Version: 1.0\nContent-Type: text/plain\n\nline one\nline two\r\n")},
		{"invalid base64", hostileCRLF(`From: b64@client.test
To: support@example.com
Subject: invalid base64
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="x"

--x
Content-Type: text/plain
Content-Transfer-Encoding: base64

!!!! this is not base64 at all ****
--x
Content-Type: application/pdf; name="a.pdf"
Content-Transfer-Encoding: base64

QUJD===%%%AAAA
--x--`)},
		{"no header end", hostileCRLF("From: noend@client.test\nSubject: headers only\nX-Broken header without colon\n")},
		{"no From header", hostileCRLF("To: support@example.com\nSubject: who wrote this?\n\nno From line at all\n")},
		{"encoded-word garbage", hostileCRLF("From: =?utf-8?B?!!!?= <ew@client.test>\nTo: support@example.com\nSubject: =?x-unknown?Q?=FF=FE?= =?utf-8?B?4pyT?=\n\nbody\n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(d.messages())
			c := testkit.DialSMTP(t, d.SMTPAddr)
			c.Hello()
			c.Envelope("sender@client.test", "support@example.com")
			start := time.Now()
			if r := c.Data(tc.raw); r.Code != 250 {
				t.Fatalf("%d %s, want 250", r.Code, r.Text)
			}
			t.Logf("accepted in %s", time.Since(start))
			ms := d.messages()
			if len(ms) != before+1 {
				t.Fatalf("%d new messages, want 1", len(ms)-before)
			}
			m := ms[len(ms)-1]
			raw := d.raw(m)
			if !bytes.HasSuffix(raw, withCRLF(tc.raw)) {
				t.Errorf("raw bytes not kept: stored %d bytes, sent %d", len(raw), len(tc.raw))
			}
			if !bytes.HasPrefix(raw, []byte("Received: ")) {
				t.Errorf("stored raw lacks our Received line: %q", raw[:min(len(raw), 60)])
			}
			if m.Ticket == 0 {
				t.Fatalf("no ticket for the malformed mail: disposition %q, parse errors %v", m.Disposition, m.ParseErrors)
			}
			tk, cs := d.ticket(m.Ticket)
			found := false
			for _, c := range cs {
				found = found || c.Message == m.ID
			}
			if !found {
				t.Errorf("ticket %d has no comment pointing at message %d", tk.ID, m.ID)
			}
		})
	}
}

// Attachment names are recorded without any directory part, and nothing is
// written outside data_dir.
func TestHostileAttachmentNames(t *testing.T) {
	root := t.TempDir()
	dataDir := filepath.Join(root, "srv", "helpdesk", "data")
	d := startHD(t, hopts{dir: dataDir}) // no relay: outbound mail is written to data_dir/outbox
	names := map[string]string{
		"../../etc/passwd":             "passwd",
		`..\..\x`:                      "x",
		"/etc/shadow":                  "shadow",
		`C:\Windows\System32\evil.dll`: "evil.dll",
		"../../../../../../../tmp/..":  "",
	}
	var b bytes.Buffer
	b.WriteString("From: Eve <eve@client.test>\r\nTo: support@example.com\r\nSubject: files\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n--sep\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n")
	for n := range names {
		fmt.Fprintf(&b, "--sep\r\nContent-Type: application/octet-stream; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8K\r\n", n, n)
	}
	// RFC 2231 encoded traversal.
	b.WriteString("--sep\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-8''..%2F..%2Froot%2F.ssh%2Fauthorized_keys\r\n\r\nkey\r\n--sep--\r\n")
	names["../../root/.ssh/authorized_keys"] = "authorized_keys"

	c := testkit.DialSMTP(t, d.SMTPAddr)
	c.Hello()
	c.Envelope("eve@client.test", "support@example.com")
	if r := c.Data(b.Bytes()); r.Code != 250 {
		t.Fatalf("%d %s", r.Code, r.Text)
	}
	m := d.lastMessage()
	if m.Ticket == 0 {
		t.Fatal("no ticket")
	}
	_, cs := d.ticket(m.Ticket)
	var got []model.Attachment
	for _, c := range cs {
		if c.Message == m.ID {
			got = append(got, c.Attachments...)
		}
	}
	if len(got) < len(names)-1 {
		t.Fatalf("recorded attachments %+v, want %d", got, len(names))
	}
	want := map[string]bool{}
	for _, w := range names {
		if w != "" {
			want[w] = true
		}
	}
	for _, a := range got {
		if strings.ContainsAny(a.Name, `/\`) || a.Name == ".." || strings.HasPrefix(a.Name, ".") || filepath.IsAbs(a.Name) {
			t.Errorf("attachment name %q has a directory part", a.Name)
		}
		delete(want, a.Name)
	}
	if len(want) > 0 {
		t.Errorf("attachment names not recorded as base names: missing %v in %+v", want, got)
	}
	c.Cmd("QUIT", 221)
	d.Worker.Drain()
	d.stop() // let everything settle on disk
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		if rel, _ := filepath.Rel(dataDir, p); strings.HasPrefix(rel, "..") {
			t.Errorf("file written outside data_dir: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
