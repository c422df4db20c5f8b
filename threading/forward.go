package threading

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
)

// Forward detection (SPEC 3.5): an agent who forwards a customer's mail
// to a mailbox opens a ticket on the customer's behalf; the forwarded
// content becomes the requester's first comment and the agent's text above
// it a private note.

// IsForwardSubject reports whether a subject marks a forwarded mail
// (Fwd:, FW:, WG:, TR:, RV:, ENC:, 전달:, ...).
func IsForwardSubject(subject string) bool {
	return forwardSubjectRe.MatchString(subject)
}

// inlineForward finds an inline forwarded message in text. It returns the
// forward and the line index where the forward block starts (-1 if none).
// Outlook's forward ("-----Original Message-----" or a From/Sent/To/
// Subject block) looks like reply history and counts only when the
// subject says the mail is a forward. A forward marker counts only above
// the start of the reply history (historyStart): one below an Outlook
// header block or an "On ... wrote:" line was forwarded in an older mail.
func inlineForward(lines []string, subject string) (*Forwarded, int) {
	start, hdr := -1, -1
	h := historyStart(lines)
	for i, l := range lines[:h] {
		if isQuoted(l) {
			continue
		}
		if isForwardMarker(strings.TrimSpace(l)) {
			start, hdr = i, i+1
			break
		}
	}
	if start < 0 && IsForwardSubject(subject) {
		for i, l := range lines {
			if isQuoted(l) {
				continue
			}
			t := strings.TrimSpace(l)
			if originalMessageRe.MatchString(t) {
				start, hdr = i, i+1
				break
			}
			if k, _ := headerField(t); k != hdrNone {
				if _, ok := headerBlock(lines, i); ok {
					start, hdr = i, i
					for start > 0 && separatorRe.MatchString(strings.TrimSpace(lines[start-1])) {
						start--
					}
					break
				}
			}
		}
	}
	if start < 0 {
		return nil, -1
	}
	rest := lines[hdr:]
	// Apple Mail may quote the forwarded message ("> From: ...").
	quoted, nonBlank := 0, 0
	for _, l := range rest {
		if !blank(l) {
			nonBlank++
			if isQuoted(l) {
				quoted++
			}
		}
	}
	if nonBlank > 0 && quoted*10 >= nonBlank*9 {
		un := make([]string, len(rest))
		for i, l := range rest {
			t := strings.TrimLeft(l, " \t")
			t = strings.TrimPrefix(t, ">")
			un[i] = strings.TrimPrefix(t, " ")
		}
		rest = un
	}
	fw := &Forwarded{}
	fields := map[hdrKind]string{}
	j := 0
	for j < len(rest) && blank(rest[j]) {
		j++
	}
	last := hdrNone
	for ; j < len(rest); j++ {
		t := strings.TrimSpace(rest[j])
		if t == "" {
			j++
			break
		}
		if k, v := headerField(t); k != hdrNone {
			if _, dup := fields[k]; !dup {
				fields[k] = v
			}
			last = k
			continue
		}
		if last == hdrTo || last == hdrCc || last == hdrOther {
			continue // a wrapped recipient list
		}
		break
	}
	if len(fields) == 0 {
		j = 0 // no header block: everything after the marker is the message
	}
	fw.From = looseAddress(fields[hdrFrom])
	fw.Subject = fields[hdrSubject]
	fw.Date = fields[hdrDate]
	fw.Text = strings.TrimSpace(strings.Join(rest[j:], "\n"))
	fw.Note = strings.TrimSpace(strings.Join(lines[:start], "\n"))
	return fw, start
}

// looseAddress reads an address as clients write it in a forward header:
// "Name <a@b>", "Name [mailto:a@b]", "\"Name\" <a@b>", "a@b", "*Name* <a@b>".
func looseAddress(v string) Address {
	v = strings.TrimSpace(strings.ReplaceAll(v, "*", ""))
	if v == "" {
		return Address{}
	}
	if i := strings.Index(strings.ToLower(v), "[mailto:"); i >= 0 {
		if j := strings.IndexByte(v[i:], ']'); j > 0 {
			v = v[:i] + "<" + v[i+len("[mailto:"):i+j] + ">" + v[i+j+1:]
		}
	}
	if utf8.ValidString(v) { // raw 8-bit names are decoded later, bytes intact
		if a, err := addrParser.Parse(v); err == nil {
			return Address{Name: a.Name, Addr: a.Address}
		}
	}
	addr := emailRe.FindString(v)
	if addr == "" {
		return Address{Name: strings.Trim(v, `"' `)}
	}
	name := v[:strings.Index(v, addr)]
	name = strings.Trim(strings.TrimSpace(strings.TrimRight(strings.TrimSpace(name), "<(")), `"' `)
	return Address{Name: name, Addr: strings.Trim(addr, "<>")}
}

// attachedForward returns the first attached message (message/rfc822)
// outside a report of an enmime tree, parsed.
func attachedForward(root *enmime.Part, opt ParseOptions) *Mail {
	var found *enmime.Part
	var walk func(p *enmime.Part, inReport bool)
	walk = func(p *enmime.Part, inReport bool) {
		for ; p != nil && found == nil; p = p.NextSibling {
			ct := strings.ToLower(p.ContentType)
			if (ct == "message/rfc822" || ct == "message/global") && !inReport && len(p.Content) > 0 {
				found = p
				return
			}
			walk(p.FirstChild, inReport || ct == "multipart/report")
		}
	}
	if root == nil {
		return nil
	}
	if strings.ToLower(root.ContentType) == "multipart/report" {
		return nil
	}
	walk(root.FirstChild, false)
	if found == nil {
		return nil
	}
	sub := opt
	sub.depth++
	return Parse(bytes.NewReader(found.Content), sub)
}

// detectForward fills m.Forwarded and, for an inline forward, makes the
// forwarded block part of NewText (it is new to the helpdesk, not history).
func detectForward(m *Mail, lines []string, sub *Mail, opt ParseOptions) {
	if opt.depth > 0 {
		return // a forwarded mail: only its sender, subject and text are used
	}
	if fw, start := inlineForward(lines, m.Subject); fw != nil {
		m.Forwarded = fw
		note := StripQuoted(strings.Join(lines[:start], "\n"))
		block := strings.TrimSpace(strings.Join(lines[start:], "\n"))
		m.NewText = strings.TrimSpace(note + "\n\n" + block)
		return
	}
	if sub != nil {
		m.Forwarded = &Forwarded{
			From:    sub.From,
			Subject: sub.Subject,
			Date:    sub.Get("Date"),
			Text:    strings.TrimSpace(sub.Text),
			Note:    m.NewText,
		}
	}
}
