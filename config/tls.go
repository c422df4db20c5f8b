package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// keyPairError says which of the two files is at fault.
type keyPairError struct {
	key bool // the key file (else the certificate file)
	msg string
}

// checkKeyPair reads a certificate and its key as the SMTP server will.
func checkKeyPair(certFile, keyFile string) *keyPairError {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return &keyPairError{false, fmt.Sprintf("%q cannot be read: %v", certFile, err)}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return &keyPairError{true, fmt.Sprintf("%q cannot be read: %v", keyFile, err)}
	}
	if b, _ := pem.Decode(certPEM); b == nil || b.Type != "CERTIFICATE" {
		return &keyPairError{false, fmt.Sprintf("%q holds no PEM certificate (want a \"CERTIFICATE\" block first)", certFile)}
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return &keyPairError{true, fmt.Sprintf("%q is not the private key of %q: %v", keyFile, certFile, err)}
	}
	return nil
}

// CertificateExpiry is when the first certificate of a PEM file stops
// being valid (zero when it cannot be read).
func CertificateExpiry(certFile string) time.Time {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return time.Time{}
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return time.Time{}
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return time.Time{}
	}
	return c.NotAfter
}

// LoadCAFile returns the system's trusted CAs plus those of a PEM file.
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("no PEM certificate in it")
	}
	return pool, nil
}

func checkCAFile(path string) error {
	if _, err := LoadCAFile(path); err != nil {
		return fmt.Errorf("%q: %w", path, err)
	}
	return nil
}
