package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"helpdesk/gateway/control"
	"helpdesk/gateway/daemon"
	"helpdesk/gateway/engine"
)

// explain prints what a mail would do if it arrived now. The daemon (or,
// without one, an engine over the store) runs its own apply path in a
// write that is rolled back: nothing is stored or sent.
func (c *cli) explain(file string, opt engine.InjectOptions) int {
	cfg, ok := c.loadConfig()
	if !ok {
		return 1
	}
	in := c.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return c.fail(1, "reading %s: %v", file, err)
		}
		defer f.Close()
		in = f
	}
	limit := int64(cfg.SMTP.MaxMessageBytes)
	raw, err := io.ReadAll(io.LimitReader(in, limit+1))
	if err != nil {
		return c.fail(1, "reading %s: %v", file, err)
	}
	if int64(len(raw)) > limit {
		return c.fail(1, "message is larger than smtp.max_message_bytes (%s): it would be refused at DATA", cfg.SMTP.MaxMessageBytes)
	}
	// Without a daemon the store is opened writable (the rolled-back
	// write needs it), but one that does not exist is not created.
	if _, err := control.Dial(cfg.DataDir); err != nil && !daemon.StoreExists(cfg) {
		return c.fail(1, "no store in %s (data_dir of %s) and no daemon running: start the daemon once, or pass its helpdesk.toml with -config", cfg.DataDir, c.configPath)
	}
	api, done, ok := c.api(true)
	if !ok {
		return 1
	}
	defer done()
	x, err := api.Explain(raw, opt)
	if err != nil {
		return c.fail(1, "explain: %v", err)
	}
	if c.json {
		return c.printJSON(x)
	}
	c.printExplanation(x)
	return 0
}

func (c *cli) printExplanation(x *engine.Explanation) {
	w := c.stdout
	fmt.Fprintln(w, "(explain: nothing was stored or sent)")
	fmt.Fprintf(w, "mail:      from %s (envelope %s) to %s, subject %q, class %s\n",
		esc(x.From), esc(dash(x.MailFrom)), esc(strings.Join(x.Rcpts, ", ")), esc(x.Subject), x.Class)

	a := x.Auth
	fmt.Fprintf(w, "auth:      ")
	if !a.Checked {
		fmt.Fprint(w, "not checked (not needed for this mail)")
	} else {
		fmt.Fprintf(w, "DMARC %s, DKIM aligned %v, trusted Authentication-Results pass %v", dash(a.DMARC), a.DKIMAligned, a.AuthResPass)
	}
	fmt.Fprintln(w)
	for _, f := range a.Failed {
		fmt.Fprintf(w, "           failed: %s\n", esc(f))
	}
	switch {
	case a.Staff == "":
		fmt.Fprintln(w, "staff:     no (the sender is not staff)")
	case a.StaffAuthenticated:
		fmt.Fprintf(w, "staff:     %s, authenticated\n", esc(a.Staff))
	default:
		fmt.Fprintf(w, "staff:     %s, NOT authenticated: %s\n", esc(a.Staff), esc(a.StaffFailure))
	}

	r := x.Result
	fmt.Fprintf(w, "outcome:   %s", r.Disposition)
	if r.Ticket != 0 {
		fmt.Fprintf(w, " on ticket #%d", r.Ticket)
	}
	if r.Duplicate {
		fmt.Fprint(w, " (a duplicate of a mail already delivered: applied once)")
	}
	if r.Detail != "" {
		fmt.Fprintf(w, ": %s", esc(r.Detail))
	}
	fmt.Fprintln(w)
	if t := x.Threading; t != nil {
		fmt.Fprintf(w, "thread:    %s", t.Outcome)
		if t.Ticket != 0 {
			fmt.Fprintf(w, ", ticket #%d thread %d", t.Ticket, t.Thread)
			if t.Thread == 0 {
				fmt.Fprint(w, " (main)")
			}
		} else {
			fmt.Fprint(w, ", a new ticket")
		}
		fmt.Fprintf(w, ", role %s, key %s: %s\n", t.Role, t.Key, esc(t.Reason))
		if t.FollowUpOf != 0 {
			fmt.Fprintf(w, "           follow-up of closed ticket #%d\n", t.FollowUpOf)
		}
		if t.Related != 0 {
			fmt.Fprintf(w, "           related to ticket #%d (the sender is not its participant)\n", t.Related)
		}
	}
	for _, p := range x.Commands {
		state := "would be applied"
		if !p.OK {
			state = "REFUSED, nothing would be applied"
		}
		fmt.Fprintf(w, "commands:  %s", state)
		if p.Ticket != 0 {
			fmt.Fprintf(w, " (ticket #%d)", p.Ticket)
		}
		fmt.Fprintln(w)
		if t := strings.TrimRight(p.Transcript, "\n"); t != "" {
			fmt.Fprintln(w, indent(escText(t)))
		}
		for _, ch := range p.Changes {
			fmt.Fprintf(w, "           change: %s\n", esc(ch))
		}
	}
	if len(x.Triggers) == 0 {
		fmt.Fprintln(w, "triggers:  none")
	}
	for _, t := range x.Triggers {
		fmt.Fprintf(w, "triggers:  %q fires on ticket #%d\n", t.Name, t.Ticket)
	}
	if len(x.Webhooks) == 0 {
		fmt.Fprintln(w, "webhooks:  none")
	}
	for _, h := range x.Webhooks {
		if h.Missing {
			fmt.Fprintf(w, "webhooks:  %q (trigger %q, ticket #%d): no [[webhook]] has this name; nothing would be sent\n", h.Name, h.Trigger, h.Ticket)
			continue
		}
		fmt.Fprintf(w, "webhooks:  %q (%s, to %s) would be called by trigger %q for ticket #%d (not sent)\n", h.Name, h.Format, esc(h.Host), h.Trigger, h.Ticket)
	}
	for _, d := range x.Audience {
		fmt.Fprintf(w, "audience:  %s comment %d of ticket #%d\n", d.Kind, d.Comment, d.Ticket)
		for _, r := range d.Recipients {
			fmt.Fprintf(w, "           to %s (%s view)\n", esc(r.Addr), r.View)
		}
		for _, l := range d.Left {
			fmt.Fprintf(w, "           left out %s: %s\n", esc(l.Addr), l.Why)
		}
	}
	if len(x.Mail) == 0 {
		fmt.Fprintln(w, "mail out:  none")
	}
	for _, m := range x.Mail {
		fmt.Fprintf(w, "mail out:  %s to %s: %q\n", m.Kind, esc(m.Rcpt), esc(m.Subject))
	}
}
