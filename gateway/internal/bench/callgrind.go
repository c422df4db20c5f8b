package bench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// CallgrindEnv, when set to anything but "", makes the bench run each
// helpdesk daemon under valgrind's callgrind with instrumentation off,
// turn it on for the measured burst only, and report the instructions
// the daemon executed in the burst per accepted mail (Run.InstrPerMsg).
// Unlike msg/s and CPU time, that count is the same on a loaded machine
// as on a quiet one, so a change's cost per mail can be measured while
// others share the machine. The daemon runs some 50 times slower: use a
// small -n and a long -duration, e.g.
//
//	HELPDESK_BENCH_CALLGRIND=1 helpdesk bench -mode rules -runs 1 -n 1000 -duration 30m
const CallgrindEnv = "HELPDESK_BENCH_CALLGRIND"

// callgrind reports whether the daemons run under callgrind.
func callgrind() bool { return os.Getenv(CallgrindEnv) != "" }

// callgrindOut is where the daemon run in dir writes its counts.
func callgrindOut(dir string) string { return filepath.Join(dir, "callgrind.out") }

// callgrindCommand is bin args run under callgrind, counting nothing
// until callgrindInstr turns it on.
func callgrindCommand(dir, bin string, args []string) (string, []string) {
	return "valgrind", append([]string{"--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=" + callgrindOut(dir), bin}, args...)
}

// callgrindInstr turns the counting of the daemon pid on or off.
func callgrindInstr(pid int, on bool) error {
	state := "off"
	if on {
		state = "on"
	}
	out, err := exec.Command("callgrind_control", "-i", state, strconv.Itoa(pid)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("callgrind_control -i %s %d: %v: %s", state, pid, err, out)
	}
	return nil
}

// callgrindTotal reads the instruction count (the "totals:" line; its
// "summary:" line stays 0 when counting was switched on late) of a
// callgrind output file the daemon wrote at exit.
func callgrindTotal(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "totals:"); ok {
			if fs := strings.Fields(v); len(fs) > 0 {
				return strconv.ParseInt(fs[0], 10, 64)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no totals line", path)
}
