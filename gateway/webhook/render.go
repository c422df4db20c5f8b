// Package webhook renders and delivers the webhooks triggers fire
// (issue 15): a firing enqueues a delivery in the mail's own store write
// (the body rendered then, from public fields only), and the Worker POSTs
// it from the durable queue, outside any write, so a slow or hanging
// receiver never slows intake.
//
// # What a webhook carries
//
// Public fields only: the ticket's number, subject, status, priority,
// type, group, tags, mailbox and times, the assigned agent's display
// name (never an address), the trigger's name and the update's events.
// Never the requester's or anyone's address, comments or their text,
// private notes, side threads, followers or CCs.
package webhook

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Ticket is the public part of a ticket a webhook carries.
type Ticket struct {
	Number   uint64    `json:"number"`
	Subject  string    `json:"subject"`
	Status   string    `json:"status"`
	Priority string    `json:"priority"`
	Type     string    `json:"type,omitempty"`
	Group    string    `json:"group,omitempty"`
	Assignee string    `json:"assignee,omitempty"` // the agent's display name
	Tags     []string  `json:"tags"`
	Mailbox  string    `json:"mailbox"` // the support address customers write to
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// Payload is what format "json" sends, and what the others are made of.
type Payload struct {
	Event   string    `json:"event"`   // "trigger" or "automation": what fired
	Trigger string    `json:"trigger"` // the [[trigger]] name
	Events  []string  `json:"events"`  // what the update did: created, customer-comment, ...
	Ticket  Ticket    `json:"ticket"`
	At      time.Time `json:"at"`
}

// Render makes the body of one delivery in format (slack, teams, json).
func Render(format string, p Payload) ([]byte, error) {
	if p.Ticket.Tags == nil {
		p.Ticket.Tags = []string{}
	}
	if p.Events == nil {
		p.Events = []string{}
	}
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "json":
		return json.Marshal(p)
	case "slack":
		// Slack incoming webhooks take {"text": ...} (mrkdwn).
		return json.Marshal(map[string]string{"text": slackText(p)})
	case "teams":
		return json.Marshal(teamsMessage(p))
	}
	return nil, fmt.Errorf("webhook: unknown format %q", format)
}

// title is the one-line summary every format starts with.
func title(p Payload) string {
	return fmt.Sprintf("Ticket #%d: %s", p.Ticket.Number, p.Ticket.Subject)
}

// facts are the fields shown under the title, in order.
func facts(p Payload) [][2]string {
	or := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return [][2]string{
		{"Status", p.Ticket.Status}, {"Priority", p.Ticket.Priority}, {"Group", or(p.Ticket.Group)},
		{"Assignee", or(p.Ticket.Assignee)}, {"Tags", or(strings.Join(p.Ticket.Tags, ", "))},
		{"Event", strings.Join(p.Events, ", ")}, {"Trigger", p.Trigger},
	}
}

// slackEscape escapes what Slack's mrkdwn treats as markup.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slackText(p Payload) string {
	var b strings.Builder
	b.WriteString("*" + slackEscape.Replace(title(p)) + "*")
	for _, f := range facts(p) {
		fmt.Fprintf(&b, "\n%s: %s", f[0], slackEscape.Replace(f[1]))
	}
	return b.String()
}

// teamsMessage is a message with one Adaptive Card attachment, the payload
// Teams workflow ("Post to a channel when a webhook request is received")
// webhooks accept.
func teamsMessage(p Payload) any {
	var fs []map[string]string
	for _, f := range facts(p) {
		fs = append(fs, map[string]string{"title": f[0], "value": f[1]})
	}
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body": []any{
			map[string]any{"type": "TextBlock", "text": title(p), "weight": "Bolder", "size": "Medium", "wrap": true},
			map[string]any{"type": "FactSet", "facts": fs},
		},
	}
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	}
}
