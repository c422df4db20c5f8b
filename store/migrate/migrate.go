// Package migrate copies a store into another engine's empty store and
// verifies the two equal (`helpdesk migrate`, issue 18 item 5). It sees
// only package store: the engines' Dumper and Loader move the records,
// and the comparison reads both stores through their dumps (every
// record, by kind) and through the roles' operations (ticket by ticket,
// with the raw bytes of their mail as the daemon reads them).
package migrate

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// Engine is a store that can be copied both ways.
type Engine interface {
	store.Store
	store.Dumper
	store.Loader
}

// Progress hears how a copy goes: kind done with n records, or (kind
// "") n records stored so far.
type Progress func(kind store.RecordKind, n int)

// Copy dumps src into dst (empty: store.ErrNotEmpty otherwise) and
// returns how many records of each kind it copied.
func Copy(src store.Dumper, dst store.Loader, progress Progress) (map[store.RecordKind]int, error) {
	counts := map[store.RecordKind]int{}
	// A short queue between the dump and the load: records may hold
	// large bodies.
	ch := make(chan *store.Record, 32)
	stop := make(chan struct{})
	var dumpErr error
	go func() {
		defer close(ch)
		dumpErr = src.Dump(func(r *store.Record) error {
			select {
			case ch <- r:
				return nil
			case <-stop:
				return errStopped
			}
		})
	}()
	var cur store.RecordKind
	next := func() (*store.Record, error) {
		r, ok := <-ch
		if !ok {
			if dumpErr != nil {
				return nil, fmt.Errorf("reading the source: %w", dumpErr)
			}
			if cur != "" && progress != nil {
				progress(cur, counts[cur])
			}
			return nil, io.EOF
		}
		if r.Kind != cur {
			if cur != "" && progress != nil {
				progress(cur, counts[cur])
			}
			cur = r.Kind
		}
		counts[r.Kind]++
		return r, nil
	}
	var loaded func(int)
	if progress != nil {
		loaded = func(n int) { progress("", n) }
	}
	err := dst.Load(next, loaded)
	close(stop)
	for range ch {
		// Let the dump end.
	}
	if err != nil {
		return counts, err
	}
	return counts, nil
}

var errStopped = errors.New("the copy stopped")

// KindSum is what the comparison found for one kind: the number of
// records on each side, and up to a few records that differ.
type KindSum struct {
	Kind           store.RecordKind
	Source, Target int
	Differ         []string // "ticket 12: differs", "user a@b: only in the source"
	Equal          bool
}

// Result is a comparison.
type Result struct {
	Kinds []KindSum
	// The ticket-by-ticket pass: tickets, comments and messages compared
	// through the roles' operations, raw bytes read as the daemon reads
	// them.
	Tickets, Comments, Messages int
	RawBytes                    int64
	TicketDiffs                 []string
	// How long each pass took.
	RecordsTook, TicketsTook time.Duration
}

// Equal reports whether the stores hold the same.
func (r *Result) Equal() bool {
	for _, k := range r.Kinds {
		if !k.Equal {
			return false
		}
	}
	return len(r.TicketDiffs) == 0
}

// maxDiffs is how many differences a comparison names per kind.
const maxDiffs = 10

// digest is an order-independent summary of a kind's records.
type digest struct {
	n      int
	a, b   uint64
	byID   map[string][32]byte
	keepID bool
}

func (d *digest) add(id string, sum [32]byte) {
	d.n++
	d.a += binary.BigEndian.Uint64(sum[:8])
	d.b += binary.BigEndian.Uint64(sum[8:16])
	if d.keepID {
		// Records of one id (report events of one instant) add up.
		prev := d.byID[id]
		for i := range prev {
			prev[i] ^= sum[i]
		}
		d.byID[id] = prev
	}
}

// units splits a record into what is compared: a backlog move into one
// unit per key (engines group a move's keys differently).
func units(r *store.Record) []*store.Record {
	if r.Kind != store.KindBacklogMove {
		return []*store.Record{r}
	}
	var out []*store.Record
	for _, k := range r.Move.Dec {
		out = append(out, &store.Record{Kind: r.Kind, Name: k, Move: &store.BacklogMove{At: r.Move.At, Dec: []string{k}}})
	}
	for _, k := range r.Move.Inc {
		out = append(out, &store.Record{Kind: r.Kind, Name: k, Move: &store.BacklogMove{At: r.Move.At, Inc: []string{k}}})
	}
	return out
}

func unitID(r *store.Record) string {
	if r.Kind == store.KindBacklogMove {
		return r.ID() + " " + fmt.Sprintf("%q", r.Name)
	}
	return r.ID()
}

// digests dumps db and summarizes each kind; kinds in keep also get
// their records' digests by id.
func digests(db store.Dumper, keep map[store.RecordKind]bool) (map[store.RecordKind]*digest, error) {
	out := map[store.RecordKind]*digest{}
	err := db.Dump(func(r *store.Record) error {
		d := out[r.Kind]
		if d == nil {
			d = &digest{keepID: keep[r.Kind], byID: map[string][32]byte{}}
			out[r.Kind] = d
		}
		for _, u := range units(r) {
			data, err := json.Marshal(u)
			if err != nil {
				return fmt.Errorf("encoding %s %s: %w", u.Kind, u.ID(), err)
			}
			d.add(unitID(u), sha256.Sum256(data))
		}
		return nil
	})
	return out, err
}

// Verify compares every record of src and dst, and then ticket by
// ticket through the roles' operations.
func Verify(src, dst Engine) (*Result, error) {
	t0 := time.Now()
	a, b, err := bothDigests(src, dst, nil)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	differ := map[store.RecordKind]bool{}
	for _, k := range store.Kinds {
		da, db := a[k], b[k]
		if da == nil {
			da = &digest{}
		}
		if db == nil {
			db = &digest{}
		}
		ks := KindSum{Kind: k, Source: da.n, Target: db.n, Equal: da.n == db.n && da.a == db.a && da.b == db.b}
		if !ks.Equal {
			differ[k] = true
		}
		res.Kinds = append(res.Kinds, ks)
	}
	for k := range a {
		if !slices.Contains(store.Kinds, k) {
			return nil, fmt.Errorf("%w: kind %q", store.ErrUnknownRecord, k)
		}
	}
	if len(differ) > 0 {
		// A second pass names the records that differ.
		a, b, err := bothDigests(src, dst, differ)
		if err != nil {
			return nil, err
		}
		for i, ks := range res.Kinds {
			if ks.Equal {
				continue
			}
			res.Kinds[i].Differ = diffIDs(a[ks.Kind], b[ks.Kind])
		}
	}
	res.RecordsTook = time.Since(t0)
	t0 = time.Now()
	if err := compareTickets(src, dst, res); err != nil {
		return nil, err
	}
	res.TicketsTook = time.Since(t0)
	return res, nil
}

func bothDigests(src, dst store.Dumper, keep map[store.RecordKind]bool) (a, b map[store.RecordKind]*digest, err error) {
	var errA, errB error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a, errA = digests(src, keep) }()
	go func() { defer wg.Done(); b, errB = digests(dst, keep) }()
	wg.Wait()
	if errA != nil {
		return nil, nil, fmt.Errorf("reading the source: %w", errA)
	}
	if errB != nil {
		return nil, nil, fmt.Errorf("reading the target: %w", errB)
	}
	return a, b, nil
}

func diffIDs(a, b *digest) []string {
	if a == nil {
		a = &digest{}
	}
	if b == nil {
		b = &digest{}
	}
	var out []string
	for id, sa := range a.byID {
		sb, ok := b.byID[id]
		switch {
		case !ok:
			out = append(out, id+": only in the source")
		case sa != sb:
			out = append(out, id+": differs")
		}
	}
	for id := range b.byID {
		if _, ok := a.byID[id]; !ok {
			out = append(out, id+": only in the target")
		}
	}
	if len(out) == 0 {
		out = append(out, "the records are the same, their number is not (a repeated record?)")
	}
	sort.Strings(out)
	if len(out) > maxDiffs {
		out = append(out[:maxDiffs], fmt.Sprintf("and %d more", len(out)-maxDiffs))
	}
	return out
}

// ticketBatch is how many tickets one read of each store compares.
const ticketBatch = 200

// compareTickets reads every ticket of src and dst with its comments and
// the messages they name, and the raw bytes of those through OpenRaw.
func compareTickets(src, dst store.Store, res *Result) error {
	var ids []uint64
	var nSrc, nDst int
	if err := src.View(func(tx store.Tx) error {
		ids = tx.TicketIDs("", 0)
		nSrc = tx.TicketCount()
		return nil
	}); err != nil {
		return fmt.Errorf("listing the source's tickets: %w", err)
	}
	if err := dst.View(func(tx store.Tx) error { nDst = tx.TicketCount(); return nil }); err != nil {
		return fmt.Errorf("reading the target: %w", err)
	}
	if nSrc != nDst {
		res.TicketDiffs = append(res.TicketDiffs, fmt.Sprintf("the next ticket number differs: %d in the source, %d in the target", nSrc+1, nDst+1))
	}
	slices.Sort(ids)
	// Batches are read by a few workers at once (on PostgreSQL each
	// ticket costs a few queries, which the database serves in parallel)
	// and compared in order; at most 2*compareWorkers batches are held.
	type batch struct {
		ids   []uint64
		views [2][]*ticketView
		err   error
		done  chan struct{}
	}
	work := make(chan *batch)
	pending := make(chan *batch, 2*compareWorkers)
	var wg sync.WaitGroup
	for range compareWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if b.views[0], b.err = readTickets(src, b.ids); b.err != nil {
					b.err = fmt.Errorf("reading the source: %w", b.err)
				} else if b.views[1], b.err = readTickets(dst, b.ids); b.err != nil {
					b.err = fmt.Errorf("reading the target: %w", b.err)
				}
				close(b.done)
			}
		}()
	}
	stop := make(chan struct{})
	go func() {
		defer close(pending)
		defer close(work)
		for len(ids) > 0 {
			b := &batch{ids: ids[:min(ticketBatch, len(ids))], done: make(chan struct{})}
			ids = ids[len(b.ids):]
			select {
			case pending <- b:
			case <-stop:
				return
			}
			work <- b
		}
	}()
	var firstErr error
	for b := range pending {
		<-b.done
		if firstErr != nil {
			continue
		}
		if b.err != nil {
			firstErr = b.err
			close(stop)
			continue
		}
		for i, ta := range b.views[0] {
			tb := b.views[1][i]
			res.Tickets++
			res.Comments += ta.comments
			res.Messages += len(ta.raws)
			for _, r := range ta.raws {
				res.RawBytes += int64(len(r))
			}
			if d := ta.diff(tb); d != "" && len(res.TicketDiffs) < maxDiffs {
				res.TicketDiffs = append(res.TicketDiffs, fmt.Sprintf("ticket %d: %s", b.ids[i], d))
			}
		}
	}
	wg.Wait()
	return firstErr
}

// compareWorkers is how many batches of tickets are read at once.
const compareWorkers = 4

// ticketView is what the comparison reads of one ticket.
type ticketView struct {
	ticket   []byte
	comments int
	texts    [][]byte
	messages [][]byte
	raws     [][]byte
	missing  string
}

func (a *ticketView) diff(b *ticketView) string {
	switch {
	case a.missing != "" || b.missing != "":
		if a.missing != b.missing {
			return fmt.Sprintf("source: %s; target: %s", or(a.missing, "present"), or(b.missing, "present"))
		}
		return ""
	case !bytes.Equal(a.ticket, b.ticket):
		return "the ticket record differs"
	case len(a.texts) != len(b.texts):
		return fmt.Sprintf("%d comments in the source, %d in the target", len(a.texts), len(b.texts))
	}
	for i := range a.texts {
		if !bytes.Equal(a.texts[i], b.texts[i]) {
			return fmt.Sprintf("comment %d differs", i+1)
		}
	}
	if len(a.messages) != len(b.messages) {
		return "its messages differ in number"
	}
	for i := range a.messages {
		if !bytes.Equal(a.messages[i], b.messages[i]) {
			return fmt.Sprintf("message record %d differs", i+1)
		}
		if !bytes.Equal(a.raws[i], b.raws[i]) {
			return fmt.Sprintf("the raw bytes of message %d differ (%d bytes in the source, %d in the target)", i+1, len(a.raws[i]), len(b.raws[i]))
		}
	}
	return ""
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func readTickets(db store.Store, ids []uint64) ([]*ticketView, error) {
	out := make([]*ticketView, len(ids))
	var msgs [][]*model.Message
	err := db.View(func(tx store.Tx) error {
		msgs = make([][]*model.Message, len(ids))
		for i, id := range ids {
			v := &ticketView{}
			out[i] = v
			tk, err := tx.Ticket(id)
			if errors.Is(err, store.ErrNotFound) {
				v.missing = "no such ticket"
				continue
			}
			if err != nil {
				return err
			}
			if v.ticket, err = json.Marshal(tk); err != nil {
				return err
			}
			cs, err := tx.Comments(id)
			if err != nil {
				return err
			}
			v.comments = len(cs)
			seen := map[uint64]bool{}
			for _, c := range cs {
				data, err := json.Marshal(c)
				if err != nil {
					return err
				}
				v.texts = append(v.texts, data)
				if c.Message == 0 || seen[c.Message] {
					continue
				}
				seen[c.Message] = true
				m, err := tx.Message(c.Message)
				if errors.Is(err, store.ErrNotFound) {
					continue // erased or dropped by retention: both sides alike, or the dump differs
				}
				if err != nil {
					return err
				}
				msgs[i] = append(msgs[i], m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, ms := range msgs {
		for _, m := range ms {
			raw, err := readRaw(db, m)
			if err != nil {
				return nil, err
			}
			// The blob's name is the engine's own (a path, a row): the
			// bytes are what must be equal.
			c := *m
			c.Blob = ""
			data, err := json.Marshal(&c)
			if err != nil {
				return nil, err
			}
			out[i].messages = append(out[i].messages, data)
			out[i].raws = append(out[i].raws, raw)
		}
	}
	return out, nil
}

func readRaw(db store.Store, m *model.Message) ([]byte, error) {
	rc, err := db.OpenRaw(m)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil // retention dropped them
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// Since formats a duration for progress lines.
func Since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }
