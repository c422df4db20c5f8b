package engine

import (
	"fmt"
	"strings"
	"sync"

	"helpdesk/config"
	"helpdesk/gateway/kb"
	"helpdesk/gateway/mailtext"
	"helpdesk/store/model"
	"helpdesk/threading"
)

// Customer texts (issue 15 item 5): the acknowledgement, the follow-up
// acknowledgement and the merge notices are rendered from the templates
// of gateway/mailtext, in the customer's language, with the knowledge
// base's suggestions (item 4). The texts are loaded by the daemon at
// start and on SIGHUP (SetTexts), never per mail.

// builtinTexts are the shipped templates, for an engine given none.
var builtinTexts = sync.OnceValue(mailtext.Defaults)

// SetTexts swaps the templates and the knowledge base (start, SIGHUP).
func (e *Engine) SetTexts(t *mailtext.Texts) { e.textsP.Store(t) }

// texts returns the current templates and knowledge base.
func (e *Engine) texts() *mailtext.Texts {
	if t := e.textsP.Load(); t != nil {
		return t
	}
	return builtinTexts()
}

// customerLanguage picks a new ticket's language: the profile's, else the
// mail's text (Hangul → ko), else the mailbox's. Subject and body are
// read in place (joining them copied the body for every new ticket).
func (a *applier) customerLanguage(mb *config.Mailbox) string {
	return mailtext.Language(a.profileLanguage(a.in.sender), []string{a.mail().Subject, a.bodyText()}, mb.Language)
}

// ticketLanguage is the language of mail to tk's customer: the one its
// ticket opened in (tickets older than languages: the mailbox's).
func (a *applier) ticketLanguage(tk *model.Ticket) string {
	if tk.Language != "" {
		return tk.Language
	}
	return a.mailboxOf(tk).Language
}

// publicData is what a template may see of tk.
func (a *applier) publicData(tk *model.Ticket, mb *config.Mailbox, name string) mailtext.Data {
	return mailtext.Data{
		Ticket:    mailtext.Ticket{Number: tk.ID, Tag: threading.Tag(a.cfg.Threading.TagPrefix, tk.ID), Subject: tk.Subject, Status: tk.Status},
		Requester: mailtext.Person{Name: strings.TrimSpace(name)},
		Mailbox:   mailtext.Mailbox{Name: mb.Name},
	}
}

// ackText renders a new ticket's acknowledgement and records the
// knowledge-base articles it suggests on tk.
func (a *applier) ackText(tk *model.Ticket, mb *config.Mailbox, name string) (string, error) {
	tx := a.e.texts()
	d := a.publicData(tk, mb, name)
	tk.Suggestions = nil
	var hits []kb.Hit
	if tx.KB.Len() > 0 { // without articles, no copy of the text to rank
		hits = tx.KB.Suggest(tk.Subject+"\n"+a.bodyText(), 3, tx.MinScore)
	}
	for _, h := range hits {
		d.Suggestions = append(d.Suggestions, mailtext.Article{Title: h.Article.Title, URL: h.Article.URL})
		tk.Suggestions = append(tk.Suggestions, model.Suggestion{Article: h.Article.Name, Title: h.Article.Title, URL: h.Article.URL, Score: h.Score})
	}
	tmpl := mailtext.Ack
	for _, l := range tk.Links {
		if l.Kind == model.LinkFollowUpOf {
			tmpl = mailtext.FollowUpAck
			d.Earlier = &mailtext.Ref{Number: l.Ticket, Tag: threading.Tag(a.cfg.Threading.TagPrefix, l.Ticket)}
			break
		}
	}
	text, err := tx.Templates.Render(mb.Address, a.ticketLanguage(tk), tmpl, d)
	if err != nil {
		return "", fmt.Errorf("rendering the acknowledgement of #%d: %w", tk.ID, err)
	}
	return text, nil
}

// mergeText renders the note on into that tk was merged into it; who is
// tk's requester as shown ("Name <address>") when the requesters differ,
// "" otherwise.
func (a *applier) mergeText(tk, into *model.Ticket, who string) (string, error) {
	mb := a.mailboxOf(into)
	d := a.publicData(into, mb, "")
	d.Merged = &mailtext.Ref{Number: tk.ID, Tag: threading.Tag(a.cfg.Threading.TagPrefix, tk.ID), Subject: tk.Subject}
	tmpl := mailtext.Merge
	if who != "" {
		tmpl, d.Joined = mailtext.MergeJoined, who
		d.Merged.Subject = "" // the survivor's people never learn what the merged ticket was about
	}
	text, err := a.e.texts().Templates.Render(mb.Address, a.ticketLanguage(into), tmpl, d)
	if err != nil {
		return "", fmt.Errorf("rendering the merge notice of #%d: %w", tk.ID, err)
	}
	return strings.TrimRight(text, "\n"), nil
}
