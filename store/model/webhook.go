package model

import "time"

// Webhook delivery states (the outbound queue's words).
const (
	HookQueued    = "queued"
	HookDelivered = "delivered"
	HookFailed    = "failed" // gave up
)

// WebhookDelivery is one POST a trigger's firing queued, in the same store
// write as the firing: the body is rendered then (the ticket's public
// fields as the trigger left them), so a retry sends the same bytes and
// the receiver can deduplicate by ID (header X-Helpdesk-Delivery).
type WebhookDelivery struct {
	ID      uint64 `json:"id"`
	Webhook string `json:"webhook"` // the [[webhook]] name: url, secret and timeout are read at send time
	Ticket  uint64 `json:"ticket,omitempty"`
	Trigger string `json:"trigger"`
	Format  string `json:"format"`
	// Body is the JSON payload, rendered when the trigger fired.
	Body []byte `json:"body"`

	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error,omitempty"`
	Created     time.Time `json:"created"`
	Done        time.Time `json:"done,omitzero"`
}
