package gateway

import "github.com/prometheus/client_golang/prometheus"

// latencyBuckets are the upper bounds, in seconds, of the DATA-end -> 250
// histogram. They are the ones /metrics has always shown: dashboards and
// recorded series compare across versions, so they stay fixed.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// newLatencyHistogram is the histogram of ServerMetrics.Latency. Its
// Observe is lock-free (atomics), so the SMTP hot path pays no more than it
// did with the hand-written one; the daemon registers it for /metrics.
func newLatencyHistogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "helpdesk_smtp_data_to_250_seconds",
		Help:    "Time from the end of DATA to the 250 answer.",
		Buckets: latencyBuckets,
	})
}
