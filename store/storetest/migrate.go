package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"helpdesk/store"
	"helpdesk/store/migrate"
	"helpdesk/store/model"
)

// Migration is the conformance test of the record-level export and
// import (store.Dumper, store.Loader; `helpdesk migrate`): a store of
// engine a is filled through the roles' operations with every kind of
// record, copied into an empty store of engine b, and from there into a
// fresh store of engine a. After each copy, everything the roles'
// operations read is the same as in the original (tickets, comments,
// messages and their raw bytes, the duplicate check, the Message-ID
// index, users by address, customers by address and organization with
// their links and timeline, both queues with their leases, quarantine,
// the key ring, the clocks, timers, rates, counters, report events and
// the backlog as of several instants, erasures), migrate.Verify finds
// no difference, new ids continue where the original's would, and a
// load into a store that holds records is refused.
func Migration(t *testing.T, a, b Factory) {
	now := Start
	clock := func() time.Time { return now }
	open := func(f Factory) migrate.Engine {
		db := f(t, clock)()
		e, ok := db.(migrate.Engine)
		if !ok {
			t.Fatalf("%T does not implement store.Dumper and store.Loader", db)
		}
		t.Cleanup(func() { db.Close() })
		return e
	}
	src := open(a)
	fillEverything(t, src, func(d time.Duration) { now = now.Add(d) })
	want := observe(t, src)

	mid := open(b)
	copyAndVerify(t, "a → b", src, mid)
	if got := observe(t, mid); got != want {
		t.Errorf("a → b: what the roles read differs:\n%s", lineDiff(want, got))
	}
	back := open(a)
	copyAndVerify(t, "b → a", mid, back)
	if got := observe(t, back); got != want {
		t.Errorf("b → a: what the roles read differs:\n%s", lineDiff(want, got))
	}

	// A store with records refuses a load, and keeps what it holds.
	if _, err := migrate.Copy(src, mid, nil); !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("copying into a store with records: %v, want store.ErrNotEmpty", err)
	}
	if got := observe(t, mid); got != want {
		t.Errorf("a refused load changed the target:\n%s", lineDiff(want, got))
	}

	// New ids continue after the copied ones, alike in every copy.
	// Customer ids continue after the greater of the customers' and
	// their timeline's numbers (bbolt numbers both from one sequence, so
	// a copy may skip a few), never reusing one.
	var custIDs []uint64
	next := func(db store.Store) string {
		var out string
		if err := db.Update(func(tx store.Tx) error {
			tk := &model.Ticket{Subject: "after the migration", Requester: "new@example.com"}
			if err := tx.NewTicket(tk); err != nil {
				return err
			}
			m := &model.Message{MessageID: "new@example.com", BodyHash: "n"}
			if err := tx.AddMessage(m, []byte("new")); err != nil {
				return err
			}
			u, err := tx.EnsureUser("new@example.com", "")
			if err != nil {
				return err
			}
			c := &model.Customer{Addresses: []string{"new@example.com"}}
			if err := tx.NewCustomer(c); err != nil {
				return err
			}
			o := &model.Outbound{Ticket: tk.ID, Rcpt: "new@example.com"}
			if err := tx.Enqueue(o); err != nil {
				return err
			}
			d := &model.WebhookDelivery{Webhook: "w"}
			if err := tx.EnqueueWebhook(d); err != nil {
				return err
			}
			q := &model.Quarantine{Message: m.ID}
			if err := tx.AddQuarantine(q); err != nil {
				return err
			}
			er := &model.Erasure{By: "cli"}
			if err := tx.AddErasure(er); err != nil {
				return err
			}
			custIDs = append(custIDs, c.ID)
			out = fmt.Sprintf("ticket %d message %d user %d outbound %d webhook %d quarantine %d erasure %d",
				tk.ID, m.ID, u.ID, o.ID, d.ID, q.ID, er.ID)
			return nil
		}); err != nil {
			t.Fatalf("writing after the migration: %v", err)
		}
		return out
	}
	if w, m, k := next(src), next(mid), next(back); w != m || w != k {
		t.Errorf("new ids after the migration:\n original %s\n a → b    %s\n b → a    %s", w, m, k)
	}
	if custIDs[1] < custIDs[0] || custIDs[2] < custIDs[0] {
		t.Errorf("new customer ids after the migration: original %d, a → b %d, b → a %d: a copy reuses ids", custIDs[0], custIDs[1], custIDs[2])
	}

	// The comparison finds a difference, and names it.
	if err := back.Update(func(tx store.Tx) error {
		tk, err := tx.Ticket(1)
		if err != nil {
			return err
		}
		tk.Subject = "changed"
		return tx.PutTicket(tk)
	}); err != nil {
		t.Fatal(err)
	}
	res, err := migrate.Verify(src, back)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, k := range res.Kinds {
		if !k.Equal {
			found = append(found, fmt.Sprintf("%s: %v", k.Kind, k.Differ))
		}
	}
	found = append(found, res.TicketDiffs...)
	if res.Equal() || !strings.Contains(strings.Join(found, "\n"), "ticket: [1: differs]") || !strings.Contains(strings.Join(found, "\n"), "ticket 1: the ticket record differs") {
		t.Errorf("a changed ticket: the comparison found %q", found)
	}
}

func copyAndVerify(t *testing.T, what string, src, dst migrate.Engine) {
	t.Helper()
	counts, err := migrate.Copy(src, dst, nil)
	if err != nil {
		t.Fatalf("%s: copy: %v", what, err)
	}
	for _, k := range store.Kinds {
		if counts[k] == 0 {
			t.Errorf("%s: no %s record was copied: the fill should hold one of every kind", what, k)
		}
	}
	res, err := migrate.Verify(src, dst)
	if err != nil {
		t.Fatalf("%s: verify: %v", what, err)
	}
	if !res.Equal() {
		for _, k := range res.Kinds {
			if !k.Equal {
				t.Errorf("%s: %s: %d in the source, %d in the target: %s", what, k.Kind, k.Source, k.Target, strings.Join(k.Differ, "; "))
			}
		}
		for _, d := range res.TicketDiffs {
			t.Errorf("%s: %s", what, d)
		}
	}
	if res.Tickets == 0 || res.Messages == 0 || res.RawBytes == 0 {
		t.Errorf("%s: the ticket-by-ticket pass compared %d tickets, %d messages, %d raw bytes", what, res.Tickets, res.Messages, res.RawBytes)
	}
}

// fillEverything writes records of every kind through the roles'
// operations; advance moves the store clock.
func fillEverything(t *testing.T, db store.Store, advance func(time.Duration)) {
	t.Helper()
	big := bytes.Repeat([]byte("a line of a long mail with an attachment\r\n"), 200)
	sp := db.NewSpool(1000)
	sp.Write(big)
	blob, err := sp.Commit()
	if err != nil || blob == "" {
		t.Fatalf("committing a spooled body: %q, %v", blob, err)
	}
	defer sp.Close()
	day := 24 * time.Hour
	update := func(fn func(tx store.Tx) error) {
		t.Helper()
		if err := db.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	var tks []*model.Ticket
	update(func(tx store.Tx) error {
		for i, addr := range []string{"ann@example.com", "bob@example.org", "cy@example.net"} {
			u, err := tx.EnsureUser(addr, "Customer "+addr)
			if err != nil {
				return err
			}
			u.AckTimes = []int64{Start.Unix() + int64(i)}
			if err := tx.PutUser(u); err != nil {
				return err
			}
			raw := []byte(fmt.Sprintf("From: %s\r\nMessage-ID: <m%d@example.com>\r\n\r\nhello %d\r\n", addr, i, i))
			m := &model.Message{Received: Start, MailFrom: addr, Rcpts: []string{"support@example.com"}, Size: int64(len(raw)),
				MessageID: fmt.Sprintf("m%d@example.com", i), BodyHash: fmt.Sprintf("hash%d", i), Class: "human"}
			if i == 2 {
				m.Blob, m.Size, raw = blob, int64(len(big)), nil
			}
			if err := tx.AddMessage(m, raw); err != nil {
				return err
			}
			tk := &model.Ticket{Subject: fmt.Sprintf("Request %d <&>", i), Requester: addr, Mailbox: "support@example.com",
				Group: "support", Status: model.StatusOpen, Assignee: "agent@example.com",
				Threads: []model.Thread{{ID: 0, Kind: model.ThreadMain, Created: Start}}}
			if i == 1 {
				tk.Status = model.StatusPending
				tk.Threads = append(tk.Threads, model.Thread{ID: 1, Kind: "side", Created: Start, Collaborators: []string{"vendor@example.net"}})
			}
			if err := tx.NewTicket(tk); err != nil {
				return err
			}
			c := &model.Comment{Author: addr, Visibility: model.Public, Text: fmt.Sprintf("hello %d", i), Message: m.ID,
				MessageID: m.MessageID, Attachments: []model.Attachment{{Name: "a.pdf", ContentType: "application/pdf", Size: 3}}}
			if err := tx.AddComment(tk, c); err != nil {
				return err
			}
			if i == 1 {
				if err := tx.AddComment(tk, &model.Comment{Author: "agent@example.com", Visibility: model.Private, Thread: 1, Text: "to the vendor"}); err != nil {
					return err
				}
			}
			if err := tx.PutTicket(tk); err != nil {
				return err
			}
			m.Ticket, m.Comment, m.Disposition = tk.ID, c.ID, model.DispTicket
			if err := tx.PutMessage(m); err != nil {
				return err
			}
			if err := tx.IndexMessageID(m.MessageID, model.Ref{Ticket: tk.ID, Comment: c.ID}); err != nil {
				return err
			}
			if err := tx.IndexMessageID(fmt.Sprintf("<hd.%d@helpdesk.example>", tk.ID), model.Ref{Ticket: tk.ID, Outbound: true, Party: u.ID}); err != nil {
				return err
			}
			tks = append(tks, tk)
		}
		// A merged ticket, and a message whose raw bytes retention dropped.
		tks[2].MergedInto = tks[0].ID
		if err := tx.PutTicket(tks[2]); err != nil {
			return err
		}
		old := &model.Message{Received: Start, MailFrom: "ann@example.com", MessageID: "old@example.com", BodyHash: "oldhash", Ticket: tks[0].ID}
		if err := tx.AddMessage(old, []byte("old mail")); err != nil {
			return err
		}
		if err := tx.DeleteRaw(old.ID); err != nil {
			return err
		}
		agent, err := tx.EnsureUser("agent@example.com", "Agent")
		if err != nil {
			return err
		}
		agent.Away = true
		if err := tx.PutUser(agent); err != nil {
			return err
		}
		cust := &model.Customer{Name: "Ann", Addresses: []string{"ann@example.com", "ann@home.example"}, Organization: "Example Inc",
			Tags: []string{"vip"}, Notes: []model.CustomerNote{{At: Start, By: "agent@example.com", Text: "prefers mail"}}}
		if err := tx.NewCustomer(cust); err != nil {
			return err
		}
		other := &model.Customer{Name: "Bob", Addresses: []string{"bob@example.org"}}
		if err := tx.NewCustomer(other); err != nil {
			return err
		}
		for _, l := range []struct {
			c, tk uint64
			role  string
		}{{cust.ID, tks[0].ID, model.CustomerRequester}, {cust.ID, tks[1].ID, model.CustomerCC}, {other.ID, tks[1].ID, model.CustomerRequester}} {
			if _, err := tx.LinkCustomerTicket(l.c, l.tk, l.role); err != nil {
				return err
			}
		}
		for i, text := range []string{"first", "same instant", "later"} {
			at := Start
			if i == 2 {
				at = Start.Add(time.Hour)
			}
			if err := tx.AddCustomerActivity(cust.ID, &model.CustomerActivity{At: at, Kind: "mail", Ticket: tks[0].ID, Text: text}); err != nil {
				return err
			}
		}
		if err := tx.SetCustomerBackfill(model.CustomerBackfill{Next: tks[2].ID, Done: true}); err != nil {
			return err
		}
		for i := 0; i < 3; i++ {
			o := &model.Outbound{Ticket: tks[i].ID, Kind: "ack", Rcpt: tks[i].Requester, To: []string{tks[i].Requester},
				Subject: "[#1] received", MessageID: fmt.Sprintf("hd.%d@helpdesk.example", tks[i].ID), Text: "We received it."}
			if err := tx.Enqueue(o); err != nil {
				return err
			}
			if i == 0 {
				prev := o.NextAttempt
				o.State, o.Attempts, o.Done = model.OutSent, 1, Start
				if err := tx.PutOutbound(o, prev); err != nil {
					return err
				}
			}
		}
		for i := 0; i < 2; i++ {
			d := &model.WebhookDelivery{Webhook: "crm", Ticket: tks[i].ID, Trigger: "created", Format: "json", Body: []byte(`{"a":1}`)}
			if err := tx.EnqueueWebhook(d); err != nil {
				return err
			}
			if i == 0 {
				prev := d.NextAttempt
				d.State, d.Attempts = model.HookDelivered, 1
				if err := tx.PutWebhook(d, prev); err != nil {
					return err
				}
			}
		}
		if err := tx.AddQuarantine(&model.Quarantine{Message: old.ID, Reason: "loop", From: "x@example.com", Subject: "loop"}); err != nil {
			return err
		}
		if err := tx.RotateKey(48 * time.Hour); err != nil {
			return err
		}
		if err := tx.SetManualClock(Start.Add(3 * day)); err != nil {
			return err
		}
		if err := tx.SetTimerStamp("sla=1;auto=2"); err != nil {
			return err
		}
		for i, tk := range tks {
			if err := tx.SetTimer(model.Timer{Ticket: tk.ID, Kind: "sla", At: Start.Add(time.Duration(i+1) * time.Hour)}); err != nil {
				return err
			}
		}
		if err := tx.SetTimer(model.Timer{Ticket: tks[0].ID, Kind: "auto:close", At: Start.Add(5 * day)}); err != nil {
			return err
		}
		for _, k := range []string{"ack:ann@example.com", "ack:ann@example.com", "fan:1:bob@example.org"} {
			if _, err := tx.RateAllow(k, time.Hour, 10); err != nil {
				return err
			}
		}
		if _, err := tx.Counter("rr:support", 3); err != nil {
			return err
		}
		if _, err := tx.Counter("report.backfill.done", 1); err != nil {
			return err
		}
		for i, k := range []string{"created", "first_response", "created"} {
			at := Start.Add(time.Duration(i/2) * day)
			ev := &model.ReportEvent{At: at, Kind: k, Ticket: tks[i].ID, Group: "support", Mailbox: "support@example.com",
				Agent: "agent@example.com", Target: "4h", Rating: i}
			if k == "first_response" {
				ev.Since = Start
			}
			if err := tx.AddReportEvent(ev); err != nil {
				return err
			}
		}
		moves := []store.BacklogMove{
			{At: Start, Inc: []string{"status\x00open", "group\x00support"}},
			{At: Start.Add(time.Hour), Inc: []string{"status\x00open", "group\x00support"}},
			{At: Start.Add(day), Dec: []string{"status\x00open"}, Inc: []string{"status\x00pending"}},
			{At: Start.Add(3 * day), Dec: []string{"status\x00pending", "group\x00support"}},
		}
		for _, m := range moves {
			if err := tx.MoveBacklog(m.At, m.Dec, m.Inc); err != nil {
				return err
			}
		}
		return tx.AddErasure(&model.Erasure{At: Start.Add(2 * day), By: "cli", Via: "cli", Tickets: 1, Comments: 2, Messages: 1})
	})
	// A lease on a queued item, as a worker that died holds it.
	advance(time.Minute)
	update(func(tx store.Tx) error {
		_, err := tx.Claim("node-a", Start.Add(time.Minute), 1, time.Hour, true)
		return err
	})
}

// observe is everything the roles' operations read of a filled store,
// as text (a blob's engine-specific name left out: its bytes are read).
func observe(t *testing.T, db store.Store) string {
	t.Helper()
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	js := func(v any) string {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	var msgs []*model.Message
	err := db.View(func(tx store.Tx) error {
		p("ticket count %d, message count %d", tx.TicketCount(), tx.MessageCount())
		for _, st := range []string{"", model.StatusOpen, model.StatusPending} {
			p("tickets %q: %v", st, tx.TicketIDs(st, 0))
		}
		for _, id := range tx.TicketIDs("", 0) {
			tk, err := tx.Ticket(id)
			if err != nil {
				return err
			}
			p("ticket %s", js(tk))
			r, _, err := tx.ResolveThread(id, 1)
			if err != nil {
				return err
			}
			p("resolves to %d", r.ID)
			cs, err := tx.Comments(id)
			if err != nil {
				return err
			}
			p("comments %s", js(cs))
			p("requester's tickets %v", tx.TicketsOfRequester(tk.Requester))
			ts, err := tx.TimersOf(id)
			if err != nil {
				return err
			}
			p("timers %s", js(ts))
		}
		if err := tx.ForEachMessage(func(m *model.Message) error {
			c := *m
			blob := c.Blob != ""
			c.Blob = ""
			p("message %s blob %v inline %q", js(&c), blob, tx.RawInline(m.ID))
			if m.MessageID != "" && m.BodyHash != "" {
				d, err := tx.Duplicate(m.MessageID, m.BodyHash)
				if err != nil || d == nil {
					return fmt.Errorf("duplicate check of message %d: %v, %v", m.ID, d, err)
				}
				p("duplicate of %d: %d", m.ID, d.ID)
			}
			msgs = append(msgs, m)
			return nil
		}); err != nil {
			return err
		}
		for _, id := range []string{"m0@example.com", "<M1@example.com>", "hd.1@helpdesk.example", "hd.3@helpdesk.example", "none@example.com"} {
			r, ok := tx.LookupMessageID(id)
			p("Message-ID %s: %v %s", id, ok, js(r))
		}
		for _, a := range []string{"ann@example.com", "bob@example.org", "cy@example.net", "agent@example.com", "none@example.com"} {
			u, err := tx.User(a)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			away, _ := tx.UserAway(a)
			p("user %s: %s away %v", a, js(u), away)
			c, err := tx.CustomerByAddr(a)
			if err == nil {
				p("customer of %s: %d", a, c.ID)
			}
		}
		for _, org := range []string{"", "example inc"} {
			p("customers of %q: %v", org, tx.CustomerIDs(org, 0))
		}
		for _, id := range tx.CustomerIDs("", 0) {
			c, err := tx.Customer(id)
			if err != nil {
				return err
			}
			acts, err := tx.CustomerActivity(id, 0, 0)
			if err != nil {
				return err
			}
			if len(acts) == 0 {
				acts = nil // engines differ in nil and empty
			}
			p("customer %s requester of %v cc on %v activity %s", js(c), tx.CustomerTickets(id, model.CustomerRequester), tx.CustomerTickets(id, model.CustomerCC), js(acts))
		}
		bf, err := tx.CustomerBackfill()
		if err != nil {
			return err
		}
		p("customer backfill %s", js(bf))
		far := Start.Add(365 * 24 * time.Hour)
		due, err := tx.Due(far, 100)
		if err != nil {
			return err
		}
		old, err := tx.OldestQueued()
		if err != nil {
			return err
		}
		p("due %s next %v depth %d oldest %s", js(due), tx.NextDue().UnixNano(), tx.QueueDepth(), js(old))
		if err := tx.ForEachOutbound(func(o *model.Outbound) error { p("outbound %s", js(o)); return nil }); err != nil {
			return err
		}
		hooks, err := tx.DueWebhooks(far, 100)
		if err != nil {
			return err
		}
		p("due webhooks %s next %v", js(hooks), tx.NextWebhookDue().UnixNano())
		if err := tx.ForEachWebhook(func(d *model.WebhookDelivery) error { p("webhook %s", js(d)); return nil }); err != nil {
			return err
		}
		qs, err := tx.Quarantined(0)
		if err != nil {
			return err
		}
		p("quarantine %s", js(qs))
		keys, err := tx.Keys()
		if err != nil {
			return err
		}
		first, err := tx.FirstStart()
		if err != nil {
			return err
		}
		mc, ok, err := tx.ManualClock()
		if err != nil {
			return err
		}
		stamp, err := tx.TimerStamp()
		if err != nil {
			return err
		}
		p("keys %s first start %v manual clock %v %v stamp %q", js(keys), first, mc, ok, stamp)
		dt, err := tx.DueTimers(far, 0)
		if err != nil {
			return err
		}
		na, ok, err := tx.NextTimerAt()
		if err != nil {
			return err
		}
		p("due timers %s next %v %v", js(dt), na, ok)
		for _, k := range []string{"ack:ann@example.com", "fan:1:bob@example.org", "none"} {
			p("rate %s: %d", k, tx.RateCountAt(k, Start.Add(10*time.Minute), time.Hour))
		}
		var evs []string
		if err := tx.ReportEvents(Start.Add(-time.Hour), far, func(ev *model.ReportEvent) error {
			evs = append(evs, js(ev))
			return nil
		}); err != nil {
			return err
		}
		p("report events %s", strings.Join(evs, " "))
		for _, h := range []int{0, 1, 2, 25, 26, 48, 73, 24 * 30} {
			bl, err := tx.Backlog(Start.Add(time.Duration(h) * time.Hour))
			if err != nil {
				return err
			}
			p("backlog at +%dh: %s", h, js(sortedMap(bl)))
		}
		ers, err := tx.Erasures()
		if err != nil {
			return err
		}
		p("erasures %s", js(ers))
		return nil
	})
	if err != nil {
		t.Fatalf("reading the store: %v", err)
	}
	for _, m := range msgs {
		rc, err := db.OpenRaw(m)
		if err != nil {
			p("raw of %d: %v", m.ID, errors.Is(err, store.ErrNotFound))
			continue
		}
		raw, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		p("raw of %d: %d bytes %q", m.ID, len(raw), raw[:min(len(raw), 40)])
	}
	if err := db.Update(func(tx store.Tx) error {
		for _, name := range []string{"rr:support", "report.backfill.done", "none"} {
			v, err := tx.Counter(name, 0)
			if err != nil {
				return err
			}
			p("counter %s: %d", name, v)
		}
		return nil
	}); err != nil {
		t.Fatalf("reading the counters: %v", err)
	}
	return b.String()
}

func sortedMap(m map[string]int) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%q=%d", k, v))
	}
	sort.Strings(out)
	return out
}

// lineDiff names the lines of want and got that differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "want: %s\n got: %s\n", a, c)
		}
	}
	return b.String()
}
