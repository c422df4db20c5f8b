package testkit

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"mime"
	"strings"
	"testing"
	"time"

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
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n"))
	if !strings.HasSuffix(m.Body, "\n") {
		b.WriteString("\r\n")
	}
	return b.Bytes()
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
