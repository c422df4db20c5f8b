package threading

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplyCorpus scores StripQuoted on testdata/replies: replies written
// by phone and desktop clients (Gmail, Outlook, Apple Mail, Samsung,
// Yahoo, GMX, Naver, Daum) in English, French, German, Spanish and Korean,
// many with the original below an attribution or header block and not
// marked with ">". NAME.txt is the body, NAME.want the customer's new text
// exactly. Forwarded messages are content and must stay. The score is
// logged; every case must pass.
func TestReplyCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/replies/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("the reply corpus has %d cases, want at least 30", len(files))
	}
	ok := 0
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(strings.TrimSuffix(f, ".txt") + ".want")
		if err != nil {
			t.Fatal(err)
		}
		got := StripQuoted(string(in))
		if sameLines(got, string(want)) {
			ok++
			continue
		}
		t.Errorf("%s:\n--- got ---\n%s\n--- want ---\n%s", filepath.Base(f), got, want)
	}
	t.Logf("reply corpus: kept exactly the new text in %d of %d", ok, len(files))
}

// sameLines compares line by line after trimming trailing whitespace, as
// the held-out set is scored.
func sameLines(a, b string) bool {
	la := strings.Split(strings.TrimRight(a, " \t\n"), "\n")
	lb := strings.Split(strings.TrimRight(b, " \t\n"), "\n")
	if len(la) != len(lb) {
		return false
	}
	for i := range la {
		if strings.TrimRight(la[i], " \t") != strings.TrimRight(lb[i], " \t") {
			return false
		}
	}
	return true
}
