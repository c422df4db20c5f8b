package threading

import (
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
)

// attachments lists attachments and inline parts: what enmime sorts as
// such, plus other non-text leaves with a file name or a non-text type
// (a PDF without Content-Disposition, an attached message).
func attachments(env *enmime.Envelope) []Attachment {
	var out []Attachment
	seen := map[*enmime.Part]bool{}
	add := func(p *enmime.Part, inline bool) {
		if p == nil || seen[p] {
			return
		}
		ct := strings.ToLower(p.ContentType)
		if (ct == "text/plain" || ct == "text/html") && p.FileName == "" && !strings.EqualFold(p.Disposition, "attachment") {
			return // a body part marked inline (Sparrow, Apple Mail), not a file
		}
		seen[p] = true
		out = append(out, attachmentOf(partFileName(p), ct, int64(len(p.Content)), inline, p.PartID))
	}
	for _, p := range env.Attachments {
		add(p, false)
	}
	for _, p := range env.Inlines {
		add(p, true)
	}
	for _, p := range env.OtherParts {
		if attachmentLike(p) {
			add(p, strings.EqualFold(p.Disposition, "inline"))
		}
	}
	return out
}

// partFileName is the part's file name; a name enmime could not decode
// (an ISO-2022-KR encoded word) is read again from the raw parameters.
func partFileName(p *enmime.Part) string {
	name := p.FileName
	if name != "" && !strings.ContainsRune(name, utf8.RuneError) && !strings.Contains(name, "=?") {
		return name
	}
	for _, h := range []string{"Content-Disposition", "Content-Type"} {
		if _, params, err := mime.ParseMediaType(p.Header.Get(h)); err == nil {
			for _, k := range []string{"filename", "name"} {
				if v := decodeWords(params[k]); v != "" && !strings.ContainsRune(v, utf8.RuneError) {
					return v
				}
			}
		}
	}
	return name
}

func attachmentLike(p *enmime.Part) bool {
	if p.Parent != nil && strings.EqualFold(p.Parent.ContentType, "multipart/report") {
		return false
	}
	ct := strings.ToLower(p.ContentType)
	if p.FileName != "" {
		return true
	}
	switch {
	case ct == "", strings.HasPrefix(ct, "text/"), strings.HasPrefix(ct, "multipart/"):
		return false
	case strings.HasPrefix(ct, "message/"):
		return ct == "message/rfc822" || ct == "message/global"
	}
	return true
}

// attachmentOf describes one attachment with a safe name.
func attachmentOf(name, ctype string, size int64, inline bool, part string) Attachment {
	name = fixHeaderText(name, "")
	if name == "" {
		if ctype == "message/rfc822" || ctype == "message/global" {
			name = "message.eml"
		} else {
			name = "unnamed"
		}
	}
	return Attachment{Name: SafeFileName(name), ContentType: ctype, Size: size, Inline: inline, Part: part}
}

// SafeFileName makes an attachment name safe to use as a file name in a
// folder: no directory parts (either slash), no drive or stream colons, no
// control characters, no leading dots or spaces, at most 200 bytes.
func SafeFileName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	name = strings.ReplaceAll(name, "\\", "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			return -1
		case r == ':' || r == '*' || r == '?' || r == '"' || r == '<' || r == '>' || r == '|':
			return '_'
		}
		return r
	}, name)
	name = strings.TrimLeft(name, ". ")
	name = strings.TrimRight(name, ". ")
	if len(name) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		ext := ""
		if i := strings.LastIndexByte(name, '.'); i > len(name)-12 && i > 0 {
			ext = name[i:]
		}
		if cut > len(ext) {
			name = name[:cut-len(ext)]
			for len(name) > 0 && !utf8.ValidString(name) {
				name = name[:len(name)-1]
			}
			name += ext
		} else {
			name = name[:cut]
		}
	}
	if name == "" {
		return "unnamed"
	}
	return name
}
