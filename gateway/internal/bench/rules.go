package bench

import (
	"fmt"
	"helpdesk/gateway/internal/bench/rulesconf"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// ModeRules (issue 15): new-ticket ingest with 50 [[trigger]]s and 10
// [[webhook]]s configured, against the same daemon without rules, in
// alternating runs. Every bench mail matches at least one trigger
// (three match every mail and tag or prioritise it; thirty-seven look at
// other subjects, bodies, senders and Korean text, four of them with
// case-insensitive expressions over the body, and match none); every
// tenth mail
// (its request number ends in 0) fires one of ten webhook triggers,
// spread over ten webhooks, five of which POST to a receiver that
// answers at once and five to one that never answers. A third target
// sends all ten webhooks to the answering receiver, so the hanging
// receiver's cost on intake is measured, not assumed.
const ModeRules = "rules"

// Targets of the rules mode.
const (
	targetPlain     = "helpdesk"
	targetRules     = "helpdesk-rules"
	targetAnswering = "helpdesk-rules-answering"
)

// hookReceiver is a loopback HTTP server that answers webhook POSTs at
// once, or (hang) never: each request waits until Close.
type hookReceiver struct {
	srv  *http.Server
	URL  string
	Hits atomic.Int64
	done chan struct{}
}

func startHookReceiver(hang bool) (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &hookReceiver{URL: "http://" + ln.Addr().String() + "/hook", done: make(chan struct{})}
	r.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.Hits.Add(1)
		if hang {
			select {
			case <-r.done:
			case <-req.Context().Done():
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go r.srv.Serve(ln)
	return r, nil
}

// Close lets hanging requests end and stops the server.
func (r *hookReceiver) Close() {
	close(r.done)
	r.srv.Close()
}

// RulesConfig is the [[webhook]] and [[trigger]] tables of the rules mode
// (rulesconf.Config): webhook k POSTs to answer for even k and to hang
// for odd k.
func RulesConfig(answer, hang string) string { return rulesconf.Config(answer, hang) }

// rules runs the rules mode: no rules, rules with a hanging receiver and
// rules with answering receivers, alternating.
func (b *bench) rules(p params) (*Report, error) {
	if b.opt.Addr != "" {
		return nil, fmt.Errorf("-mode rules needs the bench to run the daemon (no -addr)")
	}
	answer, err := startHookReceiver(false)
	if err != nil {
		return nil, err
	}
	defer answer.Close()
	hang, err := startHookReceiver(true)
	if err != nil {
		return nil, err
	}
	defer hang.Close()
	r := &Report{Mode: ModeRules, Description: describe(p, b.opt.DKIM) + "; 50 triggers (every mail matches 3, every tenth fires a webhook) and 10 webhooks vs. none",
		Sessions: p.sessions, NewConn: p.newConn, DKIM: b.opt.DKIM, Messages: p.messages}
	r.Nonstandard = nonstandard(p)
	b.logf("== %s: %s", ModeRules, r.Description)
	r.LoadAvg[0] = loadAvg()
	defer func() { r.LoadAvg[1] = loadAvg() }()
	withRules, allAnswer := p, p
	withRules.extraConfig = RulesConfig(answer.URL, hang.URL)
	allAnswer.extraConfig = RulesConfig(answer.URL, answer.URL)
	for i := 1; i <= p.runs; i++ {
		for _, t := range []struct {
			name string
			p    params
		}{{targetPlain, p}, {targetRules, withRules}, {targetAnswering, allAnswer}} {
			run, err := b.runHelpdesk(t.p, i, t.name, "")
			if err != nil {
				return r, err
			}
			r.Runs = append(r.Runs, run)
		}
	}
	r.finish(targetRules, targetPlain)
	// The hanging receiver's cost: rules with it against rules without.
	var ratios []float64
	var hung, answering []Run
	for _, run := range r.Runs {
		switch run.Target {
		case targetRules:
			hung = append(hung, run)
		case targetAnswering:
			answering = append(answering, run)
		}
	}
	for i := range min(len(hung), len(answering)) {
		if answering[i].MsgPerSec > 0 {
			ratios = append(ratios, hung[i].MsgPerSec/answering[i].MsgPerSec)
		}
	}
	hr := median(ratios)
	r.Notes = append(r.Notes, fmt.Sprintf("ratio %s/%s (median of %d paired runs): %.2f; the answering receiver took %d POSTs, the hanging one %d (each held until the run ended)",
		targetRules, targetAnswering, len(ratios), hr, answer.Hits.Load(), hang.Hits.Load()))
	if r.Nonstandard == "" {
		r.Checks = append(r.Checks, Check{Name: "ingest with rules vs none", Want: ">= 0.90", Got: r.Ratio, OK: r.Ratio >= 0.90})
		r.Checks = append(r.Checks, Check{Name: "ingest with a hanging webhook receiver vs an answering one", Want: ">= 0.95", Got: hr, OK: hr >= 0.95})
	}
	return r, nil
}
