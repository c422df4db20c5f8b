package engine

import "strings"

// cutAtMarker cuts text at the reply marker line. TODO: replace with
// threading.CutAtMarker once it exists.
func cutAtMarker(text, marker string) string {
	if marker == "" {
		return text
	}
	if i := strings.Index(text, marker); i >= 0 {
		return text[:i]
	}
	return text
}
