package outbound

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"

	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/threading"
)

// RawOpener opens a stored raw message (to copy attachments from it).
type RawOpener func(messageID uint64) (io.ReadCloser, error)

// CommentText returns the text of a stored comment (Outbound.Include).
type CommentText func(ticket uint64, id uint32) (string, error)

// Body is the text of a queued mail: Text, the included comment, TextAfter.
func Body(o *model.Outbound, comment CommentText) (string, error) {
	if o.Include == nil {
		return o.Text + o.TextAfter, nil
	}
	if comment == nil {
		return "", fmt.Errorf("mail %d includes comment %d of ticket %d, but no comment reader was given", o.ID, o.Include.Comment, o.Include.Ticket)
	}
	c, err := comment(o.Include.Ticket, o.Include.Comment)
	if err != nil {
		return "", fmt.Errorf("reading comment %d of ticket %d: %w", o.Include.Comment, o.Include.Ticket, err)
	}
	return o.Text + c + o.TextAfter, nil
}

// Render builds the MIME message of a queued mail: multipart/alternative
// text and simple HTML, plus the author's attachments copied from the
// stored raw message (SPEC 2). MIME is written by go-message.
func Render(o *model.Outbound, open RawOpener, comment CommentText, now time.Time) ([]byte, error) {
	text, err := Body(o, comment)
	if err != nil {
		return nil, err
	}
	var h mail.Header
	h.SetDate(now)
	h.Set("From", o.From)
	if len(o.To) > 0 {
		h.Set("To", strings.Join(o.To, ", "))
	}
	if len(o.Cc) > 0 {
		h.Set("Cc", strings.Join(o.Cc, ", "))
	}
	if o.ReplyTo != "" {
		h.Set("Reply-To", o.ReplyTo)
	}
	h.SetSubject(o.Subject)
	h.SetMessageID(o.MessageID)
	if o.InReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{o.InReplyTo})
	}
	if len(o.References) > 0 {
		h.SetMsgIDList("References", o.References)
	}
	h.Set("MIME-Version", "1.0")
	for _, x := range o.Headers {
		h.Set(x.Name, x.Value)
	}

	files, err := attachments(o, open)
	if err != nil {
		return nil, err
	}
	htmlText := appendHTML(make([]byte, 0, htmlSize(text)), text)
	// The whole message in one allocation, as a rule: growing the buffer
	// from empty was the largest of Render's allocations. Quoted-printable
	// adds little to text (CR before each LF, soft breaks in long lines),
	// base64 a third plus line ends.
	size := 2048 + len(text) + len(htmlText) + (len(text)+len(htmlText))/8
	for _, f := range files {
		size += len(f.Data)*4/3 + len(f.Data)/38 + 512
	}
	var buf bytes.Buffer
	buf.Grow(size)
	mw, err := mail.CreateWriter(&buf, h)
	if err != nil {
		return nil, fmt.Errorf("creating message: %w", err)
	}
	iw, err := mw.CreateInline()
	if err != nil {
		return nil, err
	}
	if err := writePart(iw, "text/plain", []byte(text)); err != nil {
		return nil, err
	}
	if err := writePart(iw, "text/html", htmlText); err != nil {
		return nil, err
	}
	if err := iw.Close(); err != nil {
		return nil, err
	}
	for _, f := range files {
		var ah mail.AttachmentHeader
		ah.Set("Content-Type", f.ContentType)
		ah.SetFilename(f.Name)
		w, err := mw.CreateAttachment(ah)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.Data); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writePart(iw *mail.InlineWriter, ctype string, body []byte) error {
	var ph mail.InlineHeader
	ph.Set("Content-Type", mime.FormatMediaType(ctype, map[string]string{"charset": "utf-8"}))
	ph.Set("Content-Transfer-Encoding", "quoted-printable")
	w, err := iw.CreatePart(ph)
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Close()
}

// attachments collects generated files and the parts named in o.Attach,
// read back from the stored raw messages byte for byte (transfer-decoded,
// never charset-converted).
func attachments(o *model.Outbound, open RawOpener) ([]model.InlineFile, error) {
	files := append([]model.InlineFile(nil), o.AttachData...)
	byMsg := map[uint64][]model.Attachment{}
	var order []uint64
	for _, a := range o.Attach {
		if a.Message == 0 || a.Part == "" {
			// recoverAttachments fills these in for mail queued before
			// they were stored; one still empty here cannot be found.
			return nil, permanentError{fmt.Errorf("attachment %q has no stored message or part to copy it from", a.Name)}
		}
		if _, ok := byMsg[a.Message]; !ok {
			order = append(order, a.Message)
		}
		byMsg[a.Message] = append(byMsg[a.Message], a)
	}
	for _, id := range order {
		if open == nil {
			break
		}
		rc, err := open(id)
		if err != nil {
			err = fmt.Errorf("reading attachments of message %d: %w", id, err)
			if errors.Is(err, store.ErrNotFound) {
				// A stored message never comes back: retrying for days
				// changes nothing.
				return nil, permanentError{err}
			}
			return nil, err
		}
		var ids []string
		for _, a := range byMsg[id] {
			ids = append(ids, a.Part)
		}
		data, err := threading.PartBytes(rc, ids)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading attachments of message %d: %w", id, err)
		}
		for _, a := range byMsg[id] {
			b, ok := data[a.Part]
			if !ok {
				return nil, permanentError{fmt.Errorf("attachment %q: part %s is not in stored message %d", a.Name, a.Part, id)}
			}
			files = append(files, model.InlineFile{Name: a.Name, ContentType: a.ContentType, Data: b})
		}
	}
	return files, nil
}

// TextToHTML renders plain text as simple HTML: escaped, quoted lines in a
// blockquote, line breaks kept.
func TextToHTML(text string) string {
	return string(appendHTML(make([]byte, 0, htmlSize(text)), text))
}

// htmlSize is about what appendHTML adds for text: the frame, and per
// line a "<br>" and a line end.
func htmlSize(text string) int {
	return len(text) + 5*strings.Count(text, "\n") + 256
}

// appendHTML appends TextToHTML(text) to dst.
func appendHTML(dst []byte, text string) []byte {
	dst = append(dst, "<!DOCTYPE html>\n<html><body><div style=\"font-family: sans-serif; white-space: normal\">\n"...)
	inQuote := false
	for rest, more := text, true; more; {
		var line string
		line, rest, more = strings.Cut(rest, "\n")
		if more {
			line = strings.TrimSuffix(line, "\r") // "\r\n" ends a line as "\n" does
		}
		q := strings.HasPrefix(line, ">")
		if q != inQuote {
			if q {
				dst = append(dst, "<blockquote style=\"margin:0 0 0 .8ex;border-left:1px solid #ccc;padding-left:1ex\">\n"...)
			} else {
				dst = append(dst, "</blockquote>\n"...)
			}
			inQuote = q
		}
		if q {
			line = strings.TrimPrefix(strings.TrimPrefix(line, ">"), " ")
		}
		// EscapeString returns line itself when nothing needs escaping.
		dst = append(dst, html.EscapeString(line)...)
		dst = append(dst, "<br>\n"...)
	}
	if inQuote {
		dst = append(dst, "</blockquote>\n"...)
	}
	return append(dst, "</div></body></html>\n"...)
}
