// Package pgcluster runs a throwaway PostgreSQL server in a temporary
// directory (data and Unix socket, no TCP port): the tests' (through
// package pgtest), the faults drill's and the bench's. As root the server
// runs as user postgres (initdb refuses root).
package pgcluster

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
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a running PostgreSQL server.
type Cluster struct {
	Dir  string // the temporary directory: data/, the socket, the log
	bin  string
	asPG bool // root: the server runs as user postgres
	port int
	// fsync is the server's fsync setting.
	fsync bool
	// settings are more -c settings (Options.Settings).
	settings []string
}

// Options shape a cluster.
type Options struct {
	// Fsync makes commits durable against power loss (the bench: the
	// figures of synchronous_commit = on with fsync); off, commits are
	// durable against process crashes only, which is what tests kill.
	Fsync bool
	// Settings are more server settings, "name=value" each (the bench's
	// statement statistics: shared_preload_libraries=pg_stat_statements).
	Settings []string
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
func Start(o Options) (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "helpdesk-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: bin, asPG: os.Geteuid() == 0, port: 5432, fsync: o.Fsync, settings: o.Settings}
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

// start starts the server: Unix socket only, room for many daemons,
// synchronous_commit on (the default); fsync as the options say.
func (c *Cluster) start() error {
	fsync := "off"
	if c.fsync {
		fsync = "on"
	}
	opts := fmt.Sprintf("-k %s -c listen_addresses='' -p %d -c max_connections=400 -c shared_buffers=128MB -c fsync=%s", c.Dir, c.port, fsync)
	for _, kv := range c.settings {
		opts += " -c " + kv
	}
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

// Halt stops the server as a crash would (immediate) and leaves it down,
// data kept, until Resume: an outage of chosen length.
func (c *Cluster) Halt() error {
	if out, err := c.run("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	return nil
}

// Resume starts a server Halt stopped.
func (c *Cluster) Resume() error { return c.start() }

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

// Pid is the postmaster's process id (0: unknown), from postmaster.pid.
func (c *Cluster) Pid() int {
	b, err := os.ReadFile(filepath.Join(c.data(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}
