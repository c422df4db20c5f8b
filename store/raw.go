package store

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"sync"
)

// Raw messages kept inside the database are deflated (compress/flate at
// its fastest): mail text shrinks to a third or less, and the bytes a
// commit must write and fsync are what bounds ingest. The first byte says
// how a value is stored.
const (
	rawPlain    = 0
	rawDeflated = 1
)

// packMin: smaller mails are stored as they are (compressing them costs
// more CPU than the page it might save).
const packMin = 16 << 10

var flaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// PackRaw prepares raw message bytes for AddMessage. Call it outside the
// write transaction: compression is CPU the single writer should not spend.
func PackRaw(raw []byte) []byte { return packRaw(raw) }

func packRaw(raw []byte) []byte {
	if len(raw) < packMin {
		return append([]byte{rawPlain}, raw...)
	}
	var b bytes.Buffer
	b.Grow(len(raw)/2 + 64)
	b.WriteByte(rawDeflated)
	w := flaters.Get().(*flate.Writer)
	w.Reset(&b)
	_, err := w.Write(raw)
	if err == nil {
		err = w.Close()
	}
	flaters.Put(w)
	if err != nil || b.Len() >= len(raw)+1 {
		return append([]byte{rawPlain}, raw...)
	}
	return b.Bytes()
}

func unpackRaw(v []byte) ([]byte, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("empty raw value")
	}
	switch v[0] {
	case rawPlain:
		return append([]byte(nil), v[1:]...), nil
	case rawDeflated:
		r := flate.NewReader(bytes.NewReader(v[1:]))
		defer r.Close()
		return io.ReadAll(r)
	}
	return nil, fmt.Errorf("unknown raw encoding %d", v[0])
}
