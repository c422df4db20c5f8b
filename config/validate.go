package config

import "fmt"

// Validate returns every problem of a decoded config.
func (c *Config) Validate() []Problem {
	var probs []Problem
	add := func(key, msg, fix string) { probs = append(probs, Problem{key, msg, fix}) }
	if c.DataDir == "" {
		add("data_dir", "missing", `set a directory for the store, e.g. data_dir = "./data"`)
	}
	if len(c.Mailboxes) == 0 {
		add("mailbox", "no [[mailbox]] is configured", `add a [[mailbox]] with address = "support@example.com"`)
	}
	for i, m := range c.Mailboxes {
		if m.Address == "" {
			add(fmt.Sprintf("mailbox[%d].address", i), "missing", `set the support address, e.g. "support@example.com"`)
		}
	}
	return probs
}
