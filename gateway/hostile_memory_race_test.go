//go:build race

package gateway_test

// raceEnabled: the race detector slows byte loops about tenfold, so the
// huge-mail test sends less.
const raceEnabled = true
