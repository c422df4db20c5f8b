package control

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"helpdesk/config"
	"helpdesk/gateway/engine"
	"helpdesk/store"
	"helpdesk/threading"
)

// CustomerAPI is what the CLI can do with customer profiles (SPEC 8).
type CustomerAPI interface {
	// Customer is the profile an address belongs to, with timeline page
	// page (1: the newest 10).
	Customer(addr string, page int) (*engine.CustomerProfile, error)
	// Customers lists profiles newest first, of one organization (""
	// all), at most limit (0: all).
	Customers(org string, limit int) ([]engine.CustomerSummary, error)
	// MergeCustomers merges the profile of drop into keep's.
	MergeCustomers(keep, drop string) (*engine.CustomerProfile, error)
}

// norm is an address in comparison form.
func norm(addr string) string { return threading.NormalizeAddr(addr) }

func (l *Local) config() *config.Config {
	if l.Engine != nil {
		return l.Engine.Config()
	}
	return l.Config
}

// backfilled builds the profiles of a store written before them when
// the CLI holds it without a daemon (the daemon does it at start).
func (l *Local) backfilled() error {
	if l.Engine == nil {
		return nil
	}
	_, err := l.Engine.Backfill(nil)
	return err
}

// Customer reads a profile.
func (l *Local) Customer(addr string, page int) (*engine.CustomerProfile, error) {
	if err := l.backfilled(); err != nil {
		return nil, err
	}
	var p *engine.CustomerProfile
	err := l.DB.View(func(tx store.Tx) error {
		var err error
		p, err = engine.ProfileOf(tx, l.config(), norm(addr), page)
		return err
	})
	return p, err
}

// Customers lists profiles.
func (l *Local) Customers(org string, limit int) ([]engine.CustomerSummary, error) {
	if err := l.backfilled(); err != nil {
		return nil, err
	}
	var out []engine.CustomerSummary
	err := l.DB.View(func(tx store.Tx) error {
		var err error
		out, err = engine.Customers(tx, org, limit)
		return err
	})
	return out, err
}

// MergeCustomers merges two profiles (an admin's act at the console).
func (l *Local) MergeCustomers(keep, drop string) (*engine.CustomerProfile, error) {
	if l.Engine == nil {
		return nil, fmt.Errorf("merging customers needs a writable store")
	}
	if err := l.backfilled(); err != nil {
		return nil, err
	}
	return l.Engine.MergeCustomers(norm(keep), norm(drop), "helpdesk customer merge")
}

func customerRoutes(mux *http.ServeMux, api API) {
	mux.HandleFunc("GET /customer", func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		v, err := api.Customer(r.URL.Query().Get("addr"), page)
		reply(w, v, err)
	})
	mux.HandleFunc("GET /customers", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		v, err := api.Customers(r.URL.Query().Get("org"), n)
		reply(w, v, err)
	})
	mux.HandleFunc("POST /customer/merge", func(w http.ResponseWriter, r *http.Request) {
		v, err := api.MergeCustomers(r.URL.Query().Get("keep"), r.URL.Query().Get("drop"))
		reply(w, v, err)
	})
}

func (c *Client) Customer(addr string, page int) (*engine.CustomerProfile, error) {
	var v engine.CustomerProfile
	if err := c.call("GET", "/customer", url.Values{"addr": {addr}, "page": {strconv.Itoa(page)}}, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func (c *Client) Customers(org string, limit int) ([]engine.CustomerSummary, error) {
	var v []engine.CustomerSummary
	err := c.call("GET", "/customers", url.Values{"org": {org}, "limit": {strconv.Itoa(limit)}}, nil, &v)
	return v, err
}

func (c *Client) MergeCustomers(keep, drop string) (*engine.CustomerProfile, error) {
	var v engine.CustomerProfile
	if err := c.call("POST", "/customer/merge", url.Values{"keep": {keep}, "drop": {drop}}, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
