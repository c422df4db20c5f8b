package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

func mib(n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func kib(f float64) string {
	if f <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f KiB", f/1024)
}

func cpuMs(f float64) string {
	if f <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", f)
}

// Print writes the reports as human-readable tables.
func Print(w io.Writer, reports []*Report) {
	for i, r := range reports {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "mode %s: %s\n", r.Mode, r.Description)
		fmt.Fprintf(w, "%d mails per run", r.Messages)
		if r.Tickets > 0 {
			fmt.Fprintf(w, "; store pre-filled with %d tickets in %.1fs", r.Tickets, r.PrefillSecs)
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "target\trun\tok\tfailed\tmsg/s\tMiB/s\tp50 ms\tp99 ms\tmax ms\tpeak RSS\tpeak anon\twritten/mail\tstore\tcommits\tcpu ms/mail\tclient cpu\t")
		for _, run := range r.Runs {
			per := 0.0
			if n := run.OK + run.Warmup; n > 0 {
				per = float64(run.Written) / float64(n)
			}
			commits := "-"
			if run.Commits > 0 {
				commits = fmt.Sprint(run.Commits)
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.0f\t%.1f\t%.2f\t%.2f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", run.Target, run.Index, run.OK, run.Failed,
				run.MsgPerSec, run.MiBPerSec, run.P50Ms, run.P99Ms, run.MaxMs, mib(run.PeakRSS), mib(run.PeakAnon), kib(per), mib(run.StoreBytes), commits,
				cpuMs(run.ServerCPUMs), cpuMs(run.ClientCPUMs))
		}
		for _, s := range r.Summaries {
			fmt.Fprintf(tw, "median %s\t%d runs\t\t%d\t%.0f\t\t%.2f\t%.2f\t%.1f\t%s\t%s\t%s\t%s\t\t%s\t%s\t\n", s.Target, s.Runs, s.Failed,
				s.MsgPerSec, s.P50Ms, s.P99Ms, s.MaxMs, mib(s.PeakRSS), mib(s.PeakAnon), kib(s.WrittenPerMsg), mib(s.StoreBytes),
				cpuMs(s.ServerCPUMs), cpuMs(s.ClientCPUMs))
		}
		tw.Flush()
		for _, run := range r.Runs {
			if run.WriterBusy > 0 {
				fmt.Fprintf(w, "store writer, %s run %d: busy %.0f%% of the burst; per mail %.3f ms applying, %.3f ms committing, %.3f ms gathering; %.1f mails and %.1f page writes per commit\n",
					run.Target, run.Index, 100*run.WriterBusy, run.WriterApplyMs, run.WriterCommitMs, run.WriterGatherMs, run.MailsPerCommit, run.PagesPerCommit)
			}
			if run.RoundTripsPerMsg > 0 {
				fmt.Fprintf(w, "database, %s run %d: per mail %.1f statements in %.1f round trips (the writer's transactions: %.1f statements, %.1f round trips; %.1f round trips per commit); server CPU %.3f ms per mail\n",
					run.Target, run.Index, run.QueriesPerMsg, run.RoundTripsPerMsg, run.WriterQueriesPerMsg, run.WriterRoundTripsPerMsg, run.WriterRoundTripsCommit, run.DBCPUMs)
			} else if run.DBCPUMs > 0 {
				fmt.Fprintf(w, "database, %s run %d: server CPU %.3f ms per mail\n", run.Target, run.Index, run.DBCPUMs)
			}
			if run.RowsPerMsg != nil {
				fmt.Fprintf(w, "database, %s run %d: per mail %.1f rows written, %.0f WAL bytes; by table ins/upd(hot)/del: %s\n",
					run.Target, run.Index, run.RowWritesPerMsg, run.WALBytesPerMsg, rowsLine(run.RowsPerMsg))
			}
		}
		if r.RatioOf != "" {
			fmt.Fprintf(w, "ratio %s (median of %d paired runs): %.2f\n", r.RatioOf, pairs(r), r.Ratio)
		}
		if r.Mix != "" {
			fmt.Fprintf(w, "mix: %s\n", r.Mix)
			kinds := map[string]int{}
			for _, run := range r.Runs {
				if run.Target != "reference" {
					for k, v := range run.Kinds {
						kinds[k] += v
					}
				}
			}
			var parts []string
			total := 0
			for _, v := range kinds {
				total += v
			}
			for _, k := range sortedKeys(kinds) {
				parts = append(parts, fmt.Sprintf("%s %d (%.0f%%)", k, kinds[k], 100*float64(kinds[k])/float64(max(total, 1))))
			}
			fmt.Fprintf(w, "sent (helpdesk runs, 250 only): %s\n", strings.Join(parts, ", "))
		}
		errs := map[string]int{}
		for _, run := range r.Runs {
			for k, v := range run.Errors {
				errs[run.Target+": "+k] += v
			}
		}
		for _, k := range sortedKeys(errs) {
			fmt.Fprintf(w, "errors %s: %d\n", k, errs[k])
		}
		src := ""
		for _, run := range r.Runs {
			if run.WrittenSource != "" {
				src = run.WrittenSource
			}
		}
		if src != "" {
			fmt.Fprintf(w, "written/mail: %s of the server process over the run (warm-up included) per mail\n", src)
		}
		fmt.Fprintln(w, "peak RSS: VmHWM (includes touched pages of the mmap'd store file); peak anon: RssAnon sampled every 20ms")
		fmt.Fprintln(w, "cpu ms/mail: the server's user+system CPU per accepted mail over the burst; client cpu: the bench's own (load, sink)")
		if r.LoadAvg[0] > 0 || r.LoadAvg[1] > 0 {
			fmt.Fprintf(w, "machine load average (1 min) before/after: %.2f/%.2f\n", r.LoadAvg[0], r.LoadAvg[1])
		}
		for _, n := range r.Notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
		for _, c := range r.Checks {
			verdict := "MET"
			if !c.OK {
				verdict = "MISSED"
			}
			fmt.Fprintf(w, "target %s %s: %.2f %s\n", c.Name, c.Want, c.Got, verdict)
		}
	}
}

func pairs(r *Report) int {
	parts := strings.SplitN(r.RatioOf, "/", 2)
	a, b := 0, 0
	for _, run := range r.Runs {
		switch run.Target {
		case parts[0]:
			a++
		case parts[1]:
			b++
		}
	}
	return min(a, b)
}
