package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"helpdesk/gateway/control"
	"helpdesk/gateway/daemon"
	"helpdesk/store"
)

// profileAPI opens the API writable (a store older than profiles gets
// them first, as the daemon does at start) but, like every reading
// command, never creates a store.
func (c *cli) profileAPI() (control.API, func(), bool) {
	cfg, ok := c.loadConfig()
	if !ok {
		return nil, nil, false
	}
	if !daemon.StoreExists(cfg) {
		if _, err := control.Dial(cfg.DataDir); err != nil {
			c.fail(1, "no store in %s (data_dir of %s): nothing to show. The daemon creates it on its first start; if it runs elsewhere, pass its helpdesk.toml with -config", cfg.DataDir, c.configPath)
			return nil, nil, false
		}
	}
	return c.api(true)
}

// customer: `helpdesk customer ADDR [--page N] [--json]` and `helpdesk
// customer merge A B` (A is kept).
func (c *cli) customer(pos []string, page int) int {
	if len(pos) > 0 && pos[0] == "merge" {
		if len(pos) != 3 {
			return c.fail(2, "usage: helpdesk customer merge KEEP-ADDR OTHER-ADDR (the second profile moves into the first)")
		}
		api, done, ok := c.api(true)
		if !ok {
			return 1
		}
		defer done()
		p, err := api.MergeCustomers(pos[1], pos[2])
		if err != nil {
			return c.fail(1, "merging %s into %s: %v", pos[2], pos[1], err)
		}
		if c.json {
			return c.printJSON(p)
		}
		fmt.Fprintf(c.stdout, "merged: the profile of %s now holds %s\n", esc(p.Primary), esc(strings.Join(p.Addresses, ", ")))
		return 0
	}
	if len(pos) != 1 {
		return c.fail(2, "usage: helpdesk customer ADDR [--page N] [--json] | helpdesk customer merge KEEP-ADDR OTHER-ADDR")
	}
	api, done, ok := c.profileAPI()
	if !ok {
		return 1
	}
	defer done()
	p, err := api.Customer(pos[0], page)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return c.fail(1, "no customer profile for %s (profiles are made with a customer's first mail)", pos[0])
		}
		return c.fail(1, "%v", err)
	}
	if c.json {
		return c.printJSON(p)
	}
	for _, l := range strings.Split(p.Text(), "\n") {
		fmt.Fprintln(c.stdout, esc(l))
	}
	return 0
}

// customers: `helpdesk customers [--org O] [--limit N] [--json]`.
func (c *cli) customers(org string, limit int) int {
	api, done, ok := c.profileAPI()
	if !ok {
		return 1
	}
	defer done()
	l, err := api.Customers(org, limit)
	if err != nil {
		return c.fail(1, "%v", err)
	}
	if c.json {
		return c.printJSON(l)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tADDRESS\tORGANIZATION\tTAGS\tUPDATED")
	for _, s := range l {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", s.ID, esc(dash(s.Name)), esc(strings.Join(s.Addresses, ", ")), esc(dash(s.Organization)), list(s.Tags), s.Updated.Local().Format("2006-01-02 15:04"))
	}
	tw.Flush()
	return 0
}
