package benchcmd

import (
	"encoding/json"
	"fmt"
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

// writeResult prints what a mode with a result of its own (size, reports)
// measured, as JSON or as its table, even when it stopped with an error,
// and returns the exit code.
func writeResult[R any](stdout, stderr io.Writer, res *R, err error, jsonOut bool, print func(io.Writer, *R)) int {
	if res != nil {
		if jsonOut {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(res)
		} else {
			print(stdout, res)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "helpdesk bench: %v\n", err)
		return 1
	}
	return 0
}
