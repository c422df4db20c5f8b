package gateway

import (
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// Histogram is a fixed-bucket latency histogram (Prometheus style).
type Histogram struct {
	mu      sync.Mutex
	counts  [len(latencyBuckets) + 1]uint64
	sum     float64
	samples uint64
}

// latencyBuckets are upper bounds in seconds.
var latencyBuckets = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Observe records one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	h.mu.Lock()
	defer h.mu.Unlock()
	i := 0
	for i < len(latencyBuckets) && s > latencyBuckets[i] {
		i++
	}
	h.counts[i]++
	h.sum += s
	h.samples++
}

// WriteProm writes the histogram in the Prometheus text format.
func (h *Histogram) WriteProm(w io.Writer, name, help string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	var cum uint64
	for i, b := range latencyBuckets {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{le=\"%g\"} %d\n", name, b, cum)
	}
	cum += h.counts[len(latencyBuckets)]
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n", name, cum)
	fmt.Fprintf(w, "%s_sum %g\n%s_count %d\n", name, roundSum(h.sum), name, h.samples)
}

func roundSum(f float64) float64 { return math.Round(f*1e6) / 1e6 }
