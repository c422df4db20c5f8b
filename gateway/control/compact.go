package control

import (
	"fmt"
	"net/http"
	"net/url"

	"helpdesk/gateway/engine"
	"helpdesk/store"
	"helpdesk/store/model"
)

// Compact rewrites the store without free space (store.Store.Compact):
// online, writes wait for it.
func (l *Local) Compact() (store.CompactResult, error) { return l.DB.Compact() }

// Compact asks the daemon to compact its store.
func (c *Client) Compact() (store.CompactResult, error) {
	var v store.CompactResult
	err := c.call("POST", "/compact", nil, nil, &v)
	return v, err
}

// handleStoreUpkeep adds the routes of compaction, erasure and
// retention.
func handleStoreUpkeep(mux *http.ServeMux, api API) {
	mux.HandleFunc("POST /compact", func(w http.ResponseWriter, r *http.Request) {
		v, err := api.Compact()
		reply(w, v, err)
	})
	mux.HandleFunc("POST /customer/erase", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		v, err := api.Erase(q.Get("addr"), q.Get("by"), q.Get("dry") == "1")
		reply(w, v, err)
	})
	mux.HandleFunc("GET /erasures", func(w http.ResponseWriter, r *http.Request) {
		v, err := api.Erasures()
		reply(w, v, err)
	})
}

// Erase erases a customer (engine.Erase); dry only counts.
func (l *Local) Erase(addr, by string, dry bool) (*engine.EraseResult, error) {
	if l.Engine == nil {
		return nil, fmt.Errorf("erase needs a writable store")
	}
	return l.Engine.Erase(addr, by, "cli", dry)
}

// Erasures lists the erasure records, oldest first.
func (l *Local) Erasures() ([]*model.Erasure, error) {
	var out []*model.Erasure
	err := l.DB.View(func(tx store.Tx) error {
		var err error
		out, err = tx.Erasures()
		return err
	})
	if out == nil {
		out = []*model.Erasure{}
	}
	return out, err
}

// Erase asks the daemon to erase a customer.
func (c *Client) Erase(addr, by string, dry bool) (*engine.EraseResult, error) {
	var v engine.EraseResult
	q := url.Values{"addr": {addr}, "by": {by}}
	if dry {
		q.Set("dry", "1")
	}
	err := c.call("POST", "/customer/erase", q, nil, &v)
	return &v, err
}

// Erasures lists the daemon's erasure records.
func (c *Client) Erasures() ([]*model.Erasure, error) {
	var v []*model.Erasure
	err := c.call("GET", "/erasures", nil, nil, &v)
	return v, err
}
