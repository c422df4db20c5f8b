package model

import "time"

// Report event kinds (SPEC 9, issue 16): what reports count, recorded in
// the store's event index by the write that made it happen.
const (
	// EvReceived: a ticket arrived (Group and Mailbox it arrived in,
	// Agent its assignee after that write).
	EvReceived = "received"
	// EvResolved: a ticket went from an unresolved status to resolved
	// (or straight to closed); Agent is the assignee at that moment and
	// Since the ticket's creation (the resolution time is At-Since).
	EvResolved = "resolved"
	// EvReopened: a resolved or closed ticket became unresolved again;
	// Agent is the assignee at that moment.
	EvReopened = "reopened"
	// EvFirstResponse: the ticket's first response (issue 14's
	// definition); Agent is who responded, Since the ticket's creation.
	EvFirstResponse = "first_response"
	// EvBreach: an SLA target was breached; Target names it.
	EvBreach = "sla_breach"
	// EvRating: the requester rated the ticket (Rating 1-5; Agent the
	// assignee then). A rating that replaces an earlier one is preceded
	// by the earlier one's withdrawal: Rating negated, Since when it was
	// given.
	EvRating = "csat"
)

// ReportEvent is one entry of the report event index, keyed by At.
type ReportEvent struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Ticket  uint64    `json:"ticket"`
	Group   string    `json:"group,omitempty"`
	Mailbox string    `json:"mailbox,omitempty"`
	Agent   string    `json:"agent,omitempty"`
	// Since starts the measured span of a first response or resolution
	// (the ticket's creation): reports turn it into business time with
	// the group's calendar as configured when they run.
	Since  time.Time `json:"since,omitzero"`
	Target string    `json:"target,omitempty"`
	Rating int       `json:"rating,omitempty"`
}
