package main

import (
	"fmt"
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
