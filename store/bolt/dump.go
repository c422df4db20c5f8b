// Record-level export and import (store.Dumper, store.Loader): what
// `helpdesk migrate` copies between engines.

package bolt

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"helpdesk/store"
	"helpdesk/store/model"
)

var (
	_ store.Dumper = (*DB)(nil)
	_ store.Loader = (*DB)(nil)
)

// blobName is the engine-neutral name of a blob file (its content's
// SHA-256, hex): blobs/ab/<hash>.eml names <hash>.
func blobName(rel string) (string, error) {
	base := filepath.Base(rel)
	h := strings.TrimSuffix(base, ".eml")
	if len(h) != 64 || h == base {
		return "", fmt.Errorf("blob %q: not a content-addressed blob name", rel)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("blob %q: not a content-addressed blob name", rel)
	}
	return h, nil
}

// blobPath is where the blob of that name lives, relative to data_dir.
func blobPath(name string) string { return filepath.Join("blobs", name[:2], name+".eml") }

// Dump calls fn for every record, from one read transaction (the blob
// files beside it are read as they are: no daemon may run on the store).
func (db *DB) Dump(fn func(*store.Record) error) error {
	return db.view(func(btx *bbolt.Tx) error {
		tx := &Tx{tx: btx, db: db}
		return dumpTx(db, tx, fn)
	})
}

func dumpTx(db *DB, tx *Tx, fn func(*store.Record) error) error {
	meta := tx.b(bMeta)
	emit := func(r *store.Record) error { return fn(r) }
	if v := meta.Get([]byte("installation_id")); v != nil {
		if err := emit(&store.Record{Kind: store.KindInstallation, Text: string(v)}); err != nil {
			return err
		}
	}
	if keys, err := tx.Keys(); err == nil {
		if err := emit(&store.Record{Kind: store.KindTokenKeys, Keys: keys}); err != nil {
			return err
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("reading the token keys: %w", err)
	}
	if at, ok, err := tx.ManualClock(); err != nil {
		return err
	} else if ok {
		if err := emit(&store.Record{Kind: store.KindManualClock, Time: at}); err != nil {
			return err
		}
	}
	if s, _ := tx.TimerStamp(); s != "" {
		if err := emit(&store.Record{Kind: store.KindTimerStamp, Text: s}); err != nil {
			return err
		}
	}
	if b := tx.customers(); b != nil && b.Get(keyBackfill) != nil {
		p, err := tx.CustomerBackfill()
		if err != nil {
			return err
		}
		if err := emit(&store.Record{Kind: store.KindCustomerBackfill, Backfill: &p}); err != nil {
			return err
		}
	}
	for _, name := range store.Sequences {
		b := tx.b(seqBucket[name])
		if b == nil || b.Sequence() == 0 {
			continue
		}
		if err := emit(&store.Record{Kind: store.KindSequence, Name: name, N: b.Sequence()}); err != nil {
			return err
		}
	}
	c := meta.Cursor()
	prefix := []byte("counter:")
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(v) != 8 {
			return fmt.Errorf("counter %q: damaged value", k)
		}
		if err := emit(&store.Record{Kind: store.KindCounter, Name: string(k[len(prefix):]), N: binary.BigEndian.Uint64(v)}); err != nil {
			return err
		}
	}
	if err := tx.b(bRate).ForEach(func(k, v []byte) error {
		return emit(&store.Record{Kind: store.KindRate, Name: string(k), Bytes: bytes.Clone(v)})
	}); err != nil {
		return err
	}
	if err := dumpBlobs(db.dir, emit); err != nil {
		return err
	}
	// Tickets, then their comments (one bucket: ids are 8 bytes, comments
	// 12; the 9-byte timer records are dumped with the timers).
	for _, want := range []int{8, 12} {
		if err := tx.b(bTickets).ForEach(func(k, v []byte) error {
			if len(k) != want {
				return nil
			}
			if want == 8 {
				var tk model.Ticket
				if err := unmarshal(v, &tk); err != nil {
					return fmt.Errorf("ticket %x: %w", k, err)
				}
				return emit(&store.Record{Kind: store.KindTicket, Ticket: &tk})
			}
			cs, err := decodeComments(v) // one, or a group (AppendComment)
			if err != nil {
				return fmt.Errorf("comment %x: %w", k, err)
			}
			for _, cm := range cs {
				if err := emit(&store.Record{Kind: store.KindComment, Comment: cm}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if err := tx.b(bMessages).ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return nil // raw bytes, read with their record
		}
		var m model.Message
		if err := unmarshal(v, &m); err != nil {
			return fmt.Errorf("message %x: %w", k, err)
		}
		r := &store.Record{Kind: store.KindMessage, Message: &m}
		if m.Blob != "" {
			name, err := blobName(m.Blob)
			if err != nil {
				return fmt.Errorf("message %d: %w", m.ID, err)
			}
			m.Blob = name
		}
		if p := tx.b(bRaw).Get(rawKey(m.ID)); p != nil {
			raw, err := unpackRaw(p)
			if err != nil {
				return fmt.Errorf("raw bytes of message %d: %w", m.ID, err)
			}
			r.Raw, r.HasRaw = raw, true
		}
		return emit(r)
	}); err != nil {
		return err
	}
	// The Message-ID index's bucket: dedupe keys hold a NUL, index
	// entries none.
	for _, dedupe := range []bool{true, false} {
		if err := tx.b(iMsgID).ForEach(func(k, v []byte) error {
			i := bytes.LastIndexByte(k, 0)
			if (i >= 0) != dedupe {
				return nil
			}
			if dedupe {
				if len(v) != 8 {
					return fmt.Errorf("duplicate-check entry %q: damaged value", k)
				}
				return emit(&store.Record{Kind: store.KindIdentity, Identity: &store.Identity{
					MessageID: string(k[:i]), BodyHash: string(k[i+1:]), Message: binary.BigEndian.Uint64(v)}})
			}
			var ref model.Ref
			if err := unmarshal(v, &ref); err != nil {
				return fmt.Errorf("Message-ID index entry %q: %w", k, err)
			}
			return emit(&store.Record{Kind: store.KindMessageRef, Name: string(k), Ref: &ref})
		}); err != nil {
			return err
		}
	}
	// Users: ids are 8 bytes starting with 0 (below 2^56); addresses and
	// requester keys are text.
	if err := tx.b(bUsers).ForEach(func(k, v []byte) error {
		if len(k) != 8 || k[0] != 0 {
			return nil
		}
		var u model.User
		if err := unmarshal(v, &u); err != nil {
			return fmt.Errorf("user %x: %w", k, err)
		}
		return emit(&store.Record{Kind: store.KindUser, User: &u})
	}); err != nil {
		return err
	}
	if err := dumpCustomers(tx, emit); err != nil {
		return err
	}
	if err := dumpQueue(tx.b(bOutbox), func(v []byte) error {
		var o model.Outbound
		if err := unmarshal(v, &o); err != nil {
			return err
		}
		return emit(&store.Record{Kind: store.KindOutbound, Outbound: &o})
	}); err != nil {
		return fmt.Errorf("outbound queue: %w", err)
	}
	if err := dumpQueue(tx.hooks(), func(v []byte) error {
		var d model.WebhookDelivery
		if err := unmarshal(v, &d); err != nil {
			return err
		}
		return emit(&store.Record{Kind: store.KindWebhook, Webhook: &d})
	}); err != nil {
		return fmt.Errorf("webhook queue: %w", err)
	}
	if err := tx.b(bQuarantine).ForEach(func(k, v []byte) error {
		var q model.Quarantine
		if err := unmarshal(v, &q); err != nil {
			return fmt.Errorf("quarantine record %x: %w", k, err)
		}
		return emit(&store.Record{Kind: store.KindQuarantine, Quarantine: &q})
	}); err != nil {
		return err
	}
	if err := tx.eachTimer(func(tm model.Timer) error {
		return emit(&store.Record{Kind: store.KindTimer, Timer: &tm})
	}); err != nil {
		return err
	}
	if b := tx.b(bReportEvents); b != nil {
		if err := b.ForEach(func(k, v []byte) error {
			if len(v) > 0 && v[0] == recMove {
				return nil
			}
			ev := &model.ReportEvent{}
			if _, err := decodeEventInto(ev, v, nil); err != nil {
				return fmt.Errorf("report event %x: %w", k, err)
			}
			return emit(&store.Record{Kind: store.KindReportEvent, Event: ev})
		}); err != nil {
			return err
		}
	}
	var moveErr error
	if err := tx.eachMove(time.Unix(0, 0), time.Time{}, func(k []byte, dec, inc []string) {
		if moveErr != nil {
			return
		}
		if tx.db.reportsV5 {
			k = k[1:]
		}
		mv := &store.BacklogMove{At: time.Unix(0, int64(binary.BigEndian.Uint64(k[:8]))).UTC(), Dec: dec, Inc: inc}
		moveErr = emit(&store.Record{Kind: store.KindBacklogMove, Move: mv})
	}); err != nil {
		return err
	}
	if moveErr != nil {
		return moveErr
	}
	if b := tx.erasures(); b != nil {
		if err := b.ForEach(func(k, v []byte) error {
			var r model.Erasure
			if err := unmarshal(v, &r); err != nil {
				return fmt.Errorf("erasure record %x: %w", k, err)
			}
			return emit(&store.Record{Kind: store.KindErasure, Erasure: &r})
		}); err != nil {
			return err
		}
	}
	return nil
}

// seqBucket is the bucket whose sequence gives each named id.
var seqBucket = map[string][]byte{
	"tickets": bTickets, "messages": bMessages, "users": bUsers, "outbound": bOutbox,
	"webhooks": bWebhooks, "quarantine": bQuarantine, "customers": bCustomers, "erasures": bErasures,
}

// dumpQueue calls fn with every record of a queue bucket (8-byte keys;
// the due keys are derived).
func dumpQueue(b *bbolt.Bucket, fn func(v []byte) error) error {
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error {
		if len(k) != 8 {
			return nil
		}
		if err := fn(v); err != nil {
			return fmt.Errorf("item %x: %w", k, err)
		}
		return nil
	})
}

func dumpCustomers(tx *Tx, emit func(*store.Record) error) error {
	b := tx.customers()
	if b == nil {
		return nil
	}
	if tx.db.custV3 {
		return dumpCustomersV3(tx, emit)
	}
	// The records first, then the links, then the timelines (a loader
	// finds each link's profile stored): three passes over the 'c' keys,
	// where each profile's record, links and timeline sit together.
	each := func(sub byte, n int, fn func(id uint64, k, v []byte) error) error {
		c := b.Cursor()
		for k, v := c.Seek([]byte{custRec}); k != nil && k[0] == custRec; k, v = c.Next() {
			if len(k) < 9 {
				return fmt.Errorf("customer key %x: damaged", k)
			}
			if (sub == 0) != (len(k) == 9) || (sub != 0 && k[9] != sub) {
				continue
			}
			if len(k) != n {
				return fmt.Errorf("customer key %x: damaged", k)
			}
			if err := fn(binary.BigEndian.Uint64(k[1:9]), k[min(len(k), 10):], v); err != nil {
				return err
			}
		}
		return nil
	}
	if err := each(0, 9, func(id uint64, _, v []byte) error {
		var c model.Customer
		if err := unmarshal(v, &c); err != nil {
			return fmt.Errorf("customer %d: %w", id, err)
		}
		return emit(&store.Record{Kind: store.KindCustomer, Customer: &c})
	}); err != nil {
		return err
	}
	if err := each(custTk, 19, func(id uint64, k, _ []byte) error {
		role := model.CustomerRequester
		if k[0] == 'c' {
			role = model.CustomerCC
		}
		return emit(&store.Record{Kind: store.KindCustomerLink, Link: &store.CustomerLink{
			Customer: id, Role: role, Ticket: binary.BigEndian.Uint64(k[1:])}})
	}); err != nil {
		return err
	}
	return each(custAct, 26, func(id uint64, k, v []byte) error {
		var a model.CustomerActivity
		if err := unmarshal(v, &a); err != nil {
			return fmt.Errorf("customer %d's activity %x: %w", id, k, err)
		}
		return emit(&store.Record{Kind: store.KindActivity, Activity: &store.Activity{
			Customer: id, Seq: binary.BigEndian.Uint64(k[8:]), Entry: &a}})
	})
}

// dumpBlobs emits every blob file under dir/blobs.
func dumpBlobs(dir string, emit func(*store.Record) error) error {
	root := filepath.Join(dir, "blobs")
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".eml") {
			return nil
		}
		name, err := blobName(path)
		if err != nil {
			return nil // not ours
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading blob %s: %w", path, err)
		}
		return emit(&store.Record{Kind: store.KindBlob, Name: name, Bytes: raw})
	})
}

// loadChunk and loadChunkBytes bound one write transaction of a load
// (records, and about their bytes): the chunk is held in memory, and
// bbolt keeps a transaction's dirty pages until it commits.
const (
	loadChunk      = 20000
	loadChunkBytes = 64 << 20
)

// Load builds this (empty) store from records; see store.Loader. It
// writes in transactions of loadChunk records: a load that fails part
// way leaves a partial store, which the caller removes.
func (db *DB) Load(next func() (*store.Record, error), progress func(n int)) error {
	if err := db.checkEmpty(); err != nil {
		return err
	}
	var seqs = map[string]uint64{}
	n := 0
	first := true
	done := false
	var custSeq uint64
	for !done {
		var chunk []*store.Record
		size := 0
		for len(chunk) < loadChunk && size < loadChunkBytes {
			r, err := next()
			if err == io.EOF {
				done = true
				break
			}
			if err != nil {
				return err
			}
			chunk = append(chunk, r)
			size += r.Size()
		}
		clearMeta := first
		first = false
		err := db.Update(func(stx store.Tx) error {
			tx := stx.(*Tx)
			if clearMeta {
				if err := clearStartState(tx); err != nil {
					return err
				}
			}
			for _, r := range chunk {
				if err := loadRecord(db, tx, r, seqs, &custSeq); err != nil {
					return fmt.Errorf("storing %s %s: %w", r.Kind, r.ID(), err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		n += len(chunk)
		if progress != nil {
			progress(n)
		}
	}
	// The sequences last: loading records took none (records keep their
	// ids), but the report and backlog buckets counted their own.
	return db.Update(func(stx store.Tx) error {
		tx := stx.(*Tx)
		for name, v := range seqs {
			if err := tx.b(seqBucket[name]).SetSequence(v); err != nil {
				return err
			}
		}
		if custSeq > seqs["customers"] {
			return tx.b(bCustomers).SetSequence(custSeq)
		}
		return nil
	})
}

// checkEmpty refuses a store that holds records other than what opening
// it wrote.
func (db *DB) checkEmpty() error {
	var found *store.Record
	errFound := errors.New("found")
	err := db.Dump(func(r *store.Record) error {
		switch r.Kind {
		case store.KindInstallation, store.KindTokenKeys, store.KindTimerStamp, store.KindCounter, store.KindManualClock:
			return nil
		}
		found = r
		return errFound
	})
	if found != nil {
		return fmt.Errorf("%w: %s holds %s %s", store.ErrNotEmpty, db.dir, found.Kind, found.ID())
	}
	return err
}

// clearStartState removes what opening the store and starting a daemon
// wrote (the records' own come instead).
func clearStartState(tx *Tx) error {
	meta := tx.b(bMeta)
	var drop [][]byte
	c := meta.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if string(k) != "schema_version" {
			drop = append(drop, bytes.Clone(k))
		}
	}
	for _, k := range drop {
		if err := meta.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func loadRecord(db *DB, tx *Tx, r *store.Record, seqs map[string]uint64, custSeq *uint64) error {
	switch r.Kind {
	case store.KindInstallation:
		return tx.b(bMeta).Put([]byte("installation_id"), []byte(r.Text))
	case store.KindTokenKeys:
		return putJSON(tx.b(bMeta), []byte("token_keys"), r.Keys)
	case store.KindManualClock:
		return tx.SetManualClock(r.Time)
	case store.KindTimerStamp:
		return tx.SetTimerStamp(r.Text)
	case store.KindCustomerBackfill:
		return tx.SetCustomerBackfill(*r.Backfill)
	case store.KindSequence:
		if _, ok := seqBucket[r.Name]; !ok {
			return fmt.Errorf("%w: sequence %q", store.ErrUnknownRecord, r.Name)
		}
		seqs[r.Name] = r.N
		return nil
	case store.KindCounter:
		return tx.b(bMeta).Put([]byte("counter:"+r.Name), u64(r.N))
	case store.KindRate:
		return tx.b(bRate).Put([]byte(r.Name), r.Bytes)
	case store.KindBlob:
		return writeBlob(db.dir, r.Name, r.Bytes)
	case store.KindTicket:
		return tx.putTicket(r.Ticket, nil)
	case store.KindComment:
		return tx.PutComment(r.Comment)
	case store.KindMessage:
		m := *r.Message
		if m.Blob != "" {
			m.Blob = blobPath(m.Blob)
		}
		if r.HasRaw {
			if err := tx.b(bRaw).Put(rawKey(m.ID), packRaw(r.Raw)); err != nil {
				return err
			}
		}
		return tx.PutMessage(&m)
	case store.KindIdentity:
		return tx.b(iDedupe).Put(append(append([]byte(r.Identity.MessageID), 0), r.Identity.BodyHash...), u64(r.Identity.Message))
	case store.KindMessageRef:
		return putJSON(tx.b(iMsgID), []byte(r.Name), r.Ref)
	case store.KindUser:
		if err := tx.b(iUserAddr).Put([]byte(r.User.Addr), u64(r.User.ID)); err != nil {
			return err
		}
		return tx.PutUser(r.User)
	case store.KindCustomer:
		b, err := tx.customersW()
		if err != nil {
			return err
		}
		return tx.putCustomer(b, r.Customer, nil)
	case store.KindCustomerLink:
		_, err := tx.LinkCustomerTicket(r.Link.Customer, r.Link.Ticket, r.Link.Role)
		return err
	case store.KindActivity:
		b, err := tx.customersW()
		if err != nil {
			return err
		}
		a := r.Activity
		*custSeq = max(*custSeq, a.Seq)
		at := uint64(a.Entry.At.UnixNano()) ^ (1 << 63)
		return putJSON(b, custSub(a.Customer, custAct, u64(at), u64(a.Seq)), a.Entry)
	case store.KindOutbound:
		o := r.Outbound
		if o.State == model.OutQueued {
			if err := tx.b(iDue).Put(dueKey(o.NextAttempt, o.ID), leaseValue(o)); err != nil {
				return err
			}
		}
		return putJSON(tx.b(bOutbox), u64(o.ID), o)
	case store.KindWebhook:
		d := r.Webhook
		if d.State == model.HookQueued {
			if err := tx.hooks().Put(dueKey(d.NextAttempt, d.ID), nil); err != nil {
				return err
			}
		}
		return putJSON(tx.hooks(), u64(d.ID), d)
	case store.KindQuarantine:
		return tx.PutQuarantine(r.Quarantine)
	case store.KindTimer:
		return tx.SetTimer(*r.Timer)
	case store.KindReportEvent:
		return tx.AddReportEvent(r.Event)
	case store.KindBacklogMove:
		return tx.MoveBacklog(r.Move.At, r.Move.Dec, r.Move.Inc)
	case store.KindErasure:
		return putJSON(tx.erasures(), u64(r.Erasure.ID), r.Erasure)
	}
	return fmt.Errorf("%w: kind %q", store.ErrUnknownRecord, r.Kind)
}

// writeBlob stores a body as the blob file of its name, durably, after
// checking that the name is the content's hash.
func writeBlob(dir, name string, raw []byte) error {
	sum := sha256.Sum256(raw)
	if hex.EncodeToString(sum[:]) != name {
		return fmt.Errorf("blob %s: the content does not match its name (damaged?)", name)
	}
	abs := filepath.Join(dir, blobPath(name))
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Join(dir, "tmp"), "blob-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), abs); err != nil {
		return err
	}
	return syncDir(filepath.Dir(abs))
}

// dumpCustomersV3 reads the customers of a schema 3 store (opened
// read-only, e.g. as a migration's source).
func dumpCustomersV3(tx *Tx, emit func(*store.Record) error) error {
	b := tx.customers()
	if b == nil {
		return nil
	}
	each := func(prefix byte, fn func(k, v []byte) error) error {
		c := b.Cursor()
		for k, v := c.Seek([]byte{prefix}); k != nil && k[0] == prefix; k, v = c.Next() {
			if err := fn(k[1:], v); err != nil {
				return err
			}
		}
		return nil
	}
	if err := each(custRec, func(k, v []byte) error {
		var c model.Customer
		if err := unmarshal(v, &c); err != nil {
			return fmt.Errorf("customer %x: %w", k, err)
		}
		return emit(&store.Record{Kind: store.KindCustomer, Customer: &c})
	}); err != nil {
		return err
	}
	if err := each(custTkV3, func(k, _ []byte) error {
		if len(k) != 17 {
			return fmt.Errorf("customer ticket link %x: damaged key", k)
		}
		role := model.CustomerRequester
		if k[8] == 'c' {
			role = model.CustomerCC
		}
		return emit(&store.Record{Kind: store.KindCustomerLink, Link: &store.CustomerLink{
			Customer: binary.BigEndian.Uint64(k[:8]), Role: role, Ticket: binary.BigEndian.Uint64(k[9:])}})
	}); err != nil {
		return err
	}
	return each(custActV3, func(k, v []byte) error {
		if len(k) != 24 {
			return fmt.Errorf("customer activity %x: damaged key", k)
		}
		var a model.CustomerActivity
		if err := unmarshal(v, &a); err != nil {
			return fmt.Errorf("customer activity %x: %w", k, err)
		}
		return emit(&store.Record{Kind: store.KindActivity, Activity: &store.Activity{
			Customer: binary.BigEndian.Uint64(k[:8]), Seq: binary.BigEndian.Uint64(k[16:]), Entry: &a}})
	})
}
