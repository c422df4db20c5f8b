package gateway

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
)

// headerBytes is what headerLimiter must count: the bytes before the
// first blank line ("\r\n\r\n" or "\n\n"), or all of them when there is
// none.
func headerBytes(msg []byte) int {
	if i := blankLine(msg); i >= 0 {
		return i
	}
	return len(msg)
}

// TestHeaderLimiterSplits feeds messages in random pieces (a blank line
// split across writes in every way) and checks the limiter finds the end
// of the header exactly where a search of the whole message does.
func TestHeaderLimiterSplits(t *testing.T) {
	msgs := [][]byte{
		[]byte("A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore"),
		[]byte("A: 1\nB: 2\n\nbody"),
		[]byte("A: 1\r\nB: 2\r\n\nbody"),
		[]byte("\r\n\r\nbody only"),
		[]byte("\n\nbody only"),
		[]byte("A: no end of header at all\r\n"),
		[]byte("A: 1\r\n\r"),
		[]byte("A: 1\r\n\r\n"),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, msg := range msgs {
		want := headerBytes(msg)
		for round := 0; round < 200; round++ {
			// Until the blank line is complete, its first bytes count as
			// header: a limit holds within 3 bytes.
			for _, max := range []int{want + 3, want - 1} {
				h := &headerLimiter{max: max}
				var err error
				for rest := msg; len(rest) > 0 && err == nil; {
					n := 1 + rng.IntN(len(rest))
					if round%3 == 0 {
						n = min(len(rest), 1+rng.IntN(3))
					}
					_, err = h.Write(rest[:n])
					rest = rest[n:]
				}
				if max == want+3 && (err != nil || h.n != want) {
					t.Fatalf("%q: counted %d header bytes (err %v), want %d", msg, h.n, err, want)
				}
				if max == want-1 && max > 0 && !errors.Is(err, errHeaderLimit) {
					t.Fatalf("%q: limit %d not enforced on a %d-byte header", msg, max, want)
				}
			}
		}
	}
	// Writes after the end of the header cost nothing and never fail.
	h := &headerLimiter{max: 10}
	if _, err := h.Write([]byte("A: 1\n\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil || !h.done {
		t.Fatalf("body after the header: err %v, done %v", err, h.done)
	}
}
