package config

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// LoadDKIMKey reads a PEM private key for DKIM signing: RSA (PKCS#1
// "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY", at least 1024 bits) or Ed25519
// (PKCS#8). A relative path is relative to the working directory, like
// data_dir.
func LoadDKIMKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseDKIMKey(b)
}

func parseDKIMKey(b []byte) (crypto.Signer, error) {
	var blk *pem.Block
	var seen []string
	for {
		blk, b = pem.Decode(b)
		if blk == nil {
			if len(seen) == 0 {
				return nil, errors.New("no PEM block found")
			}
			return nil, fmt.Errorf("no private key among the PEM blocks %q (want \"PRIVATE KEY\" or \"RSA PRIVATE KEY\")", seen)
		}
		if blk.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("the private key is encrypted: store it unencrypted, readable only by the daemon")
		}
		if blk.Type == "RSA PRIVATE KEY" || blk.Type == "PRIVATE KEY" {
			break
		}
		// Other blocks (EC PARAMETERS, certificates): keep looking.
		seen = append(seen, blk.Type)
	}
	var key any
	var err error
	if blk.Type == "RSA PRIVATE KEY" {
		key, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	} else {
		key, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("RSA key has %d bits; DKIM needs at least 1024 (2048 recommended)", k.N.BitLen())
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("%T is neither an RSA nor an Ed25519 key", key)
}

// DKIMRecord is the DNS TXT record that publishes the public half of a
// DKIM signing key (RFC 6376 section 3.6.1; RFC 8463 for Ed25519).
type DKIMRecord struct {
	// Name is <selector>._domainkey.<domain>, without the final dot.
	Name string `json:"name"`
	// Value is the record's text: "v=DKIM1; k=rsa; p=<base64>".
	Value string `json:"value"`
	// KeyType is the k= tag: "rsa" or "ed25519".
	KeyType string `json:"key_type"`
}

// DKIMRecordFor builds the record of key for domain and selector. An RSA
// key is published as its SubjectPublicKeyInfo (what OpenDKIM's
// opendkim-genkey publishes and every verifier reads), an Ed25519 key as
// its 32 raw bytes (RFC 8463 section 4.2).
func DKIMRecordFor(domain, selector string, key crypto.Signer) (DKIMRecord, error) {
	r := DKIMRecord{Name: selector + "._domainkey." + strings.TrimSuffix(domain, ".")}
	var p []byte
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return r, fmt.Errorf("encoding the RSA public key: %w", err)
		}
		r.KeyType, p = "rsa", der
	case ed25519.PublicKey:
		r.KeyType, p = "ed25519", pub
	default:
		return r, fmt.Errorf("%T is neither an RSA nor an Ed25519 key", pub)
	}
	r.Value = "v=DKIM1; k=" + r.KeyType + "; p=" + base64.StdEncoding.EncodeToString(p)
	return r, nil
}

// ZoneLine is the record as one line of a zone file: a TXT value longer
// than 255 characters (any RSA key) must be written as several strings,
// which the resolver joins.
func (r DKIMRecord) ZoneLine() string {
	var parts []string
	for v := r.Value; v != ""; {
		n := min(len(v), 255)
		parts = append(parts, `"`+v[:n]+`"`)
		v = v[n:]
	}
	return r.Name + ". IN TXT ( " + strings.Join(parts, " ") + " )"
}
