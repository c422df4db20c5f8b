package mailtext

import (
	"strconv"
	"text/template"
	tparse "text/template/parse"
	"unsafe"
)

// A template of the shipped kind (text, fields of Data, with, if, range
// over the suggestions) is also compiled, once at load, into a program
// that renders it without text/template's reflection: every new ticket's
// acknowledgement is rendered inside the store's single writer, where
// Execute cost about 20,000 instructions a mail (issue 13). The program
// resolves each field against Data's types when it is compiled, so it
// reaches exactly the fields text/template would (the public ones: Data
// has no others), and prints them as text/template does (strings as they
// are, numbers in decimal). A template using anything else (functions,
// variables other than $, printing a struct, a pointer or a slice, ...)
// has no program and is executed by text/template; so is a template
// whose program meets a case text/template would answer with an error
// (a field of a nil .Earlier): the error is text/template's.
// TestFastMatchesExecute compares the two on every built-in template and
// on custom ones, over varied data.

// kind is the static type of a value in a program.
type kind uint8

const (
	kData kind = iota
	kTicket
	kPerson
	kMailbox
	kArticles
	kArticle
	kRef
	kString
	kUint
)

// value is a program's dot or a field's value.
type value struct {
	k   kind
	d   *Data
	art *Article
	ref *Ref
	s   string
	n   uint64
}

// truth is text/template's truth of a value of a kind a condition may
// test (structs are always true, pointers when not nil, slices when not
// empty, strings and numbers when not zero).
func (v value) truth() bool {
	switch v.k {
	case kArticles:
		return len(v.d.Suggestions) > 0
	case kRef:
		return v.ref != nil
	case kString:
		return v.s != ""
	case kUint:
		return v.n != 0
	}
	return true
}

// step is one field selection; false when text/template would fail (a
// field of a nil pointer).
type step func(value) (value, bool)

// field is the step selecting name of a value of kind k, and the kind
// of its result; ok false when k has no such field (text/template would
// refuse it at load: such templates never get here).
func field(k kind, name string) (step, kind, bool) {
	switch k {
	case kData:
		switch name {
		case "Ticket":
			return func(v value) (value, bool) { return value{k: kTicket, d: v.d}, true }, kTicket, true
		case "Requester":
			return func(v value) (value, bool) { return value{k: kPerson, d: v.d}, true }, kPerson, true
		case "Mailbox":
			return func(v value) (value, bool) { return value{k: kMailbox, d: v.d}, true }, kMailbox, true
		case "Suggestions":
			return func(v value) (value, bool) { return value{k: kArticles, d: v.d}, true }, kArticles, true
		case "Earlier":
			return func(v value) (value, bool) { return value{k: kRef, d: v.d, ref: v.d.Earlier}, true }, kRef, true
		case "Merged":
			return func(v value) (value, bool) { return value{k: kRef, d: v.d, ref: v.d.Merged}, true }, kRef, true
		case "Joined":
			return func(v value) (value, bool) { return value{k: kString, s: v.d.Joined}, true }, kString, true
		}
	case kTicket:
		switch name {
		case "Number":
			return func(v value) (value, bool) { return value{k: kUint, n: v.d.Ticket.Number}, true }, kUint, true
		case "Tag":
			return func(v value) (value, bool) { return value{k: kString, s: v.d.Ticket.Tag}, true }, kString, true
		case "Subject":
			return func(v value) (value, bool) { return value{k: kString, s: v.d.Ticket.Subject}, true }, kString, true
		case "Status":
			return func(v value) (value, bool) { return value{k: kString, s: v.d.Ticket.Status}, true }, kString, true
		}
	case kPerson:
		if name == "Name" {
			return func(v value) (value, bool) { return value{k: kString, s: v.d.Requester.Name}, true }, kString, true
		}
	case kMailbox:
		if name == "Name" {
			return func(v value) (value, bool) { return value{k: kString, s: v.d.Mailbox.Name}, true }, kString, true
		}
	case kArticle:
		switch name {
		case "Title":
			return func(v value) (value, bool) { return value{k: kString, s: v.art.Title}, true }, kString, true
		case "URL":
			return func(v value) (value, bool) { return value{k: kString, s: v.art.URL}, true }, kString, true
		}
	case kRef:
		var get func(*Ref) value
		switch name {
		case "Number":
			get = func(r *Ref) value { return value{k: kUint, n: r.Number} }
		case "Tag":
			get = func(r *Ref) value { return value{k: kString, s: r.Tag} }
		case "Subject":
			get = func(r *Ref) value { return value{k: kString, s: r.Subject} }
		default:
			return nil, 0, false
		}
		k := get(&Ref{}).k
		return func(v value) (value, bool) {
			if v.ref == nil {
				return value{}, false
			}
			return get(v.ref), true
		}, k, true
	}
	return nil, 0, false
}

// getter reads a pipeline's value from the dot (or from the root, for
// $).
type getter struct {
	root  bool
	steps []step
}

func (g getter) get(root, dot value) (value, bool) {
	v := dot
	if g.root {
		v = root
	}
	for _, s := range g.steps {
		var ok bool
		if v, ok = s(v); !ok {
			return value{}, false
		}
	}
	return v, true
}

// op is one node of a program.
type op struct {
	text  string // text to copy (code opText)
	code  uint8
	get   getter
	list  []op // the body of with, if, range
	else_ []op
}

const (
	opText uint8 = iota
	opPrint
	opIf
	opWith
	opRange
)

// program is a compiled template.
type program struct {
	ops  []op
	size int // the literal text's length: the output's least size
}

// compile compiles t's tree; nil when it uses anything a program does
// not do.
func compile(t *template.Template) *program {
	if t == nil || t.Tree == nil || t.Tree.Root == nil {
		return nil
	}
	c := compiler{}
	ops, ok := c.list(t.Tree.Root, kData)
	if !ok {
		return nil
	}
	return &program{ops: ops, size: c.size}
}

type compiler struct{ size int }

func (c *compiler) list(l *tparse.ListNode, dot kind) ([]op, bool) {
	if l == nil {
		return nil, true
	}
	var out []op
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *tparse.TextNode:
			c.size += len(n.Text)
			out = append(out, op{code: opText, text: string(n.Text)})
		case *tparse.CommentNode:
		case *tparse.ActionNode:
			g, k, ok := c.pipe(n.Pipe, dot)
			if !ok || (k != kString && k != kUint) {
				return nil, false
			}
			out = append(out, op{code: opPrint, get: g})
		case *tparse.IfNode:
			o, ok := c.branch(opIf, &n.BranchNode, dot)
			if !ok {
				return nil, false
			}
			out = append(out, o)
		case *tparse.WithNode:
			o, ok := c.branch(opWith, &n.BranchNode, dot)
			if !ok {
				return nil, false
			}
			out = append(out, o)
		case *tparse.RangeNode:
			o, ok := c.branch(opRange, &n.BranchNode, dot)
			if !ok {
				return nil, false
			}
			out = append(out, o)
		default:
			return nil, false
		}
	}
	return out, true
}

func (c *compiler) branch(code uint8, b *tparse.BranchNode, dot kind) (op, bool) {
	g, k, ok := c.pipe(b.Pipe, dot)
	if !ok {
		return op{}, false
	}
	inner := dot
	switch code {
	case opWith:
		inner = k
	case opRange:
		if k != kArticles {
			return op{}, false
		}
		inner = kArticle
	}
	list, ok := c.list(b.List, inner)
	if !ok {
		return op{}, false
	}
	els, ok := c.list(b.ElseList, dot)
	if !ok {
		return op{}, false
	}
	return op{code: code, get: g, list: list, else_: els}, true
}

// pipe compiles a pipeline of one field chain ({{.A.B}}, {{.}},
// {{$.A}}); anything else (functions, arguments, declarations) is not
// compiled.
func (c *compiler) pipe(p *tparse.PipeNode, dot kind) (getter, kind, bool) {
	if p == nil || len(p.Decl) > 0 || p.IsAssign || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return getter{}, 0, false
	}
	var g getter
	var idents []string
	k := dot
	switch a := p.Cmds[0].Args[0].(type) {
	case *tparse.DotNode:
	case *tparse.FieldNode:
		idents = a.Ident
	case *tparse.VariableNode:
		if len(a.Ident) == 0 || a.Ident[0] != "$" {
			return getter{}, 0, false
		}
		g.root, k, idents = true, kData, a.Ident[1:]
	default:
		return getter{}, 0, false
	}
	for _, name := range idents {
		s, nk, ok := field(k, name)
		if !ok {
			return getter{}, 0, false
		}
		g.steps = append(g.steps, s)
		k = nk
	}
	return g, k, true
}

// render runs p on d; false when text/template must (it would fail).
func (p *program) render(d *Data) (string, bool) {
	root := value{k: kData, d: d}
	b := make([]byte, 0, p.size+len(d.Ticket.Subject)+len(d.Requester.Name)+len(d.Mailbox.Name)+32)
	b, ok := run(b, p.ops, root, root)
	if !ok {
		return "", false
	}
	if len(b) == 0 {
		return "", true
	}
	// b is this call's own and never written again.
	return unsafe.String(unsafe.SliceData(b), len(b)), true
}

func run(b []byte, ops []op, root, dot value) ([]byte, bool) {
	for i := range ops {
		o := &ops[i]
		if o.code == opText {
			b = append(b, o.text...)
			continue
		}
		v, ok := o.get.get(root, dot)
		if !ok {
			return b, false
		}
		switch o.code {
		case opPrint:
			if v.k == kUint {
				b = strconv.AppendUint(b, v.n, 10)
			} else {
				b = append(b, v.s...)
			}
		case opIf, opWith:
			switch {
			case v.truth() && o.code == opWith:
				b, ok = run(b, o.list, root, v)
			case v.truth():
				b, ok = run(b, o.list, root, dot)
			default:
				b, ok = run(b, o.else_, root, dot)
			}
		case opRange:
			arts := v.d.Suggestions
			if len(arts) == 0 {
				b, ok = run(b, o.else_, root, dot)
			}
			for j := 0; j < len(arts) && ok; j++ {
				b, ok = run(b, o.list, root, value{k: kArticle, d: v.d, art: &arts[j]})
			}
		}
		if !ok {
			return b, false
		}
	}
	return b, true
}
