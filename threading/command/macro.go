package command

import (
	"strconv"
	"strings"
)

// MacroLookup finds a configured macro by name: its command lines (with
// or without the leading '#') and its text.
type MacroLookup func(name string) (commands []string, text string, ok bool)

// ExpandMacro replaces every valid "#macro <name>" of b with the macro's
// command lines (parsed like mail lines, Line set to the #macro line and
// Macro to its name) and appends the macro's text to b.Text, separated by a
// blank line. names, if given, are the configured macro names, used to
// suggest one for an unknown name.
//
// A #macro that cannot be expanded stays in the block with a problem:
// unknown macro, a line that is not a command, a nested #macro, or #end.
// Expansion never grows the block past MaxCommands+1 (Validate reports
// the excess).
func ExpandMacro(b Block, lookup MacroLookup, names ...string) (Block, []Problem) {
	if !b.Has("macro") {
		return b, nil
	}
	var problems []Problem
	out := Block{Text: b.Text}
	texts := []string{}
	if b.Text != "" {
		texts = append(texts, b.Text)
	}
	for _, c := range b.Commands {
		if c.Name != "macro" || len(c.Args) != 1 || c.Macro != "" {
			out.Commands = append(out.Commands, c)
			continue
		}
		name := c.Args[0]
		lines, text, ok := lookup(name)
		if !ok {
			p := Problem{Command: c}
			if s := Suggest(name, names); s != "" {
				p.Message, p.Suggestion = "unknown macro "+quote(name)+"; did you mean "+s+"?", s
			} else {
				p.Message = "unknown macro " + quote(name)
			}
			problems = append(problems, p)
			out.Commands = append(out.Commands, c)
			continue
		}
		var expanded []Command
		var bad []string
		for _, l := range lines {
			if strings.TrimSpace(l) == "" {
				continue
			}
			mc, ok := ParseLine(l)
			switch {
			case !ok:
				bad = append(bad, quote(strings.TrimSpace(l))+" is not a command")
			case mc.Name == "macro":
				bad = append(bad, "a macro cannot use #macro")
			case mc.Name == "end":
				bad = append(bad, "a macro cannot use #end")
			default:
				mc.Line, mc.Macro = c.Line, name
				expanded = append(expanded, mc)
			}
		}
		if len(bad) > 0 {
			problems = append(problems, Problem{Command: c, Message: "macro " + quote(name) + ": " + strings.Join(bad, "; ")})
			out.Commands = append(out.Commands, c)
			continue
		}
		out.Commands = append(out.Commands, expanded...)
		if t := trimText(normalise(text)); t != "" {
			texts = append(texts, t)
		}
		if len(out.Commands) > MaxCommands+1 {
			out.Commands = out.Commands[:MaxCommands+1]
		}
	}
	if len(out.Commands) > MaxCommands+1 {
		out.Commands = out.Commands[:MaxCommands+1]
	}
	out.Text = strings.Join(texts, "\n\n")
	return out, problems
}

func quote(s string) string { return strconv.Quote(s) }
