package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Size is a byte count that accepts units in TOML ("25MiB", "64KiB", 1024).
type Size int64

// UnmarshalText parses "25MiB", "64 KiB", "10MB" or a plain number of bytes.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText formats the size in the largest exact binary unit.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s Size) String() string {
	n := int64(s)
	for _, u := range []struct {
		name string
		mul  int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mul == 0 {
			return strconv.FormatInt(n/u.mul, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// ParseSize parses a whole number with an optional unit: B, K/KB (1000),
// KiB (1024), M/MB, MiB, G/GB, GiB; case-insensitive, space allowed before
// the unit. Negative, fractional and overflowing sizes are errors.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9') {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size: write a whole number with an optional unit, e.g. \"25MiB\"", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: the number is too large", s)
	}
	rest := strings.TrimSpace(t[i:])
	if strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, ",") {
		return 0, fmt.Errorf("%q is not a size: use a whole number with a smaller unit, e.g. \"1536KiB\" for 1.5MiB", s)
	}
	var mul int64
	switch strings.ToLower(rest) {
	case "", "b":
		mul = 1
	case "k", "kb":
		mul = 1000
	case "kib":
		mul = 1 << 10
	case "m", "mb":
		mul = 1000 * 1000
	case "mib":
		mul = 1 << 20
	case "g", "gb":
		mul = 1000 * 1000 * 1000
	case "gib":
		mul = 1 << 30
	default:
		return 0, fmt.Errorf("%q has an unknown unit %q: use B, KiB, MiB or GiB", s, rest)
	}
	if n > math.MaxInt64/mul {
		return 0, fmt.Errorf("%q is not a size: too large", s)
	}
	return Size(n * mul), nil
}

// Duration is a time.Duration written in Go syntax in TOML ("10m", "5s").
type Duration time.Duration

// UnmarshalText parses Go duration syntax, or whole days ("30d").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration: use Go syntax such as \"90s\", \"10m\" or \"120h\", or days such as \"30d\"", string(b))
	}
	*d = Duration(v)
	return nil
}

// ParseDuration is time.ParseDuration that also takes whole days ("30d"):
// retention periods are counted in days.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 && days <= 100*365 {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}

// MarshalText formats the duration in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// Load reads and validates a config file. On any problem it returns an
// *Errors listing every problem found, each naming its key (and its line
// when known). The returned *Config is non-nil unless the file could not be
// read or is not valid TOML, but must not be used when err != nil.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	c, err := Parse(string(b))
	if c != nil {
		c.Path = path
	}
	return c, err
}

// Parse reads and validates config text: keys missing from the text keep
// their Default() value, lists given in the text replace the default list.
// Every problem (TOML type errors, unknown keys, bad or missing values) is
// reported at once in an *Errors. A TOML syntax error stops parsing and is
// the only problem reported (with its line and column); the Config is then
// nil.
func Parse(text string) (*Config, error) {
	var raw map[string]any
	if _, err := toml.Decode(text, &raw); err != nil {
		return nil, &Errors{List: []Problem{syntaxProblem(err)}}
	}
	c := Default()
	d := &decoder{lines: keyLines(text)}
	c.lines = d.lines // Warnings name their line too
	d.table("", raw, rvOf(c))
	c.surveyPresent(raw)
	probs := d.probs
	bad := map[string]bool{}
	for _, p := range probs {
		bad[p.Key] = true
	}
	c.normalize()
	for _, p := range c.Validate() {
		if bad[p.Key] {
			continue // already reported as a type or syntax problem
		}
		p.Line = d.lineOf(p.Key)
		probs = append(probs, p)
	}
	c.BuildIndex()
	for _, check := range checks {
		for _, p := range check(c) {
			if !bad[p.Key] {
				p.Line = d.lineOf(p.Key)
				probs = append(probs, p)
			}
		}
	}
	// In file order; problems without a line (a missing [[mailbox]]) last.
	sort.SliceStable(probs, func(i, j int) bool {
		li, lj := probs[i].Line, probs[j].Line
		return li != 0 && (lj == 0 || li < lj)
	})
	if len(probs) > 0 {
		return c, &Errors{List: probs}
	}
	return c, nil
}

// checks are the validations packages above config add (AddCheck).
var checks []func(*Config) []Problem

// AddCheck adds a validation that needs a package config cannot import
// (config imports nothing of the project's): gateway/rules registers the
// check of triggers and views, whose conditions and actions are its
// vocabulary and the mail command language. Problems name keys as
// Validate's do; Parse adds their lines. Call it from an init function.
func AddCheck(f func(*Config) []Problem) { checks = append(checks, f) }

// normalize fills values that default from other values.
func (c *Config) normalize() {
	for i := range c.Mailboxes {
		m := &c.Mailboxes[i]
		if strings.TrimSpace(m.Name) == "" {
			m.Name = m.Address
		}
		if strings.TrimSpace(m.Language) == "" {
			m.Language = "en"
		}
	}
	for i := range c.Agents {
		a := &c.Agents[i]
		if strings.TrimSpace(a.Name) == "" {
			if at := strings.LastIndexByte(a.Email, '@'); at > 0 {
				a.Name = a.Email[:at]
			} else {
				a.Name = a.Email
			}
		}
	}
}

func syntaxProblem(err error) Problem {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return Problem{
			Key:  pe.LastKey,
			Msg:  "syntax error: " + oneLine(pe.Message),
			Fix:  fmt.Sprintf("correct the TOML at line %d, column %d (strings need double quotes, tables are [name] or [[name]], one key = value per line)", pe.Position.Line, pe.Position.Col),
			Line: pe.Position.Line,
			Col:  pe.Position.Col,
		}
	}
	return Problem{Msg: "syntax error: " + oneLine(err.Error()), Fix: "correct the TOML syntax"}
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Problem is one thing wrong with the config.
type Problem struct {
	// Key is the TOML key, e.g. "smtp.max_message_bytes" or "agent[2].role";
	// entries of [[tables]] and lists count from 0 in file order. It is ""
	// only for a TOML syntax error before any key.
	Key  string
	Msg  string // what is wrong
	Fix  string // what would fix it
	Line int    // line in the file, 0 when unknown
	Col  int    // column, only for syntax errors
}

// String formats the problem as "line 12: key: message (fix: ...)".
func (p Problem) String() string { return p.format("") }

// format prefixes the position: "path:12:5: " with a path, else "line 12, column 5: ".
func (p Problem) format(path string) string {
	var b strings.Builder
	switch {
	case path != "":
		b.WriteString(path)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
			if p.Col > 0 {
				fmt.Fprintf(&b, ":%d", p.Col)
			}
		}
		b.WriteString(": ")
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ", column %d", p.Col)
		}
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	if p.Fix != "" {
		b.WriteString(" (fix: ")
		b.WriteString(p.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// Errors is every problem found in a config, reported at once.
type Errors struct{ List []Problem }

func (e *Errors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d problem(s) in the configuration:", len(e.List))
	for _, p := range e.List {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Check loads the file at path and returns the text `helpdesk check-config`
// prints (no trailing newline) and whether the config is valid. When valid it
// is one line: "<path>: OK: 1 mailbox, 1 group, 2 agents (1 agent, 1 light), 1 macro".
// Otherwise it is every problem, one per line, as
// "<path>:<line>[:<col>]: <key>: <message> (fix: <fix>)".
func Check(path string) (report string, ok bool) {
	c, err := Load(path)
	if err == nil {
		report := path + ": OK: " + c.summary()
		for _, w := range c.Warnings() {
			report += "\nwarning: " + w.format(path)
		}
		return report, true
	}
	var errs *Errors
	if !errors.As(err, &errs) {
		return fmt.Sprintf("%s: cannot read the configuration: %v (fix: pass -config with the path of helpdesk.toml)", path, errors.Unwrap(err)), false
	}
	lines := make([]string, len(errs.List))
	for i, p := range errs.List {
		lines[i] = p.format(path)
	}
	return strings.Join(lines, "\n"), false
}

func (c *Config) summary() string {
	plural := func(n int, what string) string {
		if n == 1 {
			return "1 " + what
		}
		return strconv.Itoa(n) + " " + what + "s"
	}
	roles := map[string]int{}
	for _, a := range c.Agents {
		roles[a.Role]++
	}
	var parts []string
	for _, r := range []string{RoleAgent, RoleLight, RoleAdmin} {
		if roles[r] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", roles[r], r))
		}
	}
	s := plural(len(c.Mailboxes), "mailbox")
	s = strings.Replace(s, "mailboxs", "mailboxes", 1)
	s += ", " + plural(len(c.Groups), "group") + ", " + plural(len(c.Agents), "agent")
	if len(parts) > 0 {
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	s += ", " + plural(len(c.Macros), "macro")
	if len(c.Triggers)+len(c.Views) > 0 {
		s += ", " + plural(len(c.Triggers), "trigger") + ", " + plural(len(c.Views), "view")
	}
	if len(c.Automations) > 0 {
		s += ", " + plural(len(c.Automations), "automation")
	}
	return s
}
