package config

import (
	"fmt"
	"time"
)

// Survey is [survey]: the satisfaction survey mailed to the requester
// after a ticket's resolution (SPEC 7).
type Survey struct {
	// Enabled: a [survey] table in the file turns the survey on unless it
	// says enabled = false; without the table there is none.
	Enabled bool `toml:"enabled"`
	// Delay is the time after resolution the survey goes out.
	Delay Duration `toml:"delay"`
}

// DefaultSurveyDelay is [survey] delay when none is set.
const DefaultSurveyDelay = 24 * time.Hour

// maxSurveyDelay bounds [survey] delay: past the reply window of a
// resolved ticket's mail the customer no longer remembers the case.
const maxSurveyDelay = 90 * 24 * time.Hour

// surveyPresent turns the survey on when the file has a [survey] table
// that does not say enabled = false.
func (c *Config) surveyPresent(raw map[string]any) {
	t, ok := raw["survey"].(map[string]any)
	if !ok {
		return
	}
	if _, set := t["enabled"]; !set {
		c.Survey.Enabled = true
	}
}

func (c *Config) validateSurvey(v *validator) {
	d := c.Survey.Delay
	switch {
	case d < 0:
		v.add("survey.delay", fmt.Sprintf("%s is negative", d), `use a duration after resolution, e.g. "24h" (or "0s": at once)`)
	case d.D() > maxSurveyDelay:
		v.add("survey.delay", fmt.Sprintf("%s is more than %s", d, Duration(maxSurveyDelay)), `use a duration such as "24h"; customers answer a survey while they remember the case`)
	}
}
