package benchcmd

import (
	"encoding/json"
	"io"

	"helpdesk/gateway/internal/bench"
)

// writeReports writes the reports of a bench (those of the modes that ran
// when one failed) as tables, or as JSON (an empty list rather than null
// when none ran).
func writeReports(w io.Writer, reports []*bench.Report, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if reports == nil {
			reports = []*bench.Report{}
		}
		enc.Encode(reports)
		return
	}
	bench.Print(w, reports)
}
