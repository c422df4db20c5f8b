package command

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"helpdesk/config"
	"helpdesk/threading/safetext"
)

// #customer: the requester's profile (SPEC 8). Its first argument is the
// operation ("" shows the profile), lower case; the rest depends on it:
//
//	#customer                      mail me the requester's profile
//	#customer tag +vip -trial      add (+ or bare) and remove profile tags
//	#customer note <text>          add a staff note (the text as written)
//	#customer lang ko|none         the language of their automatic mail
//	#customer tz Asia/Seoul|none   their time zone
//	#customer address +a -b        add or remove another address of theirs
//	#customer merge <addr>         (admins) merge that address's profile
//	                               into the requester's
//	#customer erase                (admins) ask for a confirmation code
//	#customer erase confirm <code> (admins) erase the requester (GDPR)

// CustomerOps are the operations of #customer, in help-card order.
var CustomerOps = []string{"tag", "note", "lang", "tz", "address", "merge", "erase"}

// MaxNoteLen bounds a #customer note, in characters.
const MaxNoteLen = 2000

// parseCustomer splits a #customer line's arguments: the operation, then
// a list (tag, address), the note's text whole, or words.
func parseCustomer(rest string) []string {
	op, args := rest, ""
	if i := strings.IndexFunc(rest, unicode.IsSpace); i >= 0 {
		op, args = rest[:i], strings.TrimFunc(rest[i:], unicode.IsSpace)
	}
	if op == "" {
		return nil
	}
	op = strings.ToLower(op)
	switch op {
	case "note":
		if args == "" {
			return []string{op}
		}
		return []string{op, args}
	case "tag", "tags", "address", "addresses":
		items := splitList(args)
		if op == "address" || op == "addresses" {
			for i, a := range items {
				sign := ""
				if a != "" && (a[0] == '+' || a[0] == '-') {
					sign, a = a[:1], a[1:]
				}
				items[i] = sign + stripAngle(a)
			}
		}
		canon := map[string]string{"tags": "tag", "addresses": "address"}[op]
		if canon == "" {
			canon = op
		}
		return append([]string{canon}, items...)
	case "merge":
		f := strings.Fields(args)
		for i := range f {
			f[i] = stripAngle(f[i])
		}
		return append([]string{op}, f...)
	case "lang", "language":
		return append([]string{"lang"}, lowerAll(strings.Fields(args))...)
	case "tz", "timezone", "time-zone":
		return append([]string{"tz"}, strings.Fields(args)...)
	}
	return append([]string{op}, strings.Fields(args)...)
}

// customer checks a #customer line's syntax (the profile itself, the
// time zone's existence and who may merge are the planner's).
func (v *validator) customer(c Command) {
	if len(c.Args) == 0 {
		return // show the profile
	}
	op, args := c.Args[0], c.Args[1:]
	switch op {
	case "tag":
		if len(args) == 0 {
			v.add(c, "", "#customer tag needs tags (+add -remove)")
			return
		}
		v.bad(c, "tag", badItems(args, func(s string) bool {
			return s != "" && utf8.RuneCountInString(s) <= 100 && !safetext.HasUnsafe(s)
		}))
	case "note":
		switch {
		case len(args) == 0:
			v.add(c, "", "#customer note needs the note's text on the same line")
		case utf8.RuneCountInString(args[0]) > MaxNoteLen:
			v.add(c, "", "the note is too long (at most %d characters)", MaxNoteLen)
		case safetext.HasUnsafe(args[0]):
			v.add(c, "", "the note holds control or bidi characters")
		}
	case "lang":
		if len(args) != 1 {
			v.add(c, "", "#customer lang takes one language code (en, ko ...) or none")
			return
		}
		if args[0] != "none" && !config.ValidLang(args[0]) {
			v.add(c, "", "%q is not a language code; use one like en or ko, or none", args[0])
		}
	case "tz":
		if len(args) != 1 {
			v.add(c, "", "#customer tz takes one IANA time zone (Asia/Seoul ...) or none")
		}
	case "address":
		if len(args) == 0 {
			v.add(c, "", "#customer address needs addresses (+add -remove)")
			return
		}
		v.bad(c, "address", badItems(args, func(s string) bool { _, ok := ParseAddr(s); return ok }))
	case "merge":
		if len(args) != 1 {
			v.add(c, "", "#customer merge takes one address: the customer to merge into the requester's profile")
			return
		}
		if _, ok := ParseAddr(args[0]); !ok {
			v.bad(c, "address", args)
		}
	case "erase":
		switch {
		case len(args) == 0:
		case len(args) >= 2 && len(args) <= 3 && strings.EqualFold(args[0], "confirm"): // the code may be retyped as two words
		default:
			v.add(c, "", "#customer erase alone asks for a confirmation code; #customer erase confirm <code> erases")
		}
	default:
		if s := Suggest(op, CustomerOps); s != "" {
			v.add(c, s, "unknown #customer operation %q; did you mean %s?", op, s)
		} else {
			v.add(c, "", "unknown #customer operation %q; use %s, or #customer alone for the profile", op, orList(CustomerOps))
		}
	}
}

// badItems are the +x/-x/x items ok refuses.
func badItems(items []string, ok func(string) bool) []string {
	var bad []string
	for _, a := range items {
		s := a
		if s != "" && (s[0] == '+' || s[0] == '-') {
			s = s[1:]
		}
		if !ok(s) {
			bad = append(bad, a)
		}
	}
	return bad
}
