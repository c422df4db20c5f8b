package model

import "time"

// Timer is one pending instant of the scheduler (issue 14 item 6): at At,
// the engine's timer source Kind looks at ticket Ticket again. A ticket
// has at most one timer per kind; setting one replaces the earlier one.
type Timer struct {
	Ticket uint64    `json:"ticket"`
	Kind   string    `json:"kind"`
	At     time.Time `json:"at"`
}

// AutoState is a ticket's part of the automations (issue 14 item 5):
// the last activity by a person, and which automations fired in their
// current condition epoch. (The other instants they measure from are the
// ticket's: Created, StatusLog, LastCustomerAt, LastResponseAt,
// ResolvedAt, SLAMarks.)
type AutoState struct {
	// Activity is the last update by a person or a mail ("updated" of
	// the automations): an automation's own change is none, so a rule on
	// "updated more than 24h ago" does not restart its wait by firing.
	// Zero: Ticket.Updated.
	Activity time.Time `json:"activity,omitzero"`
	// Fired maps the name of each automation that fired in its current
	// condition epoch to when it fired; the entry goes at the first look
	// that finds its condition false (the epoch ends).
	Fired map[string]time.Time `json:"fired,omitempty"`
}
