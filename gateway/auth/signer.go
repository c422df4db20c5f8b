package auth

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"helpdesk/config"
)

// SignedHeaders are the header fields an outbound DKIM signature covers
// (RFC 6376 section 5.4.1 recommendations plus the threading and
// auto-reply fields we rely on). From is listed twice: the second entry
// signs the absence of another From, so none can be added in transit
// (RFC 6376 section 8.15). Listed fields that are absent are signed as
// absent.
var SignedHeaders = []string{
	"From", "From", "To", "Cc", "Subject", "Date", "Message-ID",
	"In-Reply-To", "References", "Reply-To", "MIME-Version",
	"Content-Type", "Content-Transfer-Encoding", "Auto-Submitted",
}

// Signer signs outbound mail with DKIM (relaxed/relaxed, SHA-256) using
// go-msgauth. It is safe for concurrent use.
type Signer struct {
	domain, selector string
	key              crypto.Signer
}

// LoadSigner reads a PEM private key (RSA as PKCS#1 "RSA PRIVATE KEY" or
// PKCS#8 "PRIVATE KEY"; Ed25519 as PKCS#8) from keyFile.
// The key is read by config.LoadDKIMKey, the same function check-config
// validates the key file with.
func LoadSigner(domain, selector, keyFile string) (*Signer, error) {
	key, err := config.LoadDKIMKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("dkim key %s: %w", keyFile, err)
	}
	return NewSigner(domain, selector, key)
}

// NewSigner returns a Signer for an in-memory key (*rsa.PrivateKey of at
// least 1024 bits, or ed25519.PrivateKey).
func NewSigner(domain, selector string, key crypto.Signer) (*Signer, error) {
	domain = normDomain(domain)
	selector = strings.TrimSpace(selector)
	if domain == "" || selector == "" {
		return nil, errors.New("dkim: domain and selector are required")
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("dkim: RSA key of %d bits is too short (RFC 8301: at least 1024)", k.N.BitLen())
		}
	case ed25519.PrivateKey, *ed25519.PrivateKey:
	default:
		return nil, fmt.Errorf("dkim: unsupported key type %T (want RSA or Ed25519)", key)
	}
	if k, ok := key.(*ed25519.PrivateKey); ok {
		key = *k
	}
	return &Signer{domain: domain, selector: selector, key: key}, nil
}

// Domain returns the signing domain (d=).
func (s *Signer) Domain() string { return s.domain }

// Selector returns the selector (s=).
func (s *Signer) Selector() string { return s.selector }

func (s *Signer) options() *dkim.SignOptions {
	return &dkim.SignOptions{
		Domain:                 s.domain,
		Selector:               s.selector,
		Signer:                 s.key,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             SignedHeaders,
	}
}

// Header reads the whole message from r and returns the DKIM-Signature
// header field (name, folded value, final CRLF) to prepend to it. It keeps
// nothing in memory but the header, so a spooled message can be signed and
// then streamed from its file.
func (s *Signer) Header(r io.Reader) (string, error) {
	ds, err := dkim.NewSigner(s.options())
	if err != nil {
		return "", fmt.Errorf("dkim sign: %w", err)
	}
	if _, err := io.Copy(ds, r); err != nil {
		ds.Close()
		return "", fmt.Errorf("dkim sign: reading message: %w", err)
	}
	if err := ds.Close(); err != nil {
		return "", fmt.Errorf("dkim sign: %w", err)
	}
	return ds.Signature(), nil
}

// Sign writes the message from r to w with a DKIM-Signature field
// prepended. The message is buffered in memory; use Header for large
// spooled messages. The signature's line endings follow the message's (a
// message with bare LF lines gets an LF-terminated signature field).
func (s *Signer) Sign(w io.Writer, r io.Reader) error {
	var buf bytes.Buffer
	sig, err := s.Header(io.TeeReader(r, &buf))
	if err != nil {
		return err
	}
	msg := buf.Bytes()
	if i := bytes.IndexByte(msg, '\n'); i >= 0 && (i == 0 || msg[i-1] != '\r') {
		sig = strings.ReplaceAll(sig, "\r\n", "\n")
	}
	if _, err := io.WriteString(w, sig); err != nil {
		return fmt.Errorf("dkim sign: writing: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("dkim sign: writing: %w", err)
	}
	return nil
}
