package engine

import (
	"fmt"

	"helpdesk/gateway/plan"
	"helpdesk/gateway/report"
	"helpdesk/store/model"
)

// mailReport answers #report (SPEC 9): the report's CSV is attached to
// the transcript, whose line for the command says what is attached, or
// why nothing is; it never claims a file the mail does not carry.
func (a *applier) mailReport(r *cmdRun, ch plan.MailReport) error {
	rep, err := report.Build(a.tx, a.cfg, report.Request{Period: ch.Period, By: ch.By, Now: a.now, Viewer: a.in.agent})
	if err != nil {
		return fmt.Errorf("building the report: %w", err)
	}
	data, err := rep.CSV()
	if err != nil {
		return err
	}
	last := rep.To.Add(-1)
	what := fmt.Sprintf("report by %s, %s to %s (%s)", rep.By, rep.From.Format("2006-01-02 15:04"), last.Format("2006-01-02 15:04"), rep.TimeZone)
	if max := int64(a.cfg.Outbound.MaxAttachmentBytes); max > 0 && int64(len(data)) > max {
		r.Results[ch.Command] = fmt.Sprintf("%s NOT attached: its %d bytes exceed [outbound] max_attachment_bytes (%d); run helpdesk report on the server, or ask for a shorter period", what, len(data), max)
		return nil
	}
	rows := len(rep.Rows)
	if rep.By == report.ByTickets {
		rows = len(rep.Tickets)
	}
	name := rep.FileName("csv")
	r.files = append(r.files, model.InlineFile{Name: name, ContentType: "text/csv; charset=utf-8", Data: data})
	r.Results[ch.Command] = fmt.Sprintf("%s: attached as %s (%d rows)", what, name, rows)
	return nil
}
