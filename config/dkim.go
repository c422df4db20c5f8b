package config

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
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
