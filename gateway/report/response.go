package report

import (
	"time"

	"helpdesk/store/model"
)

// FirstResponse is when the ticket's first response went out (zero:
// none yet): issue 14's response, set by the engine's markResponse.
func FirstResponse(tk *model.Ticket) time.Time { return firstResponse(tk) }

func firstResponse(tk *model.Ticket) time.Time {
	if tk.FirstResponseAt == nil {
		return time.Time{}
	}
	return *tk.FirstResponseAt
}

// breach is one recorded SLA breach of a ticket.
type breach struct {
	target string
	start  int64 // the target instance's start (unix seconds)
	at     int64 // when the breach was recorded
}

// breaches lists the ticket's recorded SLA breaches (SLAMarks with
// Breached set).
func breaches(tk *model.Ticket) []breach {
	var out []breach
	for _, m := range tk.SLAMarks {
		if m.Breached != 0 {
			out = append(out, breach{target: m.Kind, start: m.Start, at: m.Breached})
		}
	}
	return out
}
