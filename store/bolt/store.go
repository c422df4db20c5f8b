package bolt

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/s2"
	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"helpdesk/store"
	"helpdesk/store/internal/keyring"
	"helpdesk/store/internal/recjson"
	"helpdesk/store/model"
)

// SchemaVersion is the version of the bucket layout and value encodings
// this code writes. Version 2 stores large records and raw messages
// S2-compressed: a binary that knows only version 1 must refuse such a
// store rather than misread it. Version 3 adds the timer index (bucket
// timers): a binary that does not keep it current would leave timers
// stale, so an older one must refuse the store too. Version 4 keeps a
// customer profile's ticket links and timeline under its record's key
// (customers.go): an older binary would not find them. Version 5 keeps
// one due key per ticket in the timer index and the ticket's timers in a
// record beside the ticket instead of two keys per timer (timers.go): an
// older binary would misread it. Version 6 keeps the report backlog's
// moves in bucket report_events, in the record of the event of the same
// instant or in one of their own (reports.go), instead of a log in
// bucket report_backlog: an older binary would misread both.
const SchemaVersion = 6

// migrations[v] upgrades a store from version v to v+1. Version 0 is a
// fresh file. Add a function here (never edit an old one) when the layout
// changes.
var migrations = map[int]func(*bbolt.Tx) error{
	0: func(*bbolt.Tx) error { return nil },
	// 1 -> 2: values of version 1 (plain JSON, plain or deflated raw)
	// are still read as they are.
	1: func(*bbolt.Tx) error { return nil },
	// 2 -> 3: the bucket timers is created empty; the engine fills it
	// (it finds no timer stamp, and arms every ticket once).
	2: func(*bbolt.Tx) error { return nil },
	// 3 -> 4: a profile's links and timeline entries move next to its
	// record, its address keys to bucket users. premigrate has moved
	// them in transactions of their own; this finds none left.
	3: func(tx *bbolt.Tx) error { _, err := moveCustomerKeysV3(tx, 0); return err },
	// 4 -> 5: a ticket's timers become one due key and one record
	// beside the ticket.
	// premigrate has rewritten them in transactions of their own; this
	// finds none left.
	4: func(tx *bbolt.Tx) error { _, err := migrateTimersV4(tx, 0); return err },
	// 5 -> 6: the backlog's moves go into bucket report_events.
	// premigrate has moved them in transactions of their own; this
	// finds none left.
	5: func(tx *bbolt.Tx) error { _, err := migrateBacklogV5(tx, 0); return err },
}

// The layout. Records written by the same mail share a bucket and sit
// next to each other (a ticket and its comments, a message and its raw
// bytes, an outbound mail and its due-queue entry, a user and its address
// keys), so a commit touches few pages: the fsync'd bytes per mail are
// what bounds durable ingest.
var (
	bMeta       = []byte("meta")
	bTickets    = []byte("tickets")    // id -> Ticket; id+seq -> Comment; id+'t' -> its timers (timers.go)
	bMessages   = []byte("messages")   // id -> Message; id+'r' -> raw bytes (packed)
	bUsers      = []byte("users")      // id -> User; address -> id; address \0 ticket -> nil (requester); address \x01 -> customer id
	bOutbox     = []byte("outbox")     // id -> Outbound; dueMark+time+id -> nil (the queue)
	bQuarantine = []byte("quarantine") // id -> Quarantine
	bRate       = []byte("ratelimit")  // key -> timestamps
	bWebhooks   = []byte("webhooks")   // id -> WebhookDelivery; dueMark+time+id -> nil (the queue)
	bTimers     = []byte("timers")     // 'd' at ticket -> nil: each ticket's earliest timer (timers.go)
	// bCustomers: profiles and their indexes (customers.go).

	iMsgID  = []byte("idx_msgid")  // Message-ID -> Ref; Message-ID \0 body hash -> message id (dedupe)
	iStatus = []byte("idx_status") // status \0 ticket id -> nil

	bComments  = bTickets
	bRaw       = bMessages
	iUserAddr  = bUsers
	iRequester = bUsers
	iCustAddr  = bUsers
	iDue       = bOutbox
	iDedupe    = iMsgID

	allBuckets = [][]byte{bMeta, bTickets, bMessages, bUsers, bOutbox, bQuarantine, bRate, iMsgID, iStatus, bWebhooks, bCustomers, bTimers, bErasures}

	// appendOnly buckets get keys mostly in increasing order: their pages
	// are filled before splitting (bbolt's default of half full doubles
	// the pages written).
	appendOnly = map[string]bool{string(bTickets): true, string(bMessages): true, string(bOutbox): true,
		string(bQuarantine): true, string(bWebhooks): true, string(bCustomers): true}
)

// Options tune Open.
type Options struct {
	// LockTimeout bounds the wait for the file lock (another process, e.g.
	// a running daemon, holds it). Default 2s.
	LockTimeout time.Duration
	// ReadOnly opens without the writer (CLI inspection).
	ReadOnly bool
	// MaxBatch caps requests per group commit (default 512).
	MaxBatch int
	// Now is the clock (tests inject one).
	Now func() time.Time
	// Coming, when set, says how many writes are under way: requests
	// being prepared that will be submitted shortly (the engine's
	// deliveries in progress, including those already queued). The writer
	// then waits up to GatherMax for them, so they share the commit: a
	// lone writer never waits, and none waits longer than GatherMax.
	Coming    func() int
	GatherMax time.Duration
}

// DB is the open store.
type DB struct {
	// cur is the open bbolt file; Compact swaps it for the compacted
	// one while the writer is paused (readers that still hold the old
	// one finish on it; oldWG waits for their close).
	cur   atomic.Pointer[bbolt.DB]
	oldWG sync.WaitGroup
	dir   string
	now   func() time.Time

	reqs    chan *writeReq
	coming  func() int
	gather  time.Duration
	wg      sync.WaitGroup
	closeMu sync.RWMutex
	closed  bool

	// Stats for metrics.
	Commits   atomic.Int64
	Batched   atomic.Int64
	WriteErrs atomic.Int64
	// The writer's time, in nanoseconds: running the write functions,
	// committing (bbolt's spill, page writes and fsyncs) and waiting for
	// writes under way to join a group. Their sum over wall time is how
	// busy the single writer is, the bound of durable ingest.
	ApplyNanos, CommitNanos, GatherNanos atomic.Int64

	installID string
	// nodes counts dirty nodes per bucket when a benchmark asks
	// (CountNodes; nil: off).
	nodes atomic.Pointer[nodeCounter]
	// custV3: a store of schema 3 or older opened read-only (a writable
	// open migrates it): its customer links and timelines are read
	// where schema 3 kept them.
	custV3 bool
	// timersV4: a store of schema 4 or older opened read-only: its
	// timer index is read in schema 4's layout.
	timersV4 bool
	// reportsV5: a store of schema 5 or older opened read-only: its
	// backlog moves are read from bucket report_backlog.
	reportsV5 bool
	// handoff, when set, queues outbound mail claimed by this process's
	// worker (store.Handoff; outbox.go Enqueue).
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
	fn func(store.Tx) error
	// excl, when set, runs alone on the writer goroutine instead of fn.
	excl func() error
	done chan error
}

// boltOptions are the bbolt options the store opens its file with (the
// bench's reference server uses the same).
func boltOptions() *bbolt.Options {
	return &bbolt.Options{
		// The free list is written with each commit (about one page
		// more per commit, 3% for a lone sender): without it, opening
		// walks every page of the file to rebuild it, which on a
		// million-ticket store is 3 s with the file in the page cache
		// and over 2 minutes without, before the daemon listens.
		NoFreelistSync: false,
		FreelistType:   bbolt.FreelistMapType,
		// Address space, not memory: a remap (when the file outgrows
		// the mapping) blocks every transaction, so map generously.
		InitialMmapSize: 1 << 30,
	}
}

// allocSize is the step the store file grows by: each growth is a
// truncate and an extra sync inside a commit, so the steps are large.
const allocSize = 64 << 20

// DefaultMaxBatch is Options.MaxBatch's default.
const DefaultMaxBatch = 512

// Open opens (creating if needed) the store in dir.
func Open(dir string, opt Options) (*DB, error) {
	if opt.LockTimeout == 0 {
		opt.LockTimeout = 2 * time.Second
	}
	if opt.MaxBatch == 0 {
		opt.MaxBatch = DefaultMaxBatch
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	for _, sub := range []string{"blobs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			return nil, fmt.Errorf("creating %s: %w", sub, err)
		}
	}
	// Refuse a damaged file before bbolt maps it (a SIGBUS is no answer).
	if err := CheckFile(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "helpdesk.db")
	if !opt.ReadOnly {
		removeCompactLeftovers(path)
	}
	bopt := boltOptions()
	bopt.Timeout, bopt.ReadOnly = opt.LockTimeout, opt.ReadOnly
	bdb, err := bbolt.Open(path, 0o600, bopt)
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("opening %s: the store is locked by another process (is the daemon running?): %w", path, err)
		}
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	bdb.AllocSize = allocSize
	db := &DB{dir: dir, now: opt.Now, coming: opt.Coming, gather: opt.GatherMax}
	db.cur.Store(bdb)
	if db.gather == 0 {
		db.gather = 2 * time.Millisecond
	}
	if !opt.ReadOnly {
		if err := db.init(); err != nil {
			bdb.Close()
			return nil, err
		}
		// Spool files of mail that never got its 250 (a crash mid-DATA).
		cleanTmp(filepath.Join(dir, "tmp"))
		db.reqs = make(chan *writeReq, 4096)
		db.wg.Add(1)
		go db.writer(opt.MaxBatch)
	}
	if err := db.bdb().View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bMeta); b != nil {
			db.installID = string(b.Get([]byte("installation_id")))
			// A read-only open migrates nothing; an older store's values
			// are read as they are, a newer one's would be misread.
			v, err := db.schemaOf(b)
			if err != nil {
				return err
			}
			db.custV3 = v < 4
			db.timersV4 = v < 5
			db.reportsV5 = v < 6

		}
		return nil
	}); err != nil {
		bdb.Close()
		return nil, err
	}
	return db, nil
}

// schemaOf is the schema version recorded in meta (0: a new file); a
// version newer than this binary's is refused, since its values would be
// misread.
func (db *DB) schemaOf(meta *bbolt.Bucket) (int, error) {
	v := 0
	if raw := meta.Get([]byte("schema_version")); len(raw) == 8 {
		v = int(binary.BigEndian.Uint64(raw))
	}
	if v > SchemaVersion {
		return v, fmt.Errorf("the store %s has schema version %d, newer than this binary's %d: use a newer helpdesk (or restore a backup this version wrote)", db.bdb().Path(), v, SchemaVersion)
	}
	return v, nil
}

func cleanTmp(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		os.Remove(filepath.Join(dir, e.Name()))
	}
}

// init creates buckets, runs migrations and creates the installation id and
// the first reply-token secret on first start.
func (db *DB) init() error {
	if err := db.premigrate(); err != nil {
		return err
	}
	return db.bdb().Update(func(tx *bbolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("creating bucket %s: %w", b, err)
			}
		}
		meta := tx.Bucket(bMeta)
		v, err := db.schemaOf(meta)
		if err != nil {
			return err
		}
		for ; v < SchemaVersion; v++ {
			if err := migrations[v](tx); err != nil {
				return fmt.Errorf("migrating store from schema %d: %w", v, err)
			}
		}
		if err := meta.Put([]byte("schema_version"), u64(SchemaVersion)); err != nil {
			return err
		}
		if meta.Get([]byte("installation_id")) == nil {
			id := make([]byte, 8)
			if _, err := rand.Read(id); err != nil {
				return err
			}
			if err := meta.Put([]byte("installation_id"), []byte(hex.EncodeToString(id))); err != nil {
				return err
			}
		}
		if meta.Get([]byte("token_keys")) == nil {
			key, err := keyring.New(1, db.now())
			if err != nil {
				return err
			}
			return putJSON(meta, []byte("token_keys"), []model.TokenKey{key})
		}
		return nil
	})
}

// premigrate does the part of a migration that rewrites many records, in
// transactions of a bounded size (one transaction holds every page it
// changes in memory until it commits: schema 3 -> 4 moves three keys per
// ticket of a store's profiles, millions on a large store). Each
// transaction leaves the store consistent; the schema version is
// recorded afterwards (init), so a start interrupted meanwhile moves the
// rest on the next start.
func (db *DB) premigrate() error {
	v := 0
	if err := db.bdb().View(func(tx *bbolt.Tx) error {
		if meta := tx.Bucket(bMeta); meta != nil {
			var err error
			v, err = db.schemaOf(meta)
			return err
		}
		return nil
	}); err != nil {
		return err
	}
	if v == 0 || v >= SchemaVersion {
		return nil
	}
	for _, m := range premigrations {
		if v >= m.to {
			continue
		}
		for {
			n := 0
			if err := db.bdb().Update(func(tx *bbolt.Tx) (err error) {
				n, err = m.step(tx, m.limit)
				return err
			}); err != nil {
				return fmt.Errorf("migrating %s to schema %d: %w", m.what, m.to, err)
			}
			if n == 0 {
				break
			}
		}
	}
	return nil
}

// premigrations are premigrate's steps, in schema order: each moves at
// most limit units per transaction and says how many it moved (0: done).
var premigrations = []struct {
	to    int // the schema the step brings a store to
	limit int
	step  func(tx *bbolt.Tx, limit int) (int, error)
	what  string
}{
	{4, 20000, moveCustomerKeysV3, "the customer profiles' keys"},
	// 5,000 tickets' timers per transaction: their records go beside
	// tickets that may be far apart, a leaf each, and one transaction
	// holds every leaf it changes in memory.
	{5, 5000, migrateTimersV4, "the timer index"},
	// 20,000 backlog moves per transaction (they land among the events
	// of their instants, a leaf each stretch of time).
	{6, 20000, migrateBacklogV5, "the report backlog's moves"},
}

// InstallationID identifies this installation in loop headers.
func (db *DB) InstallationID() string { return db.installID }

// Dir is the data directory.
func (db *DB) Dir() string { return db.dir }

// Path is the database file.
func (db *DB) Path() string { return db.bdb().Path() }

// Update runs fn in a write transaction, grouped with other concurrent
// requests into one commit (one fsync). It returns after the commit is on
// disk. fn may run more than once; it must not have effects outside tx.
func (db *DB) Update(fn func(store.Tx) error) error {
	db.closeMu.RLock()
	if db.closed || db.reqs == nil {
		db.closeMu.RUnlock()
		return store.ErrClosed
	}
	r := &writeReq{fn: fn, done: make(chan error, 1)}
	db.reqs <- r
	db.closeMu.RUnlock()
	return <-r.done
}

// UpdateHinted is Update: this engine reads from memory (the hints are
// for engines that fetch from a server).
func (db *DB) UpdateHinted(_ *store.Hints, fn func(store.Tx) error) error { return db.Update(fn) }

// CommentTexts reads the texts of refs' comments in one read
// transaction (store.CommentTexter); a comment not found is left out.
func (db *DB) CommentTexts(refs []model.CommentRef) (map[model.CommentRef]string, error) {
	texts := make(map[model.CommentRef]string, len(refs))
	err := db.View(func(tx store.Tx) error {
		for _, r := range refs {
			c, err := tx.Comment(r.Ticket, r.Comment)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			texts[r] = c.Text
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return texts, nil
}

// View runs fn in a read-only transaction (concurrent with writes).
func (db *DB) View(fn func(store.Tx) error) error {
	return db.view(func(btx *bbolt.Tx) error { return fn(&Tx{tx: btx, db: db}) })
}

// bdb is the bbolt file open now.
func (db *DB) bdb() *bbolt.DB { return db.cur.Load() }

// view runs fn in a read transaction of the file open now. A reader that
// took the file just before Compact swapped it finds it closed before fn
// ran (bbolt checks that when the transaction begins) and tries again
// on the new one.
func (db *DB) view(fn func(*bbolt.Tx) error) error {
	for {
		b := db.bdb()
		err := b.View(fn)
		if errors.Is(err, berrors.ErrDatabaseNotOpen) && db.bdb() != b {
			continue
		}
		return err
	}
}

func (db *DB) writer(maxBatch int) {
	defer db.wg.Done()
	batch := make([]*writeReq, 0, maxBatch)
	// held is an exclusive request (Compact) met while gathering a
	// group: it runs right after that group commits.
	var held *writeReq
	for {
		r := held
		held = nil
		if r == nil {
			var ok bool
			if r, ok = <-db.reqs; !ok {
				return
			}
		}
		if r.excl != nil {
			r.done <- r.excl()
			continue
		}
		batch = append(batch[:0], r)
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-db.reqs:
				if !ok {
					break drain
				}
				if r.excl != nil {
					held = r
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		if held == nil && db.coming != nil && len(batch) < maxBatch && db.coming() > len(batch) {
			t0 := time.Now()
			batch, held = db.gatherMore(batch, maxBatch)
			db.GatherNanos.Add(int64(time.Since(t0)))
		}
		db.commit(batch)
	}
}

// gatherMore waits, at most db.gather, for writes that are under way to
// join the batch; an exclusive request ends the wait and is returned.
func (db *DB) gatherMore(batch []*writeReq, maxBatch int) ([]*writeReq, *writeReq) {
	t := time.NewTimer(db.gather)
	defer t.Stop()
	for len(batch) < maxBatch && db.coming() > len(batch) {
		select {
		case r, ok := <-db.reqs:
			if !ok {
				return batch, nil
			}
			if r.excl != nil {
				return batch, r
			}
			batch = append(batch, r)
		case <-t.C:
			return batch, nil
		}
	}
	return batch, nil
}

// exclusive runs fn on the writer goroutine between two commits: no write
// runs meanwhile, and writes requested meanwhile wait (their callers get
// their answer, a 250 say, only once they have committed after it).
func (db *DB) exclusive(fn func() error) error {
	db.closeMu.RLock()
	if db.closed || db.reqs == nil {
		db.closeMu.RUnlock()
		return store.ErrClosed
	}
	r := &writeReq{excl: fn, done: make(chan error, 1)}
	db.reqs <- r
	db.closeMu.RUnlock()
	return <-r.done
}

// commit runs a group in one transaction. When one function fails, the
// transaction is rolled back, that request gets its error, and the rest
// is retried without it (bbolt's Batch does the same).
func (db *DB) commit(batch []*writeReq) {
	for len(batch) > 0 {
		failed := -1
		var fnErr error
		t0 := time.Now()
		var applied time.Duration
		var handed []*model.Outbound
		handoff := db.handoff.Load()
		err := db.bdb().Update(func(btx *bbolt.Tx) error {
			tx := &Tx{tx: btx, db: db, handoff: handoff}
			defer func() { handed = tx.handed }()
			defer func() { applied = time.Since(t0) }()
			for i, r := range batch {
				if err := safeRun(r.fn, tx); err != nil {
					failed, fnErr = i, err
					return err
				}
			}
			if err := tx.sealGroups(); err != nil {
				return err
			}
			if c := db.nodes.Load(); c != nil {
				c.count(btx)
			}
			return nil
		})
		db.ApplyNanos.Add(int64(applied))
		db.CommitNanos.Add(int64(time.Since(t0) - applied))
		if failed >= 0 {
			batch[failed].done <- fnErr
			db.WriteErrs.Add(1)
			batch = append(batch[:failed], batch[failed+1:]...)
			continue
		}
		if err != nil {
			db.WriteErrs.Add(1)
			err = fmt.Errorf("committing: %w", err)
		} else {
			db.Commits.Add(1)
			db.Batched.Add(int64(len(batch)))
			if len(handed) > 0 {
				// A failed commit of bbolt committed nothing (its
				// meta page is written last): nothing is handed then.
				handoff.Hand(handed, true)
			}
		}
		for _, r := range batch {
			r.done <- err
		}
		return
	}
}

func safeRun(fn func(store.Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in store write: %v", p)
		}
	}()
	return fn(tx)
}

// Close stops the writer after pending writes and closes the file.
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
	db.oldWG.Wait()
	return db.bdb().Close()
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	data, err := marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// Records are JSON. One of compressMin bytes or more (a comment with a
// mail's text, usually) is stored S2-compressed behind the byte valS2,
// which no JSON text starts with: a commit writes pages, and a 4 KiB
// comment then takes part of a page instead of two.
const (
	valS2       = 0x02
	compressMin = 1 << 10
)

// marshal is json.Marshal without HTML escaping (<, > and & are stored as
// themselves, which every JSON decoder reads the same): a third less CPU
// for records carrying a mail's text; large records are compressed. The
// result is a fresh slice, as bbolt keeps values until the commit.
func marshal(v any) ([]byte, error) {
	buf := recjson.Buffer()
	defer recjson.Release(buf)
	b, err := recjson.Encode(buf, v)
	if err != nil {
		return nil, err
	}
	if len(b) >= compressMin {
		// Compressed into scratch space, then copied to a slice of its
		// size: a record of its own length is all that stays allocated
		// (a fresh worst-case buffer per record was a tenth of a mail's
		// write time, most of it spent zeroing).
		sp := s2Bufs.Get().(*[]byte)
		defer putS2Buf(sp)
		if n := s2.MaxEncodedLen(len(b)); cap(*sp) < n {
			*sp = make([]byte, n)
		}
		c := s2.Encode((*sp)[:cap(*sp)], b)
		if len(c) < len(b)*9/10 {
			out := make([]byte, 1+len(c))
			out[0] = valS2
			copy(out[1:], c)
			return out, nil
		}
	}
	return append(make([]byte, 0, len(b)), b...), nil
}

// s2Bufs are marshal's compression scratch buffers.
var s2Bufs = sync.Pool{New: func() any { return new([]byte) }}

// putS2Buf returns a scratch buffer unless a rare huge record grew it.
func putS2Buf(p *[]byte) {
	if cap(*p) <= 1<<20 {
		s2Bufs.Put(p)
	}
}

// unmarshal reads a record marshal wrote.
func unmarshal(data []byte, v any) error {
	if len(data) > 0 && data[0] == valS2 {
		d, err := s2.Decode(nil, data[1:])
		if err != nil {
			return fmt.Errorf("decompressing a stored record: %w", err)
		}
		data = d
	}
	return json.Unmarshal(data, v)
}

// getJSON is Tx.getJSON for code that holds only a bucket.
func getJSON(b *bbolt.Bucket, key []byte, v any) error {
	data := b.Get(key)
	if data == nil {
		return store.ErrNotFound
	}
	return unmarshal(data, v)
}

// Stats are the writer's counters and bbolt's page writes.
func (db *DB) Stats() store.Stats {
	bs := db.bdb().Stats()
	return store.Stats{
		Commits: db.Commits.Load(), Writes: db.Batched.Load(),
		ApplyNanos: db.ApplyNanos.Load(), CommitNanos: db.CommitNanos.Load(), GatherNanos: db.GatherNanos.Load(),
		PageWrites: bs.TxStats.GetWrite(),
	}
}

// The bbolt engine implements the store's interfaces.
var (
	_ store.Store    = (*DB)(nil)
	_ store.Hinted   = (*DB)(nil)
	_ store.HandsOff = (*DB)(nil)
	_ store.Tx       = (*Tx)(nil)
	_ store.Spool    = (*Spool)(nil)
)

// DebugBuckets describes the buckets' shapes (for benchmarks).
func (db *DB) DebugBuckets() string {
	var b strings.Builder
	db.view(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, bk *bbolt.Bucket) error {
			s := bk.Stats()
			fmt.Fprintf(&b, "\n%-16s keys %6d depth %d branch %4d leaf %5d inline %d", name, s.KeyN, s.Depth, s.BranchPageN, s.LeafPageN, s.InlineBucketN)
			return nil
		})
	})
	return b.String()
}
