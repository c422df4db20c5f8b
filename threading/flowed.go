package threading

import "strings"

// unflow undoes format=flowed (RFC 3676 section 4): a line ending in a
// space continues on the next line of the same quote depth; a leading
// space is stuffing. The signature separator "-- " is never joined.
func unflow(s string, delsp bool) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	lines := strings.Split(s, "\n")
	var out strings.Builder
	out.Grow(len(s))
	open := false // the last written line is flowed and may continue
	lastDepth := 0
	needSpace := false // a quote prefix waits for a space before content
	for i, l := range lines {
		depth := 0
		for depth < len(l) && l[depth] == '>' {
			depth++
		}
		content := strings.TrimPrefix(l[depth:], " ")
		flowed := strings.HasSuffix(content, " ") && content != "-- "
		if !open || depth != lastDepth || content == "-- " {
			if i > 0 {
				out.WriteByte('\n')
			}
			out.WriteString(strings.Repeat(">", depth))
			needSpace = depth > 0
		}
		if flowed && delsp {
			content = content[:len(content)-1]
		}
		if content != "" {
			if needSpace {
				out.WriteByte(' ')
				needSpace = false
			}
			out.WriteString(content)
		}
		open, lastDepth = flowed, depth
	}
	return out.String()
}
