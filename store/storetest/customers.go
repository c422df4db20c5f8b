package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/model"
)

// testCustomers: profiles by id and by each address, the organization
// index, addresses that move, ticket links and deletion.
func testCustomers(t *testing.T, e *env) {
	var ken, ada uint64
	e.update(func(tx store.Tx) error {
		k := &model.Customer{Name: "김민준", Addresses: []string{"ken@e-fun.example"}, Organization: "E-Fun"}
		if err := tx.NewCustomer(k); err != nil {
			return err
		}
		if k.ID == 0 || !k.Created.Equal(Start) || !k.Updated.Equal(Start) {
			t.Errorf("new customer: id %d, created %v, updated %v; want an id and the store clock", k.ID, k.Created, k.Updated)
		}
		a := &model.Customer{Name: "Ada", Addresses: []string{"ada@acme.example"}, Organization: "Acme"}
		if err := tx.NewCustomer(a); err != nil {
			return err
		}
		ken, ada = k.ID, a.ID
		if ken == ada {
			t.Errorf("two customers share id %d", ken)
		}
		dup := &model.Customer{Addresses: []string{"other@x.example", "ken@e-fun.example"}}
		if err := tx.NewCustomer(dup); !errors.Is(err, store.ErrAddressTaken) {
			t.Errorf("NewCustomer with Ken's address: %v, want ErrAddressTaken", err)
		}
		return nil
	})
	e.advance(time.Minute)
	e.update(func(tx store.Tx) error {
		k, err := tx.CustomerByAddr("ken@e-fun.example")
		if err != nil {
			return err
		}
		k.Addresses = append(k.Addresses, "ken@home.example")
		k.Tags = []string{"vip"}
		k.Organization = "Acme"
		k.Updated = tx.Now()
		if err := tx.PutCustomer(k); err != nil {
			return err
		}
		a, err := tx.Customer(ada)
		if err != nil {
			return err
		}
		a.Addresses = append(a.Addresses, "ken@home.example")
		if err := tx.PutCustomer(a); !errors.Is(err, store.ErrAddressTaken) {
			t.Errorf("PutCustomer with Ken's second address: %v, want ErrAddressTaken", err)
		}
		return nil
	})
	e.view(func(tx store.Tx) error {
		for _, addr := range []string{"ken@e-fun.example", "ken@home.example"} {
			if c, err := tx.CustomerByAddr(addr); err != nil || c.ID != ken {
				t.Errorf("CustomerByAddr(%s) = %v, %v; want customer %d", addr, c, err, ken)
			}
		}
		c, err := tx.Customer(ken)
		if err != nil {
			return err
		}
		if c.Name != "김민준" || !slices.Equal(c.Tags, []string{"vip"}) || c.Primary() != "ken@e-fun.example" || !c.Updated.Equal(Start.Add(time.Minute)) {
			t.Errorf("customer after PutCustomer: %+v", c)
		}
		if got := tx.CustomerIDs("acme", 0); !slices.Equal(got, []uint64{ada, ken}) {
			t.Errorf("customers of acme (any case) %v, want [%d %d] newest first", got, ada, ken)
		}
		if got := tx.CustomerIDs("E-Fun", 0); len(got) != 0 {
			t.Errorf("customers of E-Fun after Ken moved to Acme: %v, want none", got)
		}
		if got := tx.CustomerIDs("", 0); !slices.Equal(got, []uint64{ada, ken}) {
			t.Errorf("all customers %v, want [%d %d]", got, ada, ken)
		}
		if got := tx.CustomerIDs("", 1); !slices.Equal(got, []uint64{ada}) {
			t.Errorf("all customers, limit 1: %v", got)
		}
		if _, err := tx.CustomerByAddr("nobody@x.example"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("CustomerByAddr(unknown): %v, want ErrNotFound", err)
		}
		if _, err := tx.Customer(999); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Customer(999): %v, want ErrNotFound", err)
		}
		return nil
	})
	// An address given up is free again.
	e.update(func(tx store.Tx) error {
		k, err := tx.Customer(ken)
		if err != nil {
			return err
		}
		k.Addresses = k.Addresses[:1]
		if err := tx.PutCustomer(k); err != nil {
			return err
		}
		if _, err := tx.CustomerByAddr("ken@home.example"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a removed address still finds customer: %v", err)
		}
		for _, id := range []uint64{3, 1, 2} {
			if added, err := tx.LinkCustomerTicket(ken, id, model.CustomerRequester); err != nil || !added {
				t.Errorf("LinkCustomerTicket(ken, %d) = %v, %v; want a new link", id, added, err)
			}
		}
		if added, err := tx.LinkCustomerTicket(ken, 1, model.CustomerRequester); err != nil || added {
			t.Errorf("linking ticket 1 again = %v, %v; want no new link", added, err)
		}
		if added, err := tx.LinkCustomerTicket(ken, 7, model.CustomerCC); err != nil || !added {
			t.Errorf("LinkCustomerTicket(ken, 7, cc) = %v, %v", added, err)
		}
		if _, err := tx.LinkCustomerTicket(ada, 5, model.CustomerRequester); err != nil {
			return err
		}
		if _, err := tx.LinkCustomerTicket(ken, 1, "boss"); err == nil {
			t.Errorf("LinkCustomerTicket with an unknown role: no error")
		}
		return tx.UnlinkCustomerTicket(ken, 2, model.CustomerRequester)
	})
	e.view(func(tx store.Tx) error {
		if got := tx.CustomerTickets(ken, model.CustomerRequester); !slices.Equal(got, []uint64{3, 1}) {
			t.Errorf("Ken's requested tickets %v, want [3 1]", got)
		}
		if got := tx.CustomerTickets(ken, model.CustomerCC); !slices.Equal(got, []uint64{7}) {
			t.Errorf("Ken's CC'd tickets %v, want [7]", got)
		}
		if got := tx.CustomerTickets(ada, model.CustomerRequester); !slices.Equal(got, []uint64{5}) {
			t.Errorf("Ada's tickets %v, want [5]", got)
		}
		return nil
	})
	// Profiles with links and timeline entries list as before: each
	// once, newest first.
	e.update(func(tx store.Tx) error {
		for _, id := range []uint64{ken, ada} {
			if err := tx.AddCustomerActivity(id, &model.CustomerActivity{Kind: model.ActTicket, Ticket: 5, Text: "requested #5"}); err != nil {
				return err
			}
		}
		return nil
	})
	e.view(func(tx store.Tx) error {
		if got := tx.CustomerIDs("", 0); !slices.Equal(got, []uint64{ada, ken}) {
			t.Errorf("all customers with links and timelines %v, want [%d %d]", got, ada, ken)
		}
		if got := tx.CustomerIDs("", 1); !slices.Equal(got, []uint64{ada}) {
			t.Errorf("all customers with links and timelines, limit 1: %v, want [%d]", got, ada)
		}
		return nil
	})
	e.update(func(tx store.Tx) error { return tx.DeleteCustomer(ada) })
	e.reopen()
	e.view(func(tx store.Tx) error {
		if _, err := tx.Customer(ada); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted customer: %v, want ErrNotFound", err)
		}
		if _, err := tx.CustomerByAddr("ada@acme.example"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleted customer's address: %v, want ErrNotFound", err)
		}
		if got := tx.CustomerTickets(ada, model.CustomerRequester); len(got) != 0 {
			t.Errorf("deleted customer's tickets %v", got)
		}
		if got := tx.CustomerIDs("acme", 0); !slices.Equal(got, []uint64{ken}) {
			t.Errorf("acme after the delete: %v, want [%d]", got, ken)
		}
		if got := tx.CustomerIDs("", 0); !slices.Equal(got, []uint64{ken}) {
			t.Errorf("all customers after the delete: %v, want [%d]", got, ken)
		}
		if tl, err := tx.CustomerActivity(ada, 0, 0); err != nil || len(tl) != 0 {
			t.Errorf("deleted customer's timeline %+v, %v", tl, err)
		}
		if c, err := tx.CustomerByAddr("ken@e-fun.example"); err != nil || c.ID != ken {
			t.Errorf("Ken after a reopen: %v, %v", c, err)
		}
		return nil
	})
}

// testCustomerTimeline: newest first by time whatever the order added,
// pages by skip and limit, and MergeCustomers moves everything.
func testCustomerTimeline(t *testing.T, e *env) {
	var a, b uint64
	e.update(func(tx store.Tx) error {
		ca := &model.Customer{Name: "김민준", Addresses: []string{"minjun@acme.example"}, Tags: []string{"vip"},
			Notes: []model.CustomerNote{{At: Start.Add(2 * time.Hour), By: "vic@x", Text: "second"}}}
		cb := &model.Customer{Addresses: []string{"mj@home.example"}, Tags: []string{"beta", "vip"}, Language: "ko", TimeZone: "Asia/Seoul",
			Notes: []model.CustomerNote{{At: Start.Add(time.Hour), By: "vic@x", Text: "first"}}}
		for _, c := range []*model.Customer{ca, cb} {
			if err := tx.NewCustomer(c); err != nil {
				return err
			}
		}
		a, b = ca.ID, cb.ID
		// Added out of time order: listed by time.
		for i, h := range []int{3, 1, 5, 2, 4} {
			if err := tx.AddCustomerActivity(a, &model.CustomerActivity{At: Start.Add(time.Duration(h) * time.Hour), Kind: model.ActComment, Ticket: uint64(i + 1), Text: fmt.Sprint("a", h)}); err != nil {
				return err
			}
		}
		// Two entries of one instant keep their order.
		for _, s := range []string{"b-early", "b-late"} {
			if err := tx.AddCustomerActivity(b, &model.CustomerActivity{At: Start.Add(150 * time.Minute), Kind: model.ActTicket, Ticket: 9, Text: s}); err != nil {
				return err
			}
		}
		if _, err := tx.LinkCustomerTicket(b, 9, model.CustomerRequester); err != nil {
			return err
		}
		_, err := tx.LinkCustomerTicket(b, 8, model.CustomerCC)
		return err
	})
	texts := func(l []*model.CustomerActivity) []string {
		var out []string
		for _, x := range l {
			out = append(out, x.Text)
		}
		return out
	}
	e.view(func(tx store.Tx) error {
		all, err := tx.CustomerActivity(a, 0, 0)
		if err != nil {
			return err
		}
		if got := texts(all); !slices.Equal(got, []string{"a5", "a4", "a3", "a2", "a1"}) {
			t.Errorf("timeline %v, want newest first", got)
		}
		page, err := tx.CustomerActivity(a, 2, 2)
		if err != nil {
			return err
		}
		if got := texts(page); !slices.Equal(got, []string{"a3", "a2"}) {
			t.Errorf("timeline skip 2 limit 2: %v, want [a3 a2]", got)
		}
		if got, _ := tx.CustomerActivity(b, 0, 0); !slices.Equal(texts(got), []string{"b-late", "b-early"}) {
			t.Errorf("entries of one instant: %v, want the later-added first", texts(got))
		}
		if all[0].Kind != model.ActComment || all[0].Ticket != 3 || !all[0].At.Equal(Start.Add(5*time.Hour)) {
			t.Errorf("timeline entry fields: %+v", all[0])
		}
		return nil
	})
	e.advance(time.Hour)
	e.update(func(tx store.Tx) error {
		k, err := store.MergeCustomers(tx, a, b, tx.Now())
		if err != nil {
			return err
		}
		if !slices.Equal(k.Addresses, []string{"minjun@acme.example", "mj@home.example"}) || !slices.Equal(k.Tags, []string{"vip", "beta"}) ||
			k.Language != "ko" || k.TimeZone != "Asia/Seoul" || k.Name != "김민준" || len(k.Notes) != 2 || k.Notes[0].Text != "first" {
			t.Errorf("merged customer: %+v", k)
		}
		if _, err := store.MergeCustomers(tx, a, a, tx.Now()); err == nil {
			t.Errorf("merging a customer into itself: no error")
		}
		return nil
	})
	e.view(func(tx store.Tx) error {
		if c, err := tx.CustomerByAddr("mj@home.example"); err != nil || c.ID != a {
			t.Errorf("the merged address finds %v, %v; want customer %d", c, err, a)
		}
		if _, err := tx.Customer(b); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the merged-away customer: %v, want ErrNotFound", err)
		}
		all, err := tx.CustomerActivity(a, 0, 0)
		if err != nil {
			return err
		}
		if got := texts(all); !slices.Equal(got, []string{"a5", "a4", "a3", "b-late", "b-early", "a2", "a1"}) {
			t.Errorf("merged timeline %v, want both interleaved by time", got)
		}
		if got := tx.CustomerTickets(a, model.CustomerRequester); !slices.Equal(got, []uint64{9}) {
			t.Errorf("merged requested tickets %v, want [9]", got)
		}
		if got := tx.CustomerTickets(a, model.CustomerCC); !slices.Equal(got, []uint64{8}) {
			t.Errorf("merged CC'd tickets %v, want [8]", got)
		}
		return nil
	})
}

// testCustomerBackfill: the progress record starts zero and keeps what
// was set across a reopen.
func testCustomerBackfill(t *testing.T, e *env) {
	e.view(func(tx store.Tx) error {
		if p, err := tx.CustomerBackfill(); err != nil || p != (model.CustomerBackfill{}) {
			t.Errorf("a new store's backfill: %+v, %v; want zero", p, err)
		}
		return nil
	})
	e.update(func(tx store.Tx) error { return tx.SetCustomerBackfill(model.CustomerBackfill{Next: 42}) })
	e.reopen()
	e.update(func(tx store.Tx) error {
		if p, err := tx.CustomerBackfill(); err != nil || p != (model.CustomerBackfill{Next: 42}) {
			t.Errorf("backfill after a reopen: %+v, %v", p, err)
		}
		return tx.SetCustomerBackfill(model.CustomerBackfill{Next: 43, Done: true})
	})
	e.view(func(tx store.Tx) error {
		if p, _ := tx.CustomerBackfill(); !p.Done || p.Next != 43 {
			t.Errorf("backfill done: %+v", p)
		}
		return nil
	})
}
