package engine

import (
	"fmt"
	"slices"

	"helpdesk/gateway/rules"
	"helpdesk/gateway/webhook"
	"helpdesk/store/model"
)

// ruleWebhook queues the trigger's webhook delivery in this write, so the
// firing and its delivery are committed together (and a rolled-back
// write, an explain's, queues nothing). The body is rendered now, from the
// ticket as the trigger left it and its public fields only (package
// webhook says which); the worker sends it later.
func (a *applier) ruleWebhook(tk *model.Ticket, tr *rules.Trigger, events []string) error {
	if tr.Webhook == "" {
		return nil
	}
	wh := a.cfg.WebhookNamed(tr.Webhook)
	a.trace.webhook(tk, tr.Name, tr.Webhook, wh)
	if wh == nil {
		// check-config refuses this; a reload that removed the webhook
		// leaves the trigger's firing recorded and says so.
		return a.event(tk, fmt.Sprintf("%s %q: no [[webhook]] is named %q; nothing was sent", ruleWord(tr), tr.Name, tr.Webhook))
	}
	p := webhook.Payload{Event: ruleWord(tr), Trigger: tr.Name, Events: slices.Clone(events), At: a.now,
		Ticket: webhook.Ticket{Number: tk.ID, Subject: tk.Subject, Status: tk.Status, Priority: tk.Priority, Type: tk.Type,
			Group: tk.Group, Tags: slices.Clone(tk.Tags), Mailbox: tk.Mailbox, Created: tk.Created, Updated: tk.Updated}}
	if tk.Assignee != "" {
		// The agent's display name: staff addresses never leave.
		if ag := a.cfg.Agent(tk.Assignee); ag != nil {
			p.Ticket.Assignee = ag.Name
		}
	}
	body, err := webhook.Render(wh.Format, p)
	if err != nil {
		return fmt.Errorf("rendering webhook %q: %w", wh.Name, err)
	}
	return a.tx.EnqueueWebhook(&model.WebhookDelivery{Webhook: wh.Name, Ticket: tk.ID, Trigger: tr.Name, Format: wh.Format, Body: body})
}
