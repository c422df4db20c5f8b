package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"helpdesk/store/postgres/pgtest"
)

func TestZExplain(t *testing.T) {
	dsn := pgtest.NewDB(t)
	openTest(t, dsn)
	ctx := context.Background()
	conn, _ := pgx.Connect(ctx, dsn)
	conn.Exec(ctx, `INSERT INTO messages (id, ticket, message_id, body_hash, raw, data) SELECT i, i, 'm'||i||'@x', 'h'||i, 'raw'::bytea, '{}' FROM generate_series(1, 20000) i; ANALYZE messages`)
	for _, q := range []string{
		"EXPLAIN " + pfIdentity,
		"EXPLAIN SELECT id FROM messages WHERE message_id = $1 AND body_hash = $2",
		"EXPLAIN INSERT INTO messages (id, ticket, raw, message_id, body_hash, data) VALUES ($1, $2, $3, $4, $5, $6)",
	} {
		rows, err := conn.Query(ctx, q, []string{"m5@x"}, []string{"h5"})
		if q[8:14] == "SELECT" && q[15:17] == "id" {
			rows, err = conn.Query(ctx, q, "m5@x", "h5")
		}
		if q[8:14] == "INSERT" {
			rows, err = conn.Query(ctx, q, 30000, 1, []byte("x"), "a", "b", "{}")
		}
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			t.Log(s)
		}
		rows.Close()
	}
}
