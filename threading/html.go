package threading

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// HTML to text, for HTML-only mail (SPEC 4: "an HTML-only mail is
// converted to text first") and for finding the new text of a reply in its
// HTML. It streams tokens (no DOM, so memory stays proportional to the
// input): paragraphs, divs and line breaks become line ends, list items
// "- " or "1. ", links "text (url)", blockquotes "> " lines; script, style
// and head content is dropped.

// HTMLToText converts an HTML body to plain text.
func HTMLToText(s string) string {
	t, _ := convertHTML(s, false, 1<<20)
	return t
}

// stripQuotedHTML returns the new text of an HTML reply: quote containers
// (blockquote, div.gmail_quote, .yahoo_quoted, .moz-cite-prefix,
// #divRplyFwdMsg, #appendonsend and everything after the last two) are
// removed before conversion, then StripQuoted handles what is left in the
// text (Outlook header blocks, "-----Original Message-----"). strong is
// true when a container that only mail clients write for quoted history
// was found.
func stripQuotedHTML(s string, max int) (text string, strong bool) {
	t, strong := convertHTML(s, true, max)
	return StripQuoted(t), strong
}

// skipContent are elements whose content is not text.
var skipContent = map[string]bool{
	"script": true, "style": true, "title": true, "noscript": true, "template": true,
	"svg": true, "object": true, "xml": true, "head": true, "iframe": true, "select": true,
}

var blockTags = map[string]bool{
	"div": true, "section": true, "article": true, "header": true, "footer": true, "nav": true,
	"aside": true, "main": true, "address": true, "center": true, "form": true, "fieldset": true,
	"figure": true, "figcaption": true, "dl": true, "dt": true, "dd": true, "table": true,
	"tbody": true, "thead": true, "tfoot": true, "tr": true, "ul": true, "ol": true,
	"blockquote": true, "pre": true, "hr": true, "details": true, "summary": true, "body": true,
	"caption": true, "legend": true,
}

type htmlList struct {
	ordered bool
	n       int
}

type htmlLink struct {
	href  string
	start int
	alt   string
}

type htmlConv struct {
	b       strings.Builder
	max     int
	nl      int  // line ends written since the last text (0: inside a line)
	started bool // some text was written
	space   bool // a space is pending
	pre     int
	quote   int    // blockquote depth, for "> " prefixes
	bq      []bool // open blockquotes: true when it is a quote (not an indent)
	msoP    bool   // the open paragraph is Outlook's MsoNormal (no blank line)
	lists   []htmlList
	links   []htmlLink
}

func (c *htmlConv) full() bool { return c.b.Len() >= c.max }

func (c *htmlConv) newline() {
	if c.nl > 0 && c.quote > 0 {
		c.b.WriteString(strings.Repeat(">", c.quote))
	}
	c.b.WriteByte('\n')
	c.nl++
	c.space = false
}

// lineBreak ends the current line and adds blank lines up to n-1.
func (c *htmlConv) lineBreak(n int) {
	if !c.started {
		return
	}
	for c.nl < n {
		c.newline()
	}
}

func (c *htmlConv) startText() {
	if c.nl > 0 || !c.started {
		if c.quote > 0 {
			c.b.WriteString(strings.Repeat(">", c.quote))
			c.b.WriteByte(' ')
		}
	} else if c.space {
		c.b.WriteByte(' ')
	}
	c.space = false
	c.nl = 0
	c.started = true
}

func (c *htmlConv) text(s string) {
	if c.pre > 0 {
		for i, line := range strings.Split(s, "\n") {
			if i > 0 {
				c.newline()
			}
			if line != "" {
				c.startText()
				c.b.WriteString(line)
			}
		}
		return
	}
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		if unicode.IsSpace(r) || r == '\u00a0' {
			if c.started && c.nl == 0 {
				c.space = true
			}
			continue
		}
		c.startText()
		c.b.WriteRune(r)
	}
}

// attrs are the attributes the converter looks at; others are not even
// copied (an HTML body of a million tags must not cost a map each).
type attrs struct {
	href, alt, class, id, typ, style string
}

func readAttrs(z *html.Tokenizer, hasAttr bool) attrs {
	var a attrs
	for hasAttr {
		k, v, more := z.TagAttr()
		switch string(k) {
		case "href":
			a.href = string(v)
		case "alt":
			a.alt = string(v)
		case "class":
			a.class = strings.ToLower(string(v))
		case "id":
			a.id = strings.ToLower(string(v))
		case "type":
			a.typ = string(v)
		case "style":
			a.style = strings.ToLower(string(v))
		}
		hasAttr = more
	}
	return a
}

func hasClass(a attrs, sub string) bool {
	return strings.Contains(a.class, sub)
}

// quoteContainer classifies an element in strip mode: skip its subtree,
// or cut the rest of the document; strong says only a mail client writes
// it for quoted history.
func quoteContainer(name string, a attrs) (skip, cutRest, strong bool) {
	id := a.id
	switch {
	case strings.HasSuffix(id, "divrplyfwdmsg") || strings.HasSuffix(id, "appendonsend") ||
		id == "mail-editor-reference-message-container" || name == "hr" && id == "zwchr":
		return false, true, true
	case hasClass(a, "gmail_quote") || hasClass(a, "yahoo_quoted") || strings.Contains(id, "yahoo_quoted") ||
		hasClass(a, "moz-cite-prefix") || hasClass(a, "protonmail_quote") || hasClass(a, "zmail_extra"):
		return true, false, true
	case name == "blockquote":
		if strings.EqualFold(a.typ, "cite") {
			return true, false, true
		}
		if indentOnly(a) {
			return false, false, false
		}
		return true, false, false
	}
	return false, false, false
}

// indentOnly reports a blockquote that is layout, not a quote: Gmail's
// "indent" is a blockquote without a border.
func indentOnly(a attrs) bool {
	if strings.EqualFold(a.typ, "cite") {
		return false
	}
	st := strings.ReplaceAll(a.style, " ", "")
	return strings.Contains(st, "border:none") && !strings.Contains(st, "border-left")
}

func sameLink(text, href string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		for _, p := range []string{"mailto:", "https://", "http://", "www."} {
			s = strings.TrimPrefix(s, p)
		}
		return strings.TrimRight(s, "/")
	}
	return norm(text) == norm(href)
}

// convertHTML converts HTML to text. In strip mode quote containers are
// left out, each replaced by one ">" line, so that StripQuoted also
// removes the attribution written above them.
func convertHTML(s string, strip bool, max int) (string, bool) {
	c := &htmlConv{max: max}
	z := html.NewTokenizer(strings.NewReader(s))
	skipName, skipDepth := "", 0
	strongFound := false
	placeholder := func() {
		c.lineBreak(1)
		c.started = true
		c.b.WriteString(">\n")
		c.nl = 1
	}
loop:
	for !c.full() {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			break loop
		case html.TextToken:
			if skipDepth > 0 {
				continue
			}
			c.text(string(z.Text()))
		case html.StartTagToken, html.SelfClosingTagToken:
			nb, hasAttr := z.TagName()
			name := string(nb)
			if skipDepth > 0 {
				if name == skipName && tt == html.StartTagToken {
					skipDepth++
				}
				continue
			}
			a := readAttrs(z, hasAttr)
			if strip {
				skip, cutRest, strong := quoteContainer(name, a)
				strongFound = strongFound || strong
				if cutRest {
					placeholder()
					break loop
				}
				if skip && tt == html.StartTagToken {
					placeholder()
					skipName, skipDepth = name, 1
					continue
				}
			}
			if skipContent[name] && tt == html.StartTagToken {
				skipName, skipDepth = name, 1
				continue
			}
			c.startTag(name, a, tt == html.SelfClosingTagToken)
		case html.EndTagToken:
			nb, _ := z.TagName()
			name := string(nb)
			if skipDepth > 0 {
				if name == skipName {
					skipDepth--
				}
				continue
			}
			c.endTag(name)
		}
	}
	return cleanText(c.b.String(), max), strongFound
}

func (c *htmlConv) startTag(name string, a attrs, selfClosing bool) {
	switch name {
	case "br":
		if !c.started {
			c.started = true
		}
		c.newline()
	case "p", "h1", "h2", "h3", "h4", "h5", "h6":
		c.msoP = name == "p" && hasClass(a, "msonormal")
		if c.msoP {
			c.lineBreak(1)
		} else {
			c.lineBreak(2)
		}
	case "li":
		c.lineBreak(1)
		indent := strings.Repeat("  ", max(0, len(c.lists)-1))
		bullet := "- "
		if n := len(c.lists); n > 0 && c.lists[n-1].ordered {
			c.lists[n-1].n++
			bullet = strconv.Itoa(c.lists[n-1].n) + ". "
		}
		c.startText()
		c.b.WriteString(indent + bullet)
	case "ul", "ol":
		c.lineBreak(1)
		if !selfClosing {
			c.lists = append(c.lists, htmlList{ordered: name == "ol"})
		}
	case "a":
		if !selfClosing {
			c.links = append(c.links, htmlLink{href: strings.TrimSpace(a.href), start: c.b.Len()})
		}
	case "img":
		if n := len(c.links); n > 0 && c.links[n-1].alt == "" {
			c.links[n-1].alt = strings.TrimSpace(a.alt)
		}
	case "td", "th":
		if c.started && c.nl == 0 {
			c.space = true
		}
	case "blockquote":
		c.lineBreak(1)
		if !selfClosing {
			q := !indentOnly(a)
			c.bq = append(c.bq, q)
			if q {
				c.quote++
			}
		}
	case "pre":
		c.lineBreak(1)
		if !selfClosing {
			c.pre++
		}
	default:
		if blockTags[name] {
			c.lineBreak(1)
		}
	}
}

func (c *htmlConv) endTag(name string) {
	switch name {
	case "p", "h1", "h2", "h3", "h4", "h5", "h6":
		if c.msoP {
			c.lineBreak(1)
		} else {
			c.lineBreak(2)
		}
		c.msoP = false
	case "ul", "ol":
		if n := len(c.lists); n > 0 {
			c.lists = c.lists[:n-1]
		}
		c.lineBreak(1)
	case "a":
		n := len(c.links)
		if n == 0 {
			return
		}
		l := c.links[n-1]
		c.links = c.links[:n-1]
		href := l.href
		low := strings.ToLower(href)
		if href == "" || strings.HasPrefix(low, "#") || strings.HasPrefix(low, "javascript:") ||
			strings.HasPrefix(low, "cid:") || l.start > c.b.Len() {
			return
		}
		text := strings.TrimSpace(c.b.String()[l.start:])
		if text == "" {
			text = l.alt
			if text == "" {
				return
			}
			c.startText()
			c.b.WriteString(text)
		}
		if strings.HasPrefix(low, "mailto:") {
			href = href[len("mailto:"):]
			if i := strings.IndexByte(href, '?'); i >= 0 {
				href = href[:i]
			}
			if strings.Contains(strings.ToLower(text), strings.ToLower(href)) {
				return
			}
		}
		if sameLink(text, href) {
			return
		}
		c.space = true
		c.startText()
		c.b.WriteString("(" + href + ")")
	case "td", "th":
		if c.started && c.nl == 0 {
			c.space = true
		}
	case "blockquote":
		c.lineBreak(1)
		if n := len(c.bq); n > 0 {
			if c.bq[n-1] && c.quote > 0 {
				c.quote--
			}
			c.bq = c.bq[:n-1]
		}
	case "pre":
		if c.pre > 0 {
			c.pre--
		}
		c.lineBreak(1)
	default:
		if blockTags[name] {
			c.lineBreak(1)
		}
	}
}

// cleanText trims line ends, folds runs of blank lines into one, trims
// the whole and caps it.
func cleanText(s string, max int) string {
	lines := strings.Split(s, "\n")
	var b strings.Builder
	blankRun := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\u00a0")
		if strings.TrimSpace(l) == "" {
			blankRun++
			if blankRun > 1 {
				continue
			}
			l = ""
		} else {
			blankRun = 0
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return truncate(strings.TrimSpace(b.String()), max)
}
