package threading

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gogs/chardet"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// textCharset is a decoder for one MIME charset label. Exactly one of the
// kinds applies: UTF-8 (identity, validated), US-ASCII (identity when the
// data is 7-bit), ISO-2022-KR (our own decoder, RFC 1557) or an x/text
// encoding.
type textCharset struct {
	name      string
	utf8      bool
	ascii     bool
	iso2022kr bool
	enc       encoding.Encoding
}

// charsetAliases lists labels that mail clients use and the WHATWG index
// (htmlindex) does not know, or knows differently from what mail means.
var charsetAliases = map[string]textCharset{
	"utf-8":             {name: "utf-8", utf8: true},
	"utf8":              {name: "utf-8", utf8: true},
	"unicode-1-1-utf-8": {name: "utf-8", utf8: true},
	"x-unicode20utf8":   {name: "utf-8", utf8: true},
	"us-ascii":          {name: "us-ascii", ascii: true},
	"ascii":             {name: "us-ascii", ascii: true},
	"ansi_x3.4-1968":    {name: "us-ascii", ascii: true},
	"iso646-us":         {name: "us-ascii", ascii: true},
	"us":                {name: "us-ascii", ascii: true},
	"cp367":             {name: "us-ascii", ascii: true},
	"7bit":              {name: "us-ascii", ascii: true},
	// ks_c_5601-1987 as sent by Outlook is really CP949 (Unified Hangul
	// Code), a superset of EUC-KR; x/text's EUCKR decoder decodes CP949.
	"ks_c_5601-1987": {name: "cp949", enc: korean.EUCKR},
	"ks_c_5601-1989": {name: "cp949", enc: korean.EUCKR},
	"ks_c_5601":      {name: "cp949", enc: korean.EUCKR},
	"ks-c-5601-1987": {name: "cp949", enc: korean.EUCKR},
	"ksc5601":        {name: "cp949", enc: korean.EUCKR},
	"ksc_5601":       {name: "cp949", enc: korean.EUCKR},
	"cp949":          {name: "cp949", enc: korean.EUCKR},
	"ms949":          {name: "cp949", enc: korean.EUCKR},
	"uhc":            {name: "cp949", enc: korean.EUCKR},
	"windows-949":    {name: "cp949", enc: korean.EUCKR},
	"x-windows-949":  {name: "cp949", enc: korean.EUCKR},
	"euc-kr":         {name: "euc-kr", enc: korean.EUCKR},
	"euckr":          {name: "euc-kr", enc: korean.EUCKR},
	"x-euc-kr":       {name: "euc-kr", enc: korean.EUCKR},
	"korean":         {name: "euc-kr", enc: korean.EUCKR},
	"iso-2022-kr":    {name: "iso-2022-kr", iso2022kr: true},
	"csiso2022kr":    {name: "iso-2022-kr", iso2022kr: true},
	"iso-2022-jp":    {name: "iso-2022-jp", enc: japanese.ISO2022JP},
	"iso-2022-jp-1":  {name: "iso-2022-jp", enc: japanese.ISO2022JP},
	"iso-2022-jp-2":  {name: "iso-2022-jp", enc: japanese.ISO2022JP},
	"iso-2022-jp-ms": {name: "iso-2022-jp", enc: japanese.ISO2022JP},
	"csiso2022jp":    {name: "iso-2022-jp", enc: japanese.ISO2022JP},
	"cp932":          {name: "shift_jis", enc: japanese.ShiftJIS},
	"sjis":           {name: "shift_jis", enc: japanese.ShiftJIS},
	"x-sjis":         {name: "shift_jis", enc: japanese.ShiftJIS},
	"gb-18030":       {name: "gb18030", enc: simplifiedchinese.GB18030},
	"gb2312":         {name: "gb18030", enc: simplifiedchinese.GB18030},
	"cp936":          {name: "gb18030", enc: simplifiedchinese.GB18030},
	"euc-cn":         {name: "gb18030", enc: simplifiedchinese.GB18030},
	"big5-hkscs":     {name: "big5", enc: traditionalchinese.Big5},
	"cp950":          {name: "big5", enc: traditionalchinese.Big5},
	"latin1":         {name: "windows-1252", enc: charmap.Windows1252},
	"iso8859-1":      {name: "windows-1252", enc: charmap.Windows1252},
}

// normalizeCharsetLabel turns a declared charset into a lookup key. It is
// lenient with what broken mailers write: quotes, "charset=" repeated,
// trailing parameters, RFC 2231 language suffixes.
func normalizeCharsetLabel(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.Trim(s, "\"' ")
	s = strings.TrimPrefix(s, "charset=")
	s = strings.Trim(s, "\"' ")
	if i := strings.IndexAny(s, "; \t\"'"); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, '*'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 40 {
		return "?"
	}
	return s
}

// lookupCharset finds the decoder for a normalized label.
func lookupCharset(label string) (textCharset, bool) {
	if label == "" {
		return textCharset{}, false
	}
	if cs, ok := charsetAliases[label]; ok {
		return cs, true
	}
	if e, err := htmlindex.Get(label); err == nil && e != encoding.Replacement {
		name, _ := htmlindex.Name(e)
		if name == "utf-8" {
			return textCharset{name: name, utf8: true}, true
		}
		return textCharset{name: name, enc: e}, true
	}
	if e, err := ianaindex.MIME.Encoding(label); err == nil && e != nil && e != encoding.Replacement {
		name, _ := ianaindex.MIME.Name(e)
		return textCharset{name: strings.ToLower(name), enc: e}, true
	}
	return textCharset{}, false
}

// decode decodes b and counts the replacement characters the decoder
// had to insert (sequences invalid in the charset). The text is written
// once, into a buffer sized from b: a mail's body is never decoded into a
// growing buffer (issue 11: a few MiB of text cost tens of MiB that way).
func (cs textCharset) decode(b []byte) (string, int) {
	switch {
	case cs.utf8, cs.ascii:
		if utf8.Valid(b) {
			return string(b), 0
		}
		return string(b), countInvalidUTF8(b)
	case cs.iso2022kr:
		return decodeISO2022KR(b)
	case cs.enc != nil:
		var out strings.Builder
		out.Grow(len(b) + len(b)/2 + 16)
		bad, err := transformEach(cs.enc.NewDecoder(), b, func(chunk []byte) { out.Write(chunk) })
		if err != nil {
			return string(b), len(b) + 1
		}
		return out.String(), bad
	}
	return string(b), len(b) + 1
}

// countBad is what decode counts, without keeping the text: it checks a
// candidate charset against a whole body in a fixed buffer.
func (cs textCharset) countBad(b []byte) int {
	switch {
	case cs.utf8, cs.ascii:
		return countInvalidUTF8(b)
	case cs.iso2022kr:
		return iso2022KR(b, nil)
	case cs.enc != nil:
		bad, err := transformEach(cs.enc.NewDecoder(), b, nil)
		if err != nil {
			return len(b) + 1
		}
		return bad
	}
	return len(b) + 1
}

// transformEach runs t over all of src through a fixed 32 KiB buffer,
// hands each decoded chunk to emit (when not nil) and counts the U+FFFD
// in the output. x/text decoders write whole characters only, so no
// U+FFFD is split between chunks.
func transformEach(t transform.Transformer, src []byte, emit func([]byte)) (int, error) {
	var dst []byte
	if n := 3*len(src) + 16; n < 4<<10 {
		// Encoded words and header values: many, and small.
		dst = make([]byte, n)
	} else {
		bp := transformBufs.Get().(*[]byte)
		defer transformBufs.Put(bp)
		dst = *bp
	}
	bad := 0
	for {
		nDst, nSrc, err := t.Transform(dst[:], src, true)
		bad += bytes.Count(dst[:nDst], replacementChar)
		if emit != nil {
			emit(dst[:nDst])
		}
		src = src[nSrc:]
		switch {
		case err == nil:
			return bad, nil
		case errors.Is(err, transform.ErrShortDst) && (nDst > 0 || nSrc > 0):
			continue
		default:
			return bad, fmt.Errorf("decoding: %w", err)
		}
	}
}

var replacementChar = []byte("\uFFFD")

// transformBufs are transformEach's buffers for long texts.
var transformBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func countInvalidUTF8(b []byte) int {
	n := 0
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			n++
		}
		b = b[size:]
	}
	return n
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

var (
	utf8BOM    = []byte{0xef, 0xbb, 0xbf}
	utf16LEBOM = []byte{0xff, 0xfe}
	utf16BEBOM = []byte{0xfe, 0xff}
	metaRe     = regexp.MustCompile(`(?i)<meta[^>]{0,200}?charset\s*=\s*["']?\s*([a-z0-9_:.\-]{1,40})`)
)

// maxDetect caps the bytes given to charset detection.
const maxDetect = 64 << 10

// decodeText turns the transfer-decoded bytes of a text part into UTF-8.
// It trusts a declaration that decodes cleanly, otherwise it tries
// detection, and reports through problem what it could not decode (the
// bytes are then kept as they were) and through note what it guessed.
func decodeText(b []byte, declared string, isHTML bool) (text, problem, note string) {
	text, _, problem, note = decodeTextAs(b, declared, isHTML)
	return text, problem, note
}

// decodeTextAs is decodeText that also names the charset it used ("" for
// 7-bit text and for text kept undecoded).
func decodeTextAs(b []byte, declared string, isHTML bool) (text, used, problem, note string) {
	label := normalizeCharsetLabel(declared)
	switch {
	case bytes.HasPrefix(b, utf8BOM):
		b, label = b[3:], "utf-8"
	case bytes.HasPrefix(b, utf16LEBOM) || bytes.HasPrefix(b, utf16BEBOM):
		out, err := unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewDecoder().Bytes(b)
		if err == nil {
			return string(out), "utf-16", "", ""
		}
	}
	if isHTML && (label == "" || label == "us-ascii") {
		if m := metaRe.FindSubmatch(b[:min(len(b), 4096)]); m != nil {
			label = normalizeCharsetLabel(string(m[1]))
		}
	}
	if isASCII(b) && !strings.HasPrefix(label, "utf-16") && !strings.HasPrefix(label, "utf-32") &&
		bytes.IndexByte(b, 0x1b) < 0 && bytes.IndexByte(b, 0x0e) < 0 {
		// 7-bit text without escape or shift bytes reads the same in every
		// charset we decode (the ISO-2022 family included).
		return string(b), "", "", ""
	}
	cs, known := lookupCharset(label)
	switch {
	case label == "" || cs.ascii:
		if utf8.Valid(b) {
			return string(b), "utf-8", "", ""
		}
		if s, name, ok := detectCharset(b, isHTML); ok {
			return s, name, "", fmt.Sprintf("8-bit text declared %q decoded as %s", orNone(label), name)
		}
		s, _ := textCharset{enc: charmap.Windows1252}.decode(b)
		return s, "windows-1252", "", fmt.Sprintf("8-bit text declared %q decoded as windows-1252", orNone(label))
	case !known:
		if utf8.Valid(b) {
			return string(b), "utf-8", "", fmt.Sprintf("unknown charset %q; text is valid UTF-8", label)
		}
		if s, name, ok := detectCharset(b, isHTML); ok {
			return s, name, "", fmt.Sprintf("unknown charset %q decoded as detected %s", label, name)
		}
		return string(b), "", fmt.Sprintf("unknown charset %q; kept undecoded", label), ""
	}
	// Check before decoding: a declaration that does not fit is decoded
	// once, in the end, rather than once here and once again there.
	bad := cs.countBad(b)
	if bad == 0 {
		s, _ := cs.decode(b)
		return s, cs.name, "", ""
	}
	// The declaration does not fit the bytes: a client that declares
	// euc-kr but sends UTF-8, or the reverse, is common.
	if !cs.utf8 && utf8.Valid(b) {
		return string(b), "utf-8", "", fmt.Sprintf("declared %s but text is valid UTF-8", cs.name)
	}
	if alt, name, ok := detectCharset(b, isHTML); ok && name != cs.name {
		return alt, name, "", fmt.Sprintf("declared %s does not decode; decoded as detected %s", cs.name, name)
	}
	if cs.utf8 {
		return string(b), "", fmt.Sprintf("invalid UTF-8 (%d bad sequences); kept undecoded", bad), ""
	}
	s, _ := cs.decode(b)
	return s, cs.name, fmt.Sprintf("%d sequences invalid in %s", bad, cs.name), ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// detectCharset guesses the charset of 8-bit text from its first
// maxDetect bytes and accepts the guess only when the whole text decodes
// without a single invalid sequence. Each guess is checked on the sample
// first and then on the whole text in a fixed buffer; only the guess taken
// is decoded (a mail's body is never decoded once per guess).
func detectCharset(b []byte, isHTML bool) (string, string, bool) {
	sample := b[:min(len(b), maxDetect)]
	d := chardet.NewTextDetector()
	if isHTML {
		d = chardet.NewHtmlDetector()
	}
	res, err := d.DetectAll(sample)
	if err != nil {
		return "", "", false
	}
	// chardet runs its recognizers concurrently and orders equal
	// confidences as they happen to finish: order them by name, so the
	// same bytes always decode the same way.
	slices.SortStableFunc(res, func(a, b chardet.Result) int {
		if a.Confidence != b.Confidence {
			return b.Confidence - a.Confidence
		}
		return strings.Compare(a.Charset, b.Charset)
	})
	for _, r := range res {
		if r.Confidence < 30 {
			break
		}
		cs, ok := lookupCharset(normalizeCharsetLabel(r.Charset))
		if !ok || cs.ascii {
			continue
		}
		if cs.countBad(sampleCut(sample, len(b))) > 0 || (len(sample) < len(b) && cs.countBad(b) > 0) {
			continue
		}
		s, _ := cs.decode(b)
		return s, cs.name, true
	}
	return "", "", false
}

// sampleCut ends a sample of a longer text (of total bytes) after its
// last line break, so a character cut in two at the sample's end is not
// counted as invalid (the whole text is checked after the sample).
func sampleCut(sample []byte, total int) []byte {
	if len(sample) == total {
		return sample
	}
	if i := bytes.LastIndexByte(sample, '\n'); i >= 0 {
		return sample[:i+1]
	}
	return nil
}

// decodeISO2022KR decodes ISO-2022-KR (RFC 1557): 7-bit text where the
// designator ESC $ ) C announces KS X 1001 as G1, SO (0x0E) shifts to it
// and SI (0x0F) back to ASCII. In the shifted state each character is two
// bytes 0x21-0x7E, which are the EUC-KR bytes without their high bit.
// Lines start in ASCII. It returns the text and the number of invalid
// sequences (each replaced by U+FFFD). 8-bit bytes (EUC-KR mislabelled as
// ISO-2022-KR) are decoded as EUC-KR.
func decodeISO2022KR(b []byte) (string, int) {
	var out strings.Builder
	out.Grow(len(b) + len(b)/2)
	bad := iso2022KR(b, &out)
	return out.String(), bad
}

// iso2022KR decodes b into out (nil: only count) and returns the number
// of invalid sequences.
func iso2022KR(b []byte, out *strings.Builder) int {
	bad := 0
	write := func(p []byte) {
		if out != nil {
			out.Write(p)
		}
	}
	writeByte := func(c byte) {
		if out != nil {
			out.WriteByte(c)
		}
	}
	writeBad := func() {
		bad++
		if out != nil {
			out.WriteRune(utf8.RuneError)
		}
	}
	var run []byte // pending double-byte run, as EUC-KR (GR) bytes
	var dst []byte
	dec := korean.EUCKR.NewDecoder()
	flush := func() {
		if len(run) == 0 {
			return
		}
		// One decoder, one buffer: random input makes many short runs.
		if need := 3*len(run) + 8; cap(dst) < need {
			dst = make([]byte, need)
		}
		dec.Reset()
		n, _, err := dec.Transform(dst[:cap(dst)], run, true)
		if err != nil {
			writeBad()
		} else {
			bad += bytes.Count(dst[:n], replacementChar)
			write(dst[:n])
		}
		run = run[:0]
	}
	shifted := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == 0x1b:
			flush()
			if bytes.HasPrefix(b[i:], []byte("\x1b$)C")) {
				i += 3
				continue
			}
			// Another escape sequence is not part of ISO-2022-KR.
			writeBad()
		case c == 0x0e:
			flush()
			shifted = true
		case c == 0x0f:
			flush()
			shifted = false
		case c == '\r' || c == '\n':
			flush()
			shifted = false
			writeByte(c)
		case c >= 0x80:
			run = append(run, c)
		case shifted && c >= 0x21 && c <= 0x7e:
			run = append(run, c|0x80)
		default:
			flush()
			writeByte(c)
		}
	}
	flush()
	return bad
}

// fixHeaderText decodes a header value that carries raw 8-bit bytes (not
// valid UTF-8, no RFC 2047 encoding), using the charset of the message
// body as the best hint.
func fixHeaderText(s, hint string) string {
	if utf8.ValidString(s) {
		return s
	}
	text, problem, _ := decodeText([]byte(s), hint, false)
	if problem != "" || !utf8.ValidString(text) {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return text
}
