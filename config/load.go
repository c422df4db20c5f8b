package config

import (
	"fmt"
	"os"
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

// ParseSize parses a size with an optional unit (B, KB, KiB, MB, MiB, GB, GiB).
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9') {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("%q is not a size: write a number with an optional unit, e.g. \"25MiB\"", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: %v", s, err)
	}
	var mul int64
	switch strings.ToLower(strings.TrimSpace(t[i:])) {
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
		return 0, fmt.Errorf("%q has an unknown unit: use B, KiB, MiB or GiB", s)
	}
	return Size(n * mul), nil
}

// Duration is a time.Duration written in Go syntax in TOML ("10m", "5s").
type Duration time.Duration

// UnmarshalText parses Go duration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%q is not a duration: use Go syntax such as \"90s\", \"10m\" or \"120h\"", string(b))
	}
	*d = Duration(v)
	return nil
}

// MarshalText formats the duration in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Load reads and validates a config file. On any problem it returns an
// *Errors listing every problem found, each naming its key.
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

// Parse reads and validates config text.
func Parse(text string) (*Config, error) {
	c := Default()
	// Lists in the file replace the defaults rather than extend them.
	c.Threading.Acknowledgements = nil
	c.Auth.Staff = nil
	c.Auth.TrustedRelays = nil
	md, err := toml.Decode(text, c)
	if err != nil {
		return nil, &Errors{List: []Problem{{Key: keyOfDecodeError(err), Msg: err.Error(), Fix: "correct the TOML syntax or the value's type"}}}
	}
	d := Default()
	if !md.IsDefined("threading", "acknowledgements") {
		c.Threading.Acknowledgements = d.Threading.Acknowledgements
	}
	if !md.IsDefined("auth", "staff") {
		c.Auth.Staff = d.Auth.Staff
	}
	if !md.IsDefined("auth", "trusted_relays") {
		c.Auth.TrustedRelays = d.Auth.TrustedRelays
	}
	var probs []Problem
	for _, k := range md.Undecoded() {
		probs = append(probs, Problem{Key: k.String(), Msg: "unknown key", Fix: "remove it or check its spelling against the shipped helpdesk.toml"})
	}
	probs = append(probs, c.Validate()...)
	if len(probs) > 0 {
		return c, &Errors{List: probs}
	}
	return c, nil
}

func keyOfDecodeError(err error) string {
	var pe toml.ParseError
	if e, ok := err.(toml.ParseError); ok {
		pe = e
		return fmt.Sprintf("line %d", pe.Position.Line)
	}
	return "(file)"
}

// Problem is one thing wrong with the config.
type Problem struct {
	Key string // the TOML key, e.g. "smtp.max_message_bytes" or "agent[2].role"
	Msg string // what is wrong
	Fix string // what would fix it
}

func (p Problem) String() string {
	s := p.Key + ": " + p.Msg
	if p.Fix != "" {
		s += " (fix: " + p.Fix + ")"
	}
	return s
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
