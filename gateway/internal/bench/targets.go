package bench

import (
	"fmt"
	"strings"
)

// nonstandard lists the parameters of p that differ from the defaults
// the targets were set for (the number of mails and runs may vary).
func nonstandard(p params) string {
	d, err := (&bench{}).params(p.mode) // the mode's defaults: no options
	if err != nil {
		return ""
	}
	var diff []string
	if p.sessions != d.sessions {
		diff = append(diff, "-sessions")
	}
	if p.newConn != d.newConn {
		diff = append(diff, "-conn")
	}
	if p.large != d.large {
		diff = append(diff, "the mail size")
	}
	return strings.Join(diff, ", ")
}

// judge checks the report against the targets of issue 6 (Checks, and
// Notes for what stands in the way of checking).
func (r *Report) judge() {
	hd := r.summary("helpdesk")
	if hd == nil {
		return
	}
	// A mail that got no 250 is a failure of every target.
	r.Checks = append(r.Checks, Check{Name: "mails refused or failed", Want: "0", Got: float64(hd.Failed), OK: hd.Failed == 0})
	unclean := 0
	for _, run := range r.Runs {
		if run.StopError != "" {
			unclean++
			r.Notes = append(r.Notes, fmt.Sprintf("%s run %d: stopping the daemon: %s", run.Target, run.Index, run.StopError))
		}
	}
	if unclean > 0 {
		r.Checks = append(r.Checks, Check{Name: "runs whose daemon did not stop cleanly", Want: "0", Got: float64(unclean), OK: false})
	}
	// The targets were set for the default parameters: a run with other
	// sessions, connection reuse or a different size is not judged.
	if r.Nonstandard != "" {
		r.Notes = append(r.Notes, "targets not checked: "+r.Nonstandard+" differs from the mode's default")
		return
	}
	switch {
	case r.Store == "postgres" && r.Mode == ModeNewTicket && !r.DKIM:
		// Issue 18's targets for the PostgreSQL engine.
		r.Checks = append(r.Checks, Check{Name: "msg/s", Want: ">= 1000", Got: hd.MsgPerSec, OK: hd.MsgPerSec >= 1000})
		if r.RatioOf != "" {
			r.Checks = append(r.Checks, Check{Name: "ratio helpdesk/reference", Want: ">= 0.50", Got: r.Ratio, OK: r.Ratio >= 0.5})
		}
		r.Checks = append(r.Checks, Check{Name: "p99 DATA-end->250 ms", Want: "<= 50", Got: hd.P99Ms, OK: hd.P99Ms <= 50})
	case r.Tickets > 0:
		r.Checks = append(r.Checks, Check{Name: "ingest with pre-filled store vs empty", Want: ">= 0.85", Got: r.Ratio, OK: r.Ratio >= 0.85})
	case r.Mode == ModeNewTicket && !r.DKIM:
		r.Checks = append(r.Checks, Check{Name: "msg/s", Want: ">= 2000", Got: hd.MsgPerSec, OK: hd.MsgPerSec >= 2000})
		if r.RatioOf != "" {
			r.Checks = append(r.Checks, Check{Name: "ratio helpdesk/reference", Want: ">= 0.50", Got: r.Ratio, OK: r.Ratio >= 0.5})
		}
		r.Checks = append(r.Checks, Check{Name: "p99 DATA-end->250 ms", Want: "<= 25", Got: hd.P99Ms, OK: hd.P99Ms <= 25})
	case r.Mode == ModeSequential:
		r.Checks = append(r.Checks, Check{Name: "msg/s", Want: ">= 400", Got: hd.MsgPerSec, OK: hd.MsgPerSec >= 400})
	case r.Mode == ModeLarge:
		mib := float64(hd.MaxPeakRSS) / (1 << 20)
		r.Checks = append(r.Checks, Check{Name: "daemon peak RSS MiB (largest run)", Want: "<= 150", Got: mib, OK: hd.MaxPeakRSS > 0 && mib <= 150})
	case r.Mode == ModeCharsetFlood:
		ok := -1
		for _, run := range r.Runs {
			if run.Target == "helpdesk" && (ok < 0 || run.OK < ok) {
				ok = run.OK
			}
		}
		r.Checks = append(r.Checks, Check{Name: "mails accepted with 250 (fewest of a run)", Want: fmt.Sprintf("= %d", r.Messages), Got: float64(ok), OK: ok == r.Messages})
		mib := float64(hd.MaxPeakRSS) / (1 << 20)
		r.Checks = append(r.Checks, Check{Name: "daemon peak RSS MiB (largest run)", Want: "<= 400", Got: mib, OK: hd.MaxPeakRSS > 0 && mib <= 400})
	}
}
