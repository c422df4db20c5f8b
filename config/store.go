package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Store chooses the storage engine ([store], issue 18).
type Store struct {
	// Engine is "bbolt" (the default: one file under data_dir) or
	// "postgres" (a PostgreSQL database several daemons may share).
	Engine string `toml:"engine"`
	// DSN names the PostgreSQL database: a URL
	// ("postgres://helpdesk@db.example.com/helpdesk") or key=value
	// settings ("host=/run/postgresql dbname=helpdesk").
	DSN string `toml:"dsn"`
	// Node names this daemon among those sharing a database (the holder
	// of its outbound leases, its name in the leader lock's log lines);
	// default: the host name. Two daemons on one host need two names.
	Node string `toml:"node"`
}

// Storage engines of [store] engine.
const (
	EngineBolt     = "bbolt"
	EnginePostgres = "postgres"
)

var nodeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func (c *Config) validateStore(v *validator) {
	s := c.Store
	switch s.Engine {
	case "", EngineBolt:
		if s.DSN != "" {
			v.add("store.dsn", `set while store.engine is "bbolt" (the default), which keeps its file in data_dir`,
				`remove dsn, or set engine = "postgres" to use that database`)
		}
	case EnginePostgres:
		if strings.TrimSpace(s.DSN) == "" {
			v.add("store.dsn", `missing while store.engine is "postgres"`,
				`name the database, e.g. dsn = "postgres://helpdesk@db.example.com/helpdesk" or dsn = "host=/run/postgresql dbname=helpdesk"`)
		} else if _, err := pgconn.ParseConfig(s.DSN); err != nil {
			v.add("store.dsn", fmt.Sprintf("not a PostgreSQL connection string: %v", err),
				`use a URL such as "postgres://helpdesk@db.example.com:5432/helpdesk" or settings such as "host=/run/postgresql dbname=helpdesk"`)
		}
	default:
		v.add("store.engine", fmt.Sprintf("%q is not a storage engine", s.Engine), `use "bbolt" (the default, a file in data_dir) or "postgres" (with dsn)`)
	}
	if s.Node != "" && !nodeName.MatchString(s.Node) {
		v.add("store.node", fmt.Sprintf("%q is not a node name", s.Node), `use up to 63 letters, digits, dots, dashes or underscores, e.g. node = "mx1"`)
	}
}
