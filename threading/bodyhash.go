package threading

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
)

// bodyHasher passes a raw message through and hashes everything after the
// header block (the first empty line), with CRLF normalized to LF, so a
// retried copy that gained Received headers, or was converted to or from
// CRLF on the way, hashes the same.
type bodyHasher struct {
	r       io.Reader
	h       hash.Hash
	inBody  bool
	lineLen int  // bytes on the current header line, not counting CR
	cr      bool // a '\r' is pending in the body
}

func newBodyHasher(r io.Reader) *bodyHasher {
	return &bodyHasher{r: r, h: sha256.New()}
}

func (b *bodyHasher) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.consume(p[:n])
	return n, err
}

func (b *bodyHasher) consume(p []byte) {
	for len(p) > 0 && !b.inBody {
		c := p[0]
		p = p[1:]
		switch c {
		case '\n':
			if b.lineLen == 0 {
				b.inBody = true
			}
			b.lineLen = 0
		case '\r':
		default:
			b.lineLen++
		}
	}
	if len(p) == 0 {
		return
	}
	// Write runs without '\r', turning "\r\n" into "\n".
	start := 0
	if b.cr {
		b.cr = false
		if p[0] != '\n' {
			b.h.Write([]byte{'\r'})
		}
	}
	for {
		j := bytes.IndexByte(p[start:], '\r')
		if j < 0 {
			break
		}
		i := start + j
		b.h.Write(p[start:i])
		start = i + 1
		if i+1 < len(p) {
			if p[i+1] != '\n' {
				b.h.Write([]byte{'\r'})
			}
		} else {
			b.cr = true
		}
	}
	b.h.Write(p[start:])
}

// Sum returns the hex body hash (the first 128 bits of SHA-256).
func (b *bodyHasher) Sum() string {
	if b.cr {
		b.cr = false
		b.h.Write([]byte{'\r'})
	}
	sum := b.h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}
