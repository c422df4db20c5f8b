package main

import (
	"fmt"
	"text/tabwriter"
	"time"
)

// compact rewrites the store without free space, online (writes wait).
func (c *cli) compact() int {
	api, done, ok := c.api(true)
	if !ok {
		return 1
	}
	defer done()
	res, err := api.Compact()
	if err != nil {
		return c.fail(1, "%v", err)
	}
	if c.json {
		return c.printJSON(res)
	}
	fmt.Fprintf(c.stdout, "compacted the store: %d bytes before, %d after (%s → %s; %s was free space); writes waited %s\n",
		res.Before, res.After, bytesHuman(res.Before), bytesHuman(res.After), bytesHuman(res.FreeBefore), res.Took.Round(time.Millisecond))
	return 0
}

// bytesHuman prints n in binary units.
func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// customerErase erases a customer (GDPR). Without --yes it only says
// what would go, and changes nothing.
func (c *cli) customerErase(pos []string, yes bool) int {
	if len(pos) != 1 {
		return c.fail(2, "usage: helpdesk customer erase ADDR --yes [--json]")
	}
	api, done, ok := c.api(true)
	if !ok {
		return 1
	}
	defer done()
	res, err := api.Erase(pos[0], "cli", !yes)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	r := res.Record
	if c.json {
		if code := c.printJSON(res); code != 0 || yes {
			return code
		}
		return 1
	}
	if !yes {
		fmt.Fprintf(c.stdout, "would erase %s: %d tickets (kept as shells), %d raw mails (%d blob files), %d outbound mails, %d quarantined; the address would be replaced on %d other tickets (%d of their raw mails name it and stay)\nnothing was changed: this cannot be undone; run again with --yes\n",
			esc(pos[0]), r.Tickets, r.Messages, r.Blobs, r.Outbound, r.Quarantine, r.OtherTickets, r.KeptRaw)
		return 1
	}
	fmt.Fprintf(c.stdout, "erasure %d: %d tickets are shells now; removed %d comment texts, %d attachments, %d raw mails, %d blob files, %d outbound mails (%d outbox files), %d quarantined, %d webhook payloads, %d index entries, %d profiles; replaced the address %d times on %d other tickets (%d raw mails of theirs kept)\ncompacted the store: %d bytes before, %d after\n",
		r.ID, r.Tickets, r.Comments, r.Attachments, r.Messages, r.Blobs, r.Outbound, r.OutboxFiles, r.Quarantine, r.Webhooks, r.IndexEntries, r.Profiles, r.Replaced, r.OtherTickets, r.KeptRaw, res.Compact.Before, res.Compact.After)
	return 0
}

// erasures lists the records of erasures.
func (c *cli) erasures() int {
	api, done, ok := c.api(false)
	if !ok {
		return 1
	}
	defer done()
	rs, err := api.Erasures()
	if err != nil {
		return c.fail(1, "%v", err)
	}
	for _, r := range rs {
		// What an erasure not complete still needs (the address, until
		// the erase's write) is the daemon's; its state is shown.
		r.Pending = nil
	}
	if c.json {
		return c.printJSON(rs)
	}
	if len(rs) == 0 {
		fmt.Fprintln(c.stdout, "no erasures")
		return 0
	}
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tWHEN\tBY\tVIA\tTICKETS\tMESSAGES\tOUTBOUND\tOTHER TICKETS\tKEPT RAW")
	for _, r := range rs {
		via := r.Via
		if r.State != "" {
			via += " (" + r.State + ", not complete)"
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", r.ID, r.At.UTC().Format(time.RFC3339), esc(r.By), via, r.Tickets, r.Messages, r.Outbound, r.OtherTickets, r.KeptRaw)
	}
	if err := w.Flush(); err != nil {
		return c.fail(1, "%v", err)
	}
	return 0
}
