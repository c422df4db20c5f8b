//go:build race

package threading

// raceEnabled: the race detector's sync.Pool drops pooled objects at
// random (regexp's backtracker state among them), so allocation bounds do
// not hold under -race.
const raceEnabled = true
