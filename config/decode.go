package config

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The TOML text is parsed by BurntSushi/toml into a generic map, then
// assigned to the Config here, field by field, so that every type error and
// every unknown key is reported (BurntSushi's own decoder stops at the first
// type error and cannot tell which [[agent]] a key belongs to).

var (
	sizeType     = reflect.TypeFor[Size]()
	durationType = reflect.TypeFor[Duration]()
)

func rvOf(c *Config) reflect.Value { return reflect.ValueOf(c).Elem() }

type decoder struct {
	lines map[string]int // key path ("agent[1].role") → line
	probs []Problem
}

func (d *decoder) add(key, msg, fix string) {
	d.probs = append(d.probs, Problem{Key: key, Msg: msg, Fix: fix, Line: d.lineOf(key)})
}

// lineOf returns the line of key, or of the closest enclosing key.
func (d *decoder) lineOf(key string) int {
	for key != "" {
		if l, ok := d.lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			return 0
		}
		key = key[:i]
	}
	return 0
}

// tomlFields maps the toml tags of a struct type to field indexes.
func tomlFields(t reflect.Type) (map[string]int, []string) {
	m := map[string]int{}
	var names []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if !f.IsExported() || tag == "-" || tag == "" {
			continue
		}
		m[tag] = i
		names = append(names, tag)
	}
	return m, names
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// table assigns the TOML table m to the struct rv.
func (d *decoder) table(path string, m map[string]any, rv reflect.Value) {
	fields, _ := tomlFields(rv.Type())
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		li, lj := d.lines[join(path, keys[i])], d.lines[join(path, keys[j])]
		if li != lj {
			return li < lj
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		key := join(path, k)
		fi, ok := fields[k]
		if !ok {
			d.unknown(path, k, rv.Type())
			continue
		}
		d.value(key, k, m[k], rv.Field(fi))
	}
}

// value assigns one TOML value to the field fv.
func (d *decoder) value(key, name string, v any, fv reflect.Value) {
	t := fv.Type()
	switch {
	case t == sizeType:
		switch x := v.(type) {
		case int64:
			fv.SetInt(x)
		case string:
			s, err := ParseSize(x)
			if err != nil {
				d.add(key, err.Error(), fmt.Sprintf(`write a whole number with a unit, e.g. %s = "25MiB"`, name))
				return
			}
			fv.SetInt(int64(s))
		default:
			d.typeErr(key, name, v, "a size")
		}
	case t == durationType:
		switch x := v.(type) {
		case string:
			var dur Duration
			if err := dur.UnmarshalText([]byte(x)); err != nil {
				d.add(key, err.Error(), fmt.Sprintf(`write a Go duration in quotes, e.g. %s = "10m" (units ns, us, ms, s, m, h)`, name))
				return
			}
			fv.SetInt(int64(dur))
		case int64:
			d.add(key, fmt.Sprintf("%d has no unit", x), fmt.Sprintf(`write a Go duration in quotes, e.g. %s = "%ds"`, name, x))
		default:
			d.typeErr(key, name, v, "a duration")
		}
	case t.Kind() == reflect.String:
		if s, ok := v.(string); ok {
			fv.SetString(s)
		} else {
			d.typeErr(key, name, v, "a string")
		}
	case t.Kind() == reflect.Int:
		if n, ok := v.(int64); ok && n >= math.MinInt && n <= math.MaxInt {
			fv.SetInt(n)
		} else {
			d.typeErr(key, name, v, "an integer")
		}
	case t.Kind() == reflect.Float64:
		switch x := v.(type) {
		case float64:
			fv.SetFloat(x)
		case int64: // min_score = 2 is a number too
			fv.SetFloat(float64(x))
		default:
			d.typeErr(key, name, v, "a number")
		}
	case t.Kind() == reflect.Bool:
		if b, ok := v.(bool); ok {
			fv.SetBool(b)
		} else {
			d.typeErr(key, name, v, "a boolean")
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		arr, ok := v.([]any)
		if !ok {
			d.typeErr(key, name, v, "a list of strings")
			return
		}
		out := reflect.MakeSlice(t, 0, len(arr))
		good := true
		for i, e := range arr {
			s, ok := e.(string)
			if !ok {
				d.typeErr(fmt.Sprintf("%s[%d]", key, i), name, e, "a string")
				good = false
				continue
			}
			out = reflect.Append(out, reflect.ValueOf(s).Convert(t.Elem()))
		}
		if good {
			fv.Set(out)
		}
	case t.Kind() == reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			d.typeErr(key, name, v, "a table")
			return
		}
		d.table(key, m, fv)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		var tables []map[string]any
		switch x := v.(type) {
		case []map[string]any:
			tables = x
		case []any:
			for _, e := range x {
				m, ok := e.(map[string]any)
				if !ok {
					d.typeErr(key, name, v, "an array of tables")
					return
				}
				tables = append(tables, m)
			}
		default:
			d.typeErr(key, name, v, "an array of tables")
			return
		}
		out := reflect.MakeSlice(t, len(tables), len(tables))
		for i, m := range tables {
			d.table(fmt.Sprintf("%s[%d]", key, i), m, out.Index(i))
		}
		fv.Set(out)
	default:
		d.add(key, "unsupported field type "+t.String(), "report this as a bug in helpdesk")
	}
}

func tomlTypeName(v any) string {
	switch x := v.(type) {
	case string:
		return "a string " + strconv.Quote(x)
	case int64:
		return "an integer " + strconv.FormatInt(x, 10)
	case float64:
		return "a float " + strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return "a boolean " + strconv.FormatBool(x)
	case time.Time:
		return "a date/time"
	case map[string]any:
		return "a table"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("a %T", v)
}

func (d *decoder) typeErr(key, name string, v any, want string) {
	var fix string
	switch want {
	case "a size":
		fix = fmt.Sprintf(`write a size in quotes such as %s = "25MiB", or a number of bytes`, name)
	case "a duration":
		fix = fmt.Sprintf(`write a Go duration in quotes, e.g. %s = "10m"`, name)
	case "a string":
		fix = "put the value in double quotes"
	case "an integer":
		fix = fmt.Sprintf("write a whole number without quotes, e.g. %s = 100", name)
	case "a boolean":
		fix = fmt.Sprintf("write %s = true or %s = false, without quotes", name, name)
	case "a list of strings":
		fix = fmt.Sprintf(`write a list of quoted strings, e.g. %s = ["a", "b"]`, name)
	case "a table":
		fix = fmt.Sprintf("write it as a table: a line [%s] followed by its keys", name)
	case "an array of tables":
		fix = fmt.Sprintf("write each entry as a table with two brackets: [[%s]]", name)
	}
	d.add(key, fmt.Sprintf("expected %s, found %s", want, tomlTypeName(v)), fix)
}

// tableLabel names where a key lives, for messages.
func tableLabel(path string) string {
	if path == "" {
		return "the top level (before the first [table])"
	}
	if i := strings.IndexByte(path, '['); i >= 0 {
		return "[[" + path[:i] + "]]"
	}
	return "[" + path + "]"
}

// unknown reports key k of the table at path, which has no field in t.
func (d *decoder) unknown(path, k string, t reflect.Type) {
	key := join(path, k)
	_, names := tomlFields(t)
	best := closest(k, names)
	msg := "unknown key in " + tableLabel(path)
	if path == "" {
		msg = "unknown key or table"
	}
	if best != "" {
		d.add(key, msg+"; did you mean "+best+"?", "rename it to "+best)
		return
	}
	// Perhaps it belongs in another table.
	if where := homeOf(k); where != "" && where != tableLabel(path) {
		d.add(key, msg, "move it to "+where)
		return
	}
	d.add(key, msg, "remove it, or use one of: "+strings.Join(names, ", "))
}

// homeOf returns the table label of a known key name anywhere in Config.
func homeOf(k string) string {
	var found string
	var walk func(path string, t reflect.Type)
	walk = func(path string, t reflect.Type) {
		fields, _ := tomlFields(t)
		if _, ok := fields[k]; ok && found == "" {
			found = tableLabel(path)
			return
		}
		for name, i := range fields {
			ft := t.Field(i).Type
			switch {
			case ft.Kind() == reflect.Struct && ft != sizeType && ft != durationType:
				walk(join(path, name), ft)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(join(path, name)+"[0]", ft.Elem())
			}
		}
	}
	walk("", reflect.TypeFor[Config]())
	return found
}

// keyLines maps every key path written in (syntactically valid) TOML text
// to its line: "data_dir", "smtp", "smtp.listen", "agent[1]",
// "agent[1].role". Keys inside inline tables are not recorded.
func keyLines(text string) map[string]int {
	s := &lineScanner{src: text, line: 1}
	lines := map[string]int{}
	arrays := map[string]int{} // dotted name of [[array]] → entries so far
	ctx := ""
	for {
		s.skipBlank(true)
		if s.eof() {
			return lines
		}
		ln := s.line
		if s.peek() == '[' {
			double := strings.HasPrefix(s.src[s.pos:], "[[")
			if double {
				s.pos += 2
			} else {
				s.pos++
			}
			start := s.pos
			for !s.eof() && s.peek() != ']' && s.peek() != '\n' {
				if c := s.peek(); c == '"' || c == '\'' {
					s.skipString()
					continue
				}
				s.pos++
			}
			segs := splitKey(s.src[start:s.pos])
			if double {
				arrays[strings.Join(segs, ".")]++
			}
			ctx = ""
			for i := range segs {
				ctx = join(ctx, segs[i])
				if n := arrays[strings.Join(segs[:i+1], ".")]; n > 0 {
					ctx += "[" + strconv.Itoa(n-1) + "]"
				}
			}
			lines[ctx] = ln
			s.skipLine()
			continue
		}
		start := s.pos
		for !s.eof() && s.peek() != '=' && s.peek() != '\n' {
			if c := s.peek(); c == '"' || c == '\'' {
				s.skipString()
				continue
			}
			s.pos++
		}
		if s.eof() || s.peek() != '=' {
			s.skipLine()
			continue
		}
		key := ctx
		for _, seg := range splitKey(s.src[start:s.pos]) {
			key = join(key, seg)
		}
		lines[key] = ln
		s.pos++
		s.skipValue()
		s.skipLine()
	}
}

// splitKey splits a dotted TOML key, unquoting quoted parts.
func splitKey(k string) []string {
	var segs []string
	var cur strings.Builder
	for i := 0; i < len(k); i++ {
		switch c := k[i]; c {
		case '"', '\'':
			j := strings.IndexByte(k[i+1:], c)
			if j < 0 {
				cur.WriteString(k[i+1:])
				i = len(k)
				continue
			}
			part := k[i+1 : i+1+j]
			if c == '"' {
				if u, err := strconv.Unquote(`"` + part + `"`); err == nil {
					part = u
				}
			}
			cur.WriteString(part)
			i += j + 1
		case '.':
			segs = append(segs, cur.String())
			cur.Reset()
		case ' ', '\t':
		default:
			cur.WriteByte(c)
		}
	}
	return append(segs, cur.String())
}

type lineScanner struct {
	src  string
	pos  int
	line int
}

func (s *lineScanner) eof() bool  { return s.pos >= len(s.src) }
func (s *lineScanner) peek() byte { return s.src[s.pos] }

// skipBlank skips spaces, comments and, if nl, newlines.
func (s *lineScanner) skipBlank(nl bool) {
	for !s.eof() {
		switch s.peek() {
		case ' ', '\t', '\r':
			s.pos++
		case '\n':
			if !nl {
				return
			}
			s.line++
			s.pos++
		case '#':
			for !s.eof() && s.peek() != '\n' {
				s.pos++
			}
		default:
			return
		}
	}
}

// skipLine skips to just past the end of the line.
func (s *lineScanner) skipLine() {
	for !s.eof() && s.peek() != '\n' {
		s.pos++
	}
	if !s.eof() {
		s.pos++
		s.line++
	}
}

// skipString skips a basic, literal or multi-line string at pos.
func (s *lineScanner) skipString() {
	q := s.peek()
	if strings.HasPrefix(s.src[s.pos:], string([]byte{q, q, q})) {
		s.pos += 3
		for !s.eof() {
			if s.peek() == '\\' && q == '"' {
				if s.pos+1 < len(s.src) && s.src[s.pos+1] == '\n' {
					s.line++
				}
				s.pos += 2
				continue
			}
			if strings.HasPrefix(s.src[s.pos:], string([]byte{q, q, q})) {
				s.pos += 3
				for !s.eof() && s.peek() == q { // up to two quotes may close it
					s.pos++
				}
				return
			}
			if s.peek() == '\n' {
				s.line++
			}
			s.pos++
		}
		return
	}
	s.pos++
	for !s.eof() && s.peek() != q && s.peek() != '\n' {
		if s.peek() == '\\' && q == '"' {
			s.pos++
		}
		s.pos++
	}
	if !s.eof() && s.peek() == q {
		s.pos++
	}
}

// skipValue skips one value: string, array, inline table or scalar.
func (s *lineScanner) skipValue() {
	s.skipBlank(false)
	if s.eof() {
		return
	}
	switch c := s.peek(); c {
	case '"', '\'':
		s.skipString()
	case '[', '{':
		end := byte(']')
		if c == '{' {
			end = '}'
		}
		s.pos++
		for last := -1; ; {
			s.skipBlank(true)
			if s.eof() {
				return
			}
			if s.pos == last { // no progress: invalid TOML, which Parse rejected before
				s.pos++
				continue
			}
			last = s.pos
			switch s.peek() {
			case end:
				s.pos++
				return
			case ',':
				s.pos++
			case '=':
				s.pos++
			default:
				if c == '{' && s.peek() != '"' && s.peek() != '\'' && s.peek() != '[' && s.peek() != '{' {
					// a bare key or a scalar
					for !s.eof() && !strings.ContainsRune(",}= \t\n", rune(s.peek())) {
						s.pos++
					}
					continue
				}
				s.skipValue()
			}
		}
	default:
		for !s.eof() && !strings.ContainsRune(",]}#\n", rune(s.peek())) {
			s.pos++
		}
	}
}
