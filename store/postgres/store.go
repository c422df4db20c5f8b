package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"helpdesk/store"
	"helpdesk/store/internal/keyring"
	"helpdesk/store/model"
)

// Options tune Open.
type Options struct {
	// ReadOnly opens for inspection: no migration, no writer.
	ReadOnly bool
	// MaxBatch caps requests per group commit (default 512).
	MaxBatch int
	// Now is the store clock (tests inject one).
	Now func() time.Time
	// Coming and GatherMax are bolt.Options' (writes under way that a
	// group waits for, at most GatherMax).
	Coming    func() int
	GatherMax time.Duration
	// TmpDir holds bodies being spooled before they are committed into
	// the database (default: the system's temporary directory).
	TmpDir string
	// MaxConns caps the connection pool (default 8).
	MaxConns int32
}

// writeTimeout bounds one group's transaction: a database that stops
// answering fails the mails of that group with 451 (their senders retry)
// instead of holding them forever.
const writeTimeout = 60 * time.Second

// DB is an open PostgreSQL store.
type DB struct {
	pool   *pgxpool.Pool
	now    func() time.Time
	tmpDir string

	reqs    chan *writeReq
	coming  func() int
	gather  time.Duration
	wg      sync.WaitGroup
	closeMu sync.RWMutex
	closed  bool

	installID string

	commits, writes, writeErrs           atomic.Int64
	applyNanos, commitNanos, gatherNanos atomic.Int64
	// trace counts statements and round trips (trace.go).
	trace *counter
	// The writer's read cache, and the commit (meta write_seq) its
	// entries are valid for (0: none; see tryCommit).
	cache *readCache
	seq   int64
	// forgets counts commits that found another process's commits in
	// the write log and dropped only what those wrote; clears, commits
	// that dropped the whole cache.
	forgets, clears atomic.Int64
	// outMemo: the queue items the writer holds, decoded (records.go).
	outMemo outMemo
	// handoff, when set, queues outbound mail claimed by this process's
	// worker (store.Handoff; records.go Enqueue).
	handoff atomic.Pointer[store.Handoff]
}

// SetHandoff sets the handoff of the writes that begin from now on.
func (db *DB) SetHandoff(h *store.Handoff) (remove func()) {
	if !db.handoff.CompareAndSwap(nil, h) {
		return nil
	}
	return func() { db.handoff.CompareAndSwap(h, nil) }
}

type writeReq struct {
	fn    func(store.Tx) error
	hints *store.Hints
	done  chan error
}

// The PostgreSQL engine implements the store's interfaces.
var (
	_ store.Store    = (*DB)(nil)
	_ store.Hinted   = (*DB)(nil)
	_ store.HandsOff = (*DB)(nil)
	_ store.Tx       = (*Tx)(nil)
)

// Open connects to the database dsn names (a PostgreSQL URL or key=value
// string), creates or migrates the schema (unless read-only), and starts
// the writer.
func Open(dsn string, opt Options) (*DB, error) {
	if opt.MaxBatch == 0 {
		opt.MaxBatch = 512
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.MaxConns == 0 {
		opt.MaxConns = 8
	}
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store.dsn: %w", err)
	}
	pcfg.MaxConns = opt.MaxConns
	trace := &counter{}
	pcfg.ConnConfig.Tracer = trace
	// Records carrying a mail's text (the raw mail, its comment) are
	// compressed when stored (TOAST): lz4 takes a fraction of the
	// server's CPU that the default (pglz) takes, and PostgreSQL reads
	// either. A server built without lz4 keeps its default.
	pcfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		c.Exec(ctx, "SET default_toast_compression = 'lz4'")
		return nil
	}
	pcfg.HealthCheckPeriod = 5 * time.Second
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		pcfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	db := &DB{pool: pool, now: opt.Now, tmpDir: opt.TmpDir, coming: opt.Coming, gather: opt.GatherMax, trace: trace, cache: newReadCache(), outMemo: outMemo{}}
	if db.gather == 0 {
		db.gather = 2 * time.Millisecond
	}
	if err := db.start(ctx, opt.ReadOnly); err != nil {
		pool.Close()
		return nil, err
	}
	if !opt.ReadOnly {
		db.reqs = make(chan *writeReq, 4096)
		db.wg.Add(1)
		go db.writer(opt.MaxBatch)
	}
	return db, nil
}

// start migrates the schema (or checks it, read-only) and creates the
// installation's id and first token key on first start.
func (db *DB) start(ctx context.Context, readOnly bool) error {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Release()
	if readOnly {
		v, err := schemaVersion(ctx, conn)
		if err != nil {
			return err
		}
		if v == 0 {
			return errors.New("the database holds no helpdesk schema: run `helpdesk migrate-schema` (or start the daemon once)")
		}
	} else if _, _, err := Migrate(ctx, conn.Conn()); err != nil {
		return err
	}
	if !readOnly {
		err = pgx.BeginFunc(ctx, conn, func(ptx pgx.Tx) error {
			if _, err := ptx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockWrite); err != nil {
				return err
			}
			id := make([]byte, 8)
			rand.Read(id)
			if _, err := ptx.Exec(ctx, "INSERT INTO meta (key, value) VALUES ('installation_id', $1) ON CONFLICT DO NOTHING", hex.EncodeToString(id)); err != nil {
				return err
			}
			var n int
			if err := ptx.QueryRow(ctx, "SELECT count(*) FROM meta WHERE key = 'token_keys'").Scan(&n); err != nil || n > 0 {
				return err
			}
			key, err := keyring.New(1, db.now())
			if err != nil {
				return err
			}
			data, err := marshal([]model.TokenKey{key})
			if err != nil {
				return err
			}
			_, err = ptx.Exec(ctx, "INSERT INTO meta (key, value) VALUES ('token_keys', $1)", string(data))
			return err
		})
		if err != nil {
			return fmt.Errorf("initializing the store: %w", err)
		}
	}
	if err := conn.QueryRow(ctx, "SELECT value FROM meta WHERE key = 'installation_id'").Scan(&db.installID); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("reading the installation id: %w", err)
	}
	return nil
}

// InstallationID identifies this installation in loop headers.
func (db *DB) InstallationID() string { return db.installID }

// Pool is the connection pool (the daemon's leader election and the
// tools use it).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Update runs fn in a write transaction, grouped with other concurrent
// requests into one commit, and returns once it is committed (durable as
// the server's synchronous_commit says: on, the default, is on disk).
func (db *DB) Update(fn func(store.Tx) error) error { return db.UpdateHinted(nil, fn) }

// UpdateHinted is Update; the rows h names are read for the whole group
// in the batch that begins its transaction (see tryCommit).
func (db *DB) UpdateHinted(h *store.Hints, fn func(store.Tx) error) error {
	db.closeMu.RLock()
	if db.closed || db.reqs == nil {
		db.closeMu.RUnlock()
		return store.ErrClosed
	}
	r := &writeReq{fn: fn, hints: h, done: make(chan error, 1)}
	db.reqs <- r
	db.closeMu.RUnlock()
	return <-r.done
}

// CommentTexts reads the texts of refs' comments with one statement and
// no transaction around it (store.CommentTexter): one round trip where a
// View would be BEGIN, a SELECT per comment and ROLLBACK. A comment not
// found is left out.
func (db *DB) CommentTexts(refs []model.CommentRef) (map[model.CommentRef]string, error) {
	texts := make(map[model.CommentRef]string, len(refs))
	if len(refs) == 0 {
		return texts, nil
	}
	tickets, ids := make([]int64, len(refs)), make([]int32, len(refs))
	for i, r := range refs {
		tickets[i], ids[i] = int64(r.Ticket), int32(r.Comment)
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	rows, err := db.pool.Query(ctx, `SELECT c.ticket, c.id, c.data FROM comments c
		JOIN unnest($1::bigint[], $2::integer[]) AS r(ticket, id) ON c.ticket = r.ticket AND c.id = r.id`, tickets, ids)
	if err != nil {
		return nil, fmt.Errorf("reading comments: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ticket int64
		var id int32
		var data []byte
		if err := rows.Scan(&ticket, &id, &data); err != nil {
			return nil, fmt.Errorf("reading comments: %w", err)
		}
		// Decoded as Comment decodes it: the same text, whatever the
		// record's encoding holds.
		var c model.Comment
		if err := unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("comment %d of ticket %d: %w", id, ticket, err)
		}
		texts[model.CommentRef{Ticket: uint64(ticket), Comment: uint32(id)}] = c.Text
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading comments: %w", err)
	}
	return texts, nil
}

// View runs fn in a read-only transaction on a consistent snapshot.
func (db *DB) View(fn func(store.Tx) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	ptx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("starting a read: %w", err)
	}
	defer ptx.Rollback(context.Background())
	tx := newTx(db, ctx, ptx, false, newReadCache())
	err = safeRun(fn, tx)
	if tx.dbErr != nil {
		return tx.dbErr
	}
	return err
}

func (db *DB) writer(maxBatch int) {
	defer db.wg.Done()
	reqs := db.reqs
	// fl is the group whose COMMIT is on its way to the server (nil:
	// none). While it is, the writer takes the requests that come into
	// the next group instead of waiting idle and then gathering: the
	// server's commit (its statements and the WAL flush) and the wait
	// for the next group's mail overlap.
	var fl *inflight
	for {
		var batch []*writeReq
		if fl == nil {
			r, ok := <-reqs
			if !ok {
				return
			}
			batch = append(make([]*writeReq, 0, 64), r)
			batch, reqs = drainReqs(batch, reqs, maxBatch)
			if reqs != nil && db.coming != nil && len(batch) < maxBatch && db.coming() > len(batch) {
				t0 := time.Now()
				batch = db.gatherMore(batch, maxBatch)
				db.gatherNanos.Add(int64(time.Since(t0)))
			}
		} else {
			batch = make([]*writeReq, 0, 64)
			in := reqs
		wait:
			for {
				select {
				case err := <-fl.done:
					db.finish(fl, err)
					fl = nil
					break wait
				case r, ok := <-in:
					if !ok {
						reqs, in = nil, nil
						continue
					}
					batch = append(batch, r)
					if len(batch) >= maxBatch {
						in = nil
					}
				}
			}
			if reqs != nil {
				batch, reqs = drainReqs(batch, reqs, maxBatch)
			}
			if len(batch) == 0 {
				if reqs == nil {
					return
				}
				continue
			}
		}
		fl = db.commit(batch)
		if reqs == nil && fl == nil {
			return
		}
	}
}

// drainReqs adds the requests queued in reqs to batch (at most
// maxBatch in all), without waiting; reqs is nil once closed.
func drainReqs(batch []*writeReq, reqs chan *writeReq, maxBatch int) ([]*writeReq, chan *writeReq) {
	for len(batch) < maxBatch {
		select {
		case r, ok := <-reqs:
			if !ok {
				return batch, nil
			}
			batch = append(batch, r)
		default:
			return batch, reqs
		}
	}
	return batch, reqs
}

// gatherMore waits, at most db.gather, for writes that are under way to
// join the batch.
func (db *DB) gatherMore(batch []*writeReq, maxBatch int) []*writeReq {
	t := time.NewTimer(db.gather)
	defer t.Stop()
	for len(batch) < maxBatch && db.coming() > len(batch) {
		select {
		case r, ok := <-db.reqs:
			if !ok {
				return batch
			}
			batch = append(batch, r)
		case <-t.C:
			return batch
		}
	}
	return batch
}

// commit runs a group in one transaction. A request whose function fails
// gets its error and leaves nothing: its writes are still in memory, and
// are dropped; when a query had to send them already, the transaction is
// rolled back and the rest retried without it (bbolt's Batch does the
// same). A database error fails the whole group: its senders get 451 and
// retry. The group's COMMIT is sent and not waited for: the returned
// inflight's done says how it ended, and finish answers the requests
// (nil: every request is answered).
func (db *DB) commit(batch []*writeReq) *inflight {
	for len(batch) > 0 {
		failed, fnErr, fl, err := db.tryCommit(batch)
		if failed >= 0 {
			batch[failed].done <- fnErr
			db.writeErrs.Add(1)
			batch = append(batch[:failed], batch[failed+1:]...)
			continue
		}
		if err != nil {
			db.writeErrs.Add(1)
			for _, r := range batch {
				if r != nil {
					r.done <- err
				}
			}
			return nil
		}
		return fl
	}
	return nil
}

// inflight is a group whose last batch (its writes, the write log and
// COMMIT) is sent; done gets the batch's outcome.
type inflight struct {
	batch   []*writeReq
	conn    *pgxpool.Conn
	cancel  context.CancelFunc
	next    int64
	t0      time.Time
	applied time.Duration
	// end is when the outcome came (set before done is sent).
	end  time.Time
	done chan error
	// handed are the outbound items the group queued claimed, for
	// handoff's worker once the COMMIT's outcome is known.
	handoff *store.Handoff
	handed  []*model.Outbound
}

// finish ends an inflight group as its COMMIT ended (err nil: committed)
// and answers its requests.
func (db *DB) finish(fl *inflight, err error) {
	if err == nil {
		db.seq = fl.next
		db.cache.endWrite()
		db.commits.Add(1)
		for _, r := range fl.batch {
			if r != nil {
				db.writes.Add(1)
			}
		}
	} else {
		err = fmt.Errorf("committing: %w", writeErr(err))
		db.writeErrs.Add(1)
		// The read cache holds what this transaction wrote.
		db.cache.clearAll()
		db.seq = 0
		if fl.conn.Conn().PgConn().TxStatus() != 'I' {
			rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
			fl.conn.Exec(rctx, "ROLLBACK")
			rcancel()
		}
	}
	// A connection still in a transaction is closed, not reused.
	fl.conn.Release()
	fl.cancel()
	if len(fl.handed) > 0 {
		// A failed COMMIT may still have committed (the connection was
		// lost after the server got it): the worker reads them back.
		fl.handoff.Hand(fl.handed, err == nil)
	}
	db.applyNanos.Add(int64(fl.applied))
	db.commitNanos.Add(int64(fl.end.Sub(fl.t0) - fl.applied))
	for _, r := range fl.batch {
		if r != nil {
			r.done <- err
		}
	}
}

// tryCommit runs batch in one transaction. It answers the requests that
// failed on their own and sets them to nil (a retry skips them), and
// returns the index of one that must be retried without, or the commit's
// error.
//
// Round trips: the transaction begins, takes the write lock and reads
// the write generation in one pipelined batch; the requests' writes, the
// next generation and the COMMIT go in another. In between, a request
// waits only for the reads it makes of rows no earlier request of the
// group (or, while no other process wrote, of an earlier group) read or
// wrote.
//
// The write generation (meta write_generation) is a random value every
// commit writes: a writer that finds its own last value there knows no
// other process wrote since its last commit, and keeps its read cache
// (sequences, counters, the key ring, rate windows, users); otherwise it
// starts with an empty one.
func (db *DB) tryCommit(batch []*writeReq) (failed int, fnErr error, fl *inflight, err error) {
	ctx, cancel := context.WithTimeout(writerCtx(context.Background()), writeTimeout)
	t0 := time.Now()
	var applied time.Duration
	sent := false
	defer func() {
		if !sent {
			cancel()
			db.applyNanos.Add(int64(applied))
			db.commitNanos.Add(int64(time.Since(t0) - applied))
		}
	}()
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return -1, nil, nil, fmt.Errorf("starting a write: %w", err)
	}
	defer func() {
		if !sent {
			// The read cache may hold what this transaction wrote.
			db.cache.clearAll()
			db.seq = 0
			if conn.Conn().PgConn().TxStatus() != 'I' {
				rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
				conn.Exec(rctx, "ROLLBACK")
				rcancel()
			}
			// A connection still in a transaction is closed, not reused.
			conn.Release()
		}
	}()
	// Writes of every daemon on this database are serialized, as the
	// bbolt writer serializes a process's (see the package comment).
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue("SELECT pg_advisory_xact_lock($1)", lockWrite)
	b.Queue(seqSQL)
	if db.seq > 0 {
		b.Queue(logSQL, db.seq)
	}
	// Every write takes ids: the sequences come along (after another
	// process wrote, the cache has none).
	b.Queue("SELECT name, value FROM sequences")
	pf := prefetchOf(batch)
	pf.queue(b)
	br := conn.SendBatch(ctx, b)
	_, err = br.Exec()
	if err == nil {
		_, err = br.Exec()
	}
	var seq int64
	if err == nil {
		if err = br.QueryRow().Scan(&seq); errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
	}
	if err == nil && db.seq > 0 {
		var logged [][]string
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			var n int64
			var keys []string
			_, err = pgx.ForEachRow(rows, []any{&n, &keys}, func() error {
				if n <= seq {
					logged = append(logged, keys)
				}
				return nil
			})
		}
		if err == nil {
			db.catchUp(seq, logged)
		}
	} else if err == nil {
		db.cache.clearAll()
	}
	if err == nil {
		var rows pgx.Rows
		if rows, err = br.Query(); err == nil {
			var name string
			var v int64
			_, err = pgx.ForEachRow(rows, []any{&name, &v}, func() error {
				db.cache.cacheRead(pkey{tSeq, name}, v)
				return nil
			})
		}
	}
	if err == nil {
		err = pf.read(br, db.cache)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return -1, nil, nil, fmt.Errorf("starting a write and taking the write lock: %w", err)
	}
	tx := newTx(db, ctx, conn, true, db.cache)
	// Applying is running the requests; beginning (the wait for the
	// write lock included) counts as committing.
	t1 := time.Now()
	for i, r := range batch {
		if r == nil {
			continue // answered by an earlier try
		}
		tx.beginRequest()
		handed := len(tx.handed)
		err := safeRun(r.fn, tx)
		if tx.dbErr != nil {
			return -1, nil, nil, tx.dbErr
		}
		if err == nil {
			continue
		}
		if tx.flushedInRequest {
			return i, err, nil, nil
		}
		// Its writes never left memory: dropped, the others go on.
		tx.undoRequest()
		tx.handed = tx.handed[:handed]
		r.done <- err
		db.writeErrs.Add(1)
		batch[i] = nil
	}
	applied = time.Since(t1)
	next := seq + 1
	b = &pgx.Batch{}
	tx.queuePending(b)
	b.Queue(tMeta.upsert, "write_seq", strconv.FormatInt(next, 10))
	slices.Sort(tx.logged)
	tx.logged = slices.Compact(tx.logged)
	if tx.logged == nil {
		tx.logged = []string{}
	}
	b.Queue(logInsertSQL, next, tx.logged)
	if next%logPrune == 0 {
		b.Queue("DELETE FROM write_log WHERE seq <= $1", next-logKeep)
	}
	b.Queue("COMMIT")
	// pgx writes the batch before SendBatch returns (preparing any
	// statement it has not prepared on this connection first); the
	// outcome is read by Close, in the background.
	last := conn.SendBatch(ctx, b)
	sent = true
	fl = &inflight{batch: batch, conn: conn, cancel: cancel, next: next, t0: t0, applied: applied, done: make(chan error, 1),
		handoff: tx.handoff, handed: tx.handed}
	go func() {
		err := last.Close()
		fl.end = time.Now()
		fl.done <- err
	}()
	return -1, nil, fl, nil
}

// The write log (tryCommit): the last commit's number, the commits
// after one, a commit's entry (kept for the logKeep commits before the
// last, pruned every logPrune).
const (
	seqSQL       = "SELECT value::bigint FROM meta WHERE key = 'write_seq'"
	logSQL       = "SELECT seq, keys FROM write_log WHERE seq > $1 ORDER BY seq"
	logInsertSQL = "INSERT INTO write_log (seq, keys) VALUES ($1, $2) ON CONFLICT (seq) DO UPDATE SET keys = EXCLUDED.keys"
	logKeep      = 1024
	logPrune     = 256
)

// catchUp brings the read cache from commit db.seq to seq, given the
// write log's entries after db.seq up to seq: it drops the rows they
// name, or everything when one is missing (pruned, or a tool that
// rewrote the database restarted the numbers) or names no rows.
func (db *DB) catchUp(seq int64, logged [][]string) {
	switch {
	case seq == db.seq:
		return
	case seq > db.seq && int64(len(logged)) == seq-db.seq:
		ok := true
		for _, keys := range logged {
			if ok = db.cache.forget(keys); !ok {
				break
			}
		}
		if ok {
			db.forgets.Add(1)
			return
		}
	}
	db.clears.Add(1)
	db.cache.clearAll()
}

func safeRun(fn func(store.Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in store write: %v", p)
		}
	}()
	return fn(tx)
}

// Close finishes pending writes and closes the pool.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return nil
	}
	db.closed = true
	if db.reqs != nil {
		close(db.reqs)
	}
	db.closeMu.Unlock()
	db.wg.Wait()
	db.pool.Close()
	return nil
}

// Stats are the writer's counters.
func (db *DB) Stats() store.Stats {
	return store.Stats{
		Commits: db.commits.Load(), Writes: db.writes.Load(),
		ApplyNanos: db.applyNanos.Load(), CommitNanos: db.commitNanos.Load(), GatherNanos: db.gatherNanos.Load(),
		WriteQueries: db.trace.wQueries.Load(), WriteRoundTrips: db.trace.wRoundTrips.Load(),
		Queries: db.trace.queries.Load(), RoundTrips: db.trace.roundTrips.Load(),
	}
}

// Backup is not the engine's to do: PostgreSQL's own tools make
// consistent online backups of the whole database.
func (db *DB) Backup(w io.Writer) (int, error) {
	return 0, errors.New("the postgres engine is backed up with PostgreSQL's tools: pg_dump -Fc DSN > helpdesk.dump (or pg_basebackup and WAL archiving for point-in-time recovery)")
}
