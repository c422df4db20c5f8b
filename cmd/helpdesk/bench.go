package main

import (
	"io"

	"helpdesk/gateway/benchcmd"
)

// The bench is gateway's instrument (gateway/internal/bench); its command
// line lives with it.
func benchMain(args []string, stdout, stderr io.Writer) int {
	return benchcmd.Main(args, stdout, stderr)
}

// A daemon the bench started with a CPU profile requested profiles from
// its very start.
func init() { benchcmd.ProfileFromEnv() }
