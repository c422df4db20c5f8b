//go:build linux

package engine

import (
	"bytes"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/internal/bench"
	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/threading"
	"helpdesk/threading/machine"
)

// BenchmarkApplyRules is the store writer's share of a `helpdesk bench
// -mode rules` mail: the bench daemon's configuration without rules and
// with the mode's 50 triggers and 10 webhooks, the bench's own new-ticket
// mail, eight mails per transaction. write-ns/mail is the whole write
// (apply and commit), apply-cpu-ns/mail the writer thread's CPU while
// applying. Run: go test -run X -bench ApplyRules ./gateway/engine
func BenchmarkApplyRules(b *testing.B) {
	for _, c := range []struct{ name, extra string }{
		{"none", ""},
		{"rules", bench.RulesConfig("http://127.0.0.1:1/hook", "http://127.0.0.1:2/hook")},
	} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			cfg, err := config.Parse(bench.DaemonConfig(dir, "127.0.0.1:1", "127.0.0.1:53", "") + c.extra)
			if err != nil {
				b.Fatal(err)
			}
			db, err := bolt.Open(dir, bolt.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			e, err := New(cfg, db, Options{})
			if err != nil {
				b.Fatal(err)
			}
			gen := bench.NewGen("b", nil)
			ins := make([]*inbound, b.N)
			for i := range ins {
				job := gen.NewTicket(i, bench.KindNew4K)
				env := Envelope{MailFrom: job.From, Rcpts: []string{job.Rcpt}, RemoteIP: netip.MustParseAddr("127.0.0.1"), Via: "smtp"}
				in := &inbound{env: env, size: int64(len(job.Raw)), started: time.Now()}
				in.mail = threading.Parse(bytes.NewReader(job.Raw), threading.ParseOptions{ReplyMarker: cfg.Threading.ReplyMarker})
				in.mail.EnvelopeFrom = env.MailFrom
				machine.Classify(in.mail)
				e.identify(cfg, in)
				e.verifyTokens(cfg, in)
				in.verdict = AuthVerdict{Checked: true, DMARC: "none"}
				in.raw = db.PackRaw(job.Raw)
				ins[i] = in
			}
			const perCommit = 8
			var cpu time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			t0 := time.Now()
			for i := 0; i < len(ins); i += perCommit {
				batch := ins[i:min(i+perCommit, len(ins))]
				err := db.Update(func(tx store.Tx) error {
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
					for _, in := range batch {
						c0 := threadCPU()
						a := &applier{e: e, cfg: cfg, tx: tx, in: in, now: tx.Now()}
						if err := a.run(); err != nil {
							return err
						}
						cpu += threadCPU() - c0
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			wall := time.Since(t0)
			b.StopTimer()
			b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N), "write-ns/mail")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "apply-cpu-ns/mail")
		})
	}
}
