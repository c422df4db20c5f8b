package bolt

import (
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/storetest"
)

// The bbolt engine passes the store's conformance suite.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) func() store.Store {
		dir := t.TempDir()
		return func() store.Store {
			db, err := Open(dir, Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			return db
		}
	})
}
