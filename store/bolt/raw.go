package bolt

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"

	"github.com/klauspost/compress/s2"
)

// Raw messages kept inside the database are compressed with S2
// (github.com/klauspost/compress: mail text shrinks to about 40%, at about
// 1 GB/s): the pages a commit must write and fsync are what bounds
// ingest. The first byte says how a value is stored; values deflated by
// earlier versions are still read.
const (
	rawPlain    = 0
	rawDeflated = 1 // written by earlier versions
	rawS2       = 2
)

// packMin: smaller mails are stored as they are (they share a page
// anyway).
const packMin = 1 << 10

// PackRaw prepares raw message bytes for AddPackedMessage. Call it outside
// the write transaction: compression is CPU the single writer should not
// spend.
func (db *DB) PackRaw(raw []byte) []byte { return packRaw(raw) }

func packRaw(raw []byte) []byte {
	if len(raw) >= packMin {
		out := make([]byte, 1+s2.MaxEncodedLen(len(raw)))
		out[0] = rawS2
		if c := s2.Encode(out[1:], raw); len(c) < len(raw) {
			return out[:1+len(c)]
		}
	}
	return append([]byte{rawPlain}, raw...)
}

func unpackRaw(v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("empty raw value")
	}
	switch v[0] {
	case rawPlain:
		return append([]byte(nil), v[1:]...), nil
	case rawS2:
		return s2.Decode(nil, v[1:])
	case rawDeflated:
		r := flate.NewReader(bytes.NewReader(v[1:]))
		defer r.Close()
		return io.ReadAll(r)
	}
	return nil, fmt.Errorf("unknown raw encoding %d", v[0])
}
