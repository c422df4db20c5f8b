// Record-level export and import (store.Dumper, store.Loader): what
// `helpdesk migrate` copies between engines. The dump reads one
// repeatable-read snapshot; the load is one transaction (COPY per table),
// so a load that fails leaves the database as it was.

package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"helpdesk/store"
	"helpdesk/store/model"
)

var (
	_ store.Dumper = (*DB)(nil)
	_ store.Loader = (*DB)(nil)
)

// migrateTimeout bounds a whole dump or load.
const migrateTimeout = 24 * time.Hour

// Dump calls fn for every record, from one snapshot.
func (db *DB) Dump(fn func(*store.Record) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Release()
	q, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("starting a read: %w", err)
	}
	defer q.Rollback(context.Background())
	return dumpTables(ctx, q, fn)
}

// each runs a query and calls fn for every row (fn scans it).
func each(ctx context.Context, q pgx.Tx, sql string, fn func(pgx.Rows) error) error {
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return fmt.Errorf("reading PostgreSQL (%s): %w", firstWords(sql), err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading PostgreSQL (%s): %w", firstWords(sql), err)
	}
	return nil
}

func firstWords(sql string) string {
	f := strings.Fields(sql)
	return strings.Join(f[:min(len(f), 6)], " ")
}

// jsonRows calls fn with the json column of each row, decoded into a new
// T.
func jsonRows[T any](ctx context.Context, q pgx.Tx, sql string, fn func(*T) error) error {
	return each(ctx, q, sql, func(rows pgx.Rows) error {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return err
		}
		v := new(T)
		if err := unmarshal(data, v); err != nil {
			return fmt.Errorf("decoding a record (%s): %w", firstWords(sql), err)
		}
		return fn(v)
	})
}

func dumpTables(ctx context.Context, q pgx.Tx, emit func(*store.Record) error) error {
	meta := map[string]string{}
	if err := each(ctx, q, "SELECT key, value FROM meta", func(rows pgx.Rows) error {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		meta[k] = v
		return nil
	}); err != nil {
		return err
	}
	if v, ok := meta["installation_id"]; ok {
		if err := emit(&store.Record{Kind: store.KindInstallation, Text: v}); err != nil {
			return err
		}
	}
	if v, ok := meta["token_keys"]; ok {
		var keys []model.TokenKey
		if err := unmarshal([]byte(v), &keys); err != nil {
			return fmt.Errorf("reading the token keys: %w", err)
		}
		if err := emit(&store.Record{Kind: store.KindTokenKeys, Keys: keys}); err != nil {
			return err
		}
	}
	if v, ok := meta["manual_clock"]; ok {
		at, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fmt.Errorf("reading the manual clock: %w", err)
		}
		if err := emit(&store.Record{Kind: store.KindManualClock, Time: at.UTC()}); err != nil {
			return err
		}
	}
	if v := meta["timer_stamp"]; v != "" {
		if err := emit(&store.Record{Kind: store.KindTimerStamp, Text: v}); err != nil {
			return err
		}
	}
	if v, ok := meta["customer_backfill"]; ok {
		var p model.CustomerBackfill
		if err := unmarshal([]byte(v), &p); err != nil {
			return fmt.Errorf("reading the customer backfill: %w", err)
		}
		if err := emit(&store.Record{Kind: store.KindCustomerBackfill, Backfill: &p}); err != nil {
			return err
		}
	}
	seqs := map[string]uint64{}
	if err := each(ctx, q, "SELECT name, value FROM sequences", func(rows pgx.Rows) error {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		seqs[k] = uint64(v)
		return nil
	}); err != nil {
		return err
	}
	// The bbolt engine numbers customers and their timeline entries from
	// one sequence: the dump carries the greater.
	seqs["customers"] = max(seqs["customers"], seqs["customer_activity"])
	delete(seqs, "customer_activity")
	for _, name := range store.Sequences {
		if v := seqs[name]; v != 0 {
			if err := emit(&store.Record{Kind: store.KindSequence, Name: name, N: v}); err != nil {
				return err
			}
		}
		delete(seqs, name)
	}
	for name, v := range seqs {
		if v != 0 {
			return fmt.Errorf("%w: sequence %q (a newer helpdesk wrote it)", store.ErrUnknownRecord, name)
		}
	}
	if err := each(ctx, q, "SELECT name, value FROM counters ORDER BY name", func(rows pgx.Rows) error {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		return emit(&store.Record{Kind: store.KindCounter, Name: k, N: uint64(v)})
	}); err != nil {
		return err
	}
	if err := each(ctx, q, "SELECT key, data FROM rates ORDER BY key", func(rows pgx.Rows) error {
		r := &store.Record{Kind: store.KindRate}
		if err := rows.Scan(&r.Name, &r.Bytes); err != nil {
			return err
		}
		return emit(r)
	}); err != nil {
		return err
	}
	if err := each(ctx, q, "SELECT name, raw FROM blobs ORDER BY name", func(rows pgx.Rows) error {
		r := &store.Record{Kind: store.KindBlob}
		if err := rows.Scan(&r.Name, &r.Bytes); err != nil {
			return err
		}
		r.Name = strings.TrimPrefix(r.Name, blobPrefix)
		return emit(r)
	}); err != nil {
		return err
	}
	if err := jsonRows(ctx, q, "SELECT data FROM tickets ORDER BY id", func(tk *model.Ticket) error {
		return emit(&store.Record{Kind: store.KindTicket, Ticket: tk})
	}); err != nil {
		return err
	}
	if err := jsonRows(ctx, q, "SELECT data FROM comments ORDER BY ticket, id", func(c *model.Comment) error {
		return emit(&store.Record{Kind: store.KindComment, Comment: c})
	}); err != nil {
		return err
	}
	if err := each(ctx, q, "SELECT data, raw FROM messages ORDER BY id", func(rows pgx.Rows) error {
		var data, raw []byte
		if err := rows.Scan(&data, &raw); err != nil {
			return err
		}
		var m model.Message
		if err := unmarshal(data, &m); err != nil {
			return fmt.Errorf("decoding a message: %w", err)
		}
		if m.Blob != "" {
			if !strings.HasPrefix(m.Blob, blobPrefix) {
				return fmt.Errorf("message %d names the blob %q, not one of this store's", m.ID, m.Blob)
			}
			m.Blob = strings.TrimPrefix(m.Blob, blobPrefix)
		}
		r := &store.Record{Kind: store.KindMessage, Message: &m}
		if raw != nil {
			r.Raw, r.HasRaw = raw, true
		}
		return emit(r)
	}); err != nil {
		return err
	}
	if err := each(ctx, q, "SELECT message_id, body_hash, id FROM messages WHERE message_id IS NOT NULL ORDER BY message_id, body_hash", func(rows pgx.Rows) error {
		id := &store.Identity{}
		var m int64
		if err := rows.Scan(&id.MessageID, &id.BodyHash, &m); err != nil {
			return err
		}
		id.Message = uint64(m)
		return emit(&store.Record{Kind: store.KindIdentity, Identity: id})
	}); err != nil {
		return err
	}
	if err := each(ctx, q, "SELECT message_id, data FROM message_refs ORDER BY message_id", func(rows pgx.Rows) error {
		var k string
		var data []byte
		if err := rows.Scan(&k, &data); err != nil {
			return err
		}
		var ref model.Ref
		if err := unmarshal(data, &ref); err != nil {
			return fmt.Errorf("Message-ID index entry %q: %w", k, err)
		}
		return emit(&store.Record{Kind: store.KindMessageRef, Name: k, Ref: &ref})
	}); err != nil {
		return err
	}
	if err := jsonRows(ctx, q, "SELECT data FROM users ORDER BY id", func(u *model.User) error {
		return emit(&store.Record{Kind: store.KindUser, User: u})
	}); err != nil {
		return err
	}
	if err := jsonRows(ctx, q, "SELECT data FROM customers ORDER BY id", func(c *model.Customer) error {
		return emit(&store.Record{Kind: store.KindCustomer, Customer: c})
	}); err != nil {
		return err
	}
	if err := each(ctx, q, "SELECT customer, role, ticket FROM customer_tickets ORDER BY customer, role, ticket", func(rows pgx.Rows) error {
		var c, tk int64
		l := &store.CustomerLink{}
		if err := rows.Scan(&c, &l.Role, &tk); err != nil {
			return err
		}
		l.Customer, l.Ticket = uint64(c), uint64(tk)
		return emit(&store.Record{Kind: store.KindCustomerLink, Link: l})
	}); err != nil {
		return err
	}
	if err := each(ctx, q, "SELECT customer, seq, data FROM customer_activity ORDER BY customer, at_ns, seq", func(rows pgx.Rows) error {
		var c, seq int64
		var data []byte
		if err := rows.Scan(&c, &seq, &data); err != nil {
			return err
		}
		a := &model.CustomerActivity{}
		if err := unmarshal(data, a); err != nil {
			return fmt.Errorf("customer %d's timeline: %w", c, err)
		}
		return emit(&store.Record{Kind: store.KindActivity, Activity: &store.Activity{Customer: uint64(c), Seq: uint64(seq), Entry: a}})
	}); err != nil {
		return err
	}
	if err := jsonRows(ctx, q, "SELECT "+outData+" FROM outbound ORDER BY id", func(o *model.Outbound) error {
		return emit(&store.Record{Kind: store.KindOutbound, Outbound: o})
	}); err != nil {
		return err
	}
	if err := jsonRows(ctx, q, "SELECT data FROM webhooks ORDER BY id", func(d *model.WebhookDelivery) error {
		return emit(&store.Record{Kind: store.KindWebhook, Webhook: d})
	}); err != nil {
		return err
	}
	if err := jsonRows(ctx, q, "SELECT data FROM quarantine ORDER BY id", func(r *model.Quarantine) error {
		return emit(&store.Record{Kind: store.KindQuarantine, Quarantine: r})
	}); err != nil {
		return err
	}
	if err := each(ctx, q, "SELECT ticket, kind, at_ns FROM timers ORDER BY ticket, kind", func(rows pgx.Rows) error {
		var tk, ns int64
		tm := &model.Timer{}
		if err := rows.Scan(&tk, &tm.Kind, &ns); err != nil {
			return err
		}
		tm.Ticket, tm.At = uint64(tk), time.Unix(0, ns).UTC()
		return emit(&store.Record{Kind: store.KindTimer, Timer: tm})
	}); err != nil {
		return err
	}
	if err := each(ctx, q, `SELECT at_ns, kind, ticket, grp, mailbox, agent, since_ns, target, rating
FROM report_events WHERE kind <> '' ORDER BY at_ns, seq`, func(rows pgx.Rows) error {
		var at, ticket int64
		var since *int64
		var rating int32
		ev := &model.ReportEvent{}
		if err := rows.Scan(&at, &ev.Kind, &ticket, &ev.Group, &ev.Mailbox, &ev.Agent, &since, &ev.Target, &rating); err != nil {
			return err
		}
		ev.At, ev.Ticket, ev.Rating = time.Unix(0, at).UTC(), uint64(ticket), int(rating)
		if since != nil {
			ev.Since = time.Unix(0, *since).UTC()
		}
		return emit(&store.Record{Kind: store.KindReportEvent, Event: ev})
	}); err != nil {
		return err
	}
	if err := each(ctx, q, "SELECT at_ns, dec, inc FROM report_events WHERE dec IS NOT NULL ORDER BY at_ns, seq", func(rows pgx.Rows) error {
		var at int64
		var dec, inc [][]byte
		if err := rows.Scan(&at, &dec, &inc); err != nil {
			return err
		}
		mv := &store.BacklogMove{At: time.Unix(0, at).UTC()}
		for _, k := range dec {
			mv.Dec = append(mv.Dec, string(k))
		}
		for _, k := range inc {
			mv.Inc = append(mv.Inc, string(k))
		}
		return emit(&store.Record{Kind: store.KindBacklogMove, Move: mv})
	}); err != nil {
		return err
	}
	return jsonRows(ctx, q, "SELECT data FROM erasures ORDER BY id", func(r *model.Erasure) error {
		return emit(&store.Record{Kind: store.KindErasure, Erasure: r})
	})
}

// copyChunk and copyChunkBytes bound one COPY (rows, and about their
// bytes: large bodies are held in memory until sent).
const (
	copyChunk      = 5000
	copyChunkBytes = 32 << 20
)

// loader gathers rows per table and sends each table's with COPY when
// it has copyChunk of them (and all at the end): records come kind by
// kind, but one kind fills several tables (a message and its raw bytes,
// a customer and its addresses).
type loader struct {
	ctx    context.Context
	q      pgx.Tx
	tables map[string]*copyBuf
	order  []string
	// A message's identity is columns of its row (schema 8), filled
	// from its record's Message-ID and body hash as it is copied:
	// derived holds those (message id -> identHash) until an identity
	// record confirms them; idents are the identity records that did
	// not match a message copied before them. identities sets the
	// columns as the identity records have them once all are in.
	derived map[uint64]uint64
	idents  []store.Identity
}

// identHash stands for an identity in loader.derived.
func identHash(msgID, hash string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(msgID))
	h.Write([]byte{0})
	h.Write([]byte(hash))
	return h.Sum64()
}

// identities makes the messages' identity columns what the identity
// records said: a derived identity no record confirmed is cleared, one
// that differs from its record is set, and a record naming a message
// that was not loaded is refused (the row would have nowhere to go).
func (l *loader) identities() error {
	var set []store.Identity
	for _, id := range l.idents {
		if h, ok := l.derived[id.Message]; ok && h == identHash(id.MessageID, id.BodyHash) {
			delete(l.derived, id.Message)
			continue
		}
		set = append(set, id)
	}
	clearIDs := make([]int64, 0, len(l.derived))
	for id := range l.derived {
		clearIDs = append(clearIDs, int64(id))
	}
	for len(clearIDs) > 0 {
		n := min(len(clearIDs), copyChunk)
		if _, err := l.q.Exec(l.ctx, "UPDATE messages SET message_id = NULL, body_hash = NULL WHERE id = ANY($1)", clearIDs[:n]); err != nil {
			return fmt.Errorf("clearing identities no record names: %w", err)
		}
		clearIDs = clearIDs[n:]
	}
	for _, id := range set {
		tag, err := l.q.Exec(l.ctx, "UPDATE messages SET message_id = $1, body_hash = $2 WHERE id = $3", id.MessageID, id.BodyHash, int64(id.Message))
		if err != nil {
			return fmt.Errorf("storing the identity %s %s: %w", id.MessageID, id.BodyHash, err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("the identity %s %s names message %d, which has no record", id.MessageID, id.BodyHash, id.Message)
		}
	}
	return nil
}

type copyBuf struct {
	cols  []string
	rows  [][]any
	bytes int
}

func (l *loader) add(table string, cols []string, vals ...any) error {
	b := l.tables[table]
	if b == nil {
		b = &copyBuf{cols: cols}
		l.tables[table] = b
		l.order = append(l.order, table)
	}
	b.rows = append(b.rows, vals)
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			b.bytes += len(v)
		case string:
			b.bytes += len(v)
		}
	}
	if len(b.rows) >= copyChunk || b.bytes >= copyChunkBytes {
		return l.send(table, b)
	}
	return nil
}

func (l *loader) send(table string, b *copyBuf) error {
	if len(b.rows) == 0 {
		return nil
	}
	_, err := l.q.CopyFrom(l.ctx, pgx.Identifier{table}, b.cols, pgx.CopyFromRows(b.rows))
	clear(b.rows) // the bodies go with the slots
	b.rows, b.bytes = b.rows[:0], 0
	if err != nil {
		return fmt.Errorf("copying into %s: %w", table, err)
	}
	return nil
}

// flush sends every table's gathered rows.
func (l *loader) flush() error {
	for _, t := range l.order {
		if err := l.send(t, l.tables[t]); err != nil {
			return err
		}
	}
	return nil
}

// Load builds this (empty) database from records in one transaction; see
// store.Loader.
func (db *DB) Load(next func() (*store.Record, error), progress func(n int)) error {
	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer conn.Release()
	return pgx.BeginFunc(ctx, conn, func(q pgx.Tx) error {
		// No daemon writes meanwhile (they wait for this lock).
		if _, err := q.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockWrite); err != nil {
			return fmt.Errorf("taking the write lock: %w", err)
		}
		if err := checkEmpty(ctx, q); err != nil {
			return err
		}
		// What opening the database wrote makes room for the records'.
		if _, err := q.Exec(ctx, "DELETE FROM meta; DELETE FROM counters; DELETE FROM sequences"); err != nil {
			return fmt.Errorf("clearing the start state: %w", err)
		}
		l := &loader{ctx: ctx, q: q, tables: map[string]*copyBuf{}, derived: map[uint64]uint64{}}
		n := 0
		for {
			r, err := next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			if err := loadRecord(l, r); err != nil {
				return fmt.Errorf("storing %s %s: %w", r.Kind, r.ID(), err)
			}
			if n++; progress != nil && n%copyChunk == 0 {
				progress(n)
			}
		}
		if err := l.flush(); err != nil {
			return err
		}
		if err := l.identities(); err != nil {
			return err
		}
		if progress != nil {
			progress(n)
		}
		return nil
	})
}

// emptyTables must hold no row for a load: everything but what opening
// the database writes (meta, counters, sequences at zero).
var emptyTables = []string{"tickets", "comments", "messages", "message_refs",
	"users", "outbound", "webhooks", "quarantine", "rates", "blobs", "customers", "customer_addresses",
	"customer_tickets", "customer_activity", "timers", "report_events", "erasures"}

func checkEmpty(ctx context.Context, q pgx.Tx) error {
	for _, t := range emptyTables {
		var n int64
		if err := q.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM "+t+" LIMIT 1) x").Scan(&n); err != nil {
			return fmt.Errorf("checking table %s: %w", t, err)
		}
		if n > 0 {
			return fmt.Errorf("%w: table %s has rows", store.ErrNotEmpty, t)
		}
	}
	var n int64
	if err := q.QueryRow(ctx, "SELECT count(*) FROM sequences WHERE value <> 0").Scan(&n); err != nil {
		return fmt.Errorf("checking table sequences: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("%w: ids were given (table sequences)", store.ErrNotEmpty)
	}
	if _, ok, err := customerBackfillSet(ctx, q); err != nil || ok {
		if err == nil {
			err = fmt.Errorf("%w: customer profiles were built (meta customer_backfill)", store.ErrNotEmpty)
		}
		return err
	}
	return nil
}

func customerBackfillSet(ctx context.Context, q pgx.Tx) (string, bool, error) {
	var v string
	err := q.QueryRow(ctx, "SELECT value FROM meta WHERE key = 'customer_backfill'").Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

func (l *loader) meta(key, value string) error {
	if err := l.flush(); err != nil {
		return err
	}
	_, err := l.q.Exec(l.ctx, "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", key, value)
	return err
}

func loadRecord(l *loader, r *store.Record) error {
	switch r.Kind {
	case store.KindInstallation:
		return l.meta("installation_id", r.Text)
	case store.KindTokenKeys:
		data, err := marshal(r.Keys)
		if err != nil {
			return err
		}
		return l.meta("token_keys", string(data))
	case store.KindManualClock:
		return l.meta("manual_clock", r.Time.UTC().Format(time.RFC3339Nano))
	case store.KindTimerStamp:
		return l.meta("timer_stamp", r.Text)
	case store.KindCustomerBackfill:
		data, err := marshal(r.Backfill)
		if err != nil {
			return err
		}
		return l.meta("customer_backfill", string(data))
	case store.KindSequence:
		known := false
		for _, s := range store.Sequences {
			known = known || s == r.Name
		}
		if !known {
			return fmt.Errorf("%w: sequence %q", store.ErrUnknownRecord, r.Name)
		}
		if err := l.add("sequences", tSeq.cols, r.Name, int64(r.N)); err != nil {
			return err
		}
		if r.Name == "customers" {
			// Customers and their timeline entries are numbered apart
			// here: both continue after the bbolt engine's one sequence.
			return l.add("sequences", tSeq.cols, "customer_activity", int64(r.N))
		}
		return nil
	case store.KindCounter:
		return l.add("counters", tCounters.cols, r.Name, int64(r.N))
	case store.KindRate:
		return l.add("rates", tRates.cols, r.Name, r.Bytes)
	case store.KindBlob:
		sum := sha256.Sum256(r.Bytes)
		if hex.EncodeToString(sum[:]) != r.Name {
			return fmt.Errorf("blob %s: the content does not match its name (damaged?)", r.Name)
		}
		return l.add("blobs", []string{"name", "size", "raw"}, blobPrefix+r.Name, int64(len(r.Bytes)), r.Bytes)
	case store.KindTicket:
		tk := r.Ticket
		data, err := marshal(tk)
		if err != nil {
			return err
		}
		return l.add("tickets", tTickets.cols, int64(tk.ID), tk.Status, tk.Requester, data)
	case store.KindComment:
		data, err := marshal(r.Comment)
		if err != nil {
			return err
		}
		return l.add("comments", tComments.cols, int64(r.Comment.Ticket), int32(r.Comment.ID), data)
	case store.KindMessage:
		m := *r.Message
		if m.Blob != "" {
			m.Blob = blobPrefix + m.Blob
		}
		data, err := marshal(&m)
		if err != nil {
			return err
		}
		var raw, msgID, hash any
		if r.HasRaw {
			if r.Raw == nil {
				raw = []byte{}
			} else {
				raw = r.Raw
			}
		}
		if m.MessageID != "" && m.BodyHash != "" {
			// As ReserveMessage stores it; the identity records
			// confirm it (loader.identities).
			msgID, hash = normID(m.MessageID), m.BodyHash
			l.derived[m.ID] = identHash(normID(m.MessageID), m.BodyHash)
		}
		return l.add("messages", tMessages.cols, int64(m.ID), int64(m.Ticket), raw, msgID, hash, data)
	case store.KindIdentity:
		id := *r.Identity
		if h, ok := l.derived[id.Message]; ok && h == identHash(id.MessageID, id.BodyHash) {
			delete(l.derived, id.Message)
			return nil
		}
		l.idents = append(l.idents, id)
		return nil
	case store.KindMessageRef:
		data, err := marshal(r.Ref)
		if err != nil {
			return err
		}
		return l.add("message_refs", tRefs.cols, r.Name, int64(r.Ref.Ticket), data)
	case store.KindUser:
		data, err := marshal(r.User)
		if err != nil {
			return err
		}
		return l.add("users", tUsers.cols, int64(r.User.ID), r.User.Addr, data)
	case store.KindCustomer:
		c := r.Customer
		if c.Addresses == nil {
			c.Addresses = []string{}
		}
		data, err := marshal(c)
		if err != nil {
			return err
		}
		if err := l.add("customers", tCustomers.cols, int64(c.ID), strings.ToLower(c.Organization), data); err != nil {
			return err
		}
		for _, a := range c.Addresses {
			if err := l.add("customer_addresses", tCustAddr.cols, a, int64(c.ID)); err != nil {
				return err
			}
		}
		return nil
	case store.KindCustomerLink:
		return l.add("customer_tickets", tCustTk.cols, int64(r.Link.Customer), r.Link.Role, int64(r.Link.Ticket))
	case store.KindActivity:
		a := r.Activity
		data, err := marshal(a.Entry)
		if err != nil {
			return err
		}
		return l.add("customer_activity", tCustAct.cols, int64(a.Customer), a.Entry.At.UnixNano(), int64(a.Seq), data)
	case store.KindOutbound:
		o := r.Outbound
		data, err := marshal(o)
		if err != nil {
			return err
		}
		var until int64
		if !o.LeaseUntil.IsZero() {
			until = o.LeaseUntil.UnixNano()
		}
		return l.add("outbound", tOutbound.cols, int64(o.ID), o.State, o.NextAttempt.UnixNano(), o.LeaseHolder, until, nil, data)
	case store.KindWebhook:
		d := r.Webhook
		data, err := marshal(d)
		if err != nil {
			return err
		}
		return l.add("webhooks", tWebhooks.cols, int64(d.ID), d.State, d.NextAttempt.UnixNano(), data)
	case store.KindQuarantine:
		data, err := marshal(r.Quarantine)
		if err != nil {
			return err
		}
		return l.add("quarantine", tQuarantin.cols, int64(r.Quarantine.ID), data)
	case store.KindTimer:
		return l.add("timers", tTimers.cols, int64(r.Timer.Ticket), r.Timer.Kind, timerNs(r.Timer.At))
	case store.KindReportEvent:
		ev := r.Event
		return l.add("report_events", tReportEvents.cols, ev.At.UnixNano(), ev.Kind, int64(ev.Ticket), ev.Group, ev.Mailbox, ev.Agent, nsOrNil(ev.Since), ev.Target, int32(ev.Rating), nil, nil)
	case store.KindBacklogMove:
		if len(r.Move.Dec) == 0 && len(r.Move.Inc) == 0 {
			return nil
		}
		// A row of its own (kind ''): the records do not say which
		// event a move came with.
		return l.add("report_events", tReportEvents.cols, r.Move.At.UnixNano(), "", int64(0), "", "", "", nil, "", int32(0), byteKeys(r.Move.Dec), byteKeys(r.Move.Inc))
	case store.KindErasure:
		e := r.Erasure
		data, err := marshal(e)
		if err != nil {
			return err
		}
		return l.add("erasures", tErasures.cols, int64(e.ID), e.At, e.By, e.Via, int32(e.Tickets), data)
	}
	return fmt.Errorf("%w: kind %q", store.ErrUnknownRecord, r.Kind)
}
