//go:build !crashdrill

package crashdrill

// defaultIterations without the crashdrill build tag: one iteration keeps
// the drill in every `go test ./...`.
const defaultIterations = 1
