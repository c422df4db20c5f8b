package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"helpdesk/store"
)

// table is one table as the transaction writes it: whole rows, upserted
// by primary key (the first nkey columns).
type table struct {
	name   string
	cols   []string
	nkey   int
	upsert string
	del    string
}

func newTable(name string, nkey int, cols ...string) *table {
	t := &table{name: name, cols: cols, nkey: nkey}
	ph := make([]string, len(cols))
	for i := range cols {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	var set, where []string
	for i, c := range cols {
		if i < nkey {
			where = append(where, fmt.Sprintf("%s = $%d", c, i+1))
		} else {
			set = append(set, c+" = EXCLUDED."+c)
		}
	}
	if nkey == 0 {
		// An append-only table (its key a bigserial the database
		// assigns): rows are inserted in the batch's order, never
		// updated or deleted through the cache.
		t.upsert = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", name, strings.Join(cols, ", "), strings.Join(ph, ", "))
		return t
	}
	action := "DO NOTHING" // a table of keys only
	if len(set) > 0 {
		action = "DO UPDATE SET " + strings.Join(set, ", ")
	}
	t.upsert = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) %s",
		name, strings.Join(cols, ", "), strings.Join(ph, ", "), strings.Join(cols[:nkey], ", "), action)
	t.del = fmt.Sprintf("DELETE FROM %s WHERE %s", name, strings.Join(where, " AND "))
	return t
}

// The tables, as written. A record's json is always the last column.
var (
	tMeta      = newTable("meta", 1, "key", "value")
	tSeq       = newTable("sequences", 1, "name", "value")
	tCounters  = newTable("counters", 1, "name", "value")
	tTickets   = newTable("tickets", 1, "id", "status", "requester", "data")
	tComments  = newTable("comments", 2, "ticket", "id", "data")
	tMessages  = newTable("messages", 1, "id", "ticket", "data")
	tRaw       = newTable("message_raw", 1, "id", "raw")
	tIdentity  = newTable("message_identity", 2, "message_id", "body_hash", "message")
	tRefs      = newTable("message_refs", 1, "message_id", "ticket", "data")
	tUsers     = newTable("users", 1, "id", "addr", "data")
	tOutbound  = newTable("outbound", 1, "id", "state", "due_ns", "lease_holder", "lease_until_ns", "data")
	tWebhooks  = newTable("webhooks", 1, "id", "state", "due_ns", "data")
	tQuarantin = newTable("quarantine", 1, "id", "data")
	tRates     = newTable("rates", 1, "key", "data")
	tCustomers = newTable("customers", 1, "id", "organization", "data")
	tCustAddr  = newTable("customer_addresses", 1, "addr", "customer")
	tCustTk    = newTable("customer_tickets", 3, "customer", "role", "ticket")
	tCustAct   = newTable("customer_activity", 2, "customer", "seq", "at_ns", "data")
	tTimers    = newTable("timers", 2, "ticket", "kind", "at_ns")
	tErasures  = newTable("erasures", 1, "id", "at", "erased_by", "via", "tickets", "data")
)

// pkey names a row: its table and its key's text.
type pkey struct {
	t *table
	k string
}

// prow is a row written in this transaction and not sent yet (or a
// deletion).
type prow struct {
	vals []any
	del  bool
}

// undo restores a pending row as it was before a request wrote it.
type undo struct {
	key     pkey
	prev    *prow
	existed bool
}

// Tx is one transaction. Its writes are kept in pending (read back by
// the key lookups) and sent in one pipelined batch when a query has to
// see them or the transaction commits.
type Tx struct {
	db       *DB
	ctx      context.Context
	q        pgx.Tx
	writable bool

	pending map[pkey]*prow
	order   []pkey
	// userAddr finds pending users by address.
	userAddr map[string]pkey
	// read caches what key lookups read from the database (nil: no
	// row), userIDs the ids of addresses. Every writer holds the write
	// lock, so the database changes only by this transaction's flushes,
	// which drop the entries of the rows they send: a group of mails
	// looks up the same agents, threads and counters once.
	read    map[pkey]any
	userIDs map[string]uint64

	// The current request's undo log, and whether its writes (or an
	// earlier request's, written after it began) were sent.
	journal          []undo
	flushedInRequest bool
	// appended numbers the rows queued for append-only tables (their
	// pending keys; never reused, so a rolled-back request's rows stay
	// distinct from later ones).
	appended uint64

	// dbErr is the first database error: the PostgreSQL transaction is
	// aborted then, and the whole write fails (operations that return no
	// error, like TicketIDs, record theirs here).
	dbErr error
}

func newTx(db *DB, ctx context.Context, q pgx.Tx, writable bool) *Tx {
	return &Tx{db: db, ctx: ctx, q: q, writable: writable, pending: map[pkey]*prow{}, userAddr: map[string]pkey{},
		read: map[pkey]any{}, userIDs: map[string]uint64{}}
}

// Writable reports whether this is a write transaction.
func (t *Tx) Writable() bool { return t.writable }

// Now is the store clock.
func (t *Tx) Now() time.Time { return t.db.now() }

var errReadOnly = errors.New("writing in a read-only transaction")

func (t *Tx) beginRequest() {
	t.journal = t.journal[:0]
	t.flushedInRequest = false
}

// undoRequest drops what the current request wrote (nothing of it was
// sent).
func (t *Tx) undoRequest() {
	for i := len(t.journal) - 1; i >= 0; i-- {
		u := t.journal[i]
		if u.existed {
			t.pending[u.key] = u.prev
		} else {
			delete(t.pending, u.key)
		}
	}
	t.journal = t.journal[:0]
}

func (t *Tx) write(tb *table, k string, r *prow) error {
	if !t.writable {
		return fmt.Errorf("%s: %w", tb.name, errReadOnly)
	}
	if t.dbErr != nil {
		return t.dbErr
	}
	key := pkey{tb, k}
	prev, existed := t.pending[key]
	t.journal = append(t.journal, undo{key, prev, existed})
	if !existed {
		t.order = append(t.order, key)
	}
	t.pending[key] = r
	return nil
}

// put writes a row (vals in the table's column order).
func (t *Tx) put(tb *table, k string, vals ...any) error {
	return t.write(tb, k, &prow{vals: vals})
}

// appendRow queues a row of an append-only table (newTable with no key
// columns): it goes out with the transaction's next batch, after the
// writes queued before it.
func (t *Tx) appendRow(tb *table, vals ...any) error {
	t.appended++
	return t.write(tb, strconv.FormatUint(t.appended, 10), &prow{vals: vals})
}

// remove deletes a row.
func (t *Tx) remove(tb *table, k string, keyVals ...any) error {
	return t.write(tb, k, &prow{vals: keyVals, del: true})
}

// pendingRow returns the row this transaction wrote under k, if any.
func (t *Tx) pendingRow(tb *table, k string) (*prow, bool) {
	r, ok := t.pending[pkey{tb, k}]
	return r, ok
}

// flush sends the pending writes in one batch.
func (t *Tx) flush() error {
	if t.dbErr != nil {
		return t.dbErr
	}
	if len(t.pending) == 0 {
		t.order = t.order[:0]
		return nil
	}
	b := &pgx.Batch{}
	for _, k := range t.order {
		r, ok := t.pending[k]
		if !ok {
			continue
		}
		delete(t.pending, k)
		delete(t.read, k)
		if k.t == tUsers && !r.del {
			delete(t.userIDs, r.vals[1].(string))
		}
		if r.del {
			b.Queue(k.t.del, r.vals...)
		} else {
			b.Queue(k.t.upsert, r.vals...)
		}
	}
	t.order = t.order[:0]
	clear(t.userAddr)
	t.flushedInRequest = true
	if err := t.q.SendBatch(t.ctx, b).Close(); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.TableName == "message_identity" {
			err = fmt.Errorf("%w (%s)", store.ErrDuplicate, pgErr.Message)
		} else {
			err = fmt.Errorf("writing to PostgreSQL: %w", err)
		}
		t.dbErr = err
		return err
	}
	return nil
}

// exec runs a statement that must come after this transaction's writes
// (a delete by more than a key).
func (t *Tx) exec(sql string, args ...any) error {
	if !t.writable {
		return errReadOnly
	}
	if err := t.flush(); err != nil {
		return err
	}
	t.flushedInRequest = true
	// A statement that is not by key may change rows the read cache
	// holds (a customer's ticket links, deleted by customer).
	clear(t.read)
	clear(t.userIDs)
	if _, err := t.q.Exec(t.ctx, sql, args...); err != nil {
		return t.fail("writing to PostgreSQL", err)
	}
	return nil
}

// fail records a database error and returns it.
func (t *Tx) fail(what string, err error) error {
	err = fmt.Errorf("%s: %w", what, err)
	if t.dbErr == nil {
		t.dbErr = err
	}
	return err
}

// scan runs a query that must see this transaction's writes.
func (t *Tx) query(sql string, args ...any) (pgx.Rows, error) {
	if err := t.flush(); err != nil {
		return nil, err
	}
	rows, err := t.q.Query(t.ctx, sql, args...)
	if err != nil {
		return nil, t.fail("querying PostgreSQL", err)
	}
	return rows, nil
}

// ids runs a query returning one bigint column.
func (t *Tx) ids(sql string, args ...any) []uint64 {
	rows, err := t.query(sql, args...)
	if err != nil {
		return nil
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (uint64, error) {
		var v int64
		err := r.Scan(&v)
		return uint64(v), err
	})
	if err != nil {
		t.fail("reading ids", err)
		return nil
	}
	return out
}

// datas runs a query returning one json/bytea column.
func (t *Tx) datas(sql string, args ...any) ([][]byte, error) {
	rows, err := t.query(sql, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]byte, error) {
		var v []byte
		err := r.Scan(&v)
		return v, err
	})
	if err != nil {
		return nil, t.fail("reading records", err)
	}
	return out, nil
}

// scalar runs a query for one value (nil error and found false: no row).
// Key lookups need not see pending writes (they look there first), so
// nothing is flushed.
func (t *Tx) scalar(dst any, sql string, args ...any) (bool, error) {
	if t.dbErr != nil {
		return false, t.dbErr
	}
	err := t.q.QueryRow(t.ctx, sql, args...).Scan(dst)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, t.fail("reading from PostgreSQL", err)
	}
	return true, nil
}

// record reads a row's last column by key: this transaction's pending
// row, else the database's (store.ErrNotFound when there is none).
func (t *Tx) record(tb *table, k string, sql string, args ...any) ([]byte, error) {
	if r, ok := t.pendingRow(tb, k); ok {
		if r.del {
			return nil, store.ErrNotFound
		}
		return r.vals[len(r.vals)-1].([]byte), nil
	}
	var v []byte
	found, err := t.lookup(&v, tb, k, sql, args...)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, store.ErrNotFound
	}
	return v, nil
}

// lookup is scalar for the row (tb, k), through the read cache. dst is
// a *[]byte, *int64 or *string.
func (t *Tx) lookup(dst any, tb *table, k string, sql string, args ...any) (bool, error) {
	key := pkey{tb, k}
	if v, ok := t.read[key]; ok {
		if v == nil {
			return false, nil
		}
		switch d := dst.(type) {
		case *[]byte:
			*d = v.([]byte)
		case *int64:
			*d = v.(int64)
		case *string:
			*d = v.(string)
		}
		return true, nil
	}
	found, err := t.scalar(dst, sql, args...)
	if err != nil {
		return false, err
	}
	if !found {
		t.read[key] = nil
		return false, nil
	}
	switch d := dst.(type) {
	case *[]byte:
		t.read[key] = *d
	case *int64:
		t.read[key] = *d
	case *string:
		t.read[key] = *d
	}
	return true, nil
}

// nextID takes the next id of a named sequence (rows of table sequences:
// transactional, so a rolled-back write takes no number).
func (t *Tx) nextID(name string) (uint64, error) {
	v, err := t.seqValue(name)
	if err != nil {
		return 0, err
	}
	v++
	return v, t.put(tSeq, name, name, int64(v))
}

// seqValue is the last id a sequence gave.
func (t *Tx) seqValue(name string) (uint64, error) {
	if r, ok := t.pendingRow(tSeq, name); ok {
		return uint64(r.vals[1].(int64)), nil
	}
	var v int64
	if _, err := t.lookup(&v, tSeq, name, "SELECT value FROM sequences WHERE name = $1", name); err != nil {
		return 0, err
	}
	return uint64(v), nil
}

// encBufs are marshal's scratch buffers.
var encBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// marshal is json.Marshal without HTML escaping (a third less CPU for
// records carrying a mail's text; every JSON reader reads it the same),
// into a fresh slice the batch keeps until it is sent.
func marshal(v any) ([]byte, error) {
	buf := encBufs.Get().(*bytes.Buffer)
	defer encBufs.Put(buf)
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return append(make([]byte, 0, len(b)), b...), nil
}
