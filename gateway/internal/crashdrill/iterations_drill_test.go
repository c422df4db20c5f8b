//go:build crashdrill

package crashdrill

// defaultIterations with -tags crashdrill (scripts/crash-drill, CI).
const defaultIterations = 20
