package mailtext

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"helpdesk/config"
)

// randomData is Data with fields set or left empty at random, among them
// the cases the templates branch on (no name, no suggestions, an
// article without URL, nil Earlier and Merged) and text text/template
// would print as it is (quotes, braces, HTML, Hangul, newlines).
func randomData(r *rand.Rand) Data {
	strs := []string{"", "Alice", "Kim 김철수", `"quoted" <b>&amp;</b>`, "{{.Ticket.Tag}}", "line\nbreak", " spaced ", "0"}
	s := func() string { return strs[r.IntN(len(strs))] }
	d := Data{
		Ticket:    Ticket{Number: r.Uint64N(3) * r.Uint64(), Tag: s(), Subject: s(), Status: s()},
		Requester: Person{Name: s()},
		Mailbox:   Mailbox{Name: s()},
		Joined:    s(),
	}
	for range r.IntN(4) {
		d.Suggestions = append(d.Suggestions, Article{Title: s(), URL: s()})
	}
	if r.IntN(2) == 0 {
		d.Earlier = &Ref{Number: r.Uint64N(100), Tag: s(), Subject: s()}
	}
	if r.IntN(2) == 0 {
		d.Merged = &Ref{Number: r.Uint64N(100), Tag: s(), Subject: s()}
	}
	return d
}

// execute is text/template's rendering, as Render did before programs.
func execute(t *template.Template, d Data) (string, error) {
	var b bytes.Buffer
	err := t.Execute(&b, d)
	return b.String(), err
}

// TestFastMatchesExecute: every built-in template is compiled, and its
// program renders what text/template renders, byte for byte, on the
// samples and on random data; where text/template fails (a field of a
// nil pointer), the program declines, so Render gives text/template's
// error.
func TestFastMatchesExecute(t *testing.T) {
	set := Defaults().Templates
	r := rand.New(rand.NewPCG(13, 13))
	for key, tm := range set.t {
		p := set.progs[tm]
		if p == nil {
			t.Errorf("built-in %s has no program", key)
			continue
		}
		data := append([]Data{}, samples...)
		for range 300 {
			data = append(data, randomData(r))
		}
		for _, d := range data {
			want, err := execute(tm, d)
			got, ok := p.render(&d)
			if err != nil {
				if ok {
					t.Fatalf("%s: text/template fails (%v), the program rendered %q", key, err, got)
				}
				continue
			}
			if !ok || got != want {
				t.Fatalf("%s on %+v:\nprogram (%v):\n%q\ntext/template:\n%q", key, d, ok, got, want)
			}
		}
	}
}

// TestFastCustomTemplates: templates of [templates] dir are compiled when
// they keep to the subset (and then render as text/template does), and
// executed by text/template when they do not.
func TestFastCustomTemplates(t *testing.T) {
	for _, c := range []struct {
		text     string
		compiled bool
	}{
		{"Hi {{.Requester.Name}}, {{.Ticket.Tag}} ({{.Ticket.Number}}) is {{.Ticket.Status}}.\n", true},
		{"{{with .Earlier}}earlier {{.Tag}} {{.Number}}{{else}}none{{end}}\n", true},
		{"{{if .Earlier}}{{.Earlier.Subject}}{{else if .Merged}}{{.Merged.Tag}}{{else}}-{{end}}\n", true},
		{"{{.Earlier.Tag}}\n", true}, // fails on nil Earlier: text/template's error
		{"{{range .Suggestions}}{{.Title}} for {{$.Requester.Name}} in {{$.Ticket.Tag}}\n{{else}}no articles{{end}}", true},
		{"{{with .Ticket}}{{.Subject}}{{end}} {{with .Joined}}{{.}}{{end}} {{if .Ticket.Number}}n{{end}}{{/* note */}}", true},
		{"{{with .Requester}}{{with .Name}}[{{.}}]{{end}}{{end}}{{with .Mailbox.Name}}{{.}}{{end}}", true},
		{"{{printf \"%q\" .Ticket.Subject}}\n", false},
		{"{{.Ticket}}\n", false},
		{"{{.Earlier}}\n", false},
		{"{{range $i, $a := .Suggestions}}{{$i}} {{$a.Title}}{{end}}", false},
		{"{{len .Suggestions}}", false},
		{"{{range .Suggestions}}{{.}}{{end}}", false},
		{"{{if eq .Ticket.Status \"open\"}}open{{end}}", false},
	} {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "en"), 0o755)
		if err := os.WriteFile(filepath.Join(dir, "en", "ack.txt"), []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := config.Default()
		cfg.Templates.Dir = dir
		cfg.Mailboxes = []config.Mailbox{{Address: "support@example.com", Language: "en"}}
		tx, err := Load(cfg)
		if err != nil {
			t.Fatalf("%q: %v", c.text, err)
		}
		set := tx.Templates
		tm := set.t["en/ack"]
		if (set.progs[tm] != nil) != c.compiled {
			t.Errorf("%q: compiled %v, want %v", c.text, set.progs[tm] != nil, c.compiled)
		}
		r := rand.New(rand.NewPCG(1, 2))
		for range 200 {
			d := randomData(r)
			want, werr := execute(tm, d)
			got, gerr := set.Render("support@example.com", "en", Ack, d)
			if (werr != nil) != (gerr != nil) || (werr == nil && got != want) {
				t.Fatalf("%q on %+v:\nRender %q (%v)\ntext/template %q (%v)", c.text, d, got, gerr, want, werr)
			}
			if werr != nil && !strings.Contains(gerr.Error(), werr.Error()) {
				t.Fatalf("%q: Render's error %v is not text/template's %v", c.text, gerr, werr)
			}
		}
	}
}

// TestFastMailboxTemplates: a mailbox's own template still wins over the
// language's, and other mailboxes keep the built-in one.
func TestFastMailboxTemplates(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "Help@Example.com", "en"), 0o755)
	os.WriteFile(filepath.Join(dir, "Help@Example.com", "en", "ack.txt"), []byte("help desk {{.Ticket.Tag}}\n"), 0o644)
	cfg := config.Default()
	cfg.Templates.Dir = dir
	cfg.Mailboxes = []config.Mailbox{{Address: "help@example.com", Language: "en"}, {Address: "support@example.com", Language: "en"}}
	tx, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := Data{Ticket: Ticket{Number: 5, Tag: "#5", Subject: "s"}}
	if got, _ := tx.Templates.Render("HELP@example.com", "en", Ack, d); got != "help desk #5\n" {
		t.Errorf("the mailbox's own: %q", got)
	}
	if got, _ := tx.Templates.Render("support@example.com", "en", Ack, d); !strings.HasPrefix(got, "Hello,\n\nwe received your request \"s\" and opened ticket #5") {
		t.Errorf("another mailbox: %q", got)
	}
}

func BenchmarkRenderAck(b *testing.B) {
	set := Defaults().Templates
	d := Data{Ticket: Ticket{Number: 42, Tag: "#42", Subject: "Cannot log in"}, Requester: Person{Name: "Alice"}, Mailbox: Mailbox{Name: "Support"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := set.Render("support@example.com", "en", Ack, d); err != nil {
			b.Fatal(err)
		}
	}
}
