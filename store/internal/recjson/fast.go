package recjson

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"helpdesk/store/model"
)

// Records every new ticket writes are encoded here field by field
// instead of through encoding/json's reflection: a new requester's
// profile and its first timeline entry cost about 20,000 instructions
// that way, a fifth of what profiles add to a new ticket (issue 13). The
// bytes are encoding/json's (TestFastEncodersMatchEncodingJSON); a value
// the fast path does not cover (a profile with notes, a time outside
// the years 0-9999) takes the reflection path.

// encodeFast appends v's JSON to buf; false: not covered here.
func encodeFast(buf *bytes.Buffer, v any) bool {
	var b []byte
	ok := false
	switch x := v.(type) {
	case *model.Customer:
		b, ok = appendCustomer(buf.AvailableBuffer(), x)
	case *model.CustomerActivity:
		b, ok = appendActivity(buf.AvailableBuffer(), x)
	case *model.Comment:
		b, ok = appendComment(buf.AvailableBuffer(), x)
	case *model.Outbound:
		b, ok = appendOutbound(buf.AvailableBuffer(), x)
	}
	if ok {
		buf.Write(b)
	}
	return ok
}

func appendCustomer(b []byte, c *model.Customer) ([]byte, bool) {
	if len(c.Notes) != 0 {
		return b, false
	}
	b = append(b, `{"id":`...)
	b = strconv.AppendUint(b, c.ID, 10)
	if c.Name != "" {
		b = appendString(append(b, `,"name":`...), c.Name)
	}
	b = append(b, `,"addresses":`...)
	b = appendStrings(b, c.Addresses)
	if c.Organization != "" {
		b = appendString(append(b, `,"organization":`...), c.Organization)
	}
	if len(c.Tags) != 0 {
		b = appendStrings(append(b, `,"tags":`...), c.Tags)
	}
	if c.Language != "" {
		b = appendString(append(b, `,"language":`...), c.Language)
	}
	if c.TimeZone != "" {
		b = appendString(append(b, `,"time_zone":`...), c.TimeZone)
	}
	var ok1, ok2 bool
	b, ok1 = appendTime(append(b, `,"created":`...), c.Created)
	b, ok2 = appendTime(append(b, `,"updated":`...), c.Updated)
	return append(b, '}'), ok1 && ok2
}

func appendActivity(b []byte, a *model.CustomerActivity) ([]byte, bool) {
	var ok bool
	b, ok = appendTime(append(b, `{"at":`...), a.At)
	b = appendString(append(b, `,"kind":`...), a.Kind)
	if a.Ticket != 0 {
		b = strconv.AppendUint(append(b, `,"ticket":`...), a.Ticket, 10)
	}
	if a.By != "" {
		b = appendString(append(b, `,"by":`...), a.By)
	}
	b = appendString(append(b, `,"text":`...), a.Text)
	return append(b, '}'), ok
}

// appendComment: every new ticket stores its mail's text in a comment,
// the longest string a new ticket encodes (4 KiB in the bench), which
// encoding/json escapes a byte at a time after reflecting over the
// fields. A comment with attachments takes the reflection path.
func appendComment(b []byte, c *model.Comment) ([]byte, bool) {
	if len(c.Attachments) != 0 {
		return b, false
	}
	b = strconv.AppendUint(append(b, `{"id":`...), uint64(c.ID), 10)
	b = strconv.AppendUint(append(b, `,"ticket":`...), c.Ticket, 10)
	b = strconv.AppendUint(append(b, `,"thread":`...), uint64(c.Thread), 10)
	b = appendString(append(b, `,"kind":`...), c.Kind)
	b = appendString(append(b, `,"author":`...), c.Author)
	if c.AuthorName != "" {
		b = appendString(append(b, `,"author_name":`...), c.AuthorName)
	}
	b = appendString(append(b, `,"visibility":`...), c.Visibility)
	b = appendString(append(b, `,"text":`...), c.Text)
	var ok bool
	b, ok = appendTime(append(b, `,"created":`...), c.Created)
	if c.MessageID != "" {
		b = appendString(append(b, `,"message_id":`...), c.MessageID)
	}
	if c.Message != 0 {
		b = strconv.AppendUint(append(b, `,"message":`...), c.Message, 10)
	}
	if c.Hidden {
		b = append(b, `,"hidden":true`...)
	}
	if len(c.Recipients) != 0 {
		b = appendStrings(append(b, `,"recipients":`...), c.Recipients)
	}
	if c.Reason != "" {
		b = appendString(append(b, `,"reason":`...), c.Reason)
	}
	if c.Released {
		b = append(b, `,"released":true`...)
	}
	return append(b, '}'), ok
}

// appendOutbound: a new ticket queues two mails (the acknowledgement
// and the assignee's notification), each with six times, which
// encoding/json formats and then compacts a byte at a time. An item
// with attachments takes the reflection path.
func appendOutbound(b []byte, o *model.Outbound) ([]byte, bool) {
	if len(o.Attach) != 0 || len(o.AttachData) != 0 {
		return b, false
	}
	b = strconv.AppendUint(append(b, `{"id":`...), o.ID, 10)
	if o.Ticket != 0 {
		b = strconv.AppendUint(append(b, `,"ticket":`...), o.Ticket, 10)
	}
	b = appendString(append(b, `,"kind":`...), o.Kind)
	b = appendString(append(b, `,"mail_from":`...), o.MailFrom)
	b = appendString(append(b, `,"rcpt":`...), o.Rcpt)
	b = appendString(append(b, `,"from":`...), o.From)
	b = appendStrings(append(b, `,"to":`...), o.To)
	if len(o.Cc) != 0 {
		b = appendStrings(append(b, `,"cc":`...), o.Cc)
	}
	if o.ReplyTo != "" {
		b = appendString(append(b, `,"reply_to":`...), o.ReplyTo)
	}
	b = appendString(append(b, `,"subject":`...), o.Subject)
	b = appendString(append(b, `,"message_id":`...), o.MessageID)
	if o.InReplyTo != "" {
		b = appendString(append(b, `,"in_reply_to":`...), o.InReplyTo)
	}
	if len(o.References) != 0 {
		b = appendStrings(append(b, `,"references":`...), o.References)
	}
	if len(o.Headers) != 0 {
		b = append(b, `,"headers":[`...)
		for i, h := range o.Headers {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(append(b, `{"n":`...), h.Name)
			b = append(appendString(append(b, `,"v":`...), h.Value), '}')
		}
		b = append(b, ']')
	}
	b = appendString(append(b, `,"text":`...), o.Text)
	if o.Include != nil {
		b = strconv.AppendUint(append(b, `,"include":{"ticket":`...), o.Include.Ticket, 10)
		b = append(strconv.AppendUint(append(b, `,"comment":`...), uint64(o.Include.Comment), 10), '}')
	}
	if o.TextAfter != "" {
		b = appendString(append(b, `,"text_after":`...), o.TextAfter)
	}
	b = appendString(append(b, `,"state":`...), o.State)
	b = strconv.AppendInt(append(b, `,"attempts":`...), int64(o.Attempts), 10)
	ok := true
	tm := func(name string, t time.Time) {
		var tok bool
		b, tok = appendTime(append(b, name...), t)
		ok = ok && tok
	}
	tm(`,"next_attempt":`, o.NextAttempt)
	if o.LastError != "" {
		b = appendString(append(b, `,"last_error":`...), o.LastError)
	}
	tm(`,"created":`, o.Created)
	tm(`,"done":`, o.Done) // omitempty does not leave out a struct
	tm(`,"started":`, o.Started)
	if !o.Requeued.IsZero() {
		tm(`,"requeued":`, o.Requeued)
	}
	if o.LeaseHolder != "" {
		b = appendString(append(b, `,"lease_holder":`...), o.LeaseHolder)
	}
	if !o.LeaseUntil.IsZero() {
		tm(`,"lease_until":`, o.LeaseUntil)
	}
	return append(b, '}'), ok
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendTime is time.Time's MarshalJSON (RFC 3339 with nanoseconds);
// false for what it refuses (a year outside 0-9999, an offset of a day
// or more).
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	if _, off := t.Zone(); off <= -24*3600 || off >= 24*3600 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

const hexDigits = "0123456789abcdef"

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plain8 reports whether none of the eight bytes of w is below 0x20,
// '"', '\\' or 0x80 and above: each goes into the JSON as it is.
func plain8(w uint64) bool {
	// A byte below n (n <= 0x80) sets its high bit in (x - n) &^ x; a
	// byte of zero (x ^ c for c) does the same with n = 1. The high
	// bit of w itself marks the bytes of 0x80 and above. A borrow
	// crosses into the next byte only from a byte that is itself
	// flagged, so a flagged word may flag more, never fewer, and then
	// the bytes are looked at one by one.
	ctl := (w - 0x20*lsb) &^ w
	q := w ^ '"'*lsb
	q = (q - lsb) &^ q
	bs := w ^ '\\'*lsb
	bs = (bs - lsb) &^ bs
	return (ctl|q|bs|w)&msb == 0
}

// appendString is encoding/json's string encoding without HTML escaping:
// '"', '\\' and control characters escaped (\b \f \n \r \t by name),
// invalid UTF-8 as \ufffd, U+2028 and U+2029 as escapes.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	// s's bytes, only read: the word loads below then compile to one
	// load each, without a slice made per word.
	sb := unsafe.Slice(unsafe.StringData(s), len(s))
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time while none of them needs a look (a
		// control character, '"', '\\' or a byte of a multi-byte
		// character): a mail's text is mostly such runs.
		for i+8 <= len(sb) && plain8(binary.LittleEndian.Uint64(sb[i:i+8])) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
