package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a server running as a child process (the helpdesk daemon or the
// reference), so its memory and I/O are its own.
type Proc struct {
	Name     string
	Cmd      *exec.Cmd
	SMTPAddr string
	HTTPAddr string
	Dir      string
	// Profile is the CPU profile file the child writes (ProfileEnv).
	Profile string

	logs    *tailWriter
	exited  chan struct{}
	waitErr error
}

var (
	serveLineRe = regexp.MustCompile(`SMTP on ([^,\s]+)`)
	refLineRe   = regexp.MustCompile(`reference SMTP on (\S+)`)
	metricsRe   = regexp.MustCompile(`metrics on http://(\S+?)/metrics`)
)

// StartProc runs bin with args and waits (bounded) for the line on stdout
// that names its SMTP address. logs receives the child's stderr (nil:
// counted and discarded, the tail kept for error reports). extraEnv is
// added to the environment.
func StartProc(name, bin string, args []string, dir string, logs io.Writer, extraEnv []string) (*Proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), extraEnv...)
	p := &Proc{Name: name, Cmd: cmd, Dir: dir, logs: &tailWriter{w: logs}, exited: make(chan struct{})}
	cmd.Stderr = p.logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				<-p.exited
				return nil, fmt.Errorf("%s exited before listening (%v): %s", name, p.waitErr, p.logs.Tail())
			}
			if m := refLineRe.FindStringSubmatch(l); m != nil {
				p.SMTPAddr = m[1]
				return p, nil
			}
			if m := serveLineRe.FindStringSubmatch(l); m != nil {
				p.SMTPAddr = m[1]
				if mm := metricsRe.FindStringSubmatch(l); mm != nil {
					p.HTTPAddr = mm[1]
				}
				return p, nil
			}
		case <-timeout.C:
			p.Kill()
			return nil, fmt.Errorf("%s did not report its SMTP address within 60s: %s", name, p.logs.Tail())
		}
	}
}

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// LogBytes is how much the child wrote to stderr.
func (p *Proc) LogBytes() int64 { return p.logs.n }

// LogTail is the end of the child's stderr.
func (p *Proc) LogTail() string { return p.logs.Tail() }

// Exited reports whether the child has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and waits up to timeout, then kills.
func (p *Proc) Stop(timeout time.Duration) error {
	if p.Exited() {
		return p.waitErr
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.waitErr
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("%s did not stop within %s; killed", p.Name, timeout)
	}
}

// Kill sends SIGKILL and waits for the child to be reaped.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Signal sends sig to the child.
func (p *Proc) Signal(sig os.Signal) error { return p.Cmd.Process.Signal(sig) }

// Stats are what /proc says about a process.
type Stats struct {
	// PeakRSS is VmHWM, the resident set's high-water mark. It counts
	// file-backed pages too: the store's mmap'd pages once touched.
	PeakRSS int64
	// RSSAnon and RSSFile split the current resident set (RssAnon,
	// RssFile + RssShmem).
	RSSAnon, RSSFile int64
	// Written is write_bytes (bytes the process caused to be written to
	// storage) or, when the kernel does not account it, wchar (bytes
	// passed to write calls); WrittenSource says which.
	Written       int64
	WrittenSource string
	// CPUSeconds is the user+system CPU time the process has used
	// (/proc/<pid>/stat utime+stime).
	CPUSeconds float64
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// procCPU reads utime+stime of /proc/<pid>/stat in seconds.
func procCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may contain spaces: fields count from
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: malformed /proc/%d/stat times", pid)
	}
	return float64(ut+st) / clockTicks, nil
}

// selfCPU is this process's user+system CPU time in seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// ProcStats reads /proc/<pid>/status and /proc/<pid>/io.
func ProcStats(pid int) (Stats, error) {
	var s Stats
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, l := range strings.Split(string(status), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmHWM:":
			s.PeakRSS = kb << 10
		case "RssAnon:":
			s.RSSAnon = kb << 10
		case "RssFile:", "RssShmem:":
			s.RSSFile += kb << 10
		}
	}
	if cpu, err := procCPU(pid); err == nil {
		s.CPUSeconds = cpu
	}
	io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return s, err
	}
	vals := map[string]int64{}
	for _, l := range strings.Split(string(io), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			vals[k] = n
		}
	}
	if wb, ok := vals["write_bytes"]; ok && wb > 0 {
		s.Written, s.WrittenSource = wb, "write_bytes"
	} else {
		s.Written, s.WrittenSource = vals["wchar"], "wchar"
	}
	return s, nil
}

// sampleAnon polls the process's anonymous RSS every 20ms until stop is
// closed and returns the largest value seen (the kernel keeps no
// high-water mark for it).
func sampleAnon(pid int, stop chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if st, err := ProcStats(pid); err == nil && st.RSSAnon > peak {
				peak = st.RSSAnon
			}
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

// DirSize is the total size of the regular files under dir.
func DirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// tailWriter counts what passes and keeps the last 8 KiB.
type tailWriter struct {
	w    io.Writer
	mu   sync.Mutex
	n    int64
	tail []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.n += int64(len(p))
	t.tail = append(t.tail, p...)
	if len(t.tail) > 16<<10 {
		t.tail = append(t.tail[:0], t.tail[len(t.tail)-8<<10:]...)
	}
	t.mu.Unlock()
	if t.w != nil {
		return t.w.Write(p)
	}
	return len(p), nil
}

func (t *tailWriter) Tail() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.tail
	if len(b) > 4<<10 {
		b = b[len(b)-4<<10:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// ErrNotLoopback refuses a target outside 127.0.0.0/8 and ::1.
var ErrNotLoopback = errors.New("bench: only loopback targets (127.0.0.0/8, ::1) are allowed")

// treeCPU is the CPU seconds (user+system) of a process and its live
// children (a PostgreSQL server: the postmaster and its backends).
func treeCPU(pid int) (float64, error) {
	total, err := procCPU(pid)
	if err != nil {
		return 0, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", child))
		if err != nil {
			continue // gone meanwhile
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		// f[1] is field 4, the parent's pid.
		if len(f) < 13 || f[1] != strconv.Itoa(pid) {
			continue
		}
		if c, err := procCPU(child); err == nil {
			total += c
		}
	}
	return total, nil
}
