package recjson

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"helpdesk/store/model"
)

// Encode is json.Marshal's record with <, > and & kept as themselves and
// no newline, and a buffer reused for a shorter record holds only it.
func TestEncodeKeepsHTMLAndDropsTheNewline(t *testing.T) {
	buf := Buffer()
	defer Release(buf)
	v := map[string]string{"text": "<b>Tom & Jerry</b>\n"}
	got, err := Encode(buf, v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"text":"<b>Tom & Jerry</b>\n"}`; string(got) != want {
		t.Errorf("Encode = %s, want %s", got, want)
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil || back["text"] != v["text"] {
		t.Errorf("read back %q (%v), want %q", back["text"], err, v["text"])
	}
	got, err = Encode(buf, 7)
	if err != nil || string(got) != "7" {
		t.Errorf("Encode(7) into the used buffer = %q, %v", got, err)
	}
	if _, err := Encode(buf, func() {}); err == nil {
		t.Error("Encode of a func: no error")
	}
}

// The field-by-field encoders write what encoding/json writes (without
// HTML escaping), for every field set or empty and strings that need
// escaping; a value they do not cover still encodes (by reflection).
func TestFastEncodersMatchEncodingJSON(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	strs := []string{"", "plain", `quo"te\back`, "<b>&amp;</b>", "tab\tnl\ncr\rbs\bff\f\x00\x1f\x7f",
		"ünïcødé 한국어 😀", "bad \xff\xfe utf8 \xc3", "sep \u2028 and \u2029", "zero\u0000"}
	times := []time.Time{{}, time.Date(2026, 12, 7, 21, 40, 1, 123456789, time.UTC),
		time.Date(2026, 12, 7, 21, 40, 1, 0, berlin), time.Date(1969, 7, 20, 20, 17, 0, 0, time.FixedZone("", -5*3600-30*60)),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}
	var vals []any
	for i, s := range strs {
		tm := times[i%len(times)]
		vals = append(vals,
			&model.Customer{ID: uint64(i), Name: s, Addresses: []string{s, "a@b.example"}, Organization: s, Tags: []string{s},
				Language: s, TimeZone: s, Created: tm, Updated: times[(i+1)%len(times)]},
			&model.Customer{ID: 1 << 63, Addresses: nil, Created: tm},
			&model.Customer{Addresses: []string{}, Tags: []string{}, Notes: []model.CustomerNote{{At: tm, By: s, Text: s}}},
			&model.CustomerActivity{At: tm, Kind: s, Ticket: uint64(i * 1000), By: s, Text: s},
			&model.CustomerActivity{},
			&model.Comment{ID: uint32(i), Ticket: uint64(i) << 40, Thread: 1 << 31, Kind: s, Author: s, AuthorName: s, Visibility: s,
				Text: strings.Repeat(s+" some text of a mail, ", i+1), Created: tm, MessageID: s, Message: uint64(i), Hidden: i%2 == 0,
				Recipients: []string{s, "b@c.example"}, Reason: s, Released: i%3 == 0},
			&model.Comment{Created: tm, Recipients: []string{}},
			&model.Comment{Text: s, Created: tm, Attachments: []model.Attachment{{Name: s, ContentType: "text/plain", Size: 3}}},
			&model.Outbound{ID: uint64(i), Ticket: uint64(i) * 7, Kind: s, MailFrom: s, Rcpt: s, From: s, To: []string{s}, Cc: []string{s, s},
				ReplyTo: s, Subject: s, MessageID: s, InReplyTo: s, References: []string{s, "<x@y>"},
				Headers: []model.Header{{Name: s, Value: s}, {Name: "Auto-Submitted", Value: "auto-replied"}}, Text: strings.Repeat(s, 30),
				Include: &model.CommentRef{Ticket: uint64(i), Comment: uint32(i) << 20}, TextAfter: s, State: s, Attempts: i - 3,
				NextAttempt: tm, LastError: s, Created: times[(i+1)%len(times)], Done: tm, Started: tm, Requeued: tm, LeaseHolder: s, LeaseUntil: tm},
			&model.Outbound{Created: tm, To: []string{}, Cc: []string{}, References: []string{}, Headers: []model.Header{}},
			&model.Outbound{Text: s, Attach: []model.Attachment{{Name: s}}},
			&model.Outbound{Text: s, AttachData: []model.InlineFile{{Name: s, Data: []byte(s)}}})
	}
	for _, tm := range times {
		vals = append(vals, &model.CustomerActivity{At: tm, Kind: "ticket", Text: "requested #1: x"})
	}
	buf := Buffer()
	defer Release(buf)
	for _, v := range vals {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		werr := enc.Encode(v)
		got, err := Encode(buf, v)
		if (err != nil) != (werr != nil) {
			t.Errorf("%+v: Encode error %v, encoding/json's %v", v, err, werr)
			continue
		}
		if werr == nil && string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("%+v:\n got %s\nwant %s", v, got, want.String())
		}
	}
}

// appendString escapes what encoding/json escapes, also where a byte to
// escape sits anywhere in or after a run of eight plain ones (the runs
// are skipped a word at a time).
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 16))
	alphabet := []string{"a", "Z", " ", "~", "\x7f", `"`, `\`, "\n", "\x00", "\x1f", "\x20", "é", "한", "😀", "\xff", "\xc3", "\u2028", "<", "&"}
	for n := range 3000 {
		var sb strings.Builder
		for range r.IntN(40) {
			if r.IntN(3) == 0 {
				sb.WriteString(alphabet[r.IntN(len(alphabet))])
			} else {
				sb.WriteString(strings.Repeat("x", r.IntN(20)))
			}
		}
		s := sb.String()
		if n%100 == 0 {
			s = strings.Repeat(s, 50)
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want.String())
		}
	}
}

// TestFastEncodersKnowEveryField fails when a type fast.go encodes
// (model.Customer, CustomerActivity, Comment, Outbound and the Header and
// CommentRef in it) gains, loses or renames a field: fast.go writes
// their fields by hand, so a new field would be silently left out of
// every record written by the fast path until its append function (and
// TestFastEncodersMatchEncodingJSON's values) learn it.
func TestFastEncodersKnowEveryField(t *testing.T) {
	for _, c := range []struct {
		v    any
		want []string
	}{
		{model.Customer{}, []string{"id", "name,omitempty", "addresses", "organization,omitempty", "tags,omitempty",
			"notes,omitempty", "language,omitempty", "time_zone,omitempty", "created", "updated"}},
		{model.CustomerActivity{}, []string{"at", "kind", "ticket,omitempty", "by,omitempty", "text"}},
		{model.Comment{}, []string{"id", "ticket", "thread", "kind", "author", "author_name,omitempty", "visibility", "text", "created",
			"message_id,omitempty", "message,omitempty", "attachments,omitempty", "hidden,omitempty", "recipients,omitempty",
			"reason,omitempty", "released,omitempty"}},
		{model.Outbound{}, []string{"id", "ticket,omitempty", "kind", "mail_from", "rcpt", "from", "to", "cc,omitempty", "reply_to,omitempty",
			"subject", "message_id", "in_reply_to,omitempty", "references,omitempty", "headers,omitempty", "text", "include,omitempty",
			"text_after,omitempty", "attach,omitempty", "attach_data,omitempty", "state", "attempts", "next_attempt", "last_error,omitempty",
			"created", "done,omitempty", "started,omitempty", "requeued,omitzero", "lease_holder,omitempty", "lease_until,omitzero"}},
		{model.Header{}, []string{"n", "v"}},
		{model.CommentRef{}, []string{"ticket", "comment"}},
	} {
		rt := reflect.TypeOf(c.v)
		var got []string
		for i := range rt.NumField() {
			got = append(got, rt.Field(i).Tag.Get("json"))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s's JSON fields are %q, fast.go encodes %q: update fast.go and this list", rt, got, c.want)
		}
	}
}
