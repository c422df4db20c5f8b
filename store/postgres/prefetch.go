package postgres

import (
	"fmt"

	"github.com/jackc/pgx/v5"
)

// prefetch is what a group's hints name, deduplicated: read in the
// batch that begins the group's transaction, after the write lock, into
// the writer's read cache, so that the requests find them there instead
// of waiting for a round trip each.
type prefetch struct {
	users, customers, refs []string
	idIDs, idHashes        []string
	outbound               []int64
}

func prefetchOf(batch []*writeReq) *prefetch {
	pf := &prefetch{}
	seen := map[string]bool{}
	add := func(list *[]string, kind, v string) {
		if v == "" || seen[kind+v] {
			return
		}
		seen[kind+v] = true
		*list = append(*list, v)
	}
	for _, r := range batch {
		if r == nil || r.hints == nil {
			continue
		}
		h := r.hints
		for _, a := range h.Users {
			add(&pf.users, "u", a)
		}
		for _, a := range h.Customers {
			add(&pf.customers, "c", a)
		}
		for _, id := range h.MessageIDs {
			add(&pf.refs, "r", normID(id))
		}
		for _, id := range h.Outbound {
			if k := "o" + ks(id); !seen[k] {
				seen[k] = true
				pf.outbound = append(pf.outbound, int64(id))
			}
		}
		for _, id := range h.Identities {
			if id.MessageID == "" || id.BodyHash == "" || seen["i"+idKey(id.MessageID, id.BodyHash)] {
				continue
			}
			seen["i"+idKey(id.MessageID, id.BodyHash)] = true
			pf.idIDs = append(pf.idIDs, normID(id.MessageID))
			pf.idHashes = append(pf.idHashes, id.BodyHash)
		}
	}
	return pf
}

const (
	pfUsers     = "SELECT addr, id, data FROM users WHERE addr = ANY($1)"
	pfCustomers = "SELECT addr, customer FROM customer_addresses WHERE addr = ANY($1)"
	pfRefs      = "SELECT message_id, data FROM message_refs WHERE message_id = ANY($1)"
	pfOutbound  = "SELECT id, " + outData + " FROM outbound WHERE id = ANY($1)"
	// One index lookup per identity (a lateral subquery the planner
	// cannot pull up: OFFSET 0): joined with the array, it hashed the
	// array and read all of messages, rows with their raw mail, once
	// per commit while the table had no statistics yet (as in a bench
	// run; message_identity's small rows before schema 8 hid it).
	pfIdentity = "SELECT m.message_id, m.body_hash, m.id FROM unnest($1::text[], $2::text[]) AS k(message_id, body_hash), " +
		"LATERAL (SELECT message_id, body_hash, id FROM messages m WHERE m.message_id = k.message_id AND m.body_hash = k.body_hash OFFSET 0) m"
)

// queue adds the reads to b.
func (pf *prefetch) queue(b *pgx.Batch) {
	if len(pf.users) > 0 {
		b.Queue(pfUsers, pf.users)
	}
	if len(pf.customers) > 0 {
		b.Queue(pfCustomers, pf.customers)
	}
	if len(pf.refs) > 0 {
		b.Queue(pfRefs, pf.refs)
	}
	if len(pf.idIDs) > 0 {
		b.Queue(pfIdentity, pf.idIDs, pf.idHashes)
	}
	if len(pf.outbound) > 0 {
		b.Queue(pfOutbound, pf.outbound)
	}
}

// read takes the reads' results from br into c: every key named is
// cached, found or not.
func (pf *prefetch) read(br pgx.BatchResults, c *readCache) error {
	each := func(what string, scan func(pgx.Rows) error) error {
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("reading %s: %w", what, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return fmt.Errorf("reading %s: %w", what, err)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading %s: %w", what, err)
		}
		return nil
	}
	if len(pf.users) > 0 {
		found := map[string]bool{}
		err := each("users", func(rows pgx.Rows) error {
			var addr string
			var id int64
			var data []byte
			if err := rows.Scan(&addr, &id, &data); err != nil {
				return err
			}
			found[addr] = true
			c.cacheUserID(addr, uint64(id))
			c.cacheRead(pkey{tUsers, ks(uint64(id))}, data)
			return nil
		})
		if err != nil {
			return err
		}
		for _, a := range pf.users {
			if !found[a] {
				c.cacheUserID(a, 0)
			}
		}
	}
	if len(pf.customers) > 0 {
		found := map[string]bool{}
		err := each("customer addresses", func(rows pgx.Rows) error {
			var addr string
			var id int64
			if err := rows.Scan(&addr, &id); err != nil {
				return err
			}
			found[addr] = true
			c.cacheRead(pkey{tCustAddr, addr}, id)
			return nil
		})
		if err != nil {
			return err
		}
		for _, a := range pf.customers {
			if !found[a] {
				c.cacheRead(pkey{tCustAddr, a}, nil)
			}
		}
	}
	if len(pf.refs) > 0 {
		found := map[string]bool{}
		err := each("the Message-ID index", func(rows pgx.Rows) error {
			var id string
			var data []byte
			if err := rows.Scan(&id, &data); err != nil {
				return err
			}
			found[id] = true
			c.cacheRead(pkey{tRefs, id}, data)
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range pf.refs {
			if !found[id] {
				c.cacheRead(pkey{tRefs, id}, nil)
			}
		}
	}
	if len(pf.idIDs) > 0 {
		found := map[string]bool{}
		err := each("message identities", func(rows pgx.Rows) error {
			var id, hash string
			var msg int64
			if err := rows.Scan(&id, &hash, &msg); err != nil {
				return err
			}
			k := id + "\x00" + hash
			found[k] = true
			c.cacheRead(pkey{tIdentity, k}, msg)
			return nil
		})
		if err != nil {
			return err
		}
		for i, id := range pf.idIDs {
			if k := id + "\x00" + pf.idHashes[i]; !found[k] {
				c.cacheRead(pkey{tIdentity, k}, nil)
			}
		}
	}
	if len(pf.outbound) > 0 {
		found := map[int64]bool{}
		err := each("the outbound queue", func(rows pgx.Rows) error {
			var id int64
			var data []byte
			if err := rows.Scan(&id, &data); err != nil {
				return err
			}
			found[id] = true
			c.cacheRead(pkey{tOutbound, ks(uint64(id))}, data)
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range pf.outbound {
			if !found[id] {
				c.cacheRead(pkey{tOutbound, ks(uint64(id))}, nil)
			}
		}
	}
	return nil
}
