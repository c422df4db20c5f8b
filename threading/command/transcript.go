package command

import (
	"fmt"
	"strings"
)

// Result is the outcome of one command line, for the transcript.
//
// OK with a Message is rendered as the message ("status set to pending"),
// OK without one as "ok". Not OK with a Message is an error line
// ("ERROR: unknown agent; did you mean alice?"). Not OK without a Message
// means the line was never validated (the engine stopped at an earlier
// error) and is rendered as "not run".
type Result struct {
	Command
	OK      bool
	Message string
}

// Summaries closing a transcript.
const (
	SummaryRejected = "Nothing was applied: fix the lines marked ERROR and send again."
	SummaryNothing  = "Nothing was applied."
	SummaryEmpty    = "No commands were found."
)

// Results turns a block and its problems (from ExpandMacro, Validate and the
// engine's own checks) into one Result per command: the lines with problems
// fail with their messages joined by "; ", the others are OK without a
// message. A problem about a command that is not in the block is added as
// an extra failed line at the end.
func Results(b Block, problems []Problem) []Result {
	rs := make([]Result, len(b.Commands))
	index := make(map[commandKey]int, len(b.Commands))
	for i, c := range b.Commands {
		rs[i] = Result{Command: c, OK: true}
		if _, ok := index[keyOf(c)]; !ok {
			index[keyOf(c)] = i
		}
	}
	for _, p := range problems {
		i, ok := index[keyOf(p.Command)]
		if !ok {
			rs = append(rs, Result{Command: p.Command, Message: p.Message})
			index[keyOf(p.Command)] = len(rs) - 1
			continue
		}
		r := &rs[i]
		if r.OK {
			r.OK, r.Message = false, p.Message
		} else if p.Message != "" {
			r.Message += "; " + p.Message
		}
	}
	return rs
}

// FormatTranscript renders results debbugs-style: each line echoed as
// "> #assign alise" followed by its result, then a blank line and a
// summary. applied says whether the block was applied.
func FormatTranscript(results []Result, applied bool) string {
	var sb strings.Builder
	errors := 0
	for _, r := range results {
		sb.WriteString("> ")
		sb.WriteString(oneLine(r.Raw))
		if r.Macro != "" {
			sb.WriteString("   (from #macro " + oneLine(r.Macro) + ")")
		}
		sb.WriteByte('\n')
		switch {
		case r.OK && r.Message != "":
			sb.WriteString(r.Message)
		case r.OK:
			sb.WriteString("ok")
		case r.Message != "":
			errors++
			sb.WriteString("ERROR: " + r.Message)
		default:
			sb.WriteString("not run")
		}
		sb.WriteByte('\n')
	}
	if len(results) > 0 {
		sb.WriteByte('\n')
	}
	switch {
	case len(results) == 0:
		sb.WriteString(SummaryEmpty)
	case applied && len(results) == 1:
		sb.WriteString("1 command applied.")
	case applied:
		fmt.Fprintf(&sb, "All %d commands applied.", len(results))
	case errors > 0:
		sb.WriteString(SummaryRejected)
	default:
		sb.WriteString(SummaryNothing)
	}
	sb.WriteByte('\n')
	return sb.String()
}

// oneLine keeps an echoed line on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return lineBreaks.Replace(s)
}

var lineBreaks = strings.NewReplacer("\r", " ", "\n", " ")
