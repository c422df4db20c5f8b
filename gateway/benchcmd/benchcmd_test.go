package benchcmd

import (
	"bytes"
	"strings"
	"testing"
)

// The command line answers without running anything: -h prints the usage
// with the modes, a stray argument is refused.
func TestMainUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main([]string{"-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "charset-flood") {
		t.Errorf("-h: code %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := Main([]string{"extra"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unexpected argument "extra"`) {
		t.Errorf("stray argument: code %d, stderr %q", code, errb.String())
	}
}
