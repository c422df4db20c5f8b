package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SchemaVersion is the schema this binary reads and writes.
const SchemaVersion = 9

// migrations[v-1] upgrades the schema from version v-1 to v. Append a
// step when the layout changes; never edit one that shipped.
var migrations = []string{
	// 1: the first layout. Ids and due times are bigints (due times and
	// leases in unix nanoseconds, as the records carry them: timestamptz
	// keeps microseconds, and a queue comparing rounded instants would
	// hand out items a little early or report a NextDue that is not the
	// record's).
	`
CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE sequences (name text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE counters (name text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE tickets (
	id bigint PRIMARY KEY,
	status text NOT NULL,
	requester text NOT NULL,
	data json NOT NULL
);
CREATE INDEX tickets_status ON tickets (status, id);
CREATE INDEX tickets_requester ON tickets (requester, id);
CREATE TABLE comments (
	ticket bigint NOT NULL,
	id integer NOT NULL,
	data json NOT NULL,
	PRIMARY KEY (ticket, id)
);
CREATE TABLE messages (id bigint PRIMARY KEY, ticket bigint NOT NULL, data json NOT NULL);
CREATE TABLE message_raw (id bigint PRIMARY KEY, raw bytea NOT NULL);
CREATE TABLE message_identity (
	message_id text NOT NULL,
	body_hash text NOT NULL,
	message bigint NOT NULL,
	PRIMARY KEY (message_id, body_hash)
);
CREATE TABLE message_refs (message_id text PRIMARY KEY, ticket bigint NOT NULL, data json NOT NULL);
CREATE TABLE users (id bigint PRIMARY KEY, addr text NOT NULL UNIQUE, data json NOT NULL);
CREATE TABLE outbound (
	id bigint PRIMARY KEY,
	state text NOT NULL,
	due_ns bigint NOT NULL,
	lease_holder text NOT NULL,
	lease_until_ns bigint NOT NULL,
	data json NOT NULL
);
CREATE INDEX outbound_due ON outbound (due_ns, id) WHERE state = 'queued';
CREATE TABLE webhooks (id bigint PRIMARY KEY, state text NOT NULL, due_ns bigint NOT NULL, data json NOT NULL);
CREATE INDEX webhooks_due ON webhooks (due_ns, id) WHERE state = 'queued';
CREATE TABLE quarantine (id bigint PRIMARY KEY, data json NOT NULL);
CREATE TABLE rates (key text PRIMARY KEY, data bytea NOT NULL);
CREATE TABLE blobs (name text PRIMARY KEY, size bigint NOT NULL, raw bytea NOT NULL);
`,
	// 2: customer profiles (SPEC 8) and the scheduler's timers (issue 14).
	`
CREATE TABLE customers (id bigint PRIMARY KEY, organization text NOT NULL, data json NOT NULL);
CREATE INDEX customers_organization ON customers (organization, id);
CREATE TABLE customer_addresses (addr text PRIMARY KEY, customer bigint NOT NULL);
CREATE TABLE customer_tickets (
	customer bigint NOT NULL,
	role text NOT NULL,
	ticket bigint NOT NULL,
	PRIMARY KEY (customer, role, ticket)
);
CREATE TABLE customer_activity (
	customer bigint NOT NULL,
	seq bigint NOT NULL,
	at_ns bigint NOT NULL,
	data json NOT NULL,
	PRIMARY KEY (customer, seq)
);
CREATE INDEX customer_activity_at ON customer_activity (customer, at_ns, seq);
CREATE TABLE timers (ticket bigint NOT NULL, kind text NOT NULL, at_ns bigint NOT NULL, PRIMARY KEY (ticket, kind));
CREATE INDEX timers_due ON timers (at_ns, ticket, kind);
`,
	// 3: the report event index and the backlog's moves (issue 16).
	`
CREATE TABLE report_events (
	seq bigserial PRIMARY KEY,
	at_ns bigint NOT NULL,
	kind text NOT NULL,
	ticket bigint NOT NULL,
	grp text NOT NULL,
	mailbox text NOT NULL,
	agent text NOT NULL,
	since_ns bigint,
	target text NOT NULL,
	rating integer NOT NULL
);
CREATE INDEX report_events_at ON report_events (at_ns, seq);
CREATE TABLE report_backlog (seq bigserial PRIMARY KEY, at_ns bigint NOT NULL, key bytea NOT NULL, delta integer NOT NULL);
CREATE INDEX report_backlog_at ON report_backlog (at_ns, key, delta);
`,
	// 4: erasure records (GDPR, issue 16 item 2), and an index of the
	// messages naming a large body, so deleting one message's raw mail
	// finds whether another shares the content-addressed row.
	`
CREATE TABLE erasures (
	id bigint PRIMARY KEY,
	at timestamptz NOT NULL,
	erased_by text NOT NULL,
	via text NOT NULL,
	tickets integer NOT NULL,
	data json NOT NULL
);
CREATE INDEX messages_blob ON messages ((data->>'blob')) WHERE data->>'blob' IS NOT NULL;
`,
	// 5: fewer and smaller row writes per mail (issue 18 item 6).
	// The outbound queue's record (the mail) is written whole when it is
	// queued; a claim and an outcome set the queue columns and progress
	// (the changed fields as a JSON object whose fields override data's,
	// see outData): with data before them in the row and room on the page
	// (fillfactor), the new row version stays on its page, the WAL
	// record is the changed tail, and a claim is a HOT update. A backlog move is one row (its keys as
	// arrays) instead of one row and one index entry per key.
	`
CREATE TABLE outbound_v5 (
	id bigint PRIMARY KEY,
	data json NOT NULL,
	state text NOT NULL,
	due_ns bigint NOT NULL,
	lease_holder text NOT NULL,
	lease_until_ns bigint NOT NULL,
	progress text
) WITH (fillfactor = 50);
INSERT INTO outbound_v5 (id, state, due_ns, data, lease_holder, lease_until_ns)
	SELECT id, state, due_ns, data, lease_holder, lease_until_ns FROM outbound;
DROP TABLE outbound;
ALTER TABLE outbound_v5 RENAME TO outbound;
ALTER INDEX outbound_v5_pkey RENAME TO outbound_pkey;
CREATE INDEX outbound_due ON outbound (due_ns, id) WHERE state = 'queued';
CREATE TABLE report_backlog_moves (
	seq bigserial PRIMARY KEY,
	at_ns bigint NOT NULL,
	dec bytea[] NOT NULL,
	inc bytea[] NOT NULL
);
INSERT INTO report_backlog_moves (at_ns, dec, inc)
	SELECT at_ns, array_fill(key, ARRAY[greatest(-delta, 0)]), array_fill(key, ARRAY[greatest(delta, 0)])
	FROM report_backlog ORDER BY seq;
DROP TABLE report_backlog;
`,
	// 6: the write log (DB.tryCommit): each commit's number (meta
	// write_seq) and the keys of the rows it wrote that writers keep
	// cached, so a daemon sharing the database drops only those.
	`
CREATE TABLE write_log (seq bigint PRIMARY KEY, keys text[] NOT NULL);
`,
	// 7: fewer index entries per new ticket (issue 18 item 6). A
	// customer's organization is indexed only where one is set (most
	// profiles have none); the report events and a customer's timeline
	// are keyed by the order they are read in, so the primary key is
	// that index (seq stays unique by its sequence). A mail's raw bytes
	// and a comment's record (the mail's text) are kept compressed in
	// their row (storage main): a 4 KiB mail compresses (lz4) to just
	// over the 2 KB at which PostgreSQL would move it to the TOAST
	// table, two more rows and index entries there per value and more
	// WAL; main moves a value out only when the row would not fit on
	// a page.
	`
ALTER TABLE message_raw ALTER COLUMN raw SET STORAGE MAIN;
ALTER TABLE comments ALTER COLUMN data SET STORAGE MAIN;
DROP INDEX customers_organization;
CREATE INDEX customers_organization ON customers (organization, id) WHERE organization <> '';
ALTER TABLE report_events DROP CONSTRAINT report_events_pkey;
DROP INDEX report_events_at;
ALTER TABLE report_events ADD PRIMARY KEY (at_ns, seq);
ALTER TABLE customer_activity DROP CONSTRAINT customer_activity_pkey;
DROP INDEX customer_activity_at;
ALTER TABLE customer_activity ADD PRIMARY KEY (customer, at_ns, seq);
`,
	// 8: a message's raw bytes and identity (Message-ID, body hash) are
	// columns of its row instead of rows of message_raw and
	// message_identity: two rows and a primary key entry less per mail,
	// and two tables less in each commit's statements. The identity is
	// unique (the duplicate check across daemons; NULLs are distinct:
	// not a partial index, which a join's lookups could not use). All
	// of the row is kept in it (storage main, as schema 7's raw): when
	// a row is too long PostgreSQL first moves the columns it may move
	// out to the TOAST table, and only then compresses main ones, so
	// the record and the identity went there while the mail's raw
	// bytes stayed to be compressed. raw is
	// NULL for a body kept in blobs or deleted by retention. Rows of the
	// old tables that name no message (none are written) are dropped.
	`
ALTER TABLE messages ADD COLUMN raw bytea, ADD COLUMN message_id text, ADD COLUMN body_hash text;
ALTER TABLE messages ALTER COLUMN raw SET STORAGE MAIN, ALTER COLUMN data SET STORAGE MAIN,
	ALTER COLUMN message_id SET STORAGE MAIN, ALTER COLUMN body_hash SET STORAGE MAIN;
UPDATE messages m SET raw = x.raw, message_id = x.message_id, body_hash = x.body_hash
FROM (SELECT m2.id, r.raw, i.message_id, i.body_hash FROM messages m2
	LEFT JOIN message_raw r ON r.id = m2.id
	LEFT JOIN message_identity i ON i.message = m2.id
	WHERE r.id IS NOT NULL OR i.message IS NOT NULL) x
WHERE x.id = m.id;
DROP TABLE message_raw;
DROP TABLE message_identity;
CREATE UNIQUE INDEX messages_identity ON messages (message_id, body_hash);
`,
	// 9: a backlog move is columns of report_events (dec, inc: the keys
	// a ticket left and entered), joining the event its write added at
	// the same instant, instead of a row of report_backlog_moves: a new
	// ticket's "received" and its move into the open backlog are one
	// row. A move without such an event is a row of kind ''.
	`
ALTER TABLE report_events ADD COLUMN dec bytea[], ADD COLUMN inc bytea[];
INSERT INTO report_events (at_ns, kind, ticket, grp, mailbox, agent, since_ns, target, rating, dec, inc)
	SELECT at_ns, '', 0, '', '', '', NULL, '', 0, dec, inc FROM report_backlog_moves ORDER BY seq;
DROP TABLE report_backlog_moves;
`,
}

// Advisory lock keys (one 64-bit space per database): the schema
// migration, the write lock every write transaction takes, and the
// leader lock of package gateway/daemon.
const (
	lockSchema int64 = 0x68656c7064657331 // "helpdes1"
	lockWrite  int64 = 0x68656c7064657332
	// LockLeader is the session-level advisory lock the daemon that runs
	// timers and sweeps holds (Leader).
	LockLeader int64 = 0x68656c7064657333
)

// Migrate creates the schema or brings it to SchemaVersion and returns
// the versions before and after. A schema newer than this binary's is
// refused. Several processes may call it at once: the migration runs under
// an advisory lock, each step in its own transaction.
func Migrate(ctx context.Context, conn *pgx.Conn) (from, to int, err error) {
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockSchema); err != nil {
		return 0, 0, fmt.Errorf("locking the schema for migration: %w", err)
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockSchema)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, 0, fmt.Errorf("creating schema_migrations: %w", err)
	}
	from, err = schemaVersion(ctx, conn)
	if err != nil {
		return 0, 0, err
	}
	for v := from; v < SchemaVersion; v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", v+1)
			return err
		})
		if err != nil {
			return from, v, fmt.Errorf("migrating the schema from version %d to %d: %w", v, v+1, err)
		}
	}
	return from, SchemaVersion, nil
}

// schemaVersion reads the version a database's schema is at (0: none),
// refusing one newer than this binary's.
func schemaVersion(ctx context.Context, conn interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var v int
	err := conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the schema version: %w", err)
	}
	if v > SchemaVersion {
		return v, fmt.Errorf("the database's helpdesk schema is version %d, newer than this binary's %d: use a newer helpdesk", v, SchemaVersion)
	}
	return v, nil
}

// MigrateDSN connects to dsn and runs Migrate.
func MigrateDSN(ctx context.Context, dsn string) (from, to int, err error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, 0, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	return Migrate(ctx, conn)
}
