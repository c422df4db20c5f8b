package command

import (
	"reflect"
	"strings"
	"testing"
)

// #customer lines: how each operation's arguments are read, and what is
// refused (with the reason a transcript shows).
func TestCustomerCommand(t *testing.T) {
	for _, tc := range []struct {
		line    string
		args    []string
		problem string // substring; "" = valid
	}{
		{"#customer", nil, ""},
		{"#Customer TAG +VIP, -trial", []string{"tag", "+VIP", "-trial"}, ""},
		{"#customer tags vip", []string{"tag", "vip"}, ""},
		{"#customer note  Prefers phone;  calls after 6pm KST  ", []string{"note", "Prefers phone;  calls after 6pm KST"}, ""},
		{"#customer note 한국어 메모: 담당자 김민준", []string{"note", "한국어 메모: 담당자 김민준"}, ""},
		{"#customer lang KO", []string{"lang", "ko"}, ""},
		{"#customer language none", []string{"lang", "none"}, ""},
		{"#customer tz Asia/Seoul", []string{"tz", "Asia/Seoul"}, ""},
		{"#customer address +<mj@home.example> -old@x.example", []string{"address", "+mj@home.example", "-old@x.example"}, ""},
		{"#customer merge <mj@home.example>", []string{"merge", "mj@home.example"}, ""},
		{"#customer tag", []string{"tag"}, "needs tags"},
		{"#customer note", []string{"note"}, "needs the note's text"},
		{"#customer lang korean", []string{"lang", "korean"}, `"korean" is not a language code`},
		{"#customer lang en ko", []string{"lang", "en", "ko"}, "one language code"},
		{"#customer tz", []string{"tz"}, "one IANA time zone"},
		{"#customer address +not-an-address", []string{"address", "+not-an-address"}, "not-an-address"},
		{"#customer merge a@x.example b@x.example", []string{"merge", "a@x.example", "b@x.example"}, "one address"},
		{"#customer tga +vip", []string{"tga", "+vip"}, "did you mean tag?"},
		{"#customer frobnicate", []string{"frobnicate"}, "use tag, note, lang, tz, address, merge or erase"},
		{"#customer erase", []string{"erase"}, ""},
		{"#customer erase confirm 7KQ2-M9XD", []string{"erase", "confirm", "7KQ2-M9XD"}, ""},
		{"#customer erase Confirm 7kq2m9xd", []string{"erase", "Confirm", "7kq2m9xd"}, ""},
		{"#customer erase ken@efun.example", []string{"erase", "ken@efun.example"}, "asks for a confirmation code"},
		{"#customer erase confirm", []string{"erase", "confirm"}, "asks for a confirmation code"},
		{"#customer note \u202eevil", []string{"note", "\u202eevil"}, "control or bidi"},
	} {
		b := Parse(tc.line + "\n\nHello")
		if len(b.Commands) != 1 || b.Commands[0].Name != "customer" {
			t.Fatalf("%q parsed as %+v", tc.line, b.Commands)
		}
		if got := b.Commands[0].Args; !reflect.DeepEqual(got, tc.args) {
			t.Errorf("%q: args %q, want %q", tc.line, got, tc.args)
		}
		probs := Validate(b, RoleAgent)
		switch {
		case tc.problem == "" && len(probs) > 0:
			t.Errorf("%q: %v, want valid", tc.line, probs)
		case tc.problem != "" && (len(probs) != 1 || !strings.Contains(probs[0].Message, tc.problem)):
			t.Errorf("%q: %v, want one problem ~ %q", tc.line, probs, tc.problem)
		}
	}
	// Light agents may not use it at all (they read profiles by asking an
	// agent); the admin-only merge is the planner's to refuse.
	if probs := Validate(Parse("#customer\n"), RoleLight); len(probs) != 1 || !strings.Contains(probs[0].Message, "not allowed for light agents") {
		t.Errorf("#customer from a light agent: %v", probs)
	}
}
