package testkit

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"fmt"
	"io"
	"mime"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-msgauth/dkim"
)

func contextTimeout(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	_ = cancel // released when the deadline passes
	return ctx
}

// Mail is a test message; Build renders it.
type Mail struct {
	From       string // "Name <addr>" or addr
	To         []string
	Cc         []string
	Subject    string
	MessageID  string // without brackets; generated when empty
	InReplyTo  string
	References []string
	Body       string
	Headers    []string // extra "Name: value" lines
	// Files makes the mail multipart/mixed: the body, then each file as
	// an attachment (written by go-message, as a mail client would).
	Files []File
}

// File is an attachment of a test mail.
type File struct {
	Name        string
	ContentType string
	Data        []byte
	// EncodedWord writes the file name as an RFC 2047 encoded word in
	// quotes (name="=?UTF-8?B?...?="), as Outlook and Gmail send
	// non-ASCII names; otherwise the name is written as RFC 2231
	// (filename*=utf-8''...), as Thunderbird and Apple Mail do, with the
	// standard library's mime.FormatMediaType.
	EncodedWord bool
}

var seq int64

// Build renders the mail as CRLF text.
func (m Mail) Build() []byte {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", m.From)
	if len(m.To) > 0 {
		h("To", strings.Join(m.To, ", "))
	}
	if len(m.Cc) > 0 {
		h("Cc", strings.Join(m.Cc, ", "))
	}
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", time.Now().Format(time.RFC1123Z))
	id := m.MessageID
	if id == "" {
		seq++
		id = fmt.Sprintf("test.%d.%d@client.test", time.Now().UnixNano(), seq)
	}
	h("Message-ID", "<"+id+">")
	if m.InReplyTo != "" {
		h("In-Reply-To", "<"+m.InReplyTo+">")
	}
	if len(m.References) > 0 {
		var refs []string
		for _, r := range m.References {
			refs = append(refs, "<"+r+">")
		}
		h("References", strings.Join(refs, " "))
	}
	for _, x := range m.Headers {
		b.WriteString(x + "\r\n")
	}
	h("MIME-Version", "1.0")
	if len(m.Files) > 0 {
		return m.buildMultipart(b.Bytes())
	}
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n"))
	if !strings.HasSuffix(m.Body, "\n") {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// buildMultipart writes the body and m.Files with go-message below the
// header lines already rendered in head.
func (m Mail) buildMultipart(head []byte) []byte {
	hr := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(head, "\r\n"...))))
	mh, err := hr.ReadMIMEHeader()
	if err != nil {
		panic(fmt.Sprintf("testkit: re-reading the header of a test mail: %v", err))
	}
	var h mail.Header
	for k, vs := range mh {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	var buf bytes.Buffer
	w, err := mail.CreateWriter(&buf, h)
	if err != nil {
		panic(err)
	}
	var th mail.InlineHeader
	th.Set("Content-Type", "text/plain; charset=utf-8")
	tw, err := w.CreateSingleInline(th)
	if err != nil {
		panic(err)
	}
	io.WriteString(tw, strings.ReplaceAll(m.Body, "\r\n", "\n"))
	tw.Close()
	for _, f := range m.Files {
		var ah mail.AttachmentHeader
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		if f.EncodedWord {
			enc := mime.BEncoding.Encode("UTF-8", f.Name)
			ah.Set("Content-Type", mime.FormatMediaType(ct, map[string]string{"name": enc}))
			ah.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": enc}))
		} else {
			// The standard library writes RFC 2231 for a non-ASCII value.
			ah.Set("Content-Type", mime.FormatMediaType(ct, map[string]string{"name": f.Name}))
			ah.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
		}
		aw, err := w.CreateAttachment(ah)
		if err != nil {
			panic(err)
		}
		aw.Write(f.Data)
		aw.Close()
	}
	w.Close()
	return buf.Bytes()
}

// Signer DKIM-signs mail for a domain whose key is published in the test
// DNS server, with a DMARC p=reject record.
type Signer struct {
	Domain   string
	Selector string
	key      crypto.Signer
}

// DKIM publishes a key and a DMARC record for domain and returns a signer.
func (d *Daemon) DKIM(t testing.TB, domain string) *Signer {
	t.Helper()
	key := d.DNS.AddDKIMKey(domain, "test")
	d.DNS.SetTXT("_dmarc."+domain, "v=DMARC1; p=reject")
	return &Signer{Domain: domain, Selector: "test", key: key}
}

// Sign returns raw with a DKIM-Signature prepended.
func (s *Signer) Sign(t testing.TB, raw []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{
		Domain: s.Domain, Selector: s.Selector, Signer: s.key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
