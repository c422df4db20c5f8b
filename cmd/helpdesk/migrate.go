package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/daemon"
	"helpdesk/gateway/report"
	"helpdesk/store"
	"helpdesk/store/migrate"
)

const migrateHelp = `usage: helpdesk migrate --from bbolt|postgres --to postgres|bbolt [--data-dir DIR] [--dsn DSN] [-config FILE]

Copies a whole store into another engine and verifies the copy equal:
every ticket with its comments, messages and their raw bytes (large
bodies too), side threads, customers, users and staff records, the
reply-token key ring (old reply addresses keep working), the ticket
number sequence (new tickets continue), rate windows and counters
(round-robin positions), the Message-ID index and duplicate check, the
outbound and webhook queues with their state, timers, report events and
the backlog, erasure records and quarantine.

  - Stop the daemon(s) first: the source is opened read-only and must not
    change while it is copied; a running daemon is refused.
  - The target must be empty: a new data_dir for bbolt, a new database for
    PostgreSQL (createdb helpdesk; the schema is created). A target holding
    records is refused and left as it was.
  - The bbolt side is data_dir of the configuration (or --data-dir), the
    PostgreSQL side [store] dsn (or --dsn).
  - After the copy, every record is compared by kind and every ticket is
    compared through the store as the daemon reads it; the counts are
    printed, and any difference exits non-zero.
  - Then point the configuration at the target ([store] engine, dsn or
    data_dir) and start the daemon.

example: helpdesk migrate --from bbolt --to postgres --dsn "host=/run/postgresql dbname=helpdesk"

flags:
`

// migrateCmd runs `helpdesk migrate`.
func (c *cli) migrateCmd(from, to, dataDir, dsn string) int {
	cfg, ok := c.loadConfig()
	if !ok {
		return 1
	}
	side := func(engine, flag string) (daemon.MigrationSide, error) {
		s := daemon.MigrationSide{Engine: engine, Dir: dataDir, DSN: dsn}
		switch engine {
		case config.EngineBolt:
			if s.Dir == "" {
				s.Dir = cfg.DataDir
			}
		case config.EnginePostgres:
			if s.DSN == "" {
				s.DSN = cfg.Store.DSN
			}
			if strings.TrimSpace(s.DSN) == "" {
				return s, fmt.Errorf("no PostgreSQL database named: pass --dsn (e.g. --dsn \"host=/run/postgresql dbname=helpdesk\") or set [store] dsn in %s", c.configPath)
			}
		case "":
			return s, fmt.Errorf("--%s is missing: bbolt or postgres", flag)
		default:
			return s, fmt.Errorf("--%s %q: not a storage engine (bbolt or postgres)", flag, engine)
		}
		return s, nil
	}
	srcSide, err := side(from, "from")
	if err != nil {
		return c.fail(2, "migrate: %v", err)
	}
	dstSide, err := side(to, "to")
	if err != nil {
		return c.fail(2, "migrate: %v", err)
	}
	if from == to {
		return c.fail(2, "migrate: --from and --to are both %s: to copy a bbolt store use helpdesk backup and restore; a PostgreSQL database, pg_dump and pg_restore", from)
	}
	src, err := daemon.OpenMigrationSource(srcSide)
	if err != nil {
		return c.fail(1, "migrate: %v", err)
	}
	defer src.Close()
	dst, err := daemon.OpenMigrationTarget(dstSide)
	if err != nil {
		return c.fail(1, "migrate: %v", err)
	}
	defer dst.Close()

	fmt.Fprintf(c.stdout, "copying %s (read-only) into %s\n", srcSide.Where(), dstSide.Where())
	start := time.Now()
	last := start
	counts, err := migrate.Copy(src, dst, func(kind store.RecordKind, n int) {
		if kind != "" {
			fmt.Fprintf(c.stdout, "  %-18s %d\n", kind, n)
			return
		}
		if time.Since(last) >= 2*time.Second {
			last = time.Now()
			fmt.Fprintf(c.stdout, "  ... %d records stored (%s)\n", n, migrate.Since(start))
		}
	})
	if err != nil {
		if errors.Is(err, store.ErrNotEmpty) {
			fix := "migrate into a new, empty data_dir (--data-dir NEWDIR)"
			if dstSide.Engine == config.EnginePostgres {
				fix = "migrate into a new, empty database (createdb helpdesk_new, then --dsn naming it), or drop and create this one"
			}
			return c.fail(1, "migrate: %v: nothing was copied; %s", err, fix)
		}
		if dstSide.Engine == config.EngineBolt {
			return c.fail(1, "migrate: %v (the target %s holds a partial copy: remove it before trying again)", err, dstSide.Dir)
		}
		return c.fail(1, "migrate: %v (nothing was stored: the copy is one transaction)", err)
	}
	n := 0
	for _, v := range counts {
		n += v
	}
	fmt.Fprintf(c.stdout, "copied %d records in %s\n", n, migrate.Since(start))

	fmt.Fprintf(c.stdout, "verifying: every record by kind, then ticket by ticket as the daemon reads them\n")
	vstart := time.Now()
	res, err := migrate.Verify(src, dst)
	if err != nil {
		return c.fail(1, "migrate: verifying: %v", err)
	}
	fmt.Fprintf(c.stdout, "  %-18s %10s %10s\n", "kind", "source", "target")
	for _, k := range res.Kinds {
		mark := "equal"
		if !k.Equal {
			mark = "DIFFERENT"
		}
		label := string(k.Kind)
		if k.Kind == store.KindBacklogMove {
			// Compared key by key (engines group a move's keys
			// differently), so not the number of moves copied above.
			label += " keys"
		}
		fmt.Fprintf(c.stdout, "  %-18s %10d %10d  %s\n", label, k.Source, k.Target, mark)
		for _, d := range k.Differ {
			fmt.Fprintf(c.stdout, "      %s %s\n", k.Kind, d)
		}
	}
	fmt.Fprintf(c.stdout, "  every record compared by kind in %s\n", res.RecordsTook.Round(100*time.Millisecond))
	fmt.Fprintf(c.stdout, "  tickets compared one by one: %d (%d comments, %d messages, %d raw bytes) in %s\n", res.Tickets, res.Comments, res.Messages, res.RawBytes, res.TicketsTook.Round(100*time.Millisecond))
	for _, d := range res.TicketDiffs {
		fmt.Fprintf(c.stdout, "      DIFFERENT: %s\n", d)
	}
	if !res.Equal() {
		return c.fail(1, "migrate: the copy differs from the source (see above): do not switch to it")
	}
	fmt.Fprintf(c.stdout, "verified in %s: the stores are equal\n", migrate.Since(vstart))
	if dstSide.Engine == config.EnginePostgres {
		// A bbolt store that no daemon opened since the report index
		// exists (a bench's, an old one) gets it when a daemon opens it;
		// on PostgreSQL the daemons do not build it (several may start
		// at once), so the migration does, once, as the last step.
		n, err := report.Backfill(dst, nil, 0)
		if err != nil {
			return c.fail(1, "migrate: the copy is complete and equal, but %v", err)
		}
		if n > 0 {
			fmt.Fprintf(c.stdout, "built the report index for %d tickets (the source predates it; a bbolt daemon would have built it on its start)\n", n)
		}
	}
	if dstSide.Engine == config.EnginePostgres {
		fmt.Fprintf(c.stdout, "next: set [store] engine = \"postgres\" and dsn in %s, then start the daemon(s)\n", c.configPath)
	} else {
		fmt.Fprintf(c.stdout, "next: set [store] engine = \"bbolt\" (remove dsn) and data_dir = %q in %s, then start the daemon\n", dstSide.Dir, c.configPath)
	}
	return 0
}

// pgBackupHint is what `helpdesk backup FILE` and `restore FILE` answer
// on PostgreSQL: the exact pg_dump and pg_restore commands for the
// configured database (its password left out: pg_dump reads it from
// ~/.pgpass or PGPASSWORD).
func pgBackupHint(cfg *config.Config, file string) string {
	dsn := daemon.RedactDSN(cfg.Store.DSN)
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	note := ""
	if dsn != cfg.Store.DSN {
		note = " (the password is left out here: put it in ~/.pgpass or PGPASSWORD)"
	}
	return fmt.Sprintf("the postgres engine is backed up with PostgreSQL's own tools, consistent and online:\n"+
		"  pg_dump --format=custom --file=%s %s\n"+
		"restore into a new, empty database (createdb first) with:\n"+
		"  pg_restore --dbname=%s %s\n"+
		"for point-in-time recovery use pg_basebackup with WAL archiving%s",
		q(file), q(dsn), q(dsn), q(file), note)
}
