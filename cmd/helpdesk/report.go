package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"
)

// output opens where a report or export goes: a file (written whole or
// not at all: a temporary file renamed when complete) or stdout.
func (c *cli) output(path string) (w io.Writer, done func(ok bool) error, err error) {
	if path == "" {
		bw := bufio.NewWriter(c.stdout)
		return bw, func(bool) error { return bw.Flush() }, nil
	}
	f, err := os.CreateTemp(dirOf(path), ".helpdesk-out-*")
	if err != nil {
		return nil, nil, err
	}
	bw := bufio.NewWriter(f)
	return bw, func(ok bool) error {
		err := bw.Flush()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if !ok || err != nil {
			os.Remove(f.Name())
			return err
		}
		return os.Rename(f.Name(), path)
	}, nil
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if os.IsPathSeparator(path[i]) {
			return path[:i+1]
		}
	}
	return "."
}

// report prints or writes a report (helpdesk report).
func (c *cli) report(period, by, format, outFile string) int {
	if c.json {
		format = "json"
	}
	if format != "csv" && format != "json" {
		return c.fail(2, "--format %q: use csv or json", format)
	}
	api, done, ok := c.api(false)
	if !ok {
		return 1
	}
	defer done()
	r, err := api.Report(period, by)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	var data []byte
	if format == "json" {
		data, err = r.JSON()
	} else {
		data, err = r.CSV()
	}
	if err != nil {
		return c.fail(1, "%v", err)
	}
	w, finish, err := c.output(outFile)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	_, err = w.Write(data)
	if err = finish(err == nil); err != nil {
		return c.fail(1, "writing the report: %v", err)
	}
	if outFile != "" {
		fmt.Fprintf(c.stderr, "helpdesk: report by %s, %s to %s, written to %s\n", r.By, r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), outFile)
	}
	return 0
}

// export writes every ticket created from one day to another.
func (c *cli) export(fromS, toS, format, outFile string) int {
	cfg, ok := c.loadConfig()
	if !ok {
		return 1
	}
	loc := cfg.Reports.Location()
	from, _, err := exportBound(fromS, loc)
	if err != nil {
		return c.fail(2, "--from: %v", err)
	}
	_, to, err := exportBound(toS, loc)
	if err != nil {
		return c.fail(2, "--to: %v", err)
	}
	if !from.Before(to) {
		return c.fail(2, "--from %s is not before --to %s", fromS, toS)
	}
	api, done, ok := c.api(false)
	if !ok {
		return 1
	}
	defer done()
	w, finish, err := c.output(outFile)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	n, err := api.Export(w, from, to, format)
	if ferr := finish(err == nil); err == nil {
		err = ferr
	}
	if err != nil {
		return c.fail(1, "export: %v", err)
	}
	if outFile != "" {
		fmt.Fprintf(c.stderr, "helpdesk: %d tickets written to %s\n", n, outFile)
	}
	return 0
}

// exportBound reads a day (its start and the next day's) or an RFC 3339
// instant (both the same).
func exportBound(s string, loc *time.Location) (start, end time.Time, err error) {
	if d, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return d, d.AddDate(0, 0, 1), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, t, fmt.Errorf("%q is neither a day (2026-11-01) nor an RFC 3339 instant", s)
	}
	return t, t, nil
}
