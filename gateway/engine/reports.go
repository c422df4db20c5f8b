package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/plan"
	"helpdesk/gateway/report"
	"helpdesk/store"
	"helpdesk/store/model"
	"helpdesk/threading/command"
)

// A #report is read from the event index in a read transaction before
// the mail's write (prepareReports), not inside it: a year's report takes
// seconds, and the store has a single writer, which every other mail
// waits for. The report and the transcript that attaches it still commit
// together, in the mail's write, so a crash cannot leave a transcript
// that claims a report without it (or a report without its transcript).
// What the report shows is the store as the mail found it: the mail's
// own changes are not in it, as they never were (answers are computed
// before a mail's changes).

// reportKey names one #report request: its period and kind as written.
type reportKey struct{ period, by string }

// prebuilt is a report built before the mail's write, or why it failed.
type prebuilt struct {
	rep *report.Report
	err error
}

// prepareReports builds, in one read, every report a staff mail's #report
// lines ask for, for the staff member it claims to be from. A mail that
// cannot pass staff authentication gets none (its commands will not run:
// no report is read for a forger); one whose write then finds it is not
// staff after all just drops them.
func (e *Engine) prepareReports(cfg *config.Config, in *inbound) {
	if in.agent == nil || !strings.Contains(strings.ToLower(in.mail.StaffText+in.mail.NewText), "#report") {
		return
	}
	if ok, _ := staffChecks(cfg.Auth.Staff, in.verdict, func() (bool, string) { return len(in.tokens) > 0, "" }); !ok {
		return
	}
	var keys []reportKey
	for _, text := range []string{in.mail.StaffText, in.mail.NewText} {
		for _, c := range command.Parse(text).Commands {
			if c.Name != "report" {
				continue
			}
			period, by, problem := command.ReportArgs(c.Args)
			if k := (reportKey{period, by}); problem == "" && in.reports[k] == nil {
				if in.reports == nil {
					in.reports = map[reportKey]*prebuilt{}
				}
				in.reports[k] = &prebuilt{}
				keys = append(keys, k)
			}
		}
	}
	if len(keys) == 0 {
		return
	}
	// Like a DNS lookup, a report may take a while: no commit waits for
	// this delivery meanwhile.
	e.coming.Add(-1)
	defer e.coming.Add(1)
	var now time.Time
	if err := e.db.View(func(tx store.Tx) error { now = tx.Now(); return nil }); err != nil {
		e.log.Warn("reading the clock before the mail's write failed", "err", err)
		in.reports = nil // the write builds them then, as it would without this
		return
	}
	src := &report.Paced{View: e.db.View, Pace: e.reportPace(1)}
	for _, k := range keys {
		p := in.reports[k]
		p.rep, p.err = report.Build(src, cfg, report.Request{Period: k.period, By: k.by, Now: now, Viewer: in.agent})
		if p.err != nil && !errors.Is(p.err, report.ErrPeriod) {
			e.log.Warn("reading a report before the mail's write failed; building it in the write", "err", p.err)
			delete(in.reports, k)
		}
	}
}

// ReportPace is report.Paced's Pace for the reports the daemon computes
// (helpdesk report, #report): while mail is coming in it sleeps nine
// times as long as the report worked since its last call (at most
// reportPauseMax), so a report beside ingest takes about a tenth of a
// core from it (bench -mode reports: ingest with reports >= 0.9 of
// without); with no mail coming in it returns at once.
func (e *Engine) ReportPace() func() { return e.reportPace(0) }

// reportPauseMax bounds one pause of a paced report.
const reportPauseMax = 200 * time.Millisecond

// reportPace is ReportPace for a report that self deliveries (the mail
// asking for it) are part of.
func (e *Engine) reportPace(self int64) func() {
	last := time.Now()
	return func() {
		busy := e.inflight.Load() > self
		if self == 0 {
			busy = e.Busy()
		}
		if busy {
			time.Sleep(min(9*time.Since(last), reportPauseMax))
		}
		last = time.Now()
	}
}

// mailReport answers #report (SPEC 9): the report's CSV is attached to
// the transcript, whose line for the command says what is attached, or
// why nothing is; it never claims a file the mail does not carry.
func (a *applier) mailReport(r *cmdRun, ch plan.MailReport) error {
	var rep *report.Report
	var err error
	if p := a.in.reports[reportKey{ch.Period, ch.By}]; p != nil {
		rep, err = p.rep, p.err
	} else {
		// Not prepared (a released quarantine record, a held mail sent
		// by #send): built here, in the write.
		rep, err = report.Build(a.tx, a.cfg, report.Request{Period: ch.Period, By: ch.By, Now: a.now, Viewer: a.in.agent})
	}
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
