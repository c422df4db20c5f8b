package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"helpdesk/store"
	"helpdesk/store/internal/recjson"
	"helpdesk/store/model"
)

// table is one table as the transaction writes it: whole rows, upserted
// by primary key (the first nkey columns).
type table struct {
	name   string
	cols   []string
	nkey   int
	upsert string
	del    string
	// ignore inserts a row unless its key is taken (putIfAbsent).
	ignore string
	// rcol is the column the key lookups read (and the read cache
	// holds); -1 for a table of keys only (the cache holds int64(1) for
	// a row that exists).
	rcol int
	// keep: the writer's read cache keeps this table's rows from one
	// commit to the next (small tables every write reads: sequences,
	// counters, the key ring, rate windows, users).
	keep bool
	// virtual: a table only this package's transactions hold (pending
	// rows and the read cache), never sent: message_identity, which is
	// columns of messages since schema 8.
	virtual bool
	// upsertN, ignoreN and insertN are upsert, ignore and a plain
	// INSERT (putNew) for n rows at once (n in chunkSizes).
	upsertN, ignoreN, insertN map[int]string
}

// chunkSizes are the row counts of the multi-row statements a batch
// sends (largest first): one statement per table and chunk instead of
// one per row costs the server a fraction of the work, and fixed sizes
// keep the prepared statements few. Powers of two: a table's n rows take
// at most one statement per bit of n (a group of 15 mails: 4 statements
// per table, where 64/16/4/1 took 6).
var chunkSizes = []int{64, 32, 16, 8, 4, 2, 1}

// rowsSQL is "INSERT INTO name (cols) VALUES (...), ... tail" for n rows.
func rowsSQL(name string, cols []string, n int, tail string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "INSERT INTO %s (%s) VALUES ", name, strings.Join(cols, ", "))
	p := 1
	for i := range n {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for j := range cols {
			if j > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "$%d", p)
			p++
		}
		sb.WriteByte(')')
	}
	sb.WriteString(tail)
	return sb.String()
}

func newTable(name string, nkey int, cols ...string) *table {
	return newTableKeeping(name, nkey, nil, cols...)
}

// newTableKeeping is newTable whose upsert leaves the columns keep as
// the database has them (a row rewritten without them).
func newTableKeeping(name string, nkey int, keep []string, cols ...string) *table {
	t := &table{name: name, cols: cols, nkey: nkey, rcol: len(cols) - 1}
	if nkey == len(cols) {
		t.rcol = -1
	}
	ph := make([]string, len(cols))
	for i := range cols {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	var set, where []string
	for i, c := range cols {
		if i < nkey {
			where = append(where, fmt.Sprintf("%s = $%d", c, i+1))
		} else if !slices.Contains(keep, c) {
			set = append(set, c+" = EXCLUDED."+c)
		}
	}
	t.upsertN, t.ignoreN, t.insertN = map[int]string{}, map[int]string{}, map[int]string{}
	for _, n := range chunkSizes {
		t.insertN[n] = rowsSQL(name, cols, n, "")
	}
	if nkey == 0 {
		// An append-only table (its key a bigserial the database
		// assigns): rows are inserted in the batch's order, never
		// updated or deleted through the cache.
		t.upsert = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", name, strings.Join(cols, ", "), strings.Join(ph, ", "))
		for _, n := range chunkSizes {
			t.upsertN[n] = rowsSQL(name, cols, n, "")
		}
		return t
	}
	action := "DO NOTHING" // a table of keys only
	if len(set) > 0 {
		action = "DO UPDATE SET " + strings.Join(set, ", ")
	}
	conflict := fmt.Sprintf(" ON CONFLICT (%s) ", strings.Join(cols[:nkey], ", "))
	t.upsert = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) %s",
		name, strings.Join(cols, ", "), strings.Join(ph, ", "), strings.Join(cols[:nkey], ", "), action)
	t.ignore = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO NOTHING",
		name, strings.Join(cols, ", "), strings.Join(ph, ", "), strings.Join(cols[:nkey], ", "))
	for _, n := range chunkSizes {
		t.upsertN[n] = rowsSQL(name, cols, n, conflict+action)
		t.ignoreN[n] = rowsSQL(name, cols, n, conflict+"DO NOTHING")
	}
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
	tRefs      = newTable("message_refs", 1, "message_id", "ticket", "data")
	tUsers     = newTable("users", 1, "id", "addr", "data")
	tOutbound  = newTable("outbound", 1, "id", "state", "due_ns", "lease_holder", "lease_until_ns", "progress", "data")
	tWebhooks  = newTable("webhooks", 1, "id", "state", "due_ns", "data")
	tQuarantin = newTable("quarantine", 1, "id", "data")
	tRates     = newTable("rates", 1, "key", "data")
	tCustomers = newTable("customers", 1, "id", "organization", "data")
	tCustAddr  = newTable("customer_addresses", 1, "addr", "customer")
	tCustTk    = newTable("customer_tickets", 3, "customer", "role", "ticket")
	tCustAct   = newTable("customer_activity", 3, "customer", "at_ns", "seq", "data")
	tTimers    = newTable("timers", 2, "ticket", "kind", "at_ns")
	tErasures  = newTable("erasures", 1, "id", "at", "erased_by", "via", "tickets", "data")
)

var (
	// A message's raw bytes and identity are stored when it is reserved
	// (ReserveMessage) and stay when its record is rewritten (schema 8).
	tMessages = newTableKeeping("messages", 1, []string{"raw", "message_id", "body_hash"},
		"id", "ticket", "raw", "message_id", "body_hash", "data")
	// tIdentity holds the identities (Message-ID and body hash) this
	// transaction stored or looked up, by idKey: the message's id.
	tIdentity = &table{name: "message_identity", cols: []string{"message_id", "body_hash", "message"}, nkey: 2, rcol: 2, virtual: true}
)

func init() {
	// The key lookups of these tables read a column other than the last.
	tMeta.rcol, tSeq.rcol, tCounters.rcol, tCustAddr.rcol = 1, 1, 1, 1
	for _, tb := range []*table{tMeta, tSeq, tCounters, tRates, tUsers} {
		tb.keep = true
		keptTables[tb.name] = tb
	}
}

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
	// ifAbsent: inserted unless the database has the key already
	// (putIfAbsent); the row's value is the database's then.
	ifAbsent bool
	// fresh: no row of the database has the key (putNew): sent as a
	// plain INSERT. An upsert's speculative insertion costs the server
	// an index probe before the insert and a confirmation WAL record
	// after it, for every row of a new ticket; and a key that is
	// wrongly taken fails the write instead of overwriting a row.
	fresh bool
	// progress: the row exists in the database and only the queue
	// item's progress changed (an outbound claim or outcome,
	// putProgress): sent as an UPDATE of the queue columns and progress
	// (id, state, due, holder, lease end, progress object), while vals
	// is the whole row as it now reads.
	progress []any
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
	q        querier
	writable bool

	pending map[pkey]*prow
	order   []pkey
	// userAddr finds pending users by address.
	userAddr map[string]pkey
	// cache holds what key lookups read from the database (see
	// readCache): the writer's own, kept from commit to commit, or a
	// View's.
	*readCache

	// The current request's undo log, and whether its writes (or an
	// earlier request's, written after it began) were sent.
	journal          []undo
	flushedInRequest bool
	// appended numbers the rows queued for append-only tables (their
	// pending keys; never reused, so a rolled-back request's rows stay
	// distinct from later ones).
	appended uint64
	// lastEvent is the pending key of the report event the current
	// request added last ("": none), which its backlog move joins
	// (MoveBacklog).
	lastEvent string

	// firstNewTicket is the first ticket id this transaction took (0:
	// none).
	firstNewTicket uint64

	// logged are the write log's keys of the kept rows this
	// transaction sent (sequences aside: every commit reads them).
	logged []string

	// dbErr is the first database error: the PostgreSQL transaction is
	// aborted then, and the whole write fails (operations that return no
	// error, like TicketIDs, record theirs here).
	dbErr error
	// handoff is the store's when the transaction began (nil: none);
	// handed are the outbound items it queued claimed (Enqueue).
	handoff *store.Handoff
	handed  []*model.Outbound
}

// querier is a transaction's connection: a pgx.Tx (a View) or the
// writer's connection inside the transaction it began.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// readCache is what key lookups read from the database: rows by key
// (read: the table's rcol value, nil for no row) and users' ids by
// address. Every writer holds the write lock, so within a write the
// database changes only by the write's own flushes, which update the
// entries of the rows they send: a group of mails looks up the same
// agents, threads and counters once. The writer keeps the entries of
// tables marked keep from one commit to the next while no other process
// wrote in between (the write generation, see DB.tryCommit).
type readCache struct {
	read       map[pkey]any
	userIDs    map[string]uint64
	userAddrOf map[uint64]string
	// noUser are the addresses userIDs knows as no user's.
	noUser map[string]bool
	// transient lists the entries of tables not kept (dropped when
	// the write ends).
	transient []pkey
}

// logKey names a kept row in the write log. The log holds no personal
// data (an erasure leaves none behind): users by id, meta by its key
// (fixed names), and the tables keyed by names that may hold an address
// (rate windows per sender, counters) by the table's name alone: a
// writer drops all its entries of those.
func logKey(k pkey) string {
	if k.t == tUsers || k.t == tMeta {
		return k.t.name + "/" + k.k
	}
	return k.t.name
}

// logAll in the write log means: drop everything (a statement not by
// key, see Tx.exec).
const logAll = "*"

// keptTables are the tables whose rows the writer keeps from commit to
// commit, by name (the write log names them).
var keptTables = map[string]*table{}

// forget drops what the write log's keys name; false for logAll.
func (c *readCache) forget(keys []string) bool {
	for _, key := range keys {
		if key == logAll {
			return false
		}
		name, k, byKey := strings.Cut(key, "/")
		tb := keptTables[name]
		if tb == nil {
			return false
		}
		if !byKey {
			for pk := range c.read {
				if pk.t == tb {
					delete(c.read, pk)
				}
			}
			continue
		}
		delete(c.read, pkey{tb, k})
		if tb == tUsers {
			id, err := strconv.ParseUint(k, 10, 64)
			if err != nil {
				return false
			}
			if addr, ok := c.userAddrOf[id]; ok {
				delete(c.userIDs, addr)
				delete(c.userAddrOf, id)
			}
			// The user may have an address this cache knows as
			// nobody's.
			for addr := range c.noUser {
				delete(c.userIDs, addr)
			}
			clear(c.noUser)
		}
	}
	return true
}

func newReadCache() *readCache {
	return &readCache{read: map[pkey]any{}, userIDs: map[string]uint64{}, userAddrOf: map[uint64]string{}, noUser: map[string]bool{}}
}

// cacheRead records what a lookup read (v nil: no row).
func (c *readCache) cacheRead(k pkey, v any) {
	if _, ok := c.read[k]; !ok && !k.t.keep {
		c.transient = append(c.transient, k)
	}
	c.read[k] = v
}

// cacheUserID records the id of an address (0: no user).
func (c *readCache) cacheUserID(addr string, id uint64) {
	if id != 0 {
		if old, ok := c.userAddrOf[id]; ok && old != addr {
			delete(c.userIDs, old)
		}
		c.userAddrOf[id] = addr
	}
	c.userIDs[addr] = id
	if id == 0 {
		c.noUser[addr] = true
	} else {
		delete(c.noUser, addr)
	}
}

// clearAll forgets everything (the database may have changed under it).
func (c *readCache) clearAll() {
	clear(c.read)
	clear(c.userIDs)
	clear(c.userAddrOf)
	clear(c.noUser)
	c.transient = c.transient[:0]
}

// endWrite drops the entries of tables not kept, and everything when the
// cache has grown large (many senders' users and rate windows).
func (c *readCache) endWrite() {
	if len(c.read)+len(c.userIDs) > maxCached {
		c.clearAll()
		return
	}
	for _, k := range c.transient {
		delete(c.read, k)
	}
	c.transient = c.transient[:0]
}

// maxCached bounds the entries the writer's read cache keeps between
// commits.
const maxCached = 20000

func newTx(db *DB, ctx context.Context, q querier, writable bool, cache *readCache) *Tx {
	t := &Tx{db: db, ctx: ctx, q: q, writable: writable, pending: map[pkey]*prow{}, userAddr: map[string]pkey{},
		readCache: cache}
	if writable {
		t.handoff = db.handoff.Load()
	}
	return t
}

// Writable reports whether this is a write transaction.
func (t *Tx) Writable() bool { return t.writable }

// Now is the store clock.
func (t *Tx) Now() time.Time { return t.db.now() }

var errReadOnly = errors.New("writing in a read-only transaction")

func (t *Tx) beginRequest() {
	t.journal = t.journal[:0]
	t.flushedInRequest = false
	t.lastEvent = ""
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
	if r.progress != nil && existed && prev.progress == nil {
		// The row itself is not sent yet: it goes out whole.
		r = &prow{vals: r.vals, fresh: prev.fresh}
	}
	if existed && !r.del && !r.ifAbsent && r.progress == nil {
		// A new row rewritten before it was sent is still new; one
		// whose deletion is pending replaces a database row.
		r.fresh = prev.fresh || (r.fresh && !prev.del)
	}
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

// putNew writes a row whose key no row of the database has (an id this
// transaction took from a sequence, a key it looked up and found
// absent): it goes out as a plain INSERT (see prow.fresh).
func (t *Tx) putNew(tb *table, k string, vals ...any) error {
	return t.write(tb, k, &prow{vals: vals, fresh: true})
}

// putIfAbsent writes a row unless the database has one under its key
// (the first writer wins), without reading it first: the row goes out as
// INSERT ... ON CONFLICT DO NOTHING, and a lookup of the key in this
// transaction reads the database's row before this one.
func (t *Tx) putIfAbsent(tb *table, k string, vals ...any) error {
	return t.write(tb, k, &prow{vals: vals, ifAbsent: true})
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
	t.queuePending(b)
	t.flushedInRequest = true
	if err := t.q.SendBatch(t.ctx, b).Close(); err != nil {
		t.dbErr = writeErr(err)
		return t.dbErr
	}
	return nil
}

// queuePending moves the pending writes into b, in the order they were
// made, and updates the read cache to what the database holds once b
// is sent.
//
// Deletions go first, one statement each; then each table's rows, in the
// order they were first written, as multi-row INSERTs (chunkSizes). A
// key is pending once, so no statement names a row twice; the only
// constraint besides keys (users.addr is unique) sees the deletions
// before the inserts, and the tables' rows in the order written, as
// before.
func (t *Tx) queuePending(b *pgx.Batch) {
	type group struct {
		t               *table
		ifAbsent, fresh bool
		rows            []*prow
	}
	var groups []*group
	byTable := map[*table][3]*group{}
	var progress []*prow
	for _, k := range t.order {
		r, ok := t.pending[k]
		if !ok {
			continue
		}
		delete(t.pending, k)
		t.cacheWritten(k, r)
		if k.t.virtual {
			continue
		}
		if k.t.keep && k.t != tSeq {
			if key := logKey(k); len(t.logged) == 0 || t.logged[len(t.logged)-1] != key {
				t.logged = append(t.logged, key)
			}
		}
		if r.del {
			b.Queue(k.t.del, r.vals...)
			continue
		}
		if r.progress != nil {
			progress = append(progress, r)
			continue
		}
		i := 0
		switch {
		case r.ifAbsent:
			i = 1
		case r.fresh:
			i = 2
		}
		gs := byTable[k.t]
		g := gs[i]
		if g == nil {
			g = &group{t: k.t, ifAbsent: r.ifAbsent, fresh: r.fresh}
			gs[i] = g
			byTable[k.t] = gs
			groups = append(groups, g)
		}
		g.rows = append(g.rows, r)
	}
	for _, g := range groups {
		stmts := g.t.upsertN
		switch {
		case g.ifAbsent:
			stmts = g.t.ignoreN
		case g.fresh:
			stmts = g.t.insertN
		}
		rows := g.rows
		for _, n := range chunkSizes {
			for len(rows) >= n {
				args := make([]any, 0, n*len(g.t.cols))
				for _, r := range rows[:n] {
					args = append(args, r.vals...)
				}
				b.Queue(stmts[n], args...)
				rows = rows[n:]
			}
		}
	}
	if n := len(progress); n > 0 {
		// After the inserts: a row is pending once, so none of these
		// rows is among them.
		ids, states, dues, holders, untils, ps := make([]int64, n), make([]string, n), make([]int64, n), make([]string, n), make([]int64, n), make([]string, n)
		for i, r := range progress {
			v := r.progress
			ids[i], states[i], dues[i], holders[i], untils[i], ps[i] = v[0].(int64), v[1].(string), v[2].(int64), v[3].(string), v[4].(int64), v[5].(string)
		}
		b.Queue(progressSQL, ids, states, dues, holders, untils, ps)
	}
	t.order = t.order[:0]
	clear(t.userAddr)
}

// cacheWritten updates the read cache for a row being sent.
func (t *Tx) cacheWritten(k pkey, r *prow) {
	if k.t.nkey == 0 {
		return // append-only: never looked up by key
	}
	if k.t == tUsers {
		id := uint64(r.vals[0].(int64))
		if addr, ok := t.userAddrOf[id]; ok && (r.del || addr != r.vals[1].(string)) {
			delete(t.userIDs, addr)
			delete(t.userAddrOf, id)
		}
		if !r.del {
			t.cacheUserID(r.vals[1].(string), id)
		}
	}
	var v any
	switch {
	case r.del:
		v = nil
	case k.t.rcol < 0:
		v = int64(1)
	default:
		v = r.vals[k.t.rcol]
	}
	if r.ifAbsent {
		old, known := t.read[k]
		if !known {
			return // the database's row, if any, stays: unknown
		}
		if old != nil {
			return // the database's row stays
		}
	}
	t.cacheRead(k, v)
}

// writeErr names what failed in sending writes.
func writeErr(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "messages_identity" {
		return fmt.Errorf("%w (%s)", store.ErrDuplicate, pgErr.Message)
	}
	return fmt.Errorf("writing to PostgreSQL: %w", err)
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
	// holds (a customer's ticket links, deleted by customer), here and
	// in other writers.
	t.clearAll()
	t.logged = append(t.logged, logAll)
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
	r, ok := t.pendingRow(tb, k)
	if ok && r.del {
		return nil, store.ErrNotFound
	}
	if ok && !r.ifAbsent {
		return r.vals[len(r.vals)-1].([]byte), nil
	}
	var v []byte
	found, err := t.lookup(&v, tb, k, sql, args...)
	if err == nil && !found && ok {
		return r.vals[len(r.vals)-1].([]byte), nil // the row to be inserted
	}
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
		t.cacheRead(key, nil)
		return false, nil
	}
	switch d := dst.(type) {
	case *[]byte:
		t.cacheRead(key, *d)
	case *int64:
		t.cacheRead(key, *d)
	case *string:
		t.cacheRead(key, *d)
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
	if name == "tickets" && t.firstNewTicket == 0 {
		t.firstNewTicket = v + 1
	}
	v++
	return v, t.put(tSeq, name, name, int64(v))
}

// newTicket reports a ticket id this transaction took from the sequence:
// no row of the database names it yet (ids are never given twice).
func (t *Tx) newTicket(id uint64) bool {
	return t.firstNewTicket != 0 && id >= t.firstNewTicket
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

// marshal is a record's JSON (recjson: no HTML escaping), in a fresh
// slice the batch keeps until it is sent.
func marshal(v any) ([]byte, error) {
	buf := recjson.Buffer()
	defer recjson.Release(buf)
	b, err := recjson.Encode(buf, v)
	if err != nil {
		return nil, err
	}
	return append(make([]byte, 0, len(b)), b...), nil
}
