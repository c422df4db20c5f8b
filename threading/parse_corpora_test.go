package threading

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"helpdesk/threading/corpora"
)

// normText normalizes text for golden comparisons: "\n" line ends,
// trailing white space trimmed on each line and at the end.
func normText(s string) string {
	lines := strings.Split(normalizeNewlines(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), " \t\n")
}

// parseFile parses a file with Parse, and checks ParseBytes gives the
// same facts without changing the bytes it reads in place.
func parseFile(t *testing.T, path string, opt ParseOptions) *Mail {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := Parse(bytes.NewReader(raw), opt)
	inPlace := bytes.Clone(raw)
	if mb := ParseBytes(inPlace, opt); !reflect.DeepEqual(m, mb) {
		t.Errorf("%s: ParseBytes and Parse disagree:\n%+v\n%+v", path, mb, m)
	}
	if !bytes.Equal(inPlace, raw) {
		t.Errorf("%s: ParseBytes changed its input", path)
	}
	for _, e := range m.ParseErrors {
		if strings.HasPrefix(e, "internal error") {
			t.Fatalf("%s: %s", path, e)
		}
	}
	return m
}

// TestTalonCorpus: the new text of every talon reply is the content of
// <name>_reply_text where it exists, else exactly "Hello".
func TestTalonCorpus(t *testing.T) {
	dir := filepath.Join(corpora.Dir(t), "talon")
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no talon mails in %s", dir)
	}
	pass := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".eml")
		want := "Hello"
		if b, err := os.ReadFile(filepath.Join(dir, name+"_reply_text")); err == nil {
			want = string(b)
		}
		m := parseFile(t, f, ParseOptions{})
		if got := normText(m.NewText); got != normText(want) {
			t.Errorf("%s: NewText\n got: %q\nwant: %q", name, got, normText(want))
			continue
		}
		if len(m.CharsetProblems) > 0 {
			t.Errorf("%s: charset problems %v", name, m.CharsetProblems)
			continue
		}
		if len(m.Attachments) > 0 {
			t.Errorf("%s: body parts listed as attachments: %+v", name, m.Attachments)
			continue
		}
		// The HTML-aware stripper, given the HTML part, leaves no history
		// either (talon's outlook.eml has a different text in its HTML
		// part, so the texts are not compared).
		if m.HTML != "" {
			h, _ := stripQuotedHTML(m.HTML, 1<<20)
			for _, marker := range []string{"wrote:", "Original Message", "From:", "Subject:", "> ", "написал"} {
				if strings.Contains(h, marker) {
					t.Errorf("%s: HTML new text keeps %q: %q", name, marker, h)
				}
			}
			// ... and keeps the top of the message.
			full := HTMLToText(m.HTML)
			if h == "" || !strings.HasPrefix(full, strings.SplitN(h, "\n", 2)[0]) {
				t.Errorf("%s: HTML new text %q does not start the HTML text %q", name, h, clip(full, 80))
			}
		}
		pass++
	}
	t.Logf("talon: %d/%d", pass, len(files))
}

// TestKoreanGenerated checks subject and new text per EXPECTED.tsv.
func TestKoreanGenerated(t *testing.T) {
	dir := filepath.Join(corpora.Dir(t), "korean", "generated")
	f, err := os.Open(filepath.Join(dir, "EXPECTED.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, pass := 0, 0
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != 3 || cols[0] == "file" {
			continue
		}
		n++
		m := parseFile(t, filepath.Join(dir, cols[0]), ParseOptions{})
		wantText := strings.ReplaceAll(cols[2], `\n`, "\n")
		ok := true
		if m.Subject != cols[1] {
			t.Errorf("%s: Subject %q, want %q", cols[0], m.Subject, cols[1])
			ok = false
		}
		if got := normText(m.NewText); got != normText(wantText) {
			t.Errorf("%s: NewText\n got: %q\nwant: %q", cols[0], got, normText(wantText))
			ok = false
		}
		if len(m.CharsetProblems) > 0 {
			t.Errorf("%s: charset problems %v", cols[0], m.CharsetProblems)
			ok = false
		}
		if ok {
			pass++
		}
	}
	if n == 0 {
		t.Fatal("EXPECTED.tsv lists no mail")
	}
	t.Logf("korean generated: %d/%d", pass, n)
}

func TestKoreanKSC5601Headers(t *testing.T) {
	m := parseFile(t, filepath.Join(corpora.Dir(t), "korean", "ks_c_5601-1987_headers.eml"), ParseOptions{})
	if want := "RE: 회원님께 Ersi님이 메시지를 보냈습니다."; m.Subject != want {
		t.Errorf("Subject %q, want %q", m.Subject, want)
	}
	if m.From.Name != "김 현진" || m.From.Addr != "from@there.com" {
		t.Errorf("From %+v", m.From)
	}
	if got := normText(m.Text); got != "Content" {
		t.Errorf("Text %q", got)
	}
	if got := normText(m.NewText); got != "Content" {
		t.Errorf("NewText %q", got)
	}
	if got := m.Get("Thread-Topic"); got != "회원님께 Ersi님이 메시지를 보냈습니다." {
		t.Errorf("Thread-Topic %q", got)
	}
}
