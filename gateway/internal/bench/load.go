package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// Load describes one bounded burst of SMTP traffic.
type Load struct {
	// Addr is the server's host:port, or several separated by commas
	// (session s connects to the s-th, in turn).
	Addr     string
	Sessions int
	Messages int           // at most this many mails
	Duration time.Duration // and at most this long
	NewConn  bool          // a new connection for every mail
	// Sources are loopback addresses the sessions connect from, in turn
	// (session s from Sources[s%len]); none: the kernel picks.
	Sources []string
	// Next returns the i-th mail; rng is the session's own.
	Next func(i int, rng *rand.Rand) Job
	// Stop, when closed, ends the burst early (after the mails under
	// way).
	Stop <-chan struct{}
}

// LoadResult is what the clients saw.
type LoadResult struct {
	OK     int
	Failed int
	// Errors counts failures by a short description.
	Errors map[string]int
	// Kinds counts the mails that got 250 by kind.
	Kinds   map[string]int
	Bytes   int64 // message bytes that got 250
	Elapsed time.Duration
	// Latencies of DATA end to 250, sorted.
	Latencies []time.Duration
}

// Percentile returns the p-th percentile (0..100) of the latencies.
func (r *LoadResult) Percentile(p float64) time.Duration {
	n := len(r.Latencies)
	if n == 0 {
		return 0
	}
	i := int(float64(n)*p/100+0.5) - 1
	i = max(0, min(n-1, i))
	return r.Latencies[i]
}

// Run drives the load and returns when every session stopped.
func (l Load) Run() *LoadResult {
	if l.Sessions < 1 {
		l.Sessions = 1
	}
	if l.Duration <= 0 {
		l.Duration = time.Minute
	}
	var next atomic.Int64
	addrs := strings.Split(l.Addr, ",")
	deadline := time.Now().Add(l.Duration)
	type sessResult struct {
		ok, failed int
		errs       map[string]int
		kinds      map[string]int
		bytes      int64
		lat        []time.Duration
	}
	results := make([]sessResult, l.Sessions)
	var wg sync.WaitGroup
	start := time.Now()
	for s := 0; s < l.Sessions; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			res := sessResult{errs: map[string]int{}, kinds: map[string]int{}}
			rng := rand.New(rand.NewPCG(uint64(s)+1, uint64(start.UnixNano())))
			var c *smtp.Client
			defer func() {
				if c != nil {
					c.Quit()
					c.Close()
				}
			}()
			for {
				i := int(next.Add(1)) - 1
				if i >= l.Messages || time.Now().After(deadline) || stopped(l.Stop) {
					break
				}
				j := l.Next(i, rng)
				var lat time.Duration
				var err error
				if c == nil {
					src := ""
					if len(l.Sources) > 0 {
						src = l.Sources[s%len(l.Sources)]
					}
					c, err = dial(addrs[s%len(addrs)], src)
				}
				if err == nil {
					lat, err = send(c, j)
				}
				if err == nil && l.NewConn {
					err = c.Quit()
					c.Close()
					c = nil
				}
				if err != nil {
					res.failed++
					res.errs[errClass(err)]++
					if c != nil {
						c.Close()
						c = nil
					}
				} else {
					res.ok++
					res.kinds[j.Kind]++
					res.bytes += int64(len(j.Raw))
					res.lat = append(res.lat, lat)
				}
			}
			results[s] = res
		}(s)
	}
	wg.Wait()
	out := &LoadResult{Elapsed: time.Since(start), Errors: map[string]int{}, Kinds: map[string]int{}}
	for _, r := range results {
		out.OK += r.ok
		out.Failed += r.failed
		out.Bytes += r.bytes
		for k, v := range r.errs {
			out.Errors[k] += v
		}
		for k, v := range r.kinds {
			out.Kinds[k] += v
		}
		out.Latencies = append(out.Latencies, r.lat...)
	}
	slices.Sort(out.Latencies)
	return out
}

// dial connects from the loopback address src ("": the kernel's choice).
func dial(addr, src string) (*smtp.Client, error) {
	// A connect on loopback is instant unless the machine is swamped:
	// then it waits as long as an MTA would (Postfix: 30s).
	d := net.Dialer{Timeout: 30 * time.Second}
	if src != "" {
		ip := net.ParseIP(src)
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("%w: source %s", ErrNotLoopback, src)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = time.Minute
	// What RFC 5321 section 4.5.3.2.6 asks a client to wait for the
	// answer to the end of DATA: a slow answer is measured, not lost.
	c.SubmissionTimeout = 10 * time.Minute
	if err := c.Hello("client.bench.example"); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// send runs one transaction and returns the time from the end of the
// DATA payload (the closing dot) to the 250 answer.
func send(c *smtp.Client, j Job) (time.Duration, error) {
	if err := c.Mail(j.From, nil); err != nil {
		return 0, err
	}
	if err := c.Rcpt(j.Rcpt, nil); err != nil {
		return 0, err
	}
	w, err := c.Data()
	if err != nil {
		return 0, err
	}
	if _, err := w.Write(j.Raw); err != nil {
		return 0, err
	}
	t := time.Now()
	err = w.Close()
	return time.Since(t), err
}

// errClass shortens an error for the report.
func errClass(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprintf("%d %s", se.Code, firstWords(se.Message, 6))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		var oe *net.OpError
		if errors.As(err, &oe) {
			return "timeout (" + oe.Op + ")"
		}
		return "timeout"
	}
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "connection refused"
	case strings.Contains(s, "connection reset"), strings.Contains(s, "broken pipe"), strings.Contains(s, "EOF"):
		return "connection lost"
	}
	return firstWords(s, 8)
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// stopped reports whether c is closed (nil: never).
func stopped(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
