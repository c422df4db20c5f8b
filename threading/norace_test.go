//go:build !race

package threading

const raceEnabled = false
