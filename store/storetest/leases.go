package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// claim runs Claim in its own write, recording the attempts as started.
func (e *env) claim(holder string, now time.Time, n int, lease time.Duration) []*model.Outbound {
	e.t.Helper()
	var got []*model.Outbound
	e.update(func(tx store.Tx) (err error) {
		got, err = tx.Claim(holder, now, n, lease, true)
		return err
	})
	return got
}

func ids(os []*model.Outbound) []uint64 {
	var r []uint64
	for _, o := range os {
		r = append(r, o.ID)
	}
	return r
}

// A claim leases due items to one holder: no other claim gets them while
// the lease runs; a settled item leaves the lease (and, sent or failed,
// the queue); an expired lease makes the item claimable again.
func testLeases(t *testing.T, e *env) {
	now := Start
	e.update(func(tx store.Tx) error {
		for i := range 5 {
			// Due one second apart, the last one in an hour.
			at := now.Add(time.Duration(i-4) * time.Second)
			if i == 4 {
				at = now.Add(time.Hour)
			}
			if err := tx.Enqueue(&model.Outbound{Rcpt: fmt.Sprintf("r%d@x", i), NextAttempt: at}); err != nil {
				return err
			}
		}
		return nil
	})
	a := e.claim("a", now, 2, time.Minute)
	if !slices.Equal(ids(a), []uint64{1, 2}) {
		t.Fatalf("a claimed %v, want [1 2] (oldest due first, at most 2)", ids(a))
	}
	for _, o := range a {
		if o.LeaseHolder != "a" || !o.LeaseUntil.Equal(now.Add(time.Minute)) || o.State != model.OutQueued || !o.Started.IsZero() {
			t.Errorf("claimed item %d: holder %q until %v, state %s, started %v; want a's lease and the item as it was",
				o.ID, o.LeaseHolder, o.LeaseUntil, o.State, o.Started)
		}
	}
	e.view(func(tx store.Tx) error {
		if o, _ := tx.Outbound(1); !o.Started.Equal(now) || o.LeaseHolder != "a" {
			t.Errorf("stored claimed item: started %v, holder %q; want the attempt recorded as started now", o.Started, o.LeaseHolder)
		}
		return nil
	})
	b := e.claim("b", now, 10, time.Minute)
	if !slices.Equal(ids(b), []uint64{3, 4}) {
		t.Fatalf("b claimed %v, want [3 4] (1 and 2 are a's; 5 is not due)", ids(b))
	}
	if c := e.claim("c", now.Add(30*time.Second), 10, time.Minute); len(c) != 0 {
		t.Errorf("c claimed %v while every due item is leased", ids(c))
	}
	e.view(func(tx store.Tx) error {
		if n := tx.QueueDepth(); n != 5 {
			t.Errorf("QueueDepth %d with items leased, want 5 (leased items are still queued)", n)
		}
		return nil
	})

	// a delivers 1 and must retry 2 later; b extends 3 and fails 4 for good.
	e.update(func(tx store.Tx) error {
		sent, retry := *a[0], *a[1]
		sent.State, sent.Done, sent.Attempts = model.OutSent, now, 1
		if err := tx.Settle("a", &sent, a[0].NextAttempt); err != nil {
			return err
		}
		retry.Attempts, retry.LastError, retry.NextAttempt = 1, "451 later", now.Add(10*time.Minute)
		if err := tx.Settle("a", &retry, a[1].NextAttempt); err != nil {
			return err
		}
		if err := tx.Extend("b", 3, now.Add(5*time.Minute)); err != nil {
			return err
		}
		failed := *b[1]
		failed.State, failed.Done = model.OutFailed, now
		return tx.Settle("b", &failed, b[1].NextAttempt)
	})
	e.view(func(tx store.Tx) error {
		for id, want := range map[uint64]string{1: model.OutSent, 2: model.OutQueued, 4: model.OutFailed} {
			o, err := tx.Outbound(id)
			if err != nil || o.State != want || o.LeaseHolder != "" || !o.LeaseUntil.IsZero() {
				t.Errorf("settled item %d: %+v, %v; want %s with no lease", id, o, err, want)
			}
		}
		if n := tx.QueueDepth(); n != 3 {
			t.Errorf("QueueDepth %d after one sent and one failed, want 3", n)
		}
		return nil
	})

	// At +2 minutes a's and b's first leases have expired, but b extended
	// 3 and 2 waits for its retry: nothing is claimable.
	if c := e.claim("c", now.Add(2*time.Minute), 10, time.Minute); len(c) != 0 {
		t.Errorf("c claimed %v at +2m, want none (3 extended, 2 not due)", ids(c))
	}
	// At +6 minutes b's extended lease has expired: b died, c takes 3.
	c := e.claim("c", now.Add(6*time.Minute), 10, time.Minute)
	if !slices.Equal(ids(c), []uint64{3}) {
		t.Fatalf("c claimed %v at +6m, want [3] (b's lease expired)", ids(c))
	}
	if !c[0].Started.Equal(now) {
		t.Errorf("item 3 claimed again: started %v, want b's start (%v): its attempt was cut short", c[0].Started, now)
	}
	// b comes back: its lease is lost, its outcome is not recorded.
	err := e.db.Update(func(tx store.Tx) error {
		late := *b[0]
		late.State = model.OutSent
		return tx.Settle("b", &late, b[0].NextAttempt)
	})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("settling an item another holder claimed: %v, want ErrLeaseLost", err)
	}
	if err := e.db.Update(func(tx store.Tx) error { return tx.Extend("b", 3, now.Add(time.Hour)) }); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("extending an item another holder claimed: %v, want ErrLeaseLost", err)
	}
	e.view(func(tx store.Tx) error {
		if o, _ := tx.Outbound(3); o.LeaseHolder != "c" || o.State != model.OutQueued {
			t.Errorf("item 3 after b's late settle: %+v; want queued, held by c", o)
		}
		return nil
	})

	// A holder starting again releases what it held: claimable at once.
	var released int
	e.update(func(tx store.Tx) (err error) {
		released, err = tx.ReleaseLeases("c")
		return err
	})
	if released != 1 {
		t.Errorf("ReleaseLeases(c) = %d, want 1", released)
	}
	if d := e.claim("d", now.Add(6*time.Minute), 10, time.Minute); !slices.Equal(ids(d), []uint64{3}) {
		t.Errorf("d claimed %v after c released, want [3]", ids(d))
	}
	// And all of it survives a reopen.
	e.reopen()
	e.view(func(tx store.Tx) error {
		if o, _ := tx.Outbound(3); o.LeaseHolder != "d" || !o.LeaseUntil.Equal(now.Add(7*time.Minute)) {
			t.Errorf("item 3's lease after reopen: %q until %v", o.LeaseHolder, o.LeaseUntil)
		}
		return nil
	})
}

// Several workers claiming at once never get the same item, and every
// item is claimed once.
func testLeasesConcurrent(t *testing.T, e *env) {
	const items, workers = 200, 8
	e.update(func(tx store.Tx) error {
		for i := range items {
			if err := tx.Enqueue(&model.Outbound{Rcpt: fmt.Sprintf("r%d@x", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	var mu sync.Mutex
	owner := map[uint64]string{}
	var wg sync.WaitGroup
	for w := range workers {
		holder := fmt.Sprint("w", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var got []*model.Outbound
				err := e.db.Update(func(tx store.Tx) (err error) {
					got, err = tx.Claim(holder, Start, 7, time.Minute, false)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, o := range got {
					if prev, ok := owner[o.ID]; ok {
						t.Errorf("item %d claimed by %s and %s", o.ID, prev, holder)
					}
					owner[o.ID] = holder
				}
				mu.Unlock()
				err = e.db.Update(func(tx store.Tx) error {
					for _, o := range got {
						x := *o
						x.State, x.Done = model.OutSent, Start
						if err := tx.Settle(holder, &x, o.NextAttempt); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(owner) != items {
		t.Errorf("%d items claimed, want %d", len(owner), items)
	}
	e.view(func(tx store.Tx) error {
		if n := tx.QueueDepth(); n != 0 {
			t.Errorf("QueueDepth %d after every item was settled", n)
		}
		return nil
	})
}

// handoffRecorder collects what a store hands to a Handoff.
type handoffRecorder struct {
	mu    sync.Mutex
	items []*model.Outbound
	calls []bool // committed, per call
}

func (r *handoffRecorder) hand(items []*model.Outbound, committed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, items...)
	r.calls = append(r.calls, committed)
}

func (r *handoffRecorder) take() ([]*model.Outbound, []bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	items, calls := r.items, r.calls
	r.items, r.calls = nil, nil
	return items, calls
}

// With a handoff set, mail queued due now is born claimed by its holder
// (the lease, and Started when the handoff says so, in the queuing
// write) and handed over once the write has committed; a write that
// fails hands nothing; when the holder dies, the lease runs out and
// another claim takes the item, Started telling that its delivery may
// have begun; without a handoff mail is queued unclaimed.
func testHandoff(t *testing.T, e *env) {
	hs, ok := e.db.(store.HandsOff)
	if !ok {
		t.Fatalf("%T does not implement store.HandsOff", e.db)
	}
	now := e.clock()
	var rec handoffRecorder
	claim, start := true, true
	remove := hs.SetHandoff(&store.Handoff{Holder: "a", Lease: time.Minute, Hand: rec.hand,
		Take: func() (bool, bool) { return claim, start }})
	if remove == nil {
		t.Fatal("SetHandoff on a store without one returned nil")
	}
	if again := hs.SetHandoff(&store.Handoff{Holder: "b", Lease: time.Minute, Hand: rec.hand}); again != nil {
		t.Error("a second SetHandoff took over the first one's")
	}
	e.update(func(tx store.Tx) error {
		for i, at := range []time.Time{{}, now, now.Add(time.Hour)} {
			if err := tx.Enqueue(&model.Outbound{Rcpt: fmt.Sprintf("r%d@x", i), MessageID: fmt.Sprintf("m%d@x", i), NextAttempt: at}); err != nil {
				return err
			}
		}
		if items, _ := rec.take(); len(items) != 0 {
			t.Errorf("items %v handed before their write committed", ids(items))
		}
		return nil
	})
	items, calls := rec.take()
	if !slices.Equal(ids(items), []uint64{1, 2}) || !slices.Equal(calls, []bool{true}) {
		t.Fatalf("handed %v in calls %v, want [1 2] (due now; 3 is due in an hour) in one call, committed", ids(items), calls)
	}
	e.view(func(tx store.Tx) error {
		for _, h := range items {
			o, err := tx.Outbound(h.ID)
			if err != nil {
				return err
			}
			if o.LeaseHolder != "a" || !o.LeaseUntil.Equal(now.Add(time.Minute)) || !o.Started.Equal(now) || o.State != model.OutQueued ||
				h.LeaseHolder != o.LeaseHolder || !h.LeaseUntil.Equal(o.LeaseUntil) || !h.Started.Equal(o.Started) || h.MessageID != o.MessageID {
				t.Errorf("item %d stored %q until %v started %v (%s), handed %q until %v started %v; want a's lease, started now, both alike",
					o.ID, o.LeaseHolder, o.LeaseUntil, o.Started, o.State, h.LeaseHolder, h.LeaseUntil, h.Started)
			}
		}
		if o, err := tx.Outbound(3); err != nil || o.LeaseHolder != "" || !o.Started.IsZero() {
			t.Errorf("item 3 (due later): %+v, %v; want no lease", o, err)
		}
		if n := tx.QueueDepth(); n != 3 {
			t.Errorf("QueueDepth %d, want 3 (born claimed items are queued)", n)
		}
		return nil
	})
	// No other claim takes them while the lease runs.
	if c := e.claim("b", now.Add(30*time.Second), 10, time.Minute); len(c) != 0 {
		t.Errorf("b claimed %v while a's leases run", ids(c))
	}

	// Writes of which some fail, concurrently (grouped into commits by an
	// engine that groups): only the committed ones' items are handed.
	var wg sync.WaitGroup
	want := map[string]bool{}
	for i := range 12 {
		id := fmt.Sprintf("w%d@x", i)
		if i%3 != 0 {
			want[id] = true
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.db.Update(func(tx store.Tx) error {
				if err := tx.Enqueue(&model.Outbound{Rcpt: "w@x", MessageID: id}); err != nil {
					return err
				}
				if i%3 == 0 {
					return errors.New("refused")
				}
				return nil
			})
			if (err != nil) != (i%3 == 0) {
				t.Errorf("write %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	items, calls = rec.take()
	got := map[string]bool{}
	for _, o := range items {
		got[o.MessageID] = true
	}
	if len(items) != len(want) || len(got) != len(want) {
		t.Errorf("handed %d items (%v) of the 8 committed writes", len(items), got)
	}
	for _, c := range calls {
		if !c {
			t.Error("a committed write's items were handed as of unknown outcome")
		}
	}
	e.view(func(tx store.Tx) error {
		for _, h := range items {
			o, err := tx.Outbound(h.ID)
			if err != nil || !want[o.MessageID] || o.MessageID != h.MessageID || o.LeaseHolder != "a" {
				t.Errorf("handed item %d (%s): stored %+v, %v", h.ID, h.MessageID, o, err)
			}
		}
		return tx.ForEachOutbound(func(o *model.Outbound) error {
			if strings.HasPrefix(o.MessageID, "w") && !want[o.MessageID] {
				t.Errorf("the failed write's item %s is stored", o.MessageID)
			}
			return nil
		})
	})

	// Without Start, no attempt is recorded; without the handoff, mail is
	// queued unclaimed and nothing is handed.
	start = false
	e.update(func(tx store.Tx) error {
		return tx.Enqueue(&model.Outbound{Rcpt: "s@x", MessageID: "s@x"})
	})
	if items, _ := rec.take(); len(items) != 1 || items[0].LeaseHolder != "a" || !items[0].Started.IsZero() {
		t.Errorf("without start: handed %+v, want one item leased to a, not started", items)
	}
	// Take declining (the worker has enough in hand): queued unclaimed.
	claim = false
	e.update(func(tx store.Tx) error {
		return tx.Enqueue(&model.Outbound{Rcpt: "n@x", MessageID: "n@x"})
	})
	if items, _ := rec.take(); len(items) != 0 {
		t.Errorf("handed %v when Take declined", ids(items))
	}
	remove()
	e.update(func(tx store.Tx) error {
		return tx.Enqueue(&model.Outbound{Rcpt: "n@x", MessageID: "n@x"})
	})
	if items, _ := rec.take(); len(items) != 0 {
		t.Errorf("handed %v after the handoff was removed", ids(items))
	}
	e.view(func(tx store.Tx) error {
		return tx.ForEachOutbound(func(o *model.Outbound) error {
			if o.MessageID == "n@x" && (o.LeaseHolder != "" || !o.Started.IsZero()) {
				t.Errorf("mail queued without a handoff: lease %q, started %v", o.LeaseHolder, o.Started)
			}
			return nil
		})
	})

	// a dies: once its leases ran out, b claims its items, Started set
	// on those whose attempt may have begun; a's late settle is lost.
	c := e.claim("b", now.Add(2*time.Minute), 100, time.Minute)
	started := 0
	for _, o := range c {
		if !o.Started.IsZero() {
			started++
		}
	}
	if len(c) != 13 || started != 10 {
		t.Errorf("b claimed %d items (%v) after a's leases ran out, %d of them started; want 13 (2 + 8 + 1 + 2 unclaimed), 10 started",
			len(c), ids(c), started)
	}
	err := e.db.Update(func(tx store.Tx) error {
		x := *items0(t, e, 1)
		x.State = model.OutSent
		return tx.Settle("a", &x, x.NextAttempt)
	})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("a settling an item b took over: %v, want ErrLeaseLost", err)
	}
	// A holder starting again releases what was born claimed by it.
	e.update(func(tx store.Tx) error {
		n, err := tx.ReleaseLeases("b")
		if err == nil && n != 13 {
			t.Errorf("ReleaseLeases(b) = %d, want 13", n)
		}
		return err
	})
}

// items0 reads queue item id.
func items0(t *testing.T, e *env, id uint64) *model.Outbound {
	t.Helper()
	var o *model.Outbound
	e.view(func(tx store.Tx) (err error) {
		o, err = tx.Outbound(id)
		return err
	})
	return o
}
