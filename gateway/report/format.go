package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// BOM is the UTF-8 byte-order mark every CSV starts with: without it
// Excel reads UTF-8 as the machine's ANSI code page and Korean names
// come out garbled.
const BOM = "\uFEFF"

// Columns of a report by agents, groups or mailboxes (documented in
// doc.go, "Periods and columns"; keep them in step).
func Columns() []string {
	cols := []string{"kind", "key", "name", "period_from", "period_to", "received", "resolved", "reopened",
		"first_response_count", "first_response_business_median_min", "first_response_business_p90_min",
		"first_response_calendar_median_min", "first_response_calendar_p90_min",
		"resolution_count", "resolution_business_median_min", "resolution_business_p90_min",
		"resolution_calendar_median_min", "resolution_calendar_p90_min"}
	for _, s := range BacklogStatuses {
		cols = append(cols, "backlog_"+strings.ReplaceAll(s, "-", "_"))
	}
	for _, t := range BreachTargets {
		cols = append(cols, "sla_breaches_"+strings.ReplaceAll(t, "-", "_"))
	}
	return append(cols, "csat_count", "csat_good_percent")
}

// TicketColumns are the columns of a tickets report.
var TicketColumns = []string{"ticket", "subject", "status", "group", "mailbox", "requester", "assignee", "created",
	"first_response_at", "first_response_business_min", "first_response_calendar_min",
	"resolved_at", "resolution_business_min", "resolution_calendar_min"}

// Neutralize keeps a cell from being read as a formula by a spreadsheet
// (CSV injection): a cell starting with =, +, -, @ (or a tab or carriage
// return, which some programs skip before one) gets a leading
// apostrophe, which spreadsheets show as text.
func Neutralize(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// NewCSV starts a CSV document: the byte-order mark, RFC 4180 quoting
// and CRLF line ends (encoding/csv).
func NewCSV(buf *bytes.Buffer) *csv.Writer { return NewCSVWriter(buf) }

// NewCSVWriter is NewCSV on any writer (an error writing the mark shows
// in the csv.Writer's Error once flushed... or in w's next write).
func NewCSVWriter(out io.Writer) *csv.Writer {
	io.WriteString(out, BOM)
	w := csv.NewWriter(out)
	w.UseCRLF = true
	return w
}

// WriteRecord writes one row, every cell neutralized.
func WriteRecord(w *csv.Writer, cells []string) error {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = Neutralize(c)
	}
	return w.Write(out)
}

func num(f *float64) string {
	if f == nil {
		return ""
	}
	return strconv.FormatFloat(*f, 'f', 1, 64)
}

func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// CSV is the report as CSV (UTF-8 with a byte-order mark, a header row).
func (r *Report) CSV() ([]byte, error) {
	var buf bytes.Buffer
	w := NewCSV(&buf)
	if r.By == ByTickets {
		if err := w.Write(TicketColumns); err != nil {
			return nil, err
		}
		for _, t := range r.Tickets {
			created := t.Created
			rec := []string{strconv.FormatUint(t.ID, 10), t.Subject, t.Status, t.Group, t.Mailbox, t.Requester, t.Assignee,
				stamp(&created), stamp(t.FirstResponseAt), num(t.FirstResponseBiz), num(t.FirstResponseCal),
				stamp(t.ResolvedAt), num(t.ResolutionBusiness), num(t.ResolutionCalendar)}
			if err := WriteRecord(w, rec); err != nil {
				return nil, err
			}
		}
	} else {
		if err := w.Write(Columns()); err != nil {
			return nil, err
		}
		from, to := r.From.Format(time.RFC3339), r.To.Format(time.RFC3339)
		for _, rw := range r.Rows {
			rec := []string{rw.Kind, rw.Key, rw.Name, from, to, strconv.Itoa(rw.Received), strconv.Itoa(rw.Resolved), strconv.Itoa(rw.Reopened),
				strconv.Itoa(rw.FirstResponse.Count), num(rw.FirstResponse.BusinessMedian), num(rw.FirstResponse.BusinessP90),
				num(rw.FirstResponse.CalendarMedian), num(rw.FirstResponse.CalendarP90),
				strconv.Itoa(rw.Resolution.Count), num(rw.Resolution.BusinessMedian), num(rw.Resolution.BusinessP90),
				num(rw.Resolution.CalendarMedian), num(rw.Resolution.CalendarP90)}
			for _, s := range BacklogStatuses {
				rec = append(rec, strconv.Itoa(rw.Backlog[s]))
			}
			for _, t := range BreachTargets {
				rec = append(rec, strconv.Itoa(rw.Breaches[t]))
			}
			rec = append(rec, strconv.Itoa(rw.CSATCount), num(rw.CSATGoodPercent))
			if err := WriteRecord(w, rec); err != nil {
				return nil, err
			}
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("writing the CSV: %w", err)
	}
	return buf.Bytes(), nil
}

// JSON is the report as indented JSON.
func (r *Report) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// FileName is the attachment's name: report-agents-2026-11-01--2026-12-01.csv.
func (r *Report) FileName(ext string) string {
	last := r.To.Add(-time.Nanosecond) // the period's last day (To is exclusive)
	return fmt.Sprintf("report-%s-%s--%s.%s", r.By, r.From.Format("2006-01-02"), last.Format("2006-01-02"), ext)
}
