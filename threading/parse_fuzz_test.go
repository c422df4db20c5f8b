package threading

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"helpdesk/threading/corpora"
)

// maxFuzzInput and maxFuzzAlloc: every input up to 1 MiB is parsed with at
// most 64 MiB allocated (TotalAlloc bounds the heap growth from above).
const (
	maxFuzzInput = 1 << 20
	maxFuzzAlloc = 64 << 20
)

// fuzzSeeds returns every .eml of the shared corpora and of testdata.
func fuzzSeeds(tb testing.TB) [][]byte {
	var dirs []string
	if d, ok := corpora.Find(); ok {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, filepath.Join("..", "testdata"))
	var seeds [][]byte
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(path, ".eml") {
				return nil
			}
			if b, err := os.ReadFile(path); err == nil {
				seeds = append(seeds, b)
			}
			return nil
		})
	}
	return seeds
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkParse parses raw and checks what must hold for any input.
func checkParse(t testing.TB, raw []byte) *Mail {
	t.Helper()
	if len(raw) > maxFuzzInput {
		raw = raw[:maxFuzzInput]
	}
	// ParseBytes is what the daemon calls for mail held in memory; it
	// must agree with Parse on a stream and leave its input alone.
	in := bytes.Clone(raw)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	m := ParseBytes(in, ParseOptions{})
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > maxFuzzAlloc && !raceEnabled {
		t.Fatalf("parsing %d bytes allocated %d MiB", len(raw), grew>>20)
	}
	if m == nil {
		t.Fatal("nil Mail")
	}
	if !bytes.Equal(in, raw) {
		t.Fatal("ParseBytes changed its input")
	}
	if a, b := mustJSON(t, m), mustJSON(t, Parse(bytes.NewReader(raw), ParseOptions{})); !bytes.Equal(a, b) {
		t.Fatalf("ParseBytes and Parse disagree:\n%s\n%s", a, b)
	}
	for _, e := range m.ParseErrors {
		if strings.HasPrefix(e, "internal error") {
			t.Fatalf("%s (input %q)", e, clip(string(raw), 200))
		}
	}
	if len(m.BodyHash) != 32 {
		t.Fatalf("BodyHash %q", m.BodyHash)
	}
	const max = 1 << 20
	if len(m.Text) > max || len(m.HTML) > max || len(m.NewText) > max+4096 {
		t.Fatalf("text over the cap: %d %d %d", len(m.Text), len(m.HTML), len(m.NewText))
	}
	if len(m.CharsetProblems) == 0 && !utf8.ValidString(m.Text) {
		t.Fatalf("Text is not UTF-8 but no charset problem was flagged")
	}
	for _, a := range m.Attachments {
		if a.Name == "" || strings.ContainsAny(a.Name, "/\\") || strings.HasPrefix(a.Name, ".") || a.Size < 0 {
			t.Fatalf("bad attachment %+v", a)
		}
	}
	return m
}

// FuzzParse is seeded with every .eml of the corpora and testdata; the
// 1 MiB pathological inputs run in TestParseMemoryBound instead (as seeds
// they would slow mutation down a hundredfold).
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkParse(t, raw)
	})
}

// pathological inputs of about 1 MiB each.
func pathological() [][]byte {
	const n = 1 << 20
	fill := func(head, unit string) []byte {
		var b strings.Builder
		b.WriteString(head)
		for b.Len() < n-len(unit) {
			b.WriteString(unit)
		}
		return []byte(b.String())
	}
	var nested strings.Builder
	nested.WriteString("Content-Type: multipart/mixed; boundary=\"b0\"\n\n")
	for i := 0; nested.Len() < n-100; i++ {
		fmt.Fprintf(&nested, "--b%d\nContent-Type: multipart/mixed; boundary=\"b%d\"\n\n", i, i+1)
	}
	var words strings.Builder
	words.WriteString("Subject: ")
	for words.Len() < n-100 {
		words.WriteString("=?ks_c_5601-1987?B?yLi/+LTUsrI=?= ")
	}
	words.WriteString("\n\nbody\n")
	return [][]byte{
		fill("Content-Type: text/html\n\n", "<a href=x><b>y</b></a>"),
		fill("Content-Type: text/html\n\n", "<blockquote type=cite><div class=gmail_quote>"),
		[]byte(nested.String()),
		fill("", "a:b\n"),
		fill("", "X-"+strings.Repeat("k", 30)+": v\n"),
		[]byte(words.String()),
		fill("Content-Type: multipart/mixed; boundary=p\n\n", "--p\n\n"),
		fill("Content-Type: multipart/mixed; boundary=p\n\n", "--p\nContent-Type: message/rfc822\n\n"),
		fill("Content-Type: text/plain; charset=iso-2022-kr\n\n", "\x1b$)C\x0eH.@N\x0f \x0e\x0e\x0f\x1b\n"),
		fill("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n", "=E=\n=F0=9F= \r\n"),
		fill("Content-Type: text/plain\n\n", "> q\nanswer\nOn Mon, X <x@y.z> wrote:\n"),
		fill("From: a@b.c\n\n", "-----Original Message-----\nFrom: x\nSent: y\nTo: z\nSubject: w\n"),
		fill("Content-Type: text/plain; charset=x-unknown\n\n", "\xff\xfe\x80\x81"),
		fill("Content-Type: multipart/alternative; boundary=a\n\n--a\nContent-Type: text/plain; format=flowed\n\n", "word \n"),
		bytes.Repeat([]byte{'\r'}, n),
		bytes.Repeat([]byte{'\n'}, n),
	}
}

// TestParseMemoryBound runs the fuzz checks over the seeds and the
// pathological inputs in every normal test run.
func TestParseMemoryBound(t *testing.T) {
	seeds := fuzzSeeds(t)
	if len(seeds) == 0 {
		t.Log("no corpus seeds found; pathological inputs only")
	}
	for _, s := range seeds {
		checkParse(t, s)
	}
	for i, s := range pathological() {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkParse(t, s) })
	}
}
