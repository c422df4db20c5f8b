package control

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"helpdesk/gateway/report"
	"helpdesk/store"
	"helpdesk/store/model"
)

// The CLI's reports (helpdesk report) and ticket export (helpdesk
// export), issue 16 items 3 and 4.

// Report builds a report over the whole team (the CLI is an admin's).
// In the daemon it reads in short read transactions and yields to mail
// coming in (report.Paced, engine.ReportPace).
func (l *Local) Report(period, by string) (*report.Report, error) {
	return report.Build(l.paced(), l.config(), report.Request{Period: period, By: by, Now: l.now()})
}

// paced reads the store in short read transactions; in the daemon it
// yields to mail coming in.
func (l *Local) paced() *report.Paced {
	src := &report.Paced{View: l.DB.View}
	if l.Engine != nil {
		src.Pace = l.Engine.ReportPace()
	}
	return src
}

// ExportFormats are helpdesk export's formats.
var ExportFormats = []string{"jsonl", "csv"}

// ExportTicket is one line of helpdesk export's JSON lines: the ticket
// as stored, with its comments, oldest first.
type ExportTicket struct {
	*model.Ticket
	Comments []*model.Comment `json:"comments"`
}

// ExportColumns are the columns of helpdesk export --format csv.
var ExportColumns = []string{"ticket", "subject", "status", "priority", "type", "mailbox", "group", "requester", "assignee",
	"tags", "created", "updated", "first_response_at", "resolved_at", "closed_at", "comments"}

// Export writes the tickets created in [from, to) (found through the
// report index, in creation order) to w: JSON lines of each ticket with
// its comments, or a CSV ticket list. It returns how many it wrote.
//
// Each ticket is read with its comments in a read transaction of its own
// and written to w outside it (the index through report.Paced, a day per
// transaction): w is the CLI's socket, and a year's export to a slow
// reader held one read transaction open for as long, which in bbolt a
// growing file's remap (and with it every mail's write) waits for. In the
// daemon it yields to mail coming in, as a report does.
func (l *Local) Export(w io.Writer, from, to time.Time, format string) (int, error) {
	if format == "" {
		format = "jsonl"
	}
	if format != "jsonl" && format != "csv" {
		return 0, fmt.Errorf("unknown export format %q: use jsonl or csv", format)
	}
	src := l.paced()
	var ids []uint64
	if err := src.ReportEvents(from, to, func(ev *model.ReportEvent) error {
		if ev.Kind == model.EvReceived {
			ids = append(ids, ev.Ticket)
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("reading the ticket index: %w", err)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var csvw *csv.Writer
	if format == "csv" {
		csvw = report.NewCSVWriter(bw)
	}
	loc := l.config().Reports.Location()
	n := 0
	err := func() error {
		if csvw != nil {
			if err := csvw.Write(ExportColumns); err != nil {
				return err
			}
		}
		for _, id := range ids {
			var tk *model.Ticket
			var cs []*model.Comment
			if err := src.View(func(tx store.Tx) error {
				var err error
				if tk, err = tx.Ticket(id); err != nil {
					return fmt.Errorf("loading ticket %d: %w", id, err)
				}
				if cs, err = tx.Comments(id); err != nil {
					return fmt.Errorf("loading the comments of ticket %d: %w", id, err)
				}
				return nil
			}); err != nil {
				return err
			}
			if csvw == nil {
				if err := enc.Encode(ExportTicket{Ticket: tk, Comments: cs}); err != nil {
					return err
				}
			} else {
				rec := []string{strconv.FormatUint(tk.ID, 10), tk.Subject, tk.Status, tk.Priority, tk.Type, tk.Mailbox, tk.Group,
					tk.Requester, tk.Assignee, strings.Join(tk.Tags, " "), stamp(tk.Created, loc), stamp(tk.Updated, loc),
					stamp(report.FirstResponse(tk), loc), stampP(tk.ResolvedAt, loc), stampP(tk.ClosedAt, loc), strconv.Itoa(len(cs))}
				if err := report.WriteRecord(csvw, rec); err != nil {
					return err
				}
			}
			n++
			if n%256 == 0 && src.Pace != nil {
				src.Pace()
			}
		}
		return nil
	}()
	if csvw != nil {
		csvw.Flush()
		if err == nil {
			err = csvw.Error()
		}
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return n, err
}

func stamp(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format(time.RFC3339)
}

func stampP(t *time.Time, loc *time.Location) string {
	if t == nil {
		return ""
	}
	return stamp(*t, loc)
}
