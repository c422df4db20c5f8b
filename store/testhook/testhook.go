// Package testhook stops the daemon at named points, for outside-in
// crash tests only: an acceptance test starts `helpdesk serve` with
// HELPDESK_TEST_HOLD=point[,point...], waits for the line "holding at
// POINT" on stderr and kills the process there with SIGKILL, so the kill
// lands exactly between two writes instead of at a random moment (the
// crash drill's). Never set it on a real installation: a held daemon
// does nothing more on that path until it is killed. It lives under
// store/ because the storage engines hold in it too (store imports
// nothing of the project's outside store/).
//
// The points:
//
//	erase-confirmed  an erase confirmed by mail is recorded (the mail's
//	                 write committed), before the erase's write
//	erase-erased     the erase's write committed, before its files are
//	                 removed and the store compacted
//	compact          inside a compaction (bbolt: the compacted copy is
//	                 written but not yet in place; PostgreSQL: the write
//	                 lock is taken, before VACUUM FULL)
//	timers-rearm     a re-arming of every ticket's timers (new timer
//	                 settings) committed its first write, before the
//	                 next ([testing] rearm_chunk sets its size)
package testhook

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Env names the points to hold at.
const Env = "HELPDESK_TEST_HOLD"

var points = strings.Split(os.Getenv(Env), ",")

// Hold blocks for ever when HELPDESK_TEST_HOLD names point, after saying
// so on stderr; otherwise it returns at once.
func Hold(point string) {
	if !slices.Contains(points, point) {
		return
	}
	fmt.Fprintf(os.Stderr, "helpdesk test hook: holding at %s (%s); kill the process\n", point, Env)
	for {
		time.Sleep(time.Hour)
	}
}
