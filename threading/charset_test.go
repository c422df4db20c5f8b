package threading

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/jhillyerd/enmime/v2"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
)

// encodeISO2022KR is a test encoder: the designator once at the start,
// then every KS X 1001 character in an SO ... SI run, high bits cleared.
func encodeISO2022KR(t *testing.T, s string) []byte {
	t.Helper()
	out := []byte("\x1b$)C")
	for i, line := range strings.Split(s, "\n") {
		if i > 0 {
			out = append(out, '\n')
		}
		euc, err := korean.EUCKR.NewEncoder().Bytes([]byte(line))
		if err != nil {
			t.Fatalf("encoding %q: %v", line, err)
		}
		shifted := false
		for j := 0; j < len(euc); {
			c := euc[j]
			if c >= 0x80 {
				if !shifted {
					out = append(out, 0x0e)
					shifted = true
				}
				out = append(out, c&0x7f, euc[j+1]&0x7f)
				j += 2
				continue
			}
			if shifted {
				out = append(out, 0x0f)
				shifted = false
			}
			out = append(out, c)
			j++
		}
		if shifted {
			out = append(out, 0x0f)
		}
	}
	return out
}

func mustEncode(t *testing.T, enc interface{ Bytes([]byte) ([]byte, error) }, s string) []byte {
	t.Helper()
	b, err := enc.Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeISO2022KR(t *testing.T) {
	// The body of korean/generated/iso2022kr.eml.
	raw := []byte("\x1b$)C\x0eH.@NG_=@4O4Y\x0f. \x0e0m8?=@4O4Y\x0f.\r\n")
	got, bad := decodeISO2022KR(raw)
	if got != "확인했습니다. 고맙습니다.\r\n" || bad != 0 {
		t.Errorf("corpus line: %q bad=%d", got, bad)
	}
	for _, s := range []string{
		"안녕하세요",
		"Re: [#1045] 문의",
		"첫 줄 first line\n둘째 줄: 123-456 입니다.\n\nASCII only line",
		"가나다라마바사 아자차카타파하",
	} {
		enc := encodeISO2022KR(t, s)
		for _, c := range enc {
			if c >= 0x80 {
				t.Fatalf("test encoder produced 8-bit data for %q", s)
			}
		}
		if got, bad := decodeISO2022KR(enc); got != s || bad != 0 {
			t.Errorf("round trip %q: got %q bad=%d", s, got, bad)
		}
	}
	cases := []struct {
		name string
		in   string
		want string
		nbad int
	}{
		{"odd byte before SI", "\x1b$)C\x0eH.@\x0fx", "확\ufffdx", 1},
		{"unknown escape", "a\x1b(Bb", "a\ufffd(Bb", 1},
		{"line end resets shift", "\x1b$)C\x0eH.\nab", "확\nab", 0},
		{"space inside shift", "\x1b$)C\x0eH. H.\x0f", "확 확", 0},
		{"8-bit EUC-KR mislabelled", "\xc8\xae\xc0\xce ok", "확인 ok", 0},
	}
	for _, tt := range cases {
		got, n := decodeISO2022KR([]byte(tt.in))
		if got != tt.want || n != tt.nbad {
			t.Errorf("%s: got %q bad=%d, want %q bad=%d", tt.name, got, n, tt.want, tt.nbad)
		}
	}
}

func TestDecodeText(t *testing.T) {
	cp949 := mustEncode(t, korean.EUCKR.NewEncoder(), "똠방각하 배송 문의") // 똠 is outside EUC-KR proper
	tests := []struct {
		name     string
		in       []byte
		declared string
		html     bool
		want     string
		problem  bool
	}{
		{"ks_c_5601-1987 is cp949", cp949, "ks_c_5601-1987", false, "똠방각하 배송 문의", false},
		{"euc-kr label decodes cp949 too", cp949, "EUC-KR", false, "똠방각하 배송 문의", false},
		{"cp949 alias", cp949, "cp949", false, "똠방각하 배송 문의", false},
		{"iso-2022-kr", encodeISO2022KR(t, "확인했습니다"), "iso-2022-kr", false, "확인했습니다", false},
		{"iso-2022-jp", mustEncode(t, japanese.ISO2022JP.NewEncoder(), "こんにちは、世界"), "ISO-2022-JP", false, "こんにちは、世界", false},
		{"shift_jis", mustEncode(t, japanese.ShiftJIS.NewEncoder(), "日本語テキスト"), "shift_jis", false, "日本語テキスト", false},
		{"windows-1252", []byte("caf\xe9 \x80 5"), "windows-1252", false, "café € 5", false},
		{"iso-8859-1 read as windows-1252", []byte("caf\xe9 \x80"), "iso-8859-1", false, "café €", false},
		{"windows-1251", mustEncode(t, charmap.Windows1251.NewEncoder(), "Привет"), "windows-1251", false, "Привет", false},
		{"quoted label", []byte("caf\xe9"), `"windows-1252"`, false, "café", false},
		{"charset= repeated", []byte("caf\xe9"), "charset=windows-1252", false, "café", false},
		{"utf-8 with BOM", []byte("\xef\xbb\xbfhello"), "utf-8", false, "hello", false},
		{"undeclared utf-8", []byte("naïve"), "", false, "naïve", false},
		{"us-ascii declared, utf-8 sent", []byte("naïve"), "us-ascii", false, "naïve", false},
		{"euc-kr declared, utf-8 sent", []byte("안녕하세요 여러분"), "euc-kr", false, "안녕하세요 여러분", false},
		{"html meta charset", append([]byte(`<meta charset="euc-kr"><p>`), cp949...), "", true, `<meta charset="euc-kr"><p>똠방각하 배송 문의`, false},
		{"unknown label, ascii", []byte("plain"), "x-unknown-thing", false, "plain", false},
		{"unknown label, binary kept raw", []byte{0x00, 0x81, 0xff, 0x82, 0xfe, 0x9f}, "x-garbage", false, "\x00\x81\xff\x82\xfe\x9f", true},
		{"invalid utf-8 kept raw", bytes.Repeat([]byte{0xd3, 'M', '4'}, 30), "utf-8", false, strings.Repeat("\xd3M4", 30), true},
		{"absurd label", []byte("ok"), strings.Repeat("x", 500), false, "ok", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problem, _ := decodeText(tt.in, tt.declared, tt.html)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if (problem != "") != tt.problem {
				t.Errorf("problem = %q, want problem: %v", problem, tt.problem)
			}
		})
	}
}

// decodeWords is the standard library's RFC 2047 decoder with our
// charsets: it decodes what enmime leaves encoded (ISO-2022-KR).
func TestDecodeWords(t *testing.T) {
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	cp949 := mustEncode(t, korean.EUCKR.NewEncoder(), "회원님께 똠")
	kr := encodeISO2022KR(t, "문의")
	tests := []struct {
		in, want string
	}{
		{"Re: =?iso-2022-kr?B?" + b64(kr) + "?=", "Re: 문의"},
		{"=?ks_c_5601-1987?B?" + b64(cp949) + "?=", "회원님께 똠"},
		{"=?ISO-2022-KR?Q?" + qEncode(kr) + "?= tail", "문의 tail"},
		{"=?utf-8?B?7ZqM7JuQ?= plain", "회원 plain"},
		{"no words here", "no words here"},
	}
	for _, tt := range tests {
		if got := decodeWords(tt.in); got != tt.want {
			t.Errorf("decodeWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// A charset nobody knows stays as it was.
	in := "=?x-klingon?B?" + b64([]byte{0xf8, 0xf9}) + "?="
	if got := decodeWords(in); got != in {
		t.Errorf("unknown charset: %q", got)
	}
}

func qEncode(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		if c > 32 && c < 127 && c != '=' && c != '?' && c != '_' {
			s.WriteByte(c)
		} else {
			s.WriteString("=" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
	}
	return s.String()
}

func TestFixHeaderText(t *testing.T) {
	raw := string(mustEncode(t, korean.EUCKR.NewEncoder(), "환불 요청"))
	if got := fixHeaderText(raw, "euc-kr"); got != "환불 요청" {
		t.Errorf("raw euc-kr with hint: %q", got)
	}
	if got := fixHeaderText("already ok 한글", "euc-kr"); got != "already ok 한글" {
		t.Errorf("valid UTF-8 changed: %q", got)
	}
}

// TestEnmimeKSC5601IsCP949 verifies the claim we rely on: enmime itself
// also decodes ks_c_5601-1987 as CP949 (똠 is not in EUC-KR proper).
func TestEnmimeKSC5601IsCP949(t *testing.T) {
	body := base64.StdEncoding.EncodeToString(mustEncode(t, korean.EUCKR.NewEncoder(), "똠방각하"))
	raw := "Subject: =?ks_c_5601-1987?B?" + body + "?=\r\nContent-Type: text/plain; charset=ks_c_5601-1987\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body + "\r\n"
	env, err := enmime.ReadEnvelope(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if env.GetHeader("Subject") != "똠방각하" || strings.TrimSpace(env.Text) != "똠방각하" {
		t.Errorf("enmime: subject %q text %q", env.GetHeader("Subject"), env.Text)
	}
	m := parseString(t, raw, ParseOptions{})
	if m.Subject != "똠방각하" || m.Text != "똠방각하" {
		t.Errorf("Parse: subject %q text %q", m.Subject, m.Text)
	}
}

// Undeclared 8-bit header bytes that several charsets decode equally
// well (found by FuzzParse: "ØØ" in Latin-1, "ии" in KOI8-R) decode the
// same way every time: chardet orders equal guesses at random.
func TestCharsetGuessIsDeterministic(t *testing.T) {
	raw := []byte("Received:m [1dar\xd8\xd8-22/00-2#0#\n\n\x0e")
	first := Parse(bytes.NewReader(raw), ParseOptions{}).Header["Received"]
	for i := 0; i < 100; i++ {
		if got := Parse(bytes.NewReader(raw), ParseOptions{}).Header["Received"]; !slices.Equal(got, first) {
			t.Fatalf("parse %d decoded %q, the first %q", i, got, first)
		}
	}
}
