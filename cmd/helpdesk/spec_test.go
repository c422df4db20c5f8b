package main

import (
	"fmt"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// Comments all over the module cite sections of the product brief as
// "SPEC n" or "SPEC n.m". The brief lives outside the repository, so each
// section's behaviour is written down in the repository itself: as a Go
// doc heading "SPEC n.m: title" in the doc.go of the package that
// implements it, listed in README.md's Design table. This test keeps the
// citations, the headings and the table in step.

// citeRE finds a citation: the word SPEC, optionally "section", and a
// section number, also when a comment line break falls in between.
var citeRE = regexp.MustCompile(`SPEC(?:\s+sections?)?(?:\s|//)+(\d+(?:\.\d+)?)`)

// moreRE continues a citation list right after a number: "3.4, 6",
// "3.6 / 11", "3.2–3.4", "3.1,\n// 3.2".
var moreRE = regexp.MustCompile(`^\s*(?:,|/|–|and)(?:\s|//)*(\d+(?:\.\d+)?)`)

// headingRE reads a section heading's text.
var headingRE = regexp.MustCompile(`^SPEC (\d+(?:\.\d+)?): \S`)

// readmeRowRE reads a row of README.md's section table:
// | SPEC 3.4 | title | `threading` |
var readmeRowRE = regexp.MustCompile("(?m)^\\|\\s*SPEC (\\d+(?:\\.\\d+)?)\\s*\\|[^|\\n]*\\|\\s*`([^`]+)`")

type place struct {
	file string
	line int
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// goFiles lists every .go file of the module (relative, slash-separated),
// skipping hidden directories and testdata.
func goFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walking the module: %v", err)
	}
	return files
}

// specHeadings returns the sections that have a heading in a doc.go's
// package documentation, with where each heading stands (all of them, so
// that a section written down twice shows).
func specHeadings(t *testing.T, root string, files []string) map[string][]place {
	t.Helper()
	heads := map[string][]place{}
	fset := token.NewFileSet()
	for _, rel := range files {
		if filepath.Base(rel) != "doc.go" {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(root, rel), nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatalf("parsing %s: %v", rel, err)
		}
		if f.Doc == nil {
			continue
		}
		var p comment.Parser
		for _, block := range p.Parse(f.Doc.Text()).Content {
			h, ok := block.(*comment.Heading)
			if !ok {
				continue
			}
			var text strings.Builder
			for _, x := range h.Text {
				if s, ok := x.(comment.Plain); ok {
					text.WriteString(string(s))
				}
			}
			m := headingRE.FindStringSubmatch(text.String())
			if m == nil {
				continue
			}
			// The line of the heading in the file, for the message.
			line := fset.Position(f.Doc.Pos()).Line
			for _, c := range f.Doc.List {
				if strings.Contains(c.Text, "# "+text.String()) {
					line = fset.Position(c.Pos()).Line
					break
				}
			}
			heads[m[1]] = append(heads[m[1]], place{rel, line})
		}
	}
	return heads
}

// citations returns every section cited in the module's .go files.
func citations(t *testing.T, root string, files []string) map[string][]place {
	t.Helper()
	cites := map[string][]place{}
	for _, rel := range files {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		lineAt := func(off int) int { return 1 + strings.Count(src[:off], "\n") }
		for _, m := range citeRE.FindAllStringSubmatchIndex(src, -1) {
			sec, end := src[m[2]:m[3]], m[3]
			cites[sec] = append(cites[sec], place{rel, lineAt(m[2])})
			for {
				mm := moreRE.FindStringSubmatchIndex(src[end:])
				if mm == nil {
					break
				}
				cites[src[end+mm[2]:end+mm[3]]] = append(cites[src[end+mm[2]:end+mm[3]]], place{rel, lineAt(end + mm[2])})
				end += mm[3]
			}
		}
	}
	return cites
}

// covered reports whether a citation of sec is written down: a section
// "n.m" needs its own heading; a bare "n" is satisfied by "n" or any "n.m".
func covered(sec string, heads map[string][]place) bool {
	if len(heads[sec]) > 0 {
		return true
	}
	if strings.Contains(sec, ".") {
		return false
	}
	for h := range heads {
		if strings.HasPrefix(h, sec+".") {
			return true
		}
	}
	return false
}

func TestSpecCitationsHaveDocHeadings(t *testing.T) {
	root := moduleRoot(t)
	files := goFiles(t, root)
	heads := specHeadings(t, root, files)
	cites := citations(t, root, files)
	if len(heads) == 0 || len(cites) == 0 {
		t.Fatalf("found %d section headings and %d cited sections: the scan is broken", len(heads), len(cites))
	}

	var secs []string
	for s := range cites {
		secs = append(secs, s)
	}
	sort.Strings(secs)
	n := 0
	for _, s := range secs {
		n += len(cites[s])
		if covered(s, heads) {
			continue
		}
		for _, p := range cites[s] {
			t.Errorf("%s:%d: cites SPEC %s, but no doc.go has the heading \"# SPEC %s: <title>\"", p.file, p.line, s, s)
		}
	}

	var hs []string
	for h := range heads {
		hs = append(hs, h)
	}
	sort.Strings(hs)
	for _, h := range hs {
		if ps := heads[h]; len(ps) > 1 {
			var where []string
			for _, p := range ps {
				where = append(where, fmt.Sprintf("%s:%d", p.file, p.line))
			}
			t.Errorf("SPEC %s has a heading in more than one place: %s", h, strings.Join(where, ", "))
		}
	}

	// README.md's Design part says where each section lives.
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, m := range readmeRowRE.FindAllStringSubmatch(string(readme), -1) {
		rows[m[1]] = strings.TrimSuffix(m[2], "/")
	}
	for _, h := range hs {
		dir := filepath.ToSlash(filepath.Dir(heads[h][0].file))
		switch got, ok := rows[h]; {
		case !ok:
			t.Errorf("README.md: no row \"| SPEC %s | <title> | `%s` |\" in the table of sections", h, dir)
		case got != dir:
			t.Errorf("README.md: SPEC %s is listed in `%s`, but its heading is in %s", h, got, heads[h][0].file)
		}
	}
	for s := range rows {
		if len(heads[s]) == 0 {
			t.Errorf("README.md lists SPEC %s, which no doc.go has a heading for", s)
		}
	}
	t.Logf("%d citations of %d sections in %d files; %d section headings", n, len(cites), len(files), len(heads))
}
