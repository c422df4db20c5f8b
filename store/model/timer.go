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
