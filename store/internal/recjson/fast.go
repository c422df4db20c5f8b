package recjson

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"

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

// appendString is encoding/json's string encoding without HTML escaping:
// '"', '\\' and control characters escaped (\b \f \n \r \t by name),
// invalid UTF-8 as \ufffd, U+2028 and U+2029 as escapes.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
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
