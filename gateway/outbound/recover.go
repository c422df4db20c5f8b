package outbound

import (
	"fmt"

	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/threading"
)

// recoverAttachments repairs a queued mail written by a helpdesk that did
// not persist Attachment.Part and Attachment.Message (their JSON tags were
// "-"): such an item names its files but not where their bytes are, and
// used to retry for days on "reading attachments of message 0". Every mail
// that carries an author's files includes the author's comment, and the
// comment keeps the id of its raw message: the files are found again by
// parsing that message as ingest did and matching name, content type and
// size. It returns o unchanged when nothing is missing, a repaired copy, or
// a permanent error saying why the files cannot be found.
func (w *Worker) recoverAttachments(o *model.Outbound) (*model.Outbound, error) {
	lost := false
	for _, a := range o.Attach {
		if a.Message == 0 || a.Part == "" {
			lost = true
		}
	}
	if !lost {
		return o, nil
	}
	fail := func(format string, args ...any) error {
		return permanentError{fmt.Errorf("queued by an older helpdesk that did not store where its attachments are; "+format, args...)}
	}
	if o.Include == nil {
		return nil, fail("the mail includes no comment to find them through")
	}
	var msg *model.Message
	err := w.db.View(func(tx store.Tx) error {
		c, err := tx.Comment(o.Include.Ticket, o.Include.Comment)
		if err != nil {
			return fmt.Errorf("reading comment %d of ticket %d: %w", o.Include.Comment, o.Include.Ticket, err)
		}
		if c.Message == 0 {
			return fmt.Errorf("comment %d of ticket %d came from no stored mail", c.ID, c.Ticket)
		}
		msg, err = tx.Message(c.Message)
		if err != nil {
			return fmt.Errorf("reading message %d: %w", c.Message, err)
		}
		return nil
	})
	if err != nil {
		return nil, fail("%w", err)
	}
	rc, err := w.db.OpenRaw(msg)
	if err != nil {
		return nil, fail("reading message %d: %w", msg.ID, err)
	}
	// The options that decide which parts are attachments, and their
	// names and sizes, are the defaults ingest used too.
	m := threading.Parse(rc, threading.ParseOptions{})
	rc.Close()
	found := m.Attachments
	used := make([]bool, len(found))
	x := *o
	x.Attach = append([]model.Attachment(nil), o.Attach...)
	for i, a := range x.Attach {
		if a.Message != 0 && a.Part != "" {
			continue
		}
		j := 0
		for ; j < len(found); j++ {
			f := found[j]
			if !used[j] && f.Name == a.Name && f.ContentType == a.ContentType && f.Size == a.Size {
				break
			}
		}
		if j == len(found) {
			return nil, fail("%q (%s, %d bytes) is not in message %d", a.Name, a.ContentType, a.Size, msg.ID)
		}
		used[j] = true
		x.Attach[i].Message, x.Attach[i].Part = msg.ID, found[j].Part
	}
	w.log.Info("outbound: found the attachments of a mail queued by an older helpdesk", "id", o.ID, "message", msg.ID, "files", len(x.Attach))
	return &x, nil
}
