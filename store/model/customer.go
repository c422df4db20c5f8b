package model

import (
	"slices"
	"time"
)

// Customer is an end user's profile (SPEC 8): created with the first mail
// an address sends (or is CC'd on), kept for every address the customer
// uses. Staff never have one. Profiles are staff-only data: nothing of
// them is ever mailed to an end user (SPEC 6).
type Customer struct {
	ID   uint64 `json:"id"`
	Name string `json:"name,omitempty"`
	// Addresses are the customer's normalized addresses; the first is the
	// primary one. Each belongs to one customer only (the store's index
	// address -> customer).
	Addresses []string `json:"addresses"`
	// Organization is the [[organization]] whose domains one of the
	// addresses is in ("" none), as last matched.
	Organization string `json:"organization,omitempty"`
	// Tags are added to every new ticket the customer requests.
	Tags []string `json:"tags,omitempty"`
	// Notes are staff notes, oldest first.
	Notes []CustomerNote `json:"notes,omitempty"`
	// Language ("en", "ko") wins over the mail's script and the mailbox
	// for the customer's automatic mail; "" = not set.
	Language string `json:"language,omitempty"`
	// TimeZone is an IANA zone name ("" = not set).
	TimeZone string    `json:"time_zone,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// Primary is the customer's primary address.
func (c *Customer) Primary() string {
	if len(c.Addresses) == 0 {
		return ""
	}
	return c.Addresses[0]
}

// HasAddress reports whether addr (normalized) is one of the customer's.
func (c *Customer) HasAddress(addr string) bool { return slices.Contains(c.Addresses, addr) }

// CustomerNote is one staff note on a profile.
type CustomerNote struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	Text string    `json:"text"`
}

// Roles of a customer on a ticket (Customers.LinkCustomerTicket).
const (
	CustomerRequester = "requester"
	CustomerCC        = "cc"
)

// Customer activity kinds (the timeline).
const (
	ActTicket  = "ticket"  // requested a new ticket
	ActComment = "comment" // wrote on a ticket
	ActCC      = "cc"      // was CC'd on a ticket
	ActProfile = "profile" // staff changed the profile (tag, note, language, address)
	ActMerge   = "merge"   // another profile was merged into this one
)

// CustomerActivity is one entry of a customer's timeline, listed newest
// first by At.
type CustomerActivity struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Ticket uint64    `json:"ticket,omitempty"`
	// By is who did it: the customer's address for their mail, a staff
	// address for profile changes.
	By   string `json:"by,omitempty"`
	Text string `json:"text"`
}

// CustomerBackfill is the progress of building profiles for the
// requesters and CCs of tickets stored before profiles existed.
type CustomerBackfill struct {
	// Next is the lowest ticket id not yet looked at.
	Next uint64 `json:"next"`
	Done bool   `json:"done"`
}
