package main

// The module's layering, checked on the import graph as `go list` reports
// it. It lives here because cmd/helpdesk is the composition root, the one
// package allowed to import every layer: a test about the whole graph sits
// above it rather than inside one of the layers it judges.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// boundaries are the forbidden edges, as paths relative to the module:
// nothing in the tree from imports anything in the trees to (a tree is a
// package and everything below it; "" is the whole module). Imports of
// test files count: a test that reaches into another layer ties the two
// together just as well.
var boundaries = []struct {
	from string
	to   []string
	why  string
}{
	{"threading", []string{"store", "gateway"},
		"threading is pure decisions on parsed mail: it knows no storage and no SMTP edge"},
	{"store", []string{"gateway", "config", "threading"},
		"the store keeps the model and knows nothing of the layers that use it"},
	{"store/model", []string{""},
		"the model is the leaf every storage engine and every layer shares: it depends on none of them"},
	{"config", []string{""},
		"config is a leaf every layer may read, so it depends on none of them"},
	{"gateway/audience", []string{""},
		"who sees what is a pure function of plain data: no store, no I/O, no configuration package"},
	{"gateway/kb", []string{""},
		"knowledge-base ranking is a pure function of articles and text: the folder is read by gateway/mailtext"},
	{"gateway/plan", []string{"store", "gateway"},
		"the command planner is pure: it reads a snapshot and returns changes as values, it never reaches the store or the edges"},
	{"gateway/sla", []string{"store/bolt", "gateway"},
		"SLA targets are a pure function of the ticket's history, its policy and a calendar: no store, no engine, no I/O"},
	{"gateway/rules", []string{"store/bolt", "gateway/engine", "gateway/control", "gateway/daemon", "gateway/outbound", "gateway/auth"},
		"the rule vocabulary is pure: compiled from the config, matched against facts and the model's records, it never reaches a store or an edge"},
	{"gateway/survey", []string{"store/bolt", "gateway", "config", "threading"},
		"the survey's decisions (when one is due, what a reply rates) are pure functions of a ticket record and a text"},
}

// confined are outside modules only some trees of ours may import
// directly (paths relative to the module): the storage engine's library
// stays behind the store seam, so a second engine replaces one package.
var confined = []struct {
	module string
	only   string
	why    string
}{
	{"go.etcd.io/bbolt", "store",
		"bbolt is the embedded engine's library: only the store packages use it, the rest see package store's interfaces"},
}

// confinedViolations lists every direct import (test files' included) of a
// confined module from outside the trees allowed to.
func confinedViolations(mod string, pkgs map[string]*listedPkg) []string {
	var out []string
	for _, c := range confined {
		for _, path := range slices.Sorted(maps.Keys(pkgs)) {
			if under(path, mod+"/"+c.only) {
				continue
			}
			p := pkgs[path]
			for _, q := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
				if under(q, c.module) {
					out = append(out, path+" → "+q+": "+c.why)
					break
				}
			}
		}
	}
	return out
}

// listedPkg is what `go list -json` says of one package of the module.
type listedPkg struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// under reports whether p is tree or below it.
func under(p, tree string) bool { return p == tree || strings.HasPrefix(p, tree+"/") }

// violations lists every forbidden edge of the graph (module path mod), one
// line each: the importing package, and the chain of imports that reaches
// the forbidden tree. A package's own tests may import anything its code
// may; a package reached on the way counts with its non-test imports only
// (its tests are not compiled into the importer's).
func violations(mod string, pkgs map[string]*listedPkg) []string {
	abs := func(rel string) string {
		if rel == "" {
			return mod
		}
		return mod + "/" + rel
	}
	var out []string
	for _, b := range boundaries {
		from := abs(b.from)
		for _, path := range slices.Sorted(maps.Keys(pkgs)) {
			if !under(path, from) {
				continue
			}
			p := pkgs[path]
			forbidden := func(q string) bool {
				if under(q, from) || !under(q, mod) {
					return false // its own tree, the standard library or a third party
				}
				for _, t := range b.to {
					if under(q, abs(t)) {
						return true
					}
				}
				return false
			}
			// Breadth first from the package, remembering how each
			// package was reached, so the report names the shortest chain.
			type step struct {
				pkg  string
				prev *step
				test bool
			}
			seen := map[string]bool{}
			var queue []*step
			push := func(q string, prev *step, test bool) {
				if !seen[q] {
					seen[q] = true
					queue = append(queue, &step{q, prev, test})
				}
			}
			root := &step{pkg: path}
			for _, q := range p.Imports {
				push(q, root, false)
			}
			for _, q := range append(slices.Clone(p.TestImports), p.XTestImports...) {
				push(q, root, true)
			}
			for len(queue) > 0 {
				s := queue[0]
				queue = queue[1:]
				if forbidden(s.pkg) {
					var chain []string
					test := false
					for x := s; x != nil; x = x.prev {
						chain = append(chain, x.pkg)
						test = test || x.test
					}
					slices.Reverse(chain)
					kind := ""
					if test {
						kind = " (by a test file)"
					}
					out = append(out, strings.Join(chain, " → ")+kind+": "+b.why)
					continue
				}
				if q := pkgs[s.pkg]; q != nil && !under(s.pkg, from) {
					for _, next := range q.Imports {
						push(next, s, false)
					}
				}
			}
		}
	}
	return out
}

// goList runs go in the module root and returns its standard output.
func goList(t *testing.T, root string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// touchModule reads every directory and Go file of the module. The graph
// comes from a subprocess, which go test's result cache does not see;
// what the test process itself opens is part of the cache key (a
// directory by its listing, a file by its size and time), so a new or
// edited file anywhere reruns this test instead of replaying a pass.
func touchModule(root string) {
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (n == ".git" || n == "testdata" || strings.HasPrefix(n, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") || d.Name() == "go.mod" {
			os.ReadFile(path)
		}
		return nil
	})
}

// TestPackageBoundaries fails on any import (test files' included) that
// crosses a layer the wrong way, naming the chain and the rule. The rule
// "nothing outside gateway/ imports gateway/internal/..." needs no test:
// the Go toolchain refuses such an import.
func TestPackageBoundaries(t *testing.T) {
	root := filepath.Join("..", "..")
	touchModule(root)
	mod := strings.TrimSpace(string(goList(t, root, "list", "-m", "-f", "{{.Path}}")))
	out := goList(t, root, "list", "-json=ImportPath,Imports,TestImports,XTestImports", "./...")
	pkgs := map[string]*listedPkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list output: %v", err)
		}
		pkgs[p.ImportPath] = &p
	}
	for _, must := range []string{"threading", "store", "config", "gateway", "gateway/audience"} {
		if pkgs[mod+"/"+must] == nil {
			t.Fatalf("go list ./... did not list %s/%s: the rules below would check nothing", mod, must)
		}
	}
	for _, v := range append(violations(mod, pkgs), confinedViolations(mod, pkgs)...) {
		t.Errorf("forbidden import %s", v)
	}
}

// The checker itself, on a made-up graph: direct edges, a test file's
// edge, a chain through a package no rule names, and edges that are fine.
func TestBoundaryViolations(t *testing.T) {
	pkgs := map[string]*listedPkg{}
	add := func(path string, imports, testImports []string) {
		pkgs[path] = &listedPkg{ImportPath: path, Imports: imports, XTestImports: testImports}
	}
	add("m/threading", []string{"strings", "m/threading/token"}, []string{"m/gateway/bench"})
	add("m/threading/token", nil, nil)
	add("m/threading/command", []string{"m/util"}, nil)
	add("m/util", []string{"m/store/sub"}, nil)
	add("m/store", []string{"m/store/sub", "go.etcd.io/bbolt"}, nil)
	add("m/store/sub", nil, nil)
	add("m/config", []string{"m/config/inner", "m/threading/command"}, nil)
	add("m/config/inner", nil, nil)
	add("m/gateway", []string{"m/store", "m/config", "m/threading"}, nil)
	add("m/gateway/bench", []string{"m/store"}, nil)
	got := violations("m", pkgs)
	want := []string{
		"m/threading → m/gateway/bench (by a test file): " + boundaries[0].why,
		"m/threading/command → m/util → m/store/sub: " + boundaries[0].why,
		"m/config → m/threading/command: " + boundaries[3].why,
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	want = []string{"m/gateway/bench → go.etcd.io/bbolt: " + confined[0].why}
	pkgs["m/gateway/bench"].TestImports = []string{"go.etcd.io/bbolt"}
	if got = confinedViolations("m", pkgs); !slices.Equal(got, want) {
		t.Errorf("confined violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
