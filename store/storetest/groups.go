package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"helpdesk/store"
	"helpdesk/store/model"
)

// testCommentGroups: AppendComment (a trigger pass's events; bbolt keeps
// consecutive ones of a write in one record, issue 15) numbers and reads
// back exactly as AddComment, whatever the engine stores: mixed with
// comments AddComment stored (the only form before groups), across
// writes, next to another ticket's comments, rewritten by PutComment in
// the middle and at the start of a group, after a reopen, and in Dump.
func testCommentGroups(t *testing.T, e *env) {
	add := func(tx store.Tx, tk *model.Ticket, appendIt bool, text string) {
		t.Helper()
		c := &model.Comment{Kind: model.KindEvent, Author: "rule:" + text, Visibility: model.Private, Text: text}
		if !appendIt {
			c = &model.Comment{Author: "ken@x", Visibility: model.Public, Text: text}
		}
		add := tx.AddComment
		if appendIt {
			add = tx.AppendComment
		}
		if err := add(tk, c); err != nil {
			t.Fatalf("adding %q: %v", text, err)
		}
		if c.Ticket != tk.ID || c.ID != tk.LastSeq || c.Created.IsZero() || c.Kind == "" {
			t.Errorf("adding %q left %+v (ticket %d, LastSeq %d)", text, c, tk.ID, tk.LastSeq)
		}
	}
	e.update(func(tx store.Tx) error {
		one, two := &model.Ticket{Subject: "one"}, &model.Ticket{Subject: "two"}
		if err := tx.NewTicket(one); err != nil {
			return err
		}
		if err := tx.NewTicket(two); err != nil {
			return err
		}
		add(tx, one, false, "c1")
		add(tx, one, true, "e2")
		add(tx, two, true, "x1") // another ticket's group between
		add(tx, one, true, "e3")
		add(tx, one, true, "e4")
		add(tx, one, false, "c5") // ends the group
		add(tx, one, true, "e6")
		add(tx, two, true, "x2")
		if one.LastSeq != 6 || one.LastPublicSeq != 5 || two.LastSeq != 2 {
			t.Errorf("LastSeq %d LastPublicSeq %d, two's LastSeq %d; want 6, 5, 2", one.LastSeq, one.LastPublicSeq, two.LastSeq)
		}
		// Read in the write that added them.
		if c, err := tx.Comment(1, 3); err != nil || c.Text != "e3" {
			t.Errorf("Comment(1, 3) in the write = %+v, %v; want e3", c, err)
		}
		if err := tx.PutTicket(one); err != nil {
			return err
		}
		return tx.PutTicket(two)
	})
	e.update(func(tx store.Tx) error {
		one, err := tx.Ticket(1)
		if err != nil {
			return err
		}
		add(tx, one, true, "e7") // a new write: a new group
		add(tx, one, true, "e8")
		// Rewritten in the middle of a group, then appended to it.
		c, err := tx.Comment(1, 7)
		if err != nil {
			return err
		}
		c.Text = "e7, edited"
		if err := tx.PutComment(c); err != nil {
			return err
		}
		add(tx, one, true, "e9")
		return tx.PutTicket(one)
	})
	e.update(func(tx store.Tx) error {
		for id, text := range map[uint32]string{3: "e3, edited", 2: "e2, edited"} {
			c, err := tx.Comment(1, id)
			if err != nil {
				return err
			}
			c.Text = text
			if err := tx.PutComment(c); err != nil {
				return err
			}
		}
		return nil
	})
	want1 := "[c1/ken@x e2, edited/rule:e2 e3, edited/rule:e3 e4/rule:e4 c5/ken@x e6/rule:e6 e7, edited/rule:e7 e8/rule:e8 e9/rule:e9]"
	check := func(when string) {
		e.view(func(tx store.Tx) error {
			for ticket, want := range map[uint64]string{1: want1, 2: "[x1/rule:x1 x2/rule:x2]"} {
				cs, err := tx.Comments(ticket)
				if err != nil {
					return err
				}
				var got []string
				for i, c := range cs {
					got = append(got, c.Text+"/"+c.Author)
					if c.ID != uint32(i+1) || c.Ticket != ticket {
						t.Errorf("%s: comment %d of ticket %d has id %d ticket %d", when, i+1, ticket, c.ID, c.Ticket)
					}
					one, err := tx.Comment(ticket, c.ID)
					if err != nil || one.Text != c.Text || one.ID != c.ID || one.Kind != c.Kind || !one.Created.Equal(c.Created) {
						t.Errorf("%s: Comment(%d, %d) = %+v, %v; Comments has %+v", when, ticket, c.ID, one, err, c)
					}
				}
				if fmt.Sprint(got) != want {
					t.Errorf("%s: Comments(%d) = %s, want %s", when, ticket, got, want)
				}
			}
			for _, k := range [][2]uint64{{1, 10}, {2, 3}, {3, 1}, {1, 0}} {
				if c, err := tx.Comment(k[0], uint32(k[1])); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("%s: Comment(%d, %d) = %+v, %v; want ErrNotFound", when, k[0], k[1], c, err)
				}
			}
			return nil
		})
	}
	check("stored")
	e.reopen()
	check("after a reopen")
	if d, ok := e.db.(store.Dumper); ok {
		var got []string
		if err := d.Dump(func(r *store.Record) error {
			if r.Kind == store.KindComment {
				got = append(got, fmt.Sprintf("%d.%d:%s", r.Comment.Ticket, r.Comment.ID, r.Comment.Text))
			}
			return nil
		}); err != nil {
			t.Fatalf("Dump: %v", err)
		}
		if s := strings.Join(got, " "); s != "1.1:c1 1.2:e2, edited 1.3:e3, edited 1.4:e4 1.5:c5 1.6:e6 1.7:e7, edited 1.8:e8 1.9:e9 2.1:x1 2.2:x2" {
			t.Errorf("Dump's comments: %s", s)
		}
	}
}
