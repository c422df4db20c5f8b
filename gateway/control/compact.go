package control

import (
	"net/http"

	"helpdesk/store"
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
}
