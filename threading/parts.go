package threading

import (
	"fmt"
	"io"

	"github.com/jhillyerd/enmime/v2"
)

// PartBytes reads the parts named by ids (enmime part ids, as in
// Attachment.Part) from a raw message: transfer-decoded but never
// charset-converted, so an attachment is copied byte for byte (enmime's
// Content of a text/* part is converted to UTF-8). Ids not found are
// absent from the result.
func PartBytes(r io.Reader, ids []string) (map[string][]byte, error) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	root, err := enmime.NewParser(enmime.SkipMalformedParts(true), enmime.RawContent(true)).ReadParts(r)
	if err != nil {
		return nil, fmt.Errorf("parsing the stored message: %w", err)
	}
	out := map[string][]byte{}
	if root == nil {
		return out, nil
	}
	root.DepthMatchAll(func(p *enmime.Part) bool {
		if want[p.PartID] {
			out[p.PartID] = transferDecode(p)
		}
		return false
	})
	return out, nil
}
