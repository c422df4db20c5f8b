package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"helpdesk/config"
	"helpdesk/store/bolt"
)

// BenchmarkIngestTriggers is what a trigger pass costs a new ticket:
// the same injected mail with no triggers, with 50 of which one matches
// (the subject names it), and with 50 that all match (each tagging the
// ticket). Run: go test -run X -bench IngestTriggers ./gateway/engine
func BenchmarkIngestTriggers(b *testing.B) {
	for _, c := range []struct {
		name string
		n    int
		all  bool
	}{{"none", 0, false}, {"50-one-matches", 50, false}, {"50-all-match", 50, true}} {
		b.Run(c.name, func(b *testing.B) {
			var rules strings.Builder
			for i := range c.n {
				word := fmt.Sprintf("order-%d about", i)
				if c.all {
					word = "order"
				}
				fmt.Fprintf(&rules, "[[trigger]]\nname = \"t%d\"\nall = [\"event is created\", \"subject contains %s\", \"status is not closed\"]\nany = [\"sender domain is e-fun.example\", \"body matches (?i)refund|환불\"]\nactions = [\"#tag t%d\"]\n", i, word, i)
			}
			cfg, err := config.Parse(`data_dir = "` + b.TempDir() + `"
[[mailbox]]
address = "support@example.com"
` + rules.String())
			if err != nil {
				b.Fatal(err)
			}
			db, err := bolt.Open(cfg.DataDir, bolt.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			e, err := New(cfg, db, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				raw := fmt.Sprintf("From: ken%d@e-fun.example\r\nTo: support@example.com\r\nSubject: order-%d about it\r\nMessage-ID: <m%d@x>\r\n\r\nPlease refund.\r\n", i, i%50, i)
				if _, err := e.Inject(context.Background(), []byte(raw), false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
