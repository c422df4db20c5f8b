package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"testing"
)

// Every change the planner can return has an effect in apply's switch: a
// change added to gateway/plan without one fails here rather than at the
// first mail that plans it (apply returns an error for an unknown change).
func TestEveryPlannedChangeHasAnEffect(t *testing.T) {
	fset := token.NewFileSet()
	pf, err := parser.ParseFile(fset, "../plan/changes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, d := range pf.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Name.Name == "change" && fn.Recv != nil {
			if id, ok := fn.Recv.List[0].Type.(*ast.Ident); ok {
				kinds = append(kinds, id.Name)
			}
		}
	}
	ef, err := parser.ParseFile(fset, "changes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var handled []string
	for _, d := range ef.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "apply" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if cc, ok := n.(*ast.CaseClause); ok {
				for _, e := range cc.List {
					if sel, ok := e.(*ast.SelectorExpr); ok {
						handled = append(handled, sel.Sel.Name)
					}
				}
			}
			return true
		})
	}
	if len(kinds) < 20 || len(handled) == 0 {
		t.Fatalf("read %d change types and %d cases: the scan is broken", len(kinds), len(handled))
	}
	for _, k := range kinds {
		if !slices.Contains(handled, k) {
			t.Errorf("plan.%s has no case in apply (gateway/engine/changes.go)", k)
		}
	}
}
