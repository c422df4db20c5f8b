// Users by id and by address (bucket users).

package bolt

import (
	"encoding/binary"
	"fmt"

	"helpdesk/store"
	"helpdesk/store/model"
)

// User finds a user by normalized address.
func (t *Tx) User(addr string) (*model.User, error) {
	v := t.get(t.b(iUserAddr), []byte(addr))
	if v == nil {
		return nil, store.ErrNotFound
	}
	return t.UserByID(binary.BigEndian.Uint64(v))
}

// UserAway reports whether the user with this address is marked away
// (false when there is none): round-robin assignment asks it of every
// agent of a group for every new ticket.
func (t *Tx) UserAway(addr string) (bool, error) {
	v := t.get(t.b(iUserAddr), []byte(addr))
	if v == nil {
		return false, nil
	}
	u, err := t.userByID(binary.BigEndian.Uint64(v))
	if err != nil {
		return false, err
	}
	return u.Away, nil
}

// UserByID loads a user.
func (t *Tx) UserByID(id uint64) (*model.User, error) {
	u, err := t.userByID(id)
	if err != nil {
		return nil, err
	}
	return cloneUser(u), nil
}

// userByID returns the transaction's own copy of a user (not to be
// changed).
func (t *Tx) userByID(id uint64) (*model.User, error) {
	if u, ok := t.users[id]; ok {
		return u, nil
	}
	var u model.User
	if err := t.getJSON(t.b(bUsers), u64(id), &u); err != nil {
		return nil, err
	}
	t.keepUser(&u)
	return &u, nil
}

func (t *Tx) keepUser(u *model.User) {
	if t.users == nil {
		t.users = map[uint64]*model.User{}
	}
	t.users[u.ID] = u
}

// cloneUser copies a user deeply enough that changing the copy (its
// fields, its AckTimes) leaves the original alone.
func cloneUser(u *model.User) *model.User {
	c := *u
	c.AckTimes = append([]int64(nil), u.AckTimes...)
	return &c
}

// EnsureUser returns the user for addr, creating it on first sight (SPEC 8:
// end users are created the first time they write). A known name is kept
// unless name is new information.
func (t *Tx) EnsureUser(addr, name string) (*model.User, error) {
	if addr == "" {
		return nil, fmt.Errorf("EnsureUser: empty address")
	}
	if u, err := t.User(addr); err == nil {
		if name != "" && u.Name == "" && t.Writable() {
			u.Name = name
			u.Updated = t.Now()
			return u, t.PutUser(u)
		}
		return u, nil
	} else if err != store.ErrNotFound {
		return nil, err
	}
	u, err := t.NewUser(addr, name)
	if err != nil {
		return nil, err
	}
	return u, t.PutUser(u)
}

// NewUser registers a user for addr, which must not have one yet: it
// gives the user an id and indexes the address, and the caller stores
// the record with PutUser in the same write (once, after its changes).
func (t *Tx) NewUser(addr, name string) (*model.User, error) {
	if addr == "" {
		return nil, fmt.Errorf("NewUser: empty address")
	}
	seq, err := t.b(bUsers).NextSequence()
	if err != nil {
		return nil, err
	}
	now := t.Now()
	u := &model.User{ID: seq, Addr: addr, Name: name, Created: now, Updated: now}
	if err := t.b(iUserAddr).Put([]byte(addr), u64(seq)); err != nil {
		return nil, err
	}
	return u, nil
}

// PutUser stores a changed user. A user given another address is
// indexed under the new one only (as PostgreSQL's unique addr column
// does): the old address then finds nobody and may be given to someone
// else.
func (t *Tx) PutUser(u *model.User) error {
	if v := t.get(t.b(iUserAddr), []byte(u.Addr)); v == nil || binary.BigEndian.Uint64(v) != u.ID {
		if err := t.moveUserAddr(u); err != nil {
			return err
		}
	}
	if err := putJSON(t.b(bUsers), u64(u.ID), u); err != nil {
		return err
	}
	t.keepUser(cloneUser(u))
	return nil
}

// moveUserAddr indexes u under its address, which is not yet its key,
// and drops the key of the address it had.
func (t *Tx) moveUserAddr(u *model.User) error {
	idx := t.b(iUserAddr)
	if v := t.get(idx, []byte(u.Addr)); v != nil {
		return fmt.Errorf("storing user %d: %s belongs to user %d", u.ID, u.Addr, binary.BigEndian.Uint64(v))
	}
	old, err := t.userByID(u.ID)
	switch {
	case err == nil:
		if v := t.get(idx, []byte(old.Addr)); v != nil && binary.BigEndian.Uint64(v) == u.ID {
			if err := idx.Delete([]byte(old.Addr)); err != nil {
				return err
			}
		}
	case err != store.ErrNotFound:
		return err
	}
	return idx.Put([]byte(u.Addr), u64(u.ID))
}
