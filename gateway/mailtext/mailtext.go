// Package mailtext holds the texts of automatic mail to customers (issue
// 15 item 5): the acknowledgement, the follow-up acknowledgement and the
// merge notices, one template per mailbox and language, English and
// Korean built in (embedded), overridden by files in [templates] dir; and
// the knowledge base those acknowledgements suggest from (loaded here,
// ranked by the pure package gateway/kb).
//
// Templates are Go text/template executed on Data, which carries a
// ticket's public fields only: a template cannot reach private notes,
// staff addresses, followers or side threads because they are not there
// to reach. Every template is parsed and executed on sample data when it
// is loaded (check-config, start, SIGHUP), so a reference to anything else
// is refused with its file and line before any customer could get it.
//
// Texts are loaded at start and on SIGHUP, never per mail.
package mailtext

import (
	"bytes"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"helpdesk/config"
	"helpdesk/gateway/kb"
)

// Names of the customer templates (file <name>.txt).
const (
	Ack         = "ack"          // a new ticket's acknowledgement
	FollowUpAck = "followup_ack" // the acknowledgement of a follow-up to a closed ticket
	Merge       = "merge"        // the survivor's note: the same requester's ticket merged in
	MergeJoined = "merge_joined" // the survivor's note: another requester's ticket merged in
	Survey      = "survey"       // the satisfaction survey after resolution ([survey])
)

// Names lists every built-in template name. A [[trigger]]'s
// requester_template names a template of [templates] dir besides these.
var Names = []string{Ack, FollowUpAck, Merge, MergeJoined, Survey}

// Builtin lists the languages shipped with the binary.
var Builtin = []string{"en", "ko"}

//go:embed builtin
var builtinFS embed.FS

// Data is what a template sees: public fields only.
type Data struct {
	Ticket    Ticket
	Requester Person
	Mailbox   Mailbox
	// Suggestions are the knowledge-base articles suggested (ack only).
	Suggestions []Article
	// Earlier is the closed ticket a follow-up continues (followup_ack).
	Earlier *Ref
	// Merged is the ticket merged into this one (merge notices).
	Merged *Ref
	// Joined is who joins the conversation by a merge ("Name <address>",
	// merge_joined).
	Joined string
}

// Ticket is a ticket's public face.
type Ticket struct {
	Number  uint64
	Tag     string // "#42" (with the configured tag prefix)
	Subject string
	Status  string
}

// Person is the requester as addressed in the mail.
type Person struct {
	Name string // display name, "" when the mail had none
}

// Mailbox is the support address's public face.
type Mailbox struct {
	Name string
}

// Article is a suggested knowledge-base article.
type Article struct {
	Title string
	URL   string
}

// Ref names another ticket.
type Ref struct {
	Number  uint64
	Tag     string
	Subject string
}

// samples are the data every template is tried on when loaded: one with
// every field set (every branch that prints a field runs) and one empty
// (the else branches run).
var samples = []Data{
	{
		Ticket:      Ticket{Number: 42, Tag: "#42", Subject: "Sample subject", Status: "open"},
		Requester:   Person{Name: "Sample Customer"},
		Mailbox:     Mailbox{Name: "Sample Support"},
		Suggestions: []Article{{Title: "Sample article", URL: "https://help.example.com/sample"}},
		Earlier:     &Ref{Number: 41, Tag: "#41", Subject: "Earlier subject"},
		Merged:      &Ref{Number: 43, Tag: "#43", Subject: "Merged subject"},
		Joined:      "Other Customer <other@example.com>",
	},
	{Ticket: Ticket{Number: 1, Tag: "#1"}, Earlier: &Ref{}, Merged: &Ref{}},
}

// Fields is the list check-config names in its fix.
const Fields = ".Ticket.Number .Ticket.Tag .Ticket.Subject .Ticket.Status .Requester.Name .Mailbox.Name " +
	".Suggestions (each .Title .URL) .Earlier and .Merged (.Number .Tag .Subject) .Joined"

// Problem is a template or article that cannot be used.
type Problem struct {
	Key  string // the config key the file comes from: templates.dir, knowledge_base.dir
	File string // path of the file ("built-in en/ack.txt" for shipped ones)
	Line int    // 0 when unknown
	Msg  string
	Fix  string
}

func (p Problem) String() string {
	pos := p.File
	if p.Key != "" {
		pos = p.Key + ": " + pos
	}
	if p.Line > 0 {
		pos += ":" + strconv.Itoa(p.Line)
	}
	return fmt.Sprintf("%s: %s (fix: %s)", pos, p.Msg, p.Fix)
}

// Problems is the error of Load: every problem found.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

// Set is a loaded set of templates.
type Set struct {
	// t is keyed "lang/name" (built in or the folder's) and
	// "mailbox/lang/name" (the folder's, mailbox address lowercased);
	// built-ins are also under "builtin/lang/name".
	t map[string]*template.Template
	// broken are the template names with a file in [templates] dir that
	// did not load: reported once, for the file.
	broken map[string]bool
	// progs are the templates compiled for rendering without
	// text/template (fast.go), by template; a template without one is
	// executed.
	progs map[*template.Template]*program
	// perMailbox says some template is a mailbox's own: without one,
	// Render does not look for it (the look costs a key built per mail).
	perMailbox bool
}

// Texts is everything loaded for customer mail: the templates and the
// knowledge base.
type Texts struct {
	Templates *Set
	KB        *kb.Index
	MinScore  float64
}

// The templates and the knowledge base are checked wherever the
// configuration is (check-config, start, SIGHUP): each template parsed and
// tried on sample data. A folder that is not one is config's own problem.
func init() {
	config.AddCheck(func(c *config.Config) []config.Problem {
		for _, d := range []string{c.Templates.Dir, c.KnowledgeBase.Dir} {
			if st, err := os.Stat(d); d != "" && (err != nil || !st.IsDir()) {
				return nil
			}
		}
		_, err := Load(c)
		var ps Problems
		if !errors.As(err, &ps) {
			return nil
		}
		out := make([]config.Problem, len(ps))
		for i, p := range ps {
			pos := p.File
			if p.Line > 0 {
				pos += ":" + strconv.Itoa(p.Line)
			}
			out[i] = config.Problem{Key: p.Key, Msg: pos + ": " + p.Msg, Fix: p.Fix}
			if strings.HasPrefix(p.Key, "trigger[") {
				out[i].Msg = p.Msg
			}
		}
		return out
	})
}

// Load reads the templates (built in, then [templates] dir) and the
// knowledge base of cfg. A Problems error lists everything wrong.
func Load(cfg *config.Config) (*Texts, error) {
	set, probs := loadTemplates(cfg)
	idx, err := LoadKB(cfg.KnowledgeBase.Dir)
	if err != nil {
		probs = append(probs, Problem{Key: "knowledge_base.dir", File: cfg.KnowledgeBase.Dir, Msg: err.Error(), Fix: "make the folder and its *.md files readable by the daemon"})
	}
	if len(probs) > 0 {
		return nil, Problems(probs)
	}
	ms := cfg.KnowledgeBase.MinScore
	if ms == 0 {
		ms = kb.DefaultMinScore
	}
	return &Texts{Templates: set, KB: idx, MinScore: ms}, nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9_]+$`)

func loadTemplates(cfg *config.Config) (*Set, []Problem) {
	s := &Set{t: map[string]*template.Template{}, broken: map[string]bool{}}
	var probs []Problem
	for _, lang := range Builtin {
		for _, name := range Names {
			file := "builtin/" + lang + "/" + name + ".txt"
			b, err := builtinFS.ReadFile(file)
			if err != nil {
				probs = append(probs, Problem{File: "built-in " + lang + "/" + name + ".txt", Msg: err.Error(), Fix: "rebuild the binary"})
				continue
			}
			t, p := parse("built-in "+lang+"/"+name+".txt", string(b))
			if p != nil {
				probs = append(probs, *p)
				continue
			}
			s.t[lang+"/"+name] = t
			s.t["builtin/"+lang+"/"+name] = t
		}
	}
	dir := cfg.Templates.Dir
	if dir == "" {
		s.compile()
		return s, probs
	}
	mailboxes := map[string]bool{}
	for _, m := range cfg.Mailboxes {
		mailboxes[strings.ToLower(m.Address)] = true
	}
	known := append(slices.Clone(Names), RuleTemplates(cfg)...)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".txt") {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		name := strings.TrimSuffix(parts[len(parts)-1], ".txt")
		var key string
		switch {
		case !slices.Contains(known, name) || !nameRE.MatchString(name):
			probs = append(probs, Problem{File: path, Msg: fmt.Sprintf("%q is not a template name", name+".txt"),
				Fix: "name it one of " + strings.Join(withTxt(known), ", ") + " (a [[trigger]]'s requester_template names its own; or move it out of templates.dir)"})
			return nil
		case len(parts) == 2 && config.ValidLang(parts[0]):
			key = parts[0] + "/" + name
		case len(parts) == 3 && config.ValidLang(parts[1]):
			if !mailboxes[strings.ToLower(parts[0])] {
				probs = append(probs, Problem{File: path, Msg: fmt.Sprintf("%q is not the address of a configured [[mailbox]]", parts[0]),
					Fix: "name the folder after a mailbox's address, e.g. support@example.com/ko/ack.txt"})
				return nil
			}
			key = strings.ToLower(parts[0]) + "/" + parts[1] + "/" + name
			s.perMailbox = true
		default:
			probs = append(probs, Problem{File: path, Msg: "not where a template goes",
				Fix: "put templates at <lang>/<name>.txt or <mailbox address>/<lang>/<name>.txt, e.g. ko/ack.txt"})
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			s.broken[name] = true
			probs = append(probs, Problem{File: path, Msg: err.Error(), Fix: "make the file readable by the daemon"})
			return nil
		}
		t, p := parse(path, string(b))
		if p != nil {
			s.broken[name] = true
			probs = append(probs, *p)
			return nil
		}
		s.t[key] = t
		return nil
	})
	if err != nil {
		probs = append(probs, Problem{File: dir, Msg: fmt.Sprintf("reading the templates: %v", err), Fix: "make templates.dir and its files readable by the daemon"})
	}
	// Every mailbox's language needs its templates: a language neither
	// built in nor in the folder would fall back to English silently.
	for i, m := range cfg.Mailboxes {
		for _, name := range Names {
			if name == Survey && !cfg.Survey.Enabled {
				continue
			}
			if s.lookup(m.Address, m.Language, name) == nil {
				probs = append(probs, Problem{File: fmt.Sprintf("%s/%s/%s.txt", dirOr(dir), m.Language, name),
					Msg: fmt.Sprintf("mailbox[%d].language is %q, which has no %s template", i, m.Language, name+".txt"),
					Fix: fmt.Sprintf("add %s/%s.txt to templates.dir, or set language to one of %s", m.Language, name, strings.Join(Builtin, ", "))})
			}
		}
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].File < probs[j].File })
	for i := range probs {
		probs[i].Key = "templates.dir"
	}
	s.compile()
	return s, append(probs, s.ruleProblems(cfg)...)
}

// RuleTemplates are the template names the triggers' requester_template
// keys give.
func RuleTemplates(cfg *config.Config) []string {
	var out []string
	for _, t := range ruleTables(cfg) {
		if n := strings.TrimSpace(t.RequesterTemplate); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// ruleTables are the [[trigger]] and [[automation]] tables, each with
// its key.
func ruleTables(cfg *config.Config) []struct {
	key string
	config.Trigger
} {
	var out []struct {
		key string
		config.Trigger
	}
	for i, t := range cfg.Triggers {
		out = append(out, struct {
			key string
			config.Trigger
		}{fmt.Sprintf("trigger[%d]", i), t})
	}
	for i, t := range cfg.Automations {
		out = append(out, struct {
			key string
			config.Trigger
		}{fmt.Sprintf("automation[%d]", i), config.Trigger(t)})
	}
	return out
}

// ruleProblems checks each trigger's requester_template: a name of its
// own, with a file in templates.dir for English (every customer's
// fallback) or for every mailbox's language.
func (s *Set) ruleProblems(cfg *config.Config) []Problem {
	var probs []Problem
	for _, t := range ruleTables(cfg) {
		n := strings.TrimSpace(t.RequesterTemplate)
		if n == "" {
			continue
		}
		key := t.key + ".requester_template"
		switch {
		case !nameRE.MatchString(n):
			probs = append(probs, Problem{Key: key, File: n, Msg: fmt.Sprintf("%q is not a template name", n),
				Fix: `use lowercase letters and "_", e.g. requester_template = "outage_notice" for <lang>/outage_notice.txt in templates.dir`})
			continue
		case slices.Contains(Names, n):
			probs = append(probs, Problem{Key: key, File: n, Msg: fmt.Sprintf("%q is a built-in template's name", n),
				Fix: "give the rule's mail a template of its own, e.g. " + n + "_rule"})
			continue
		case cfg.Templates.Dir == "":
			probs = append(probs, Problem{Key: key, File: n + ".txt", Msg: "templates.dir is not set, so there is no " + n + ".txt",
				Fix: "set [templates] dir and put en/" + n + ".txt (and ko/" + n + ".txt, ...) there"})
			continue
		}
		if s.t["en/"+n] != nil || s.broken[n] {
			continue
		}
		for _, m := range cfg.Mailboxes {
			if s.lookup(m.Address, m.Language, n) == nil {
				probs = append(probs, Problem{Key: key, File: filepath.Join(cfg.Templates.Dir, m.Language, n+".txt"),
					Msg: fmt.Sprintf("no %s.txt for English (the fallback) or for %s's language %q", n, m.Address, m.Language),
					Fix: fmt.Sprintf("add %s/en/%s.txt (and one per language your customers write in)", cfg.Templates.Dir, n)})
				break
			}
		}
	}
	return probs
}

func dirOr(d string) string {
	if d == "" {
		return "templates.dir"
	}
	return d
}

func withTxt(ns []string) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n + ".txt"
	}
	return out
}

var lineRE = regexp.MustCompile(`^template: [^:]*:(\d+)(?::\d+)?: (.*)$`)
var fieldRE = regexp.MustCompile(`at <([^>]*)>: can't evaluate field (\w+)`)

// parse parses and tries a template on the sample data.
func parse(file, text string) (*template.Template, *Problem) {
	t, err := template.New(file).Option("missingkey=error").Parse(text)
	if err != nil {
		line, msg := where(err)
		return nil, &Problem{File: file, Line: line, Msg: "does not parse: " + msg,
			Fix: "correct the template syntax (Go text/template: {{.Ticket.Tag}}, {{if .Suggestions}}...{{end}}, {{range .Suggestions}}...{{end}})"}
	}
	for _, d := range samples {
		if err := t.Execute(&bytes.Buffer{}, d); err != nil {
			line, msg := where(err)
			if m := fieldRE.FindStringSubmatch(msg); m != nil {
				return nil, &Problem{File: file, Line: line,
					Msg: fmt.Sprintf("%s is not a field customer mail may show (private or unknown)", m[1]),
					Fix: "use only the public fields: " + Fields}
			}
			return nil, &Problem{File: file, Line: line, Msg: "fails on sample data: " + msg, Fix: "use only the public fields: " + Fields}
		}
	}
	return t, nil
}

// where splits text/template's "template: NAME:LINE:COL: msg".
func where(err error) (int, string) {
	s := err.Error()
	if m := lineRE.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, m[2]
	}
	return 0, s
}

// compile compiles every template loaded (fast.go).
func (s *Set) compile() {
	s.progs = map[*template.Template]*program{}
	for _, t := range s.t {
		if p := compile(t); p != nil {
			s.progs[t] = p
		}
	}
}

// lookup finds the template: the mailbox's folder, the language's
// folder, the built-in one; nil when the language has none.
func (s *Set) lookup(mailbox, lang, name string) *template.Template {
	if s.perMailbox {
		if t := s.t[strings.ToLower(mailbox)+"/"+lang+"/"+name]; t != nil {
			return t
		}
	}
	return s.t[lang+"/"+name]
}

// Render executes the template name for a mailbox and language; a
// language without templates falls back to English.
func (s *Set) Render(mailbox, lang, name string, d Data) (string, error) {
	t := s.lookup(mailbox, lang, name)
	if t == nil {
		t = s.lookup(mailbox, "en", name)
	}
	if t == nil {
		return "", fmt.Errorf("no %s template for %s in %q", name, mailbox, lang)
	}
	if p := s.progs[t]; p != nil {
		if text, ok := p.render(&d); ok {
			return text, nil
		}
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("rendering %s (%s): %w", name, lang, err)
	}
	return b.String(), nil
}

// Defaults returns the built-in texts alone (tests, and an engine built
// without a daemon).
func Defaults() *Texts {
	cfg := config.Default()
	set, probs := loadTemplates(cfg)
	if len(probs) > 0 {
		panic(errors.New("built-in templates: " + Problems(probs).Error()))
	}
	return &Texts{Templates: set, MinScore: kb.DefaultMinScore}
}

// LoadKB reads every *.md file under dir (nil index for dir "").
func LoadKB(dir string) (*kb.Index, error) {
	if dir == "" {
		return nil, nil
	}
	var arts []kb.Article
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(strings.ToLower(d.Name()), ".md") || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		arts = append(arts, kb.Parse(filepath.ToSlash(rel), string(b)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the knowledge base: %w", err)
	}
	return kb.Build(arts), nil
}

// Language picks the customer's language: the profile's when one exists
// (profile != ""), else the mail's text (Hangul → ko; text is the mail's
// parts, e.g. subject and body, read as one), else the mailbox's.
func Language(profile string, text []string, mailbox string) string {
	if profile != "" {
		return profile
	}
	if l := Detect(text...); l != "" {
		return l
	}
	if mailbox == "" {
		return "en"
	}
	return mailbox
}

// Detect names the language of text (its parts read as one) when its
// script tells: "ko" when Hangul makes up a real part of its letters (a
// third of the Latin ones: a Korean mail quoting an English error message
// is still Korean; an English mail with a Korean name in its signature is
// not), "" otherwise.
//
// It runs for every new ticket inside the store write, over the whole
// body, so ASCII (most of most mail) is counted eight bytes at a time
// (asciiLetters): an ASCII letter is Latin and nothing below U+1100 is
// Hangul, which leaves the Hangul table's search to the runes that can
// be in it.
func Detect(text ...string) string {
	// Hangul is never ASCII: text without a byte of 0x80 or above has
	// none, whatever its letters, and most mail is such text. Finding
	// that out is one test per eight bytes, where counting the letters
	// costs several.
	if !anyNonASCII(text) {
		return ""
	}
	hangul, latin := 0, 0
	for _, t := range text {
		for i := 0; i < len(t); {
			if i+8 <= len(t) {
				// One load of eight bytes (assembling them from t[i+k]
				// compiles to eight loads and shifts); the string is
				// only read.
				w := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(t[i:]), 8))
				if w&highBits == 0 {
					latin += asciiLetters(w)
					i += 8
					continue
				}
			}
			if c := t[i]; c < utf8.RuneSelf {
				if lc := c | 0x20; 'a' <= lc && lc <= 'z' {
					latin++
				}
				i++
				continue
			}
			r, n := utf8.DecodeRuneInString(t[i:])
			i += n
			switch {
			case r < firstHangul:
				if r < unicode.MaxLatin1 && unicode.IsLetter(r) {
					latin++
				}
			case unicode.Is(unicode.Hangul, r):
				hangul++
			}
		}
	}
	if hangul > 0 && hangul*3 >= latin {
		return "ko"
	}
	return ""
}

const (
	highBits = 0x8080808080808080
	ones     = 0x0101010101010101
)

// anyNonASCII reports whether a byte of text is 0x80 or above. Four
// words are tested at once: the answer is no for most mail, so the scan
// runs to its end.
func anyNonASCII(text []string) bool {
	for _, t := range text {
		b := unsafe.Slice(unsafe.StringData(t), len(t)) // only read
		for ; len(b) >= 32; b = b[32:] {
			w := binary.LittleEndian.Uint64(b) | binary.LittleEndian.Uint64(b[8:]) |
				binary.LittleEndian.Uint64(b[16:]) | binary.LittleEndian.Uint64(b[24:])
			if w&highBits != 0 {
				return true
			}
		}
		for _, c := range b {
			if c >= utf8.RuneSelf {
				return true
			}
		}
	}
	return false
}

// asciiLetters counts the ASCII letters among the eight ASCII bytes of w.
// Each byte is folded to lower case (|0x20, which maps only A-Z onto
// a-z); adding 0x80-'a' then sets its high bit when it is at least 'a',
// adding 0x80-('z'+1) when it is past 'z'. No byte carries into the next
// (at most 0x7f+0x1f).
func asciiLetters(w uint64) int {
	x := w | 0x20*ones
	atLeastA := x + (0x80-'a')*ones
	pastZ := x + (0x80-'z'-1)*ones
	return bits.OnesCount64(atLeastA &^ pastZ & highBits)
}

// firstHangul is the lowest rune of unicode.Hangul (Hangul Jamo).
var firstHangul = rune(unicode.Hangul.R16[0].Lo)
