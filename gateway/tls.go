package gateway

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
)

// certSource is the certificate offered to STARTTLS clients. SetCertificate
// swaps it (SIGHUP after a renewal): sessions that start TLS afterwards get
// the new one, sessions already encrypted keep theirs.
type certSource struct {
	cur atomic.Pointer[tls.Certificate]
}

// EnableTLS offers STARTTLS (TLS 1.2 and newer) with the certificate and
// key of the PEM files; it must be called before Serve. Without it the
// server offers no STARTTLS.
func (s *Server) EnableTLS(certFile, keyFile string) error {
	cert, err := LoadCertificate(certFile, keyFile)
	if err != nil {
		return err
	}
	s.certs = &certSource{}
	s.certs.cur.Store(cert)
	s.smtp.TLSConfig = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			// The handshake reads from our limitConn: from here on it
			// carries TLS records, not lines.
			if lc, ok := hello.Conn.(*limitConn); ok {
				lc.startTLS()
			}
			return s.certs.cur.Load(), nil
		},
	}
	return nil
}

// TLSEnabled says whether STARTTLS is offered.
func (s *Server) TLSEnabled() bool { return s.certs != nil }

// SetCertificate replaces the certificate offered to new STARTTLS sessions.
func (s *Server) SetCertificate(cert *tls.Certificate) {
	if s.certs != nil {
		s.certs.cur.Store(cert)
	}
}

// LoadCertificate reads a PEM certificate (chain) and its private key and
// checks that they belong together.
func LoadCertificate(certFile, keyFile string) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &cert, nil
}

// tlsState describes a session's TLS for our Received line (RFC 3848:
// "with ESMTPS"), or "" without TLS.
func tlsState(c net.Conn) string {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return ""
	}
	st := tc.ConnectionState()
	return fmt.Sprintf("(using %s with cipher %s)", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
}

// connOf is the connection our listener made under c: go-smtp replaces
// the session's connection by a *tls.Conn around it after STARTTLS.
func connOf(c net.Conn) *limitConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, _ := c.(*limitConn)
	return lc
}
