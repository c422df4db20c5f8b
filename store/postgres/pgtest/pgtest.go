// Package pgtest runs a throwaway PostgreSQL server for tests: one
// cluster per test binary, started on first use in a temporary directory
// (data and Unix socket, no TCP port), a fresh database per test, stopped
// when the binary ends (Main) or, if it is killed, by a watchdog.
//
// A test that needs PostgreSQL calls NewDB; it skips with a clear message
// when no PostgreSQL server binaries are installed (apt-get install
// postgresql), and fails instead when HELPDESK_TEST_PG=require (CI sets
// it, so a broken installation cannot pass as skipped tests).
package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a running PostgreSQL server.
type Cluster struct {
	Dir  string // the temporary directory: data/, the socket, the log
	bin  string
	asPG bool // root: the server runs as user postgres
	port int
}

var (
	sharedOnce sync.Once
	shared     *Cluster
	sharedErr  error
	dbSeq      atomic.Int64
)

// Main runs the tests and stops the shared cluster: call it from TestMain
// as os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	return code
}

// Shared is the test binary's cluster, started on first use; the test
// skips (or fails, under HELPDESK_TEST_PG=require) when PostgreSQL cannot
// be found or started.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = Start() })
	if sharedErr != nil {
		if os.Getenv("HELPDESK_TEST_PG") == "require" {
			t.Fatalf("PostgreSQL is required (HELPDESK_TEST_PG=require): %v", sharedErr)
		}
		t.Skipf("skipped: no PostgreSQL to test against (%v); install it with apt-get install -y postgresql", sharedErr)
	}
	return shared
}

// NewDB creates an empty database on the shared cluster and returns its
// DSN.
func NewDB(t testing.TB) string {
	t.Helper()
	c := Shared(t)
	dsn, err := c.CreateDB(fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// findBin finds the directory of initdb and pg_ctl: PATH, else Debian's
// /usr/lib/postgresql/<version>/bin (the newest).
func findBin() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			if real, err := filepath.EvalSymlinks(p); err == nil {
				return filepath.Dir(real), nil
			}
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("initdb and pg_ctl are not on PATH nor in /usr/lib/postgresql/*/bin")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start initializes and starts a new cluster.
func Start() (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "helpdesk-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: bin, asPG: os.Geteuid() == 0, port: 5432}
	if c.asPG {
		// initdb refuses to run as root: the cluster belongs to postgres.
		pg, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and there is no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if out, err := c.run("initdb", "-D", c.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	if err := c.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.watchdog()
	return c, nil
}

func (c *Cluster) data() string { return filepath.Join(c.Dir, "data") }

// run runs one of the server's programs (as postgres when root).
func (c *Cluster) run(prog string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, prog)
	var cmd *exec.Cmd
	if c.asPG {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.Dir
	return cmd.CombinedOutput()
}

// start starts the server: Unix socket only, room for many test daemons.
// Commits are synchronous (synchronous_commit on, the default) but not
// fsync'd: what tests kill is processes (a daemon, the server with an
// immediate stop), which the page cache survives, and fsyncs on a loaded
// CI machine cost minutes. The bench (gateway/internal/bench) starts its
// own server with fsync on.
func (c *Cluster) start() error {
	opts := fmt.Sprintf("-k %s -c listen_addresses='' -p %d -c max_connections=400 -c shared_buffers=64MB -c fsync=off", c.Dir, c.port)
	if out, err := c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.Dir, "server.log"), "-w", "-t", "120", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
		return fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, log)
	}
	return nil
}

// Stop stops the server (fast shutdown) and removes its directory.
func (c *Cluster) Stop() {
	c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "stop")
	os.RemoveAll(c.Dir)
}

// Restart stops the server as a crash would (immediate: no checkpoint,
// connections cut) and starts it again: what committed is recovered from
// the WAL.
func (c *Cluster) Restart() error {
	if out, err := c.run("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	return c.start()
}

// watchdog stops the server when the test binary dies without Main
// (killed, or a panic): no postmaster outlives its tests.
func (c *Cluster) watchdog() {
	script := fmt.Sprintf(`while kill -0 %d 2>/dev/null; do sleep 2; done; %s; rm -rf %s`,
		os.Getpid(), c.shell("pg_ctl", "-D", c.data(), "-m", "immediate", "stop"), c.Dir)
	cmd := exec.Command("sh", "-c", script)
	cmd.Stdout, cmd.Stderr = nil, nil
	if cmd.Start() == nil {
		go cmd.Wait()
	}
}

func (c *Cluster) shell(prog string, args ...string) string {
	parts := []string{filepath.Join(c.bin, prog)}
	parts = append(parts, args...)
	if c.asPG {
		parts = append([]string{"runuser", "-u", "postgres", "--"}, parts...)
	}
	return strings.Join(parts, " ")
}

// DSN is the connection string of a database on the cluster.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", c.Dir, c.port, db)
}

// CreateDB creates an empty database and returns its DSN.
func (c *Cluster) CreateDB(name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("connecting to the test cluster: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("creating database %s: %w", name, err)
	}
	return c.DSN(name), nil
}
