package threading

import (
	"bufio"
	"fmt"
	"io"
	"mime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-message"
)

// parseLarge streams a message with go-message (used above
// ParseOptions.LargeThreshold, and for structures too deep or too many
// parts for enmime's recursive parser): every part is transfer-decoded as it passes; the first
// text/plain and text/html body parts are kept (up to MaxTextBytes) and
// decoded with our charsets; attachments are only measured, never held.
// It returns the body text and HTML. A part go-message cannot read ends
// the walk with a note; what was read so far is kept (the raw message is
// stored anyway).
func parseLarge(m *Mail, r io.Reader, opt ParseOptions) (text, htmlBody string, forward *Mail) {
	ent, err := message.ReadWithOptions(bufio.NewReader(r), &message.ReadOptions{MaxHeaderBytes: -1})
	if ent == nil {
		m.ParseErrors = append(m.ParseErrors, "parsing MIME: "+err.Error())
		return "", "", nil
	}
	if n := headerSize(ent.Header); n > opt.MaxHeaderBytes {
		m.ParseErrors = append(m.ParseErrors, fmt.Sprintf("header block larger than %d bytes (%d)", opt.MaxHeaderBytes, n))
	}
	fillHeaders(m, goHeaders{ent.Header})
	st := &streamer{m: m, opt: opt}
	if err := st.entity(ent, nil, 0, false); err != nil {
		m.ParseErrors = append(m.ParseErrors, "parsing MIME: "+err.Error())
	}
	fixHeaders(m, st.hint)
	// Attachments first, then inline parts, as the enmime path lists them.
	sort.SliceStable(m.Attachments, func(i, j int) bool { return !m.Attachments[i].Inline && m.Attachments[j].Inline })
	return st.text, st.html, st.forward
}

func headerSize(h message.Header) int {
	n := 0
	for f := h.Fields(); f.Next(); {
		n += len(f.Key()) + len(f.Value()) + 4
	}
	return n
}

// streamer walks a go-message entity tree with depth and part limits.
type streamer struct {
	m                  *Mail
	opt                ParseOptions
	parts              int
	hint               string
	text, html         string
	haveText, haveHTML bool
	// forward is the first attached message outside a report, parsed
	// while it streams past (SPEC 3.5: an agent forwarding a mail).
	forward *Mail
}

func (st *streamer) entity(e *message.Entity, path []int, depth int, inReport bool) error {
	if mr := e.MultipartReader(); mr != nil {
		if depth >= st.opt.MaxDepth {
			// Deeper structure is kept raw (in the stored message) and
			// listed as one opaque part.
			n, _ := io.Copy(io.Discard, e.Body)
			st.m.ParseErrors = append(st.m.ParseErrors, fmt.Sprintf("part %s: MIME nesting deeper than %d levels; not read", enmimePartID(path), st.opt.MaxDepth))
			st.m.Attachments = append(st.m.Attachments, attachmentOf("", "multipart/mixed", n, false, enmimePartID(path)))
			return nil
		}
		for i := 0; ; i++ {
			p, err := mr.NextPart()
			if err == io.EOF {
				return nil
			}
			if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
				return err
			}
			if st.parts++; st.parts > st.opt.MaxParts {
				return fmt.Errorf("more than %d MIME parts; the rest was not read", st.opt.MaxParts)
			}
			child := append(append([]int(nil), path...), i)
			mt, _, _ := e.Header.ContentType()
			if err := st.entity(p, child, depth+1, inReport || strings.EqualFold(mt, "multipart/report")); err != nil {
				return err
			}
		}
	}
	st.leaf(e, path, inReport)
	return nil
}

// capBuffer keeps the first max bytes written to it.
type capBuffer struct {
	b   []byte
	max int
}

func (c *capBuffer) Write(p []byte) (int, error) {
	if room := c.max - len(c.b); room > 0 {
		c.b = append(c.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (st *streamer) leaf(e *message.Entity, path []int, inReport bool) {
	m, opt := st.m, st.opt
	defer io.Copy(io.Discard, e.Body)
	mt, params, _ := e.Header.ContentType()
	mt = strings.ToLower(mt)
	disp, dparams, _ := e.Header.ContentDisposition()
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	name = decodeWords(name)
	attached := strings.EqualFold(disp, "attachment") || name != ""
	inline := strings.EqualFold(disp, "inline")
	part := enmimePartID(path)
	switch {
	case (mt == "text/plain" || mt == "") && !attached && !st.haveText,
		mt == "text/html" && !attached && !st.haveHTML:
		b, rerr := io.ReadAll(io.LimitReader(e.Body, int64(opt.MaxTextBytes)+1))
		if rerr != nil {
			m.ParseErrors = append(m.ParseErrors, fmt.Sprintf("part %s: %v", part, rerr))
		}
		if len(b) > opt.MaxTextBytes {
			b = b[:opt.MaxTextBytes]
			m.TextTruncated = true
		}
		// go-message leaves charsets other than UTF-8 and US-ASCII
		// undecoded (no CharsetReader is set): decode them here.
		t, used, problem, note := decodeTextAs(b, params["charset"], mt == "text/html")
		if problem != "" {
			m.CharsetProblems = append(m.CharsetProblems, fmt.Sprintf("part %s: %s", part, problem))
		}
		if note != "" {
			m.ParseErrors = append(m.ParseErrors, fmt.Sprintf("part %s: %s", part, note))
		}
		if st.hint == "" {
			st.hint = used
		}
		if mt == "text/html" {
			st.html, st.haveHTML = t, true
			return
		}
		if strings.EqualFold(params["format"], "flowed") {
			t = unflow(t, strings.EqualFold(params["delsp"], "yes"))
		}
		st.text, st.haveText = t, true
	case (mt == "message/rfc822" || mt == "message/global") && !inReport && st.forward == nil && opt.depth == 0:
		// Parse the attached message as it streams past (it may be the
		// large part), keeping its head for the report rules too.
		head := &capBuffer{max: maxReportPart}
		cr := &countingReader{r: io.TeeReader(e.Body, head)}
		sub := opt
		sub.depth++
		st.forward = Parse(cr, sub)
		m.ReportParts = append(m.ReportParts, ReportPart{ContentType: mt, Content: head.b})
		m.Attachments = append(m.Attachments, attachmentOf(name, mt, cr.n, inline, part))
	case isReportType(mt):
		b, _ := io.ReadAll(io.LimitReader(e.Body, maxReportPart))
		m.ReportParts = append(m.ReportParts, ReportPart{ContentType: mt, Content: b})
		if mt == "message/rfc822" || mt == "message/global" {
			n, _ := io.Copy(io.Discard, e.Body)
			m.Attachments = append(m.Attachments, attachmentOf(name, mt, int64(len(b))+n, inline, part))
		}
	default:
		n, _ := io.Copy(io.Discard, e.Body)
		m.Attachments = append(m.Attachments, attachmentOf(name, mt, n, inline, part))
	}
}

func isReportType(mt string) bool {
	switch mt {
	case "message/delivery-status", "message/global-delivery-status", "text/delivery-status",
		"message/feedback-report", "message/disposition-notification", "message/global-disposition-notification",
		"message/rfc822", "message/global", "message/partial",
		"text/rfc822-headers", "text/rfc822-header", "message/global-headers":
		return true
	}
	return false
}

// enmimePartID names a go-message part path the way enmime numbers parts
// ("1", "2.1", ...), so the outbound side can find an attachment again in
// the stored raw message.
func enmimePartID(path []int) string {
	if len(path) == 0 {
		return "0"
	}
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = strconv.Itoa(p + 1)
	}
	return strings.Join(parts, ".")
}

// goHeaders reads headers through go-message.
type goHeaders struct{ h message.Header }

func (g goHeaders) keys() []string {
	var out []string
	seen := map[string]bool{}
	for f := g.h.Fields(); f.Next(); {
		k := f.Key()
		if !seen[strings.ToLower(k)] {
			seen[strings.ToLower(k)] = true
			out = append(out, k)
		}
	}
	return out
}

func (g goHeaders) values(key string) []string {
	vs := g.h.Values(key)
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = decodeWords(v)
	}
	return out
}

func (g goHeaders) addresses(key string) []Address {
	return addressList(g.h.Get(key))
}

func (g goHeaders) date() (time.Time, bool) {
	v := g.h.Get("Date")
	if v == "" {
		return time.Time{}, false
	}
	d, ok := parseDate(v)
	return d, ok && !d.IsZero()
}

func (g goHeaders) contentType() (string, map[string]string) {
	mt, params, err := mime.ParseMediaType(g.h.Get("Content-Type"))
	if err != nil {
		return "", nil
	}
	return mt, params
}
