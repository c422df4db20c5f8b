package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// pureDirs are the packages whose code must be pure functions: no I/O, no
// clock, no goroutines. TestPackageBoundaries keeps our own store and
// edges out of their imports; this test keeps out the standard library's
// effects and reads the code for the rest.
var pureDirs = []string{"gateway/plan", "gateway/rules", "gateway/kb", "gateway/survey"}

// effectful are standard library (and store) packages a pure package
// must not import: files, network, processes, logs, randomness,
// synchronisation.
var effectful = []string{
	"os", "io", "bufio", "net", "syscall", "log", "runtime", "sync",
	"math/rand", "crypto/rand", "database/sql", "go.etcd.io/bbolt",
}

// TestPlannerIsPure reads the non-test files of each pure package: an
// import of an effectful package, a go statement, or a read of the clock
// (time.Now, time.Since, time.Until, time.After, time.Sleep, timers) fails.
func TestPlannerIsPure(t *testing.T) {
	root := moduleRoot(t)
	for _, dir := range pureDirs {
		files, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", dir, err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rel := filepath.ToSlash(strings.TrimPrefix(path, root+string(filepath.Separator)))
			for _, v := range impurities(t, rel, src) {
				t.Errorf("%s: %s", rel, v)
			}
		}
	}
}

// impurities lists what makes one file impure.
func impurities(t *testing.T, name string, src []byte) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, 0)
	if err != nil {
		t.Fatalf("parsing %s: %v", name, err)
	}
	var out []string
	timeName := ""
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		for _, e := range effectful {
			if path == e || strings.HasPrefix(path, e+"/") {
				out = append(out, "imports "+path)
			}
		}
		if path == "time" {
			timeName = "time"
			if imp.Name != nil {
				timeName = imp.Name.Name
			}
		}
	}
	clock := map[string]bool{"Now": true, "Since": true, "Until": true, "After": true, "AfterFunc": true,
		"Sleep": true, "Tick": true, "NewTicker": true, "NewTimer": true}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			out = append(out, fset.Position(n.Pos()).String()+": starts a goroutine")
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok && timeName != "" && id.Name == timeName && clock[n.Sel.Name] {
				out = append(out, fset.Position(n.Pos()).String()+": reads the clock (time."+n.Sel.Name+")")
			}
		}
		return true
	})
	return out
}

// The reader itself, on made-up files.
func TestImpurities(t *testing.T) {
	for _, c := range []struct {
		src  string
		want int
	}{
		{"package p\nimport (\"strings\"; \"time\")\nvar _ = strings.ToLower\nvar _ time.Time\n", 0},
		{"package p\nimport \"os\"\nvar _ = os.Args\n", 1},
		{"package p\nimport \"net/http\"\nvar _ = http.Get\n", 1},
		{"package p\nimport t0 \"time\"\nfunc f() { _ = t0.Now() }\n", 1},
		{"package p\nfunc f() { go f() }\n", 1},
	} {
		if got := impurities(t, "x.go", []byte(c.src)); len(got) != c.want {
			t.Errorf("%q: %v, want %d impurities", c.src, got, c.want)
		}
	}
}
