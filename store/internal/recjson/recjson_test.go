package recjson

import (
	"bytes"
	"encoding/json"
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
			&model.CustomerActivity{})
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

// TestFastEncodersKnowEveryField fails when model.Customer or
// model.CustomerActivity gains, loses or renames a field: fast.go
// writes their fields by hand, so a new field would be silently left
// out of every profile written by the fast path until appendCustomer or
// appendActivity (and TestFastEncodersMatchEncodingJSON's values) learn it.
func TestFastEncodersKnowEveryField(t *testing.T) {
	for _, c := range []struct {
		v    any
		want []string
	}{
		{model.Customer{}, []string{"id", "name,omitempty", "addresses", "organization,omitempty", "tags,omitempty",
			"notes,omitempty", "language,omitempty", "time_zone,omitempty", "created", "updated"}},
		{model.CustomerActivity{}, []string{"at", "kind", "ticket,omitempty", "by,omitempty", "text"}},
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
