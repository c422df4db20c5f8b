package rules

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"helpdesk/config"
	"helpdesk/threading/command"
)

// Events an update can carry (Facts.Events).
const (
	Created         = "created"
	CustomerComment = "customer-comment"
	Response        = "response"
	Note            = "note"
	SideMessage     = "side-message"
	Command         = "command"
	Automation      = "automation"
	Merge           = "merge"
	SLAWarning      = "sla-warning"
	SLABreach       = "sla-breach"
	Rating          = "rating"
	// BadRating comes with Rating when the rating is 2 or less.
	BadRating = "bad-rating"
)

// Events lists every event name, in the order the docs give them.
var Events = []string{Created, CustomerComment, Response, Note, SideMessage, Command, Automation, Merge, SLAWarning, SLABreach, Rating, BadRating}

// Facts are what conditions are matched against: the ticket as it is now
// and what the update did.
type Facts struct {
	Events   []string // what this update did (none for a view)
	Mailbox  string   // the ticket's mailbox address, lowercase
	Sender   string   // who caused the update, comparison form ("" none)
	Subject  string
	Body     string // the text the update added ("" none)
	Status   string
	Priority string
	Type     string
	Group    string
	Assignee string // "" unassigned
	Tags     []string
	// Changed names the fields this update changed (status, priority,
	// type, group, assignee, tags).
	Changed  []string
	Created  time.Time
	Updated  time.Time
	Resolved time.Time // zero: not resolved
	Now      time.Time
	// InHours reports whether an instant is inside the ticket's business
	// hours (calendars plug in here); nil: always (a 24/7 calendar).
	InHours func(time.Time) bool

	// The instants automations measure time from (zero: never).
	StatusChanged time.Time
	LastCustomer  time.Time // the requester's or a CC's last public comment
	LastResponse  time.Time // an agent's last public reply
	SLABreached   time.Time
	// Calendar counts "... ago in business time" (nil: 24/7).
	Calendar Calendar
	// Customer gives the requester's profile facts (SPEC 8): their
	// organization's name ("" none) and the profile's tags; read only
	// when a condition asks. nil: no profile.
	Customer func() (org string, tags []string)

	// Prepared, when set, is the lowercase form and gram set of the
	// update's text made before the store write (Prepare): used for the
	// subject, body or text field whose value it was made from.
	Prepared *Prepared

	// low caches the lowercased texts conditions compare (a pass
	// evaluates dozens of "contains" lines on the same 4 KiB body), txt
	// the "text" field (subject and body).
	low [3]lowered
	txt struct{ subject, body, v string }
}

// customer reads Customer once.
func (f *Facts) customer() (string, []string) {
	if f.Customer == nil {
		return "", nil
	}
	org, tags := f.Customer()
	f.Customer = func() (string, []string) { return org, tags }
	return org, tags
}

// lowered is one cached text of a long field: low is lowerText(src)
// and ascii whether src is all ASCII (computed when first asked for),
// gram the gram set of low (built when first asked for).
type lowered struct {
	src, low       string
	lowDone, ascii bool
	gram           *grams
}

// slot returns the cache of field slot (0 subject, 1 body, 2 text) for
// its current value v.
func (f *Facts) slot(slot int, v string) *lowered {
	c := &f.low[slot]
	if c.src != v || c.src == "" && v != "" {
		*c = lowered{src: v}
		if p := f.Prepared; p != nil && p.l.src == v && v != "" {
			*c = p.l
		}
	}
	return c
}

// Prepared is a text's lowercase form and, when it is long, its gram
// set: what a pass computes first about a mail's body, made outside the
// store's single writer (in the mail's own goroutine, before its write)
// so that the write only compares (issue 15). Read-only once made.
type Prepared struct{ l lowered }

// Prepare makes the Prepared of s.
func Prepare(s string) *Prepared {
	p := &Prepared{l: lowered{src: s, lowDone: true}}
	p.l.low, p.l.ascii = lowerText(s)
	if len(s) >= gramMin {
		p.l.gram = new(grams)
		p.l.gram.add(p.l.low)
	}
	return p
}

// lower returns strings.ToLower(v) and whether v is ASCII, computed once
// per distinct value of the field (slot 0 subject, 1 body, 2 text).
func (f *Facts) lower(slot int, v string) (string, bool) {
	c := f.slot(slot, v)
	if !c.lowDone {
		if slot == 2 && v == f.text() {
			// Subject and body are lowercased (or will be) anyway:
			// ToLower works rune by rune, so theirs joined is the
			// text's.
			sl, sa := f.lower(0, f.Subject)
			bl, ba := f.lower(1, f.Body)
			c.low, c.ascii = sl+"\n"+bl, sa && ba
		} else {
			c.low, c.ascii = lowerText(v)
		}
		c.lowDone = true
	}
	return c.low, c.ascii
}

// lowerText is strings.ToLower(s) and whether s is ASCII, in one pass
// over ASCII text (a mail's body, most of the time).
func lowerText(s string) (string, bool) {
	b := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return strings.ToLower(s), false
		}
		b[i] = lowerASCII[c]
	}
	return string(b), true
}

var lowerASCII = func() (t [utf8.RuneSelf]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] += 'a' - 'A'
		}
	}
	return t
}()

// gramMin is the length from which a text gets a gram set: shorter ones
// are scanned at once.
const gramMin = 256

// grams is a hashed set of the byte pairs of a long text (4,096 bits): a
// needle with a pair the text lacks cannot be in it, and is rejected
// without scanning the text. A pass tests dozens of needles ("contains",
// and the literals a regular expression requires) against the same 4 KiB
// body; building the set costs about one scan of it.
type grams [64]uint64

func gramBit(a, b byte) uint { return (uint(a)*31 + uint(b)) & 4095 }

func (g *grams) add(s string) {
	if len(s) < 2 {
		return
	}
	prev := s[0]
	for _, c := range []byte(s[1:]) {
		h := gramBit(prev, c)
		g[h>>6] |= 1 << (h & 63)
		prev = c
	}
}

// mayContain is false when the text cannot contain needle.
func (g *grams) mayContain(needle string) bool {
	for i := 0; i+1 < len(needle); i++ {
		h := gramBit(needle[i], needle[i+1])
		if g[h>>6]&(1<<(h&63)) == 0 {
			return false
		}
	}
	return true
}

// gramsOf is the gram set of field slot's lowercased value v.
func (f *Facts) gramsOf(slot int, v string) *grams {
	c := f.slot(slot, v)
	if c.gram != nil {
		return c.gram
	}
	low, _ := f.lower(slot, v)
	g := new(grams)
	if slot == 2 && v == f.text() && len(f.Body) >= gramMin {
		// The body's set, the subject's pairs and the two at the join.
		*g = *f.gramsOf(1, f.Body)
		sl, _ := f.lower(0, f.Subject)
		bl, _ := f.lower(1, f.Body)
		g.add(sl + "\n" + bl[:min(len(bl), 1)])
	} else {
		g.add(low)
	}
	c.gram = g
	return g
}

// contains reports whether field slot's value v (lowercased when fold)
// contains needle, rejecting needles the text's gram set excludes. The
// set is of the lowercased text: it serves a case-sensitive needle too
// (lowercased) when the text is ASCII.
func (f *Facts) contains(slot int, v string, fold bool, needle string) bool {
	t := v
	low, ascii := f.lower(slot, v)
	if fold {
		t = low
	}
	if len(t) >= gramMin && len(needle) >= 2 && (fold || ascii) {
		probe := needle
		if !fold {
			probe, _ = lowerText(needle)
		}
		if !f.gramsOf(slot, v).mayContain(probe) {
			return false
		}
	}
	return strings.Contains(t, needle)
}

// text is the "text" field, subject and body: built once per distinct
// pair, so that its lowercase form is cached too.
func (f *Facts) text() string {
	if f.txt.subject != f.Subject || f.txt.body != f.Body || f.txt.v == "" {
		f.txt.subject, f.txt.body, f.txt.v = f.Subject, f.Body, f.Subject+"\n"+f.Body
	}
	return f.txt.v
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Calendar is the business-time arithmetic of a ticket's calendar
// (config/calendar.Calendar).
type Calendar interface {
	// Between is the business time in [a, b).
	Between(a, b time.Time) time.Duration
	// Add is the instant d of business time after t (ok false: never).
	Add(t time.Time, d time.Duration) (time.Time, bool)
	// NextOpen is t when open at t, else when the calendar next opens.
	NextOpen(t time.Time) (time.Time, bool)
	// NextClose is, when open at t, when the calendar next closes.
	NextClose(t time.Time) (time.Time, bool)
}

// Conditions is a compiled all/any pair. The zero value always holds.
type Conditions struct {
	all, any []cond
	// evalAll and evalAny are the same lines in the order Match tries
	// them: cheapest first (cond.cost).
	evalAll, evalAny []cond
}

// Match reports whether the conditions hold for f: every "all" line and,
// when "any" lines were given, at least one of them.
func (c *Conditions) Match(f *Facts) bool {
	if c == nil {
		return true
	}
	for _, x := range c.evalAll {
		if !x.eval(f) {
			return false
		}
	}
	if len(c.evalAny) == 0 {
		return true
	}
	for _, x := range c.evalAny {
		if x.eval(f) {
			return true
		}
	}
	return false
}

// Problem is one bad condition line: List is "all" or "any", Index its
// position (-1: the list as a whole).
type Problem struct {
	List  string
	Index int
	Msg   string
	Fix   string
}

type cond struct {
	field string // event, mailbox, sender, sender domain, subject, body, text, status, priority, type, group, assignee, tags, hours, or a time field (timeFields)
	op    string // is, is not, contains, not contains, matches, not matches, include, exclude, changed, more, less, inside, outside
	vals  []string
	re    *regexp.Regexp
	// needs are literals every match of re contains (lowercase when
	// fold): a text without one of them cannot match, so the regular
	// expression is not run.
	needs []needLit
	// acc finds a leading literal itself (accel.go); nil: none.
	acc *accel
	dur time.Duration
	// business: dur is business time of the ticket's calendar.
	business bool
	line     string // as written, with its index in its list
	idx      int
}

// cost orders a rule's conditions for evaluation: fields and events
// before text searches, regular expressions last, so that a line that
// fails cheaply spares the expensive ones (the lists are "and" and "or":
// the order changes no answer).
func (x cond) cost() int {
	switch {
	case x.re != nil:
		return 3
	case x.op == "contains" || x.op == "not contains":
		if x.field == "subject" || x.field == "sender" || x.field == "sender domain" || x.field == "mailbox" {
			return 1
		}
		return 2
	}
	return 0
}

// timeFields are the fields measured as "more than D ago" / "less than D
// ago": the instants of events on the ticket.
var timeFields = []string{"created", "updated", "resolved", "status changed", "last customer comment", "last response", "sla breached"}

// Compile compiles the lines of a rule against the configuration (its
// groups, mailboxes and agents). Problems name every bad line.
func Compile(all, any []string, cfg *config.Config) (*Conditions, []Problem) {
	c := &Conditions{}
	var probs []Problem
	for i, s := range all {
		x, p := parse(s, cfg)
		if p != nil {
			p.List, p.Index = "all", i
			probs = append(probs, *p)
			continue
		}
		x.line, x.idx = s, i
		c.all = append(c.all, x)
	}
	for i, s := range any {
		x, p := parse(s, cfg)
		if p != nil {
			p.List, p.Index = "any", i
			probs = append(probs, *p)
			continue
		}
		x.line, x.idx = s, i
		c.any = append(c.any, x)
	}
	if any != nil && len(any) == 0 {
		probs = append(probs, Problem{List: "any", Index: -1, Msg: "is empty, so the rule can never hold",
			Fix: `list at least one condition, or remove "any"`})
	}
	probs = append(probs, contradictions(c.all)...)
	byCost := func(a, b cond) int { return a.cost() - b.cost() }
	c.evalAll, c.evalAny = slices.Clone(c.all), slices.Clone(c.any)
	slices.SortStableFunc(c.evalAll, byCost)
	slices.SortStableFunc(c.evalAny, byCost)
	return c, probs
}

// fields in the order parse tries them (longest first where one is a
// prefix of another).
var fields = []string{"sender domain", "event", "mailbox", "sender", "subject", "body", "text", "status", "priority", "type", "group", "assignee", "tags", "tag",
	"customer tags", "customer tag", "organization", "created", "updated", "resolved"}

const syntaxFix = `write "FIELD OPERATOR VALUE", e.g. "status is open", "subject contains refund", "tags include service:dns"; see the comment above [[trigger]] in helpdesk.toml`

func bad(format string, args ...any) *Problem {
	return &Problem{Msg: fmt.Sprintf(format, args...)}
}

func parse(line string, cfg *config.Config) (cond, *Problem) {
	s := strings.Join(strings.Fields(line), " ")
	if l := strings.ToLower(s); strings.HasPrefix(l, "customer_tag") || strings.HasPrefix(l, "customer-tag") {
		s = "customer " + s[len("customer_"):] // customer_tags, as the field is named elsewhere
	}
	low := strings.ToLower(s)
	switch low {
	case "":
		return cond{}, &Problem{Msg: "is empty", Fix: syntaxFix}
	case "inside business hours", "outside business hours":
		return cond{field: "hours", op: strings.Fields(low)[0]}, nil
	case "unassigned":
		return cond{field: "assignee", op: "is", vals: []string{""}}, nil
	}
	var field string
	for _, f := range timeFields {
		// "status changed" is also the update condition: only a time
		// operator makes it the time field.
		if strings.HasPrefix(low, f+" more ") || strings.HasPrefix(low, f+" less ") {
			field = f
			break
		}
	}
	for _, f := range fields {
		if field != "" {
			break
		}
		if low == f || strings.HasPrefix(low, f+" ") {
			field = f
		}
	}
	if field == "" {
		w := strings.Fields(low)[0]
		p := bad("unknown field %q in %q", w, line)
		p.Fix = syntaxFix
		if sug := command.Suggest(w, append(fields, "inside", "outside", "unassigned")); sug != "" {
			p.Fix = fmt.Sprintf("did you mean %q? %s", sug, syntaxFix)
		}
		return cond{}, p
	}
	rest := strings.TrimSpace(s[len(field):])
	switch field {
	case "tag":
		field = "tags"
	case "customer tag":
		field = "customer tags"
	}
	op, val := operator(field, rest)
	if op == "" {
		p := bad("%q: no operator %s knows after %q", line, field, field)
		p.Fix = "use one of: " + strings.Join(operators(field), ", ")
		return cond{}, p
	}
	x := cond{field: field, op: op}
	if op == "changed" {
		if val != "" {
			return cond{}, &Problem{Msg: fmt.Sprintf("%q: \"changed\" takes no value", line), Fix: fmt.Sprintf("write %q", field+" changed")}
		}
		return x, nil
	}
	val = unquote(val)
	if val == "" {
		return cond{}, &Problem{Msg: fmt.Sprintf("%q has no value", line), Fix: syntaxFix}
	}
	switch op {
	case "matches", "not matches":
		re, err := regexp.Compile(val)
		if err != nil {
			return cond{}, &Problem{Msg: fmt.Sprintf("%q: bad regular expression: %v", line, err),
				Fix: "write a Go (RE2) regular expression, e.g. (?i)^re: *urgent; no lookahead or backreferences"}
		}
		x.re = re
		x.needs = requiredLiterals(val)
		x.acc = newAccel(val)
		return x, nil
	case "contains", "not contains":
		x.vals = []string{strings.ToLower(val)}
		return x, nil
	case "more", "less":
		val, x.business = strings.CutPrefix(val, inBusiness)
		d, ok := parseAge(val)
		if !ok {
			return cond{}, &Problem{Msg: fmt.Sprintf("%q: %q is not a duration followed by \"ago\"", line, strings.TrimPrefix(val, noAgo)),
				Fix: fmt.Sprintf(`write e.g. "%s more than 24h ago" (units m, h, d), or "... ago in business time"`, field)}
		}
		x.dur = d
		return x, nil
	}
	for _, v := range strings.Split(val, ",") {
		v = unquote(strings.TrimSpace(v))
		if v == "" {
			return cond{}, &Problem{Msg: fmt.Sprintf("%q has an empty value in its list", line), Fix: "separate values with single commas"}
		}
		cv, p := canon(field, v, cfg)
		if p != nil {
			p.Msg = fmt.Sprintf("%q: %s", line, p.Msg)
			return cond{}, p
		}
		x.vals = append(x.vals, cv)
	}
	return x, nil
}

// operator splits what follows the field into the operator and the value.
func operator(field, rest string) (op, val string) {
	low := strings.ToLower(rest)
	for _, o := range opWords(field) {
		if low == o[0] || strings.HasPrefix(low, o[0]+" ") {
			v := strings.TrimSpace(rest[len(o[0]):])
			if o[1] == "more" || o[1] == "less" {
				// "more than 24h ago": the value is what lies between;
				// "... ago in business time" counts the calendar's hours.
				lv := strings.ToLower(v)
				business := ""
				if strings.HasSuffix(lv, " ago in business time") {
					v, lv, business = v[:len(v)-len(" in business time")], lv[:len(lv)-len(" in business time")], inBusiness
				}
				if !strings.HasSuffix(lv, " ago") {
					return o[1], noAgo + v
				}
				v = business + strings.TrimSpace(v[:len(v)-len(" ago")])
			}
			return o[1], v
		}
	}
	return "", ""
}

// opWords are the operators of a field as written and as meant, longest
// first.
func opWords(field string) [][2]string {
	switch field {
	case "subject", "body", "text", "sender", "sender domain", "mailbox":
		o := [][2]string{{"does not contain", "not contains"}, {"not contains", "not contains"}, {"contains", "contains"},
			{"does not match", "not matches"}, {"not matches", "not matches"}, {"matches", "matches"}}
		if field == "sender" || field == "sender domain" || field == "mailbox" {
			o = append(o, [2]string{"is not", "is not"}, [2]string{"is", "is"})
		}
		return o
	case "event":
		return [][2]string{{"is not", "is not"}, {"is", "is"}}
	case "organization":
		return [][2]string{{"is not", "is not"}, {"is", "is"}, {"!=", "is not"}, {"=", "is"}}
	case "customer tags":
		return [][2]string{{"include", "include"}, {"includes", "include"}, {"exclude", "exclude"}, {"excludes", "exclude"}}
	case "status", "priority", "type", "group", "assignee":
		return [][2]string{{"is not", "is not"}, {"is", "is"}, {"changed", "changed"}}
	case "tags":
		return [][2]string{{"include", "include"}, {"includes", "include"}, {"exclude", "exclude"}, {"excludes", "exclude"}, {"changed", "changed"}}
	case "created", "updated", "resolved", "status changed", "last customer comment", "last response", "sla breached":
		return [][2]string{{"more than", "more"}, {"less than", "less"}}
	}
	return nil
}

func operators(field string) []string {
	var out []string
	for _, o := range opWords(field) {
		out = append(out, strconv.Quote(field+" "+o[0]+map[bool]string{true: " 24h ago", false: " …"}[o[1] == "more" || o[1] == "less"]))
	}
	return out
}

// noAgo marks an age written without "ago" (parseAge refuses it);
// inBusiness one written "... ago in business time".
const (
	noAgo      = "\x00"
	inBusiness = "\x01"
)

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	return v
}

// parseAge reads "24h", "90m", "3d", "1h30m".
func parseAge(v string) (time.Duration, bool) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		return time.Duration(days) * 24 * time.Hour, err == nil && days > 0
	}
	d, err := time.ParseDuration(v)
	return d, err == nil && d > 0
}

// canon checks one value of an enumerated field and returns its
// comparison form.
func canon(field, v string, cfg *config.Config) (string, *Problem) {
	low := strings.ToLower(v)
	enum := func(what string, values []string) (string, *Problem) {
		if slices.Contains(values, low) {
			return low, nil
		}
		fix := "use one of: " + strings.Join(values, ", ")
		if s := command.Suggest(low, values); s != "" {
			fix = fmt.Sprintf("did you mean %q? %s", s, fix)
		}
		return "", &Problem{Msg: fmt.Sprintf("unknown %s %q, so it can never hold", what, v), Fix: fix}
	}
	switch field {
	case "event":
		return enum("event", Events)
	case "status":
		if low == "solved" {
			low = "resolved"
		}
		return enum("status", command.Statuses())
	case "priority":
		return enum("priority", command.Priorities())
	case "type":
		return enum("type", command.Types())
	case "group":
		if g := cfg.Group(v); g != nil {
			return strings.ToLower(g.Name), nil
		}
		var names []string
		for _, g := range cfg.Groups {
			names = append(names, g.Name)
		}
		return "", &Problem{Msg: fmt.Sprintf("no [[group]] is named %q, so it can never hold", v), Fix: "use one of: " + strings.Join(names, ", ")}
	case "mailbox":
		for _, mb := range cfg.Mailboxes {
			if strings.EqualFold(mb.Address, v) || strings.EqualFold(mb.Name, v) {
				return strings.ToLower(mb.Address), nil
			}
		}
		return "", &Problem{Msg: fmt.Sprintf("no [[mailbox]] has the address or name %q, so it can never hold", v), Fix: "use a mailbox address from this file"}
	case "assignee":
		if low == "none" || low == "nobody" {
			return "", nil
		}
		ag := cfg.Agent(v)
		if ag == nil {
			ag = cfg.AgentByNameOrAlias(v)
		}
		if ag == nil {
			return "", &Problem{Msg: fmt.Sprintf("no [[agent]] is %q, so it can never hold", v), Fix: `use an agent's email, name or alias, or "none"`}
		}
		return strings.ToLower(strings.TrimSpace(ag.Email)), nil
	case "sender domain":
		return strings.TrimPrefix(low, "@"), nil
	case "organization":
		if low == "none" {
			return "", nil
		}
		if o := cfg.Organization(v); o != nil {
			return strings.ToLower(strings.TrimSpace(o.Name)), nil
		}
		var names []string
		for _, o := range cfg.Organizations {
			names = append(names, o.Name)
		}
		fix := `declare it as [[organization]], or use "none"`
		if len(names) > 0 {
			fix = "use one of: " + strings.Join(names, ", ") + `, or "none"`
		}
		return "", &Problem{Msg: fmt.Sprintf("no [[organization]] is named %q, so it can never hold", v), Fix: fix}
	}
	return low, nil
}

func (x cond) eval(f *Facts) bool {
	switch x.field {
	case "hours":
		in := f.InHours == nil || f.InHours(f.Now)
		return in == (x.op == "inside")
	case "event":
		hit := false
		for _, v := range x.vals {
			hit = hit || slices.Contains(f.Events, v)
		}
		return hit == (x.op == "is")
	case "customer tags":
		_, tags := f.customer()
		hit := false
		for _, v := range x.vals {
			hit = hit || slices.ContainsFunc(tags, func(t string) bool { return strings.EqualFold(t, v) })
		}
		return hit == (x.op == "include")
	case "organization":
		org, _ := f.customer()
		return slices.Contains(x.vals, strings.ToLower(strings.TrimSpace(org))) == (x.op == "is")
	case "tags":
		switch x.op {
		case "changed":
			return slices.Contains(f.Changed, "tags")
		case "include", "exclude":
			hit := false
			for _, v := range x.vals {
				hit = hit || slices.ContainsFunc(f.Tags, func(t string) bool { return strings.EqualFold(t, v) })
			}
			return hit == (x.op == "include")
		}
	case "created", "updated", "resolved", "status changed", "last customer comment", "last response", "sla breached":
		t := x.since(f)
		if t.IsZero() {
			return false // never happened (or undone: a reopened ticket is not resolved)
		}
		age := f.Now.Sub(t)
		if x.business && f.Calendar != nil {
			age = f.Calendar.Between(t, f.Now)
		}
		// At the instant itself "more than" holds: a timer armed for it
		// then finds it true.
		if x.op == "more" {
			return age >= x.dur
		}
		return age < x.dur
	}
	if x.op == "changed" {
		return slices.Contains(f.Changed, x.field)
	}
	v := x.value(f)
	switch x.op {
	case "is", "is not":
		return slices.Contains(x.vals, strings.ToLower(v)) == (x.op == "is")
	case "contains", "not contains":
		return x.contains(f, v, true, x.vals[0]) == (x.op == "contains")
	case "matches", "not matches":
		hit := false
		switch {
		case slices.ContainsFunc(x.needs, func(n needLit) bool { return !x.contains(f, v, n.fold, n.s) }):
		default:
			ok := false
			if x.acc != nil {
				hit, ok = x.acc.match(v, func() (string, bool) { return x.lower(f, v) })
			}
			if !ok {
				hit = x.re.MatchString(v)
			}
		}
		return hit == (x.op == "matches")
	}
	return false
}

// since is the instant a time condition measures from (zero: none).
func (x cond) since(f *Facts) time.Time {
	switch x.field {
	case "created":
		return f.Created
	case "updated":
		return f.Updated
	case "resolved":
		return f.Resolved
	case "status changed":
		return f.StatusChanged
	case "last customer comment":
		return f.LastCustomer
	case "last response":
		return f.LastResponse
	case "sla breached":
		return f.SLABreached
	}
	return time.Time{}
}

// timed reports whether x is a time condition.
func (x cond) timed() bool { return x.op == "more" || x.op == "less" }

// Instants returns the instants after f.Now at which, the ticket staying
// as it is, one of the conditions may change its answer: when a "more
// than" or "less than" age is reached, and when the calendar next opens
// or closes for "inside/outside business hours". Between two of them
// (and without an update) the answer of Match stays what it is: an
// automation needs looking at only then.
func (c *Conditions) Instants(f *Facts) []time.Time {
	if c == nil {
		return nil
	}
	var out []time.Time
	add := func(x cond) {
		switch {
		case x.timed():
			t := x.since(f)
			if t.IsZero() {
				return
			}
			due := t.Add(x.dur)
			if x.business && f.Calendar != nil {
				var ok bool
				if due, ok = f.Calendar.Add(t, x.dur); !ok {
					return
				}
			}
			if due.After(f.Now) {
				out = append(out, due)
			}
		case x.field == "hours" && f.Calendar != nil:
			// Both sides change the answer: "inside" starts holding at
			// the opening, "outside" at the closing (and each stops at
			// the other, which ends a fired rule's epoch).
			if at, ok := f.Calendar.NextOpen(f.Now); ok && at.After(f.Now) {
				out = append(out, at)
			}
			if at, ok := f.Calendar.NextClose(f.Now); ok && at.After(f.Now) {
				out = append(out, at)
			}
		}
	}
	for _, x := range c.all {
		add(x)
	}
	for _, x := range c.any {
		add(x)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

// Lines are the conditions as written ("any" lines prefixed "any: ").
func (c *Conditions) Lines() []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, x := range c.all {
		out = append(out, x.line)
	}
	for _, x := range c.any {
		out = append(out, "any: "+x.line)
	}
	return out
}

// lower is v lowercased, cached in f for the long texts, and whether v
// is ASCII.
func (x cond) lower(f *Facts, v string) (string, bool) {
	switch x.field {
	case "subject":
		return f.lower(0, v)
	case "body":
		return f.lower(1, v)
	case "text":
		return f.lower(2, v)
	}
	return strings.ToLower(v), isASCII(v)
}

// contains reports whether v (lowercased when fold) contains needle;
// through the facts' cache for the long texts.
func (x cond) contains(f *Facts, v string, fold bool, needle string) bool {
	switch x.field {
	case "subject":
		return f.contains(0, v, fold, needle)
	case "body":
		return f.contains(1, v, fold, needle)
	case "text":
		return f.contains(2, v, fold, needle)
	}
	if fold {
		v = strings.ToLower(v)
	}
	return strings.Contains(v, needle)
}

// needLit is a literal a text must contain (lowercase when fold: the
// lowercased text must).
type needLit struct {
	s    string
	fold bool
}

// requiredLiterals are the literals of at least two bytes that every
// match of expr contains: each literal of its top-level sequence (with
// case folding, the pieces requiredLiteral says are safe), longest first.
func requiredLiterals(expr string) []needLit {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	parts := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		parts = re.Sub
	}
	var out []needLit
	for _, p := range parts {
		if p.Op != syntax.OpLiteral {
			continue
		}
		f := p.Flags&syntax.FoldCase != 0
		for _, s := range foldPieces(p.Rune, f) {
			if len(s) >= 2 {
				out = append(out, needLit{s, f})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b needLit) int { return len(b.s) - len(a.s) })
	return out
}

// requiredLiteral finds a literal that every match of the regular
// expression expr contains: the longest literal of its top-level
// sequence (a sequence matches only where each of its parts does, one
// after the other). fold: the literal matches case-insensitively, and is
// returned lowercased (then only when lowercasing is exact for it:
// ASCII letters, Hangul and other caseless text). "" when there is none.
func requiredLiteral(expr string) (lit string, fold bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return "", false
	}
	re = re.Simplify()
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	parts := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		parts = re.Sub
	}
	for _, p := range parts {
		if p.Op != syntax.OpLiteral {
			continue
		}
		f := p.Flags&syntax.FoldCase != 0
		// Any piece of a required literal is required too: with case
		// folding, only the pieces whose runes fold simply.
		for _, s := range foldPieces(p.Rune, f) {
			if len(s) > len(lit) {
				lit, fold = s, f
			}
		}
	}
	return lit, fold
}

// foldPieces splits a literal into the pieces a lowercased text must
// contain: without folding, the literal itself; with it, its runs of
// runes that fold only to their ASCII other case or have no case at all
// (lowercased), since a text matching them case-insensitively then holds
// them in strings.ToLower of the text. k and s are left out (they also
// fold to the Kelvin sign and the long s), as are other cased letters.
func foldPieces(runes []rune, fold bool) []string {
	if !fold {
		return []string{string(runes)}
	}
	var out []string
	var cur []rune
	for _, r := range runes {
		simple := r < utf8.RuneSelf && !strings.ContainsRune("kKsS", r) ||
			r >= utf8.RuneSelf && !unicode.IsUpper(r) && !unicode.IsLower(r) && !unicode.IsTitle(r) && unicode.SimpleFold(r) == r
		if !simple {
			if len(cur) > 0 {
				out = append(out, strings.ToLower(string(cur)))
			}
			cur = cur[:0]
			continue
		}
		cur = append(cur, r)
	}
	if len(cur) > 0 {
		out = append(out, strings.ToLower(string(cur)))
	}
	return out
}

func (x cond) value(f *Facts) string {
	switch x.field {
	case "mailbox":
		return f.Mailbox
	case "sender":
		return f.Sender
	case "sender domain":
		if at := strings.LastIndexByte(f.Sender, '@'); at >= 0 {
			return f.Sender[at+1:]
		}
		return ""
	case "subject":
		return f.Subject
	case "body":
		return f.Body
	case "text":
		return f.text()
	case "status":
		return f.Status
	case "priority":
		return f.Priority
	case "type":
		return f.Type
	case "group":
		return f.Group
	case "assignee":
		return f.Assignee
	}
	return ""
}

// contradictions finds "all" lines that can never hold together: two
// "is" lists of one single-valued field with nothing in common, an "is"
// whose every value an "is not" excludes, a tag both included and
// excluded, inside with outside business hours.
func contradictions(all []cond) []Problem {
	var probs []Problem
	never := func(i, j int) {
		probs = append(probs, Problem{List: "all", Index: all[j].idx,
			Msg: fmt.Sprintf("%q and %q can never hold together", all[i].line, all[j].line),
			Fix: `remove one of them, or move both into "any" if either may hold`})
	}
	for j := range all {
		for i := 0; i < j; i++ {
			a, b := all[i], all[j]
			if a.field != b.field {
				continue
			}
			switch {
			case a.field == "hours" && a.op != b.op:
				never(i, j)
			case (a.field == "tags" || a.field == "customer tags") && (a.op == "include" && b.op == "exclude" || a.op == "exclude" && b.op == "include") &&
				len(a.vals) == 1 && len(b.vals) == 1 && a.vals[0] == b.vals[0]:
				never(i, j)
			case a.field != "event" && a.field != "tags" && a.field != "customer tags" && a.op == "is" && b.op == "is" && !overlap(a.vals, b.vals):
				never(i, j)
			case a.op == "is" && b.op == "is not" && subset(a.vals, b.vals), a.op == "is not" && b.op == "is" && subset(b.vals, a.vals):
				never(i, j)
			}
		}
	}
	return probs
}

func overlap(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
