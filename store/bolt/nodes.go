package bolt

import (
	"reflect"
	"sort"
	"sync"

	bbolt "go.etcd.io/bbolt"
)

// NodeCounts are, per bucket, the bbolt nodes the counted commits held in
// memory when they committed: each is a page the commit writes (one
// more for each split), so they say which bucket a commit's page writes
// went to (DB.Stats has only their total).
type NodeCounts struct {
	Commits int64
	Nodes   map[string]int64
}

// nodeCounter accumulates NodeCounts while counting is on.
type nodeCounter struct {
	mu sync.Mutex
	NodeCounts
}

// CountNodes turns the counting of dirty nodes per bucket on (from zero)
// or off, and returns what was counted so far. A measuring tool for
// benchmarks: it reads bbolt's unexported node maps by reflection, which
// costs a walk of the buckets per commit, so the daemon never turns it on.
func (db *DB) CountNodes(on bool) NodeCounts {
	var old NodeCounts
	if c := db.nodes.Load(); c != nil {
		c.mu.Lock()
		old = c.NodeCounts
		c.mu.Unlock()
	}
	if on {
		db.nodes.Store(&nodeCounter{NodeCounts: NodeCounts{Nodes: map[string]int64{}}})
	} else {
		db.nodes.Store(nil)
	}
	return old
}

// nodesField is the index of bbolt.Bucket's node map (-1: not found,
// then nothing is counted).
var nodesField = func() int {
	if f, ok := reflect.TypeFor[bbolt.Bucket]().FieldByName("nodes"); ok && len(f.Index) == 1 {
		return f.Index[0]
	}
	return -1
}()

// count adds the nodes the write transaction tx holds, by bucket.
func (c *nodeCounter) count(tx *bbolt.Tx) {
	if nodesField < 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Commits++
	tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
		if n := reflect.ValueOf(b).Elem().Field(nodesField); n.Len() > 0 {
			c.Nodes[string(name)] += int64(n.Len())
		}
		return nil
	})
}

// Buckets are the counted buckets, most nodes first.
func (n NodeCounts) Buckets() []string {
	var names []string
	for k := range n.Nodes {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if n.Nodes[names[i]] != n.Nodes[names[j]] {
			return n.Nodes[names[i]] > n.Nodes[names[j]]
		}
		return names[i] < names[j]
	})
	return names
}
