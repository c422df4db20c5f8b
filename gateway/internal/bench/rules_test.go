package bench

import (
	"strings"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/rules"
	"helpdesk/threading"
)

// The rules mode's configuration is valid, has 50 triggers and 10
// webhooks, every bench mail matches at least one trigger, and exactly
// every tenth fires a webhook trigger, over all ten webhooks.
func TestRulesModeConfig(t *testing.T) {
	text := DaemonConfig(t.TempDir(), "127.0.0.1:1", "127.0.0.1:53", "") + RulesConfig("http://127.0.0.1:1/hook", "http://127.0.0.1:2/hook")
	cfg, err := config.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Triggers) != 50 || len(cfg.Webhooks) != 10 {
		t.Fatalf("%d triggers, %d webhooks", len(cfg.Triggers), len(cfg.Webhooks))
	}
	set, probs := rules.Load(cfg)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	gen := NewGen("t", nil)
	hooks := map[string]int{}
	for i := range 1000 {
		job := gen.NewTicket(i, KindNew4K)
		m := threading.ParseBytes(job.Raw, threading.ParseOptions{})
		f := &rules.Facts{Events: []string{rules.Created}, Mailbox: benchMailbox, Sender: strings.ToLower(job.From),
			Subject: m.Subject, Body: m.Text, Status: "open", Priority: "normal", Assignee: "a@bench.example", Now: time.Now()}
		matched, webhook := 0, ""
		for _, tr := range set.Triggers {
			if tr.Cond.Match(f) {
				matched++
				if tr.Webhook != "" {
					webhook = tr.Webhook
				}
			}
		}
		if matched == 0 {
			t.Fatalf("mail %d matches no trigger", i)
		}
		if (webhook != "") != (i%10 == 0 && i > 0) {
			t.Errorf("mail %d: webhook %q", i, webhook)
		}
		if webhook != "" {
			hooks[webhook]++
		}
	}
	if len(hooks) != 10 {
		t.Errorf("webhooks fired: %v, want all ten", hooks)
	}
}

// BenchmarkRulesModeMatch is the condition evaluation of one pass of the
// rules mode's 50 triggers over a bench mail (the facts built once per
// pass, as the engine does): go test -run X -bench RulesModeMatch
// ./gateway/internal/bench (add -cpuprofile for shares).
func BenchmarkRulesModeMatch(b *testing.B) {
	text := DaemonConfig(b.TempDir(), "127.0.0.1:1", "127.0.0.1:53", "") + RulesConfig("http://127.0.0.1:1/hook", "http://127.0.0.1:2/hook")
	cfg, err := config.Parse(text)
	if err != nil {
		b.Fatal(err)
	}
	set, _ := rules.Load(cfg)
	gen := NewGen("t", nil)
	var mails []*threading.Mail
	for i := range 100 {
		mails = append(mails, threading.ParseBytes(gen.NewTicket(i, KindNew4K).Raw, threading.ParseOptions{}))
	}
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m := mails[i%len(mails)]
		f := &rules.Facts{Events: []string{rules.Created}, Mailbox: benchMailbox, Sender: "c@cust1.example",
			Subject: m.Subject, Body: m.Text, Status: "open", Priority: "normal", Assignee: "a@bench.example", Now: now}
		for _, tr := range set.Triggers {
			tr.Cond.Match(f)
		}
	}
}
