package mailtext

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"helpdesk/config"
)

func TestBuiltinsRender(t *testing.T) {
	set := Defaults().Templates
	for _, lang := range Builtin {
		for _, name := range Names {
			for _, d := range samples {
				if _, err := set.Render("support@example.com", lang, name, d); err != nil {
					t.Errorf("%s/%s: %v", lang, name, err)
				}
			}
		}
	}
	out, _ := set.Render("x@example.com", "ko", Ack, samples[0])
	if !strings.Contains(out, "접수되어 #42") || !strings.Contains(out, "- Sample article\n  https://help.example.com/sample\n") {
		t.Errorf("ko ack:\n%s", out)
	}
	out, _ = set.Render("x@example.com", "en", Ack, samples[1])
	if strings.Contains(out, "articles") || strings.Contains(out, "Hello ,") {
		t.Errorf("en ack without suggestions or name:\n%s", out)
	}
}

func TestPrivateFieldRefused(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "en"), 0o755)
	os.WriteFile(filepath.Join(dir, "en", "ack.txt"), []byte("Hello\n{{.Ticket.Tag}}\n{{range .Ticket.Notes}}{{.}}{{end}}\n"), 0o644)
	cfg := config.Default()
	cfg.Templates.Dir = dir
	cfg.Mailboxes = []config.Mailbox{{Address: "support@example.com", Language: "en"}}
	_, err := Load(cfg)
	ps, ok := err.(Problems)
	if !ok || len(ps) != 1 || ps[0].Line != 3 || !strings.Contains(ps[0].Msg, "Notes") || !strings.HasSuffix(ps[0].File, "en/ack.txt") {
		t.Fatalf("got %v", err)
	}
}

func TestDetect(t *testing.T) {
	for text, want := range map[string]string{
		"비밀번호를 잊어버렸어요":                                  "ko",
		"로그인 오류: Error 500 Internal Server Error 발생합니다": "ko",
		"I cannot log in.\n\n-- \nKim 김철수":              "",
		"Hello there":                                   "",
	} {
		if got := Detect(text); got != want {
			t.Errorf("Detect(%q) = %q, want %q", text, got, want)
		}
	}
	if Language("", []string{"hello"}, "ko") != "ko" || Language("en", []string{"안녕하세요"}, "ko") != "en" || Language("", []string{"안녕하세요"}, "en") != "ko" ||
		Language("", []string{"Hello", "안녕하세요"}, "en") != "ko" {
		t.Error("Language order: profile, text, mailbox")
	}
}

func TestRuleTemplates(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "en"), 0o755)
	os.MkdirAll(filepath.Join(dir, "ko"), 0o755)
	os.WriteFile(filepath.Join(dir, "en", "outage.txt"), []byte("{{.Ticket.Tag}}: we know of the outage.\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "ko", "outage.txt"), []byte("{{.Ticket.Tag}}: 장애를 알고 있습니다.\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "ko", "only_ko.txt"), []byte("{{.Ticket.Tag}}\n"), 0o644)
	cfg := config.Default()
	cfg.Templates.Dir = dir
	cfg.Mailboxes = []config.Mailbox{{Address: "support@example.com", Language: "en"}}
	cfg.Triggers = []config.Trigger{{Name: "a", RequesterTemplate: "outage"}, {Name: "b", RequesterTemplate: "only_ko"}, {Name: "c", RequesterTemplate: "survey"}}
	_, err := Load(cfg)
	ps, _ := err.(Problems)
	if len(ps) != 2 || ps[0].Key != "trigger[1].requester_template" || ps[1].Key != "trigger[2].requester_template" {
		t.Fatalf("problems: %v", err)
	}
	cfg.Triggers = cfg.Triggers[:1]
	os.Remove(filepath.Join(dir, "ko", "only_ko.txt")) // named by no trigger now: not a template
	tx, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string]string{"en": "#7: we know of the outage.\n", "ko": "#7: 장애를 알고 있습니다.\n", "ja": "#7: we know of the outage.\n"} {
		got, err := tx.Templates.Render("support@example.com", lang, "outage", Data{Ticket: Ticket{Tag: "#7"}})
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", lang, got, err, want)
		}
	}
}

// A mailbox language without a survey template is a problem only while
// the survey is on.
func TestSurveyTemplateNeededOnlyWhenEnabled(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "ja"), 0o755)
	for _, n := range []string{Ack, FollowUpAck, Merge, MergeJoined} {
		os.WriteFile(filepath.Join(dir, "ja", n+".txt"), []byte("{{.Ticket.Tag}}\n"), 0o644)
	}
	cfg := config.Default()
	cfg.Templates.Dir = dir
	cfg.Mailboxes = []config.Mailbox{{Address: "support@example.com", Language: "ja"}}
	if _, err := Load(cfg); err != nil {
		t.Fatalf("survey off: %v", err)
	}
	cfg.Survey.Enabled = true
	if _, err := Load(cfg); err == nil || !strings.Contains(err.Error(), "survey.txt") {
		t.Fatalf("survey on: %v", err)
	}
}

// detectRuneByRune is Detect as first written: every rune through the
// Unicode tables. Detect's ASCII path must count exactly as it does.
func detectRuneByRune(text string) string {
	hangul, latin := 0, 0
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Hangul, r):
			hangul++
		case r < unicode.MaxLatin1 && unicode.IsLetter(r):
			latin++
		}
	}
	if hangul > 0 && hangul*3 >= latin {
		return "ko"
	}
	return ""
}

func TestDetectCountsEveryRuneAsTheTablesDo(t *testing.T) {
	// Each rune alone tells Hangul from the rest; after one Hangul
	// syllable, four of it tell a Latin letter (4 > 3) from neither.
	for r := rune(0); r <= unicode.MaxRune+1; r++ {
		for _, s := range []string{string(r), "가" + strings.Repeat(string(r), 4)} {
			if got, want := Detect(s), detectRuneByRune(s); got != want {
				t.Fatalf("Detect(%q) = %q, rune by rune %q", s, got, want)
			}
		}
	}
	// Mixtures near the threshold, invalid UTF-8 included, and text given
	// in parts reads as the parts joined by a line break.
	rng := rand.New(rand.NewPCG(13, 13))
	pieces := []string{"a", "Z", "é", "ÿ", "1", " ", "\n", "가", "힣", "ㄱ", "\u1100", "漢", "\xff", "\xed\xa0\x80", "\xea\xb0"}
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := rng.IntN(24); n > 0; n-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := b.String()
		if got, want := Detect(s), detectRuneByRune(s); got != want {
			t.Fatalf("Detect(%q) = %q, rune by rune %q", s, got, want)
		}
		cut := rng.IntN(len(s) + 1)
		if got, want := Detect(s[:cut], s[cut:]), detectRuneByRune(s[:cut]+"\n"+s[cut:]); got != want {
			t.Fatalf("Detect(%q, %q) = %q, joined rune by rune %q", s[:cut], s[cut:], got, want)
		}
	}
}

func TestDetectCountsASCIIWordsAsBytes(t *testing.T) {
	// Every ASCII byte at every place of an eight-byte word (four copies
	// of it, so that after one Hangul syllable a letter tips the count),
	// then random ASCII with a little Hangul: the word-at-a-time count
	// must agree.
	for c := 0; c < 0x80; c++ {
		for at := 0; at < 8; at++ {
			w := []byte("12345678가")
			for k := 0; k < 4; k++ {
				w[(at+k)%8] = byte(c)
			}
			s := string(w)
			if got, want := Detect(s), detectRuneByRune(s); got != want {
				t.Fatalf("Detect(%q) = %q, rune by rune %q", s, got, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(8, 8))
	for i := 0; i < 20000; i++ {
		b := make([]byte, rng.IntN(64))
		for j := range b {
			b[j] = byte(rng.IntN(0x80))
		}
		s := string(b)
		for n := rng.IntN(12); n > 0; n-- {
			at := rng.IntN(len(s) + 1)
			s = s[:at] + "한" + s[at:]
		}
		if got, want := Detect(s), detectRuneByRune(s); got != want {
			t.Fatalf("Detect(%q) = %q, rune by rune %q", s, got, want)
		}
	}
}

func TestDetectFindsHangulAnywhereInASCII(t *testing.T) {
	// ASCII alone is never Korean; one Hangul syllable at any offset of
	// either part (word boundaries and tails included) is read, so two
	// ASCII letters or fewer beside it still make it Korean.
	for n := 0; n < 40; n++ {
		ascii := strings.Repeat("1", n)
		if got := Detect(ascii, ascii); got != "" {
			t.Fatalf("Detect(%q, %q) = %q, want none", ascii, ascii, got)
		}
		for at := 0; at <= n; at++ {
			s := ascii[:at] + "한" + ascii[at:]
			for _, parts := range [][]string{{s}, {"ab", s}, {s, "ab"}, {ascii, s}} {
				if got, want := Detect(parts...), detectRuneByRune(strings.Join(parts, "\n")); got != want || got != "ko" {
					t.Fatalf("Detect(%q) = %q, rune by rune %q, want ko", parts, got, want)
				}
			}
		}
	}
}

// BenchmarkDetect reads the bench's new-ticket text: a subject and 4 KiB
// of English.
func BenchmarkDetect(b *testing.B) {
	subject := "Printer queue stuck, request 42"
	body := "Hello support,\r\n\r\nrequest 42 from c42@cust42.example.\r\n" +
		strings.Repeat("The printer on the third floor keeps its queue stuck after a\r\n", 64) + "-- \r\nCustomer 42"
	b.SetBytes(int64(len(subject) + len(body)))
	for b.Loop() {
		if Detect(subject, body) != "" {
			b.Fatal("English read as Korean")
		}
	}
}
