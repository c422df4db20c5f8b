package engine

import (
	"encoding/hex"
	"fmt"
	"math"
	"testing"
)

// formatMailID writes what the Sprintf it replaced wrote, for ticket
// numbers shorter, as long as and longer than the 12-digit padding.
func TestFormatMailIDAsSprintf(t *testing.T) {
	r := [9]byte{0, 1, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff, 9}
	for _, n := range []uint64{0, 1, 42, 999999999999, 1000000000000, math.MaxUint64} {
		want := fmt.Sprintf("hd.%012d.%s@%s", n, hex.EncodeToString(r[:]), "helpdesk.example")
		if got := formatMailID(n, r, "helpdesk.example"); got != want {
			t.Errorf("ticket %d: %q, want %q", n, got, want)
		}
	}
}
