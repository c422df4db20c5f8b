package bolt

import (
	"bytes"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"helpdesk/store"
	"helpdesk/store/model"
)

// A write's consecutive AppendComments of a ticket are one stored value
// under the first one's key, a third of their JSON's size for a
// trigger pass's events; AddComment's comments stay one JSON value each
// (the form every comment had before groups), and both read back.
func TestAppendCommentStoresOneGroup(t *testing.T) {
	db := openTest(t)
	var raw int
	err := db.Update(func(tx store.Tx) error {
		tk := &model.Ticket{Subject: "s"}
		if err := tx.NewTicket(tk); err != nil {
			return err
		}
		if err := tx.AddComment(tk, &model.Comment{Author: "ken@x", Visibility: model.Public, Text: "hello"}); err != nil {
			return err
		}
		for _, name := range []string{"match-0", "match-1", "match-2"} {
			for _, text := range []string{`trigger "` + name + `" fired: #tag service:printer`, "tags: +service:printer"} {
				c := &model.Comment{Kind: model.KindEvent, Visibility: model.Private, Author: "rule:" + name, Text: text, Message: 42}
				if err := tx.AppendComment(tk, c); err != nil {
					return err
				}
				j, _ := marshal(c)
				raw += len(j)
			}
		}
		return tx.PutTicket(tk)
	})
	if err != nil {
		t.Fatal(err)
	}
	var keys, groupBytes int
	db.view(func(btx *bbolt.Tx) error {
		c := btx.Bucket(bComments).Cursor()
		for k, v := c.Seek(u64(1)); k != nil && bytes.HasPrefix(k, u64(1)); k, v = c.Next() {
			if len(k) != 12 {
				continue
			}
			keys++
			if id := ckey(1, 2); bytes.Equal(k, id) {
				if !isGroup(v) {
					t.Errorf("comment 2's value is no group: %q", v)
				}
				groupBytes = len(v)
			} else if v[0] != '{' {
				t.Errorf("comment %x is not stored as JSON: %q", k, v)
			}
		}
		return nil
	})
	if keys != 2 {
		t.Errorf("%d comment keys, want 2 (the comment and the group of six events)", keys)
	}
	if groupBytes == 0 || groupBytes > raw/2 {
		t.Errorf("the group takes %d bytes, the six records %d: want at most half", groupBytes, raw)
	}
	db.View(func(tx store.Tx) error {
		cs, err := tx.Comments(1)
		if err != nil || len(cs) != 7 || cs[0].Text != "hello" || cs[6].Author != "rule:match-2" || cs[6].Message != 42 || cs[6].ID != 7 {
			t.Errorf("Comments(1) = %d comments, %v", len(cs), err)
		}
		return nil
	})
}
