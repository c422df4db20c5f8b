//go:build ignore

// Command seamrename rewrites the module's Go files for the store seam
// (issue 13 item 5): the model types that moved from package store to
// package store/model are named model.X instead of store.X; opening the
// bbolt engine is bolt.Open (store/bolt); the concrete *store.DB, *store.Tx
// and *store.Spool become the interfaces store.Store, store.Tx and
// store.Spool. It is a
// script rather than a one-off edit so that a branch rebased onto a main
// others keep editing can run it again instead of resolving conflicts by
// hand: it only rewrites what still names the old places, so a second run
// changes nothing.
//
//	go run scripts/seamrename/main.go        # from the module root
//
// It works on the syntax tree, not on text: only a selector whose left
// side is the file's import of helpdesk/store is rewritten (a field or
// method named Ticket is left alone), and in files of package store itself
// only package-level references (not fields, keys or declarations).
package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

const (
	storePath = "helpdesk/store"
	modelPath = "helpdesk/store/model"
	boltPath  = "helpdesk/store/bolt"
)

// moved are the identifiers that left package store for store/model.
var moved = map[string]bool{}

// toBolt are the identifiers that left package store for the bbolt
// engine, store/bolt (opening it and its file's own tools).
var toBolt = map[string]bool{
	"Open": true, "Options": true, "DefaultMaxBatch": true, "Restore": true,
	"CheckFile": true, "ErrDamaged": true, "SchemaVersion": true,
}

func init() {
	for _, n := range strings.Fields(`
		StatusOpen StatusPending StatusWaitingCustomer StatusWaitingThirdParty StatusResolved StatusClosed Statuses
		Public Private ThreadMain ThreadSide
		LinkRelated LinkFollowUpOf LinkFollowUp LinkMergedInto LinkMergedFrom LinkParent LinkChild
		KindComment KindEvent KindRejected KindDelivery KindHeld KindAuto
		Ticket Thread Link Attachment Comment User Message Ref Header Outbound CommentRef InlineFile
		Quarantine TokenKey TicketRouting RefKey MaxRefs SlideWindow
		DispTicket DispComment DispCommands DispRejected DispDelivery DispQuarantine DispHeld
		OutQueued OutSent OutFailed
		QLoop QAuth QUnwanted QBlocked`) {
		moved[n] = true
	}
}

// typeRenames are store types whose pointer form callers used and which
// are now interfaces of package store: *store.X becomes store.Y.
var typeRenames = map[string]string{
	"Tx":    "Tx",
	"DB":    "Store",
	"Spool": "Spool",
}

type edit struct {
	start, end int
	text       string
}

func main() {
	var changed []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			n := d.Name()
			if path != "." && (strings.HasPrefix(n, ".") || n == "testdata" || n == "scripts") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(path))
		if dir == "store/model" {
			return nil
		}
		did, err := rewrite(path, dir == "store")
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if did {
			changed = append(changed, path)
		}
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "seamrename:", err)
		os.Exit(1)
	}
	for _, p := range changed {
		fmt.Println("rewrote", p)
	}
}

// rewrite rewrites one file; inStore says it belongs to package store,
// whose references to the moved names are bare identifiers.
func rewrite(path string, inStore bool) (bool, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return false, err
	}
	off := func(p token.Pos) int { return fset.Position(p).Offset }
	var edits []edit

	storeName := ""
	var storeSpec *ast.ImportSpec
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		if p == storePath {
			storeSpec = im
			storeName = "store"
			if im.Name != nil {
				storeName = im.Name.Name
			}
		}
	}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := ""
		if im.Name != nil {
			name = im.Name.Name
		} else {
			name = p[strings.LastIndex(p, "/")+1:]
		}
		if (name == "model" && p != modelPath || name == "bolt" && p != boltPath) && (storeName != "" || inStore) {
			return false, fmt.Errorf("imports %s as model: rename that import first", p)
		}
	}

	isStore := func(x ast.Expr) bool {
		id, ok := x.(*ast.Ident)
		return ok && storeName != "" && id.Name == storeName && id.Obj == nil
	}

	if storeName != "" {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.StarExpr:
				if sel, ok := n.X.(*ast.SelectorExpr); ok && isStore(sel.X) {
					if to, ok := typeRenames[sel.Sel.Name]; ok {
						edits = append(edits, edit{off(n.Pos()), off(n.End()), storeName + "." + to})
						return false
					}
				}
			case *ast.SelectorExpr:
				if isStore(n.X) && moved[n.Sel.Name] {
					edits = append(edits, edit{off(n.X.Pos()), off(n.X.End()), "model"})
				} else if isStore(n.X) && toBolt[n.Sel.Name] {
					edits = append(edits, edit{off(n.X.Pos()), off(n.X.End()), "bolt"})
				}
			}
			return true
		})
	}
	if inStore {
		edits = append(edits, bareEdits(f, off)...)
	}
	if len(edits) == 0 {
		return false, nil
	}

	// Which of the three packages does the file use after the edits?
	used := map[string]bool{}
	if inStore {
		used[modelPath] = true
	}
	if storeName != "" {
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok && isStore(sel.X) {
				switch {
				case moved[sel.Sel.Name]:
					used[modelPath] = true
				case toBolt[sel.Sel.Name]:
					used[boltPath] = true
				default:
					used[storePath] = true
				}
			}
			if st, ok := n.(*ast.StarExpr); ok {
				if sel, ok := st.X.(*ast.SelectorExpr); ok && isStore(sel.X) && typeRenames[sel.Sel.Name] != "" {
					used[storePath] = true
				}
			}
			return true
		})
	}
	has := map[string]bool{}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		has[p] = true
	}
	var add []string
	for _, p := range []string{modelPath, boltPath} {
		if used[p] && !has[p] {
			add = append(add, p)
		}
	}
	switch {
	case storeSpec != nil && !used[storePath] && len(add) > 0:
		// The store import becomes the first new one, the rest follow it.
		text := strconv.Quote(add[0])
		for _, p := range add[1:] {
			text += "\n\t" + strconv.Quote(p)
		}
		edits = append(edits, edit{off(storeSpec.Pos()), off(storeSpec.End()), text})
	case storeSpec != nil && !used[storePath]:
		edits = append(edits, edit{off(storeSpec.Pos()), off(storeSpec.End()), ""})
	case storeSpec != nil:
		for _, p := range add {
			edits = append(edits, edit{off(storeSpec.End()), off(storeSpec.End()), "\n\t" + strconv.Quote(p)})
		}
	default:
		for _, p := range add {
			edits = append(edits, importEdit(f, off, p))
		}
	}

	sort.Slice(edits, func(i, j int) bool { return edits[i].start > edits[j].start })
	out := slices.Clone(src)
	last := len(out) + 1
	for _, e := range edits {
		if e.end > last {
			return false, fmt.Errorf("overlapping edits at offset %d", e.start)
		}
		out = append(out[:e.start], append([]byte(e.text), out[e.end:]...)...)
		last = e.start
	}
	res, err := format.Source(out)
	if err != nil {
		return false, fmt.Errorf("formatting the result: %w\n%s", err, out)
	}
	if bytes.Equal(res, src) {
		return false, nil
	}
	return true, os.WriteFile(path, res, 0o644)
}

// importEdit adds the model import to a file of package store.
func importEdit(f *ast.File, off func(token.Pos) int, path string) edit {
	for _, d := range f.Decls {
		if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.IMPORT {
			if g.Lparen.IsValid() {
				// A group of its own after the others (the project's imports
				// come after the standard library's and third parties').
				return edit{off(g.Rparen), off(g.Rparen), "\n\t" + strconv.Quote(path) + "\n"}
			}
			return edit{off(g.Pos()), off(g.Pos()), "import " + strconv.Quote(path) + "\n"}
		}
	}
	return edit{off(f.Name.End()), off(f.Name.End()), "\n\nimport " + strconv.Quote(path) + "\n"}
}

// bareEdits qualifies package store's own references to the moved names:
// identifiers the parser left unresolved (package-level ones) in places
// where an identifier names something, not a field, key or declaration.
func bareEdits(f *ast.File, off func(token.Pos) int) []edit {
	skip := map[*ast.Ident]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			skip[n.Sel] = true
		case *ast.KeyValueExpr:
			if id, ok := n.Key.(*ast.Ident); ok {
				skip[id] = true
			}
		case *ast.Field:
			for _, id := range n.Names {
				skip[id] = true
			}
		case *ast.FuncDecl:
			skip[n.Name] = true
		case *ast.TypeSpec:
			skip[n.Name] = true
		case *ast.ValueSpec:
			for _, id := range n.Names {
				skip[id] = true
			}
		case *ast.LabeledStmt:
			skip[n.Label] = true
		case *ast.BranchStmt:
			if n.Label != nil {
				skip[n.Label] = true
			}
		}
		return true
	})
	var edits []edit
	ast.Inspect(f, func(n ast.Node) bool {
		id, ok := n.(*ast.Ident)
		if !ok || skip[id] || id.Obj != nil || !moved[id.Name] {
			return true
		}
		edits = append(edits, edit{off(id.Pos()), off(id.Pos()), "model."})
		return true
	})
	return edits
}
