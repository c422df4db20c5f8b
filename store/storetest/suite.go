// Package storetest is the conformance suite of package store: what every
// storage engine must do, checked through the interfaces alone. An engine
// runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) func() store.Store {
//			dir := t.TempDir()
//			return func() store.Store { ... open the engine on dir with clock now ... }
//		})
//	}
//
// Each case gets a store of its own, empty at first; it may close it and
// open the same store again (what survives a restart). The cases cover
// every role's operations, transactions (a failed Update leaves nothing),
// the uniqueness of a message's identity, the outbound queue's leases,
// and the round trip of every field of every record.
package storetest

import (
	"sync"
	"testing"
	"time"

	"helpdesk/store"
)

// Factory prepares one case's store and returns how to open it: every
// call opens the same store (empty before the first write), the suite
// closing the previous one first. now is the store clock the case
// controls (Tx.Now, RateAllow).
type Factory func(t *testing.T, now func() time.Time) (open func() store.Store)

// env is one case's store and clock.
type env struct {
	t    *testing.T
	open func() store.Store
	db   store.Store

	mu  sync.Mutex
	now time.Time
}

// Start is the clock of every case at its start.
var Start = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// advance moves the store clock.
func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// reopen closes the store and opens it again.
func (e *env) reopen() store.Store {
	e.t.Helper()
	if err := e.db.Close(); err != nil {
		e.t.Fatalf("closing the store: %v", err)
	}
	e.db = e.open()
	return e.db
}

// update runs fn in a write and fails the case on an error.
func (e *env) update(fn func(tx store.Tx) error) {
	e.t.Helper()
	if err := e.db.Update(fn); err != nil {
		e.t.Fatalf("update: %v", err)
	}
}

// view runs fn in a read and fails the case on an error.
func (e *env) view(fn func(tx store.Tx) error) {
	e.t.Helper()
	if err := e.db.View(fn); err != nil {
		e.t.Fatalf("view: %v", err)
	}
}

// cases are the suite, by role.
var cases = []struct {
	name string
	fn   func(*testing.T, *env)
}{
	{"tickets", testTickets},
	{"ticket merges", testMerges},
	{"comments", testComments},
	{"comment groups (AppendComment) read as single comments", testCommentGroups},
	{"comment texts read several at once", testCommentTexts},
	{"messages", testMessages},
	{"message identity is unique", testMessageIdentity},
	{"message identity under concurrent writes", testMessageIdentityConcurrent},
	{"Message-ID index", testMessageIDIndex},
	{"users", testUsers},
	{"user copies", testUserCopies},
	{"a user's new address moves its index", testUserAddressChange},
	{"customers", testCustomers},
	{"customer timeline and merge", testCustomerTimeline},
	{"customer backfill progress", testCustomerBackfill},
	{"outbound queue", testOutbound},
	{"outbound leases", testLeases},
	{"outbound leases with several workers", testLeasesConcurrent},
	{"outbound mail born claimed (Handoff)", testHandoff},
	{"quarantine", testQuarantine},
	{"webhook deliveries", testWebhooks},
	{"keys", testKeys},
	{"manual clock", testManualClock},
	{"timers", testTimers},
	{"timers in due order across a ticket's timers", testTimersOrder},
	{"rates", testRates},
	{"counters", testCounters},
	{"report events", testReportEvents},
	{"report backlog", testBacklog},
	{"report events and backlog moves written together", testEventsWithMoves},
	{"hinted writes read what they would without hints", testHints},
	{"a failed update leaves nothing", testRollback},
	{"a panicking update is an error", testPanic},
	{"a view does not write", testViewReadOnly},
	{"concurrent updates", testConcurrentUpdates},
	{"a failing update does not fail others", testFailureIsolated},
	{"reopen keeps everything", testReopen},
	{"closed", testClosed},
	{"compact keeps everything, writes during it commit", testCompact},
	{"erasing deletes for good", testErasing},
	{"erasing a message keeps a body another shares", testErasingSharedBody},
	{"a pending erasure moves through its states", testPendingErasure},
	{"spool and raw bytes", testBlobs},
	{"every stored field round-trips (short)", func(t *testing.T, e *env) { roundTrip(t, e, false) }},
	{"every stored field round-trips (long)", func(t *testing.T, e *env) { roundTrip(t, e, true) }},
}

// Run runs the conformance suite on the engine factory opens.
func Run(t *testing.T, factory Factory) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &env{t: t, now: Start}
			e.open = factory(t, e.clock)
			e.db = e.open()
			t.Cleanup(func() { e.db.Close() })
			c.fn(t, e)
		})
	}
}
