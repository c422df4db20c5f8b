package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Webhook is a receiver a trigger can POST to (`webhook = "name"` in a
// [[trigger]]; issue 15).
type Webhook struct {
	Name string `toml:"name"`
	URL  string `toml:"url"`
	// Format is the body: "slack" (incoming-webhook {"text": ...}),
	// "teams" (an Adaptive Card message, as Teams workflow webhooks take)
	// or "json" (the ticket's public fields and the event).
	Format string `toml:"format"`
	// Secret signs the body: X-Helpdesk-Signature: sha256=<hex HMAC>.
	Secret string `toml:"secret"`
	// Timeout bounds one attempt (connect to last byte); default 10s.
	Timeout Duration `toml:"timeout"`
	// AllowPrivate permits private, loopback and link-local addresses,
	// refused otherwise (checked on the address connected to, after DNS).
	AllowPrivate bool `toml:"allow_private"`
}

// WebhookFormats are the values of a webhook's format.
var WebhookFormats = []string{"slack", "teams", "json"}

// DefaultWebhookTimeout is a webhook's timeout when none is set.
const DefaultWebhookTimeout = 10 * time.Second

// WebhookNamed returns the [[webhook]] with this name (any case), or nil.
func (c *Config) WebhookNamed(name string) *Webhook {
	for i := range c.Webhooks {
		if strings.EqualFold(strings.TrimSpace(c.Webhooks[i].Name), strings.TrimSpace(name)) {
			return &c.Webhooks[i]
		}
	}
	return nil
}

// AttemptTimeout is the webhook's timeout, or the default.
func (w *Webhook) AttemptTimeout() time.Duration {
	if d := w.Timeout.D(); d > 0 {
		return d
	}
	return DefaultWebhookTimeout
}

func (c *Config) validateWebhooks(v *validator) {
	seen := map[string]string{}
	for i, w := range c.Webhooks {
		k := fmt.Sprintf("webhook[%d]", i)
		switch n := lower(strings.TrimSpace(w.Name)); {
		case n == "":
			v.add(k+".name", "missing", `name the webhook, e.g. name = "slack-support", and use it in a trigger: webhook = "slack-support"`)
		case seen[n] != "":
			v.add(k+".name", fmt.Sprintf("%q is already %s", w.Name, seen[n]), "give each webhook its own name")
		default:
			seen[n] = k + ".name"
		}
		u, err := url.Parse(strings.TrimSpace(w.URL))
		switch {
		case strings.TrimSpace(w.URL) == "":
			v.add(k+".url", "missing", `set the receiver's address, e.g. url = "https://hooks.slack.com/services/T000/B000/XXXX"`)
		case err != nil:
			v.add(k+".url", fmt.Sprintf("%q is not a URL: %v", w.URL, err), `write an absolute http(s) URL, e.g. url = "https://example.com/hook"`)
		case u.Scheme != "https" && u.Scheme != "http" || u.Host == "":
			v.add(k+".url", fmt.Sprintf("%q is not an absolute http or https URL", w.URL), `write an absolute http(s) URL, e.g. url = "https://example.com/hook"`)
		case u.User != nil:
			v.add(k+".url", "contains a user name or password", "put credentials in the URL's path or query as the receiver issues them, or use secret to sign the body")
		}
		switch f := lower(strings.TrimSpace(w.Format)); {
		case f == "":
			v.add(k+".format", "missing", `set format = "slack", "teams" or "json"`)
		case !contains(WebhookFormats, f):
			v.add(k+".format", fmt.Sprintf("unknown format %q", w.Format), `use "slack", "teams" or "json"`)
		}
		if d := w.Timeout.D(); d < 0 || d > 5*time.Minute {
			v.add(k+".timeout", fmt.Sprintf("%s is out of range", d), `use a duration from 1s to 5m, e.g. timeout = "10s" (the default)`)
		}
	}
	for i, t := range c.Triggers {
		if strings.TrimSpace(t.Webhook) != "" && c.WebhookNamed(t.Webhook) == nil {
			var names []string
			for _, w := range c.Webhooks {
				names = append(names, fmt.Sprintf("%q", w.Name))
			}
			fix := "add a [[webhook]] with this name, or correct the name"
			if len(names) > 0 {
				fix = "use one of the [[webhook]] names: " + strings.Join(names, ", ")
			}
			v.add(fmt.Sprintf("trigger[%d].webhook", i), fmt.Sprintf("no [[webhook]] is named %q", t.Webhook), fix)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
