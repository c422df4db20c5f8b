//go:build race

package bolt

// raceEnabled: the race detector's sync.Pool drops pooled objects at
// random, so allocation bounds do not hold under -race.
const raceEnabled = true
