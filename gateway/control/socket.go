package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"helpdesk/config"
	"helpdesk/gateway/engine"
	"helpdesk/gateway/report"
	"helpdesk/store"
	"helpdesk/store/model"
)

// maxSocketPath is the longest unix socket path Linux takes (sun_path is
// 108 bytes with the terminating NUL).
const maxSocketPath = 107

// Serve serves api on a unix socket in dataDir (mode 0600: only the
// daemon's user may administer it, SPEC 5). It returns the server to
// shut down.
func Serve(dataDir string, api API) (*http.Server, error) {
	path := filepath.Join(dataDir, SocketName)
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("data_dir: the control socket %s is %d bytes long, and a unix socket path may have at most %d: choose a shorter data_dir", path, len(path), maxSocketPath)
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("another daemon is serving %s", path)
	}
	os.Remove(path) // a stale socket of a crashed daemon
	// Create it 0600 from the start (no window with a wider mode).
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	srv := &http.Server{Handler: Handler(api), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return srv, nil
}

// Handler exposes api over HTTP.
func Handler(api API) http.Handler {
	mux := http.NewServeMux()
	id := func(r *http.Request) (uint64, error) {
		return strconv.ParseUint(r.URL.Query().Get("id"), 10, 64)
	}
	limit := func(r *http.Request) int {
		n, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		return n
	}
	mux.HandleFunc("GET /tickets", func(w http.ResponseWriter, r *http.Request) {
		v, err := api.Tickets(r.URL.Query().Get("status"), limit(r))
		reply(w, v, err)
	})
	mux.HandleFunc("GET /view", func(w http.ResponseWriter, r *http.Request) {
		v, err := api.View(r.URL.Query().Get("name"), limit(r))
		reply(w, v, err)
	})
	mux.HandleFunc("GET /show", func(w http.ResponseWriter, r *http.Request) {
		n, err := id(r)
		if err != nil {
			reply(w, nil, fmt.Errorf("bad ticket id: %w", err))
			return
		}
		v, err := api.Show(n)
		reply(w, v, err)
	})
	mux.HandleFunc("GET /sla", func(w http.ResponseWriter, r *http.Request) {
		n, err := id(r)
		if err != nil {
			reply(w, nil, fmt.Errorf("bad ticket id: %w", err))
			return
		}
		v, err := api.SLA(n)
		reply(w, v, err)
	})
	mux.HandleFunc("POST /inject", func(w http.ResponseWriter, r *http.Request) {
		raw, o, err := mailRequest(r)
		if err != nil {
			reply(w, nil, err)
			return
		}
		v, err := api.Inject(raw, o)
		reply(w, v, err)
	})
	mux.HandleFunc("POST /explain", func(w http.ResponseWriter, r *http.Request) {
		raw, o, err := mailRequest(r)
		if err != nil {
			reply(w, nil, err)
			return
		}
		v, err := api.Explain(raw, o)
		reply(w, v, err)
	})
	mux.HandleFunc("GET /outbox", func(w http.ResponseWriter, r *http.Request) {
		v, err := api.Outbox(limit(r))
		reply(w, v, err)
	})
	mux.HandleFunc("GET /webhooks", func(w http.ResponseWriter, r *http.Request) {
		v, err := api.Webhooks(limit(r))
		reply(w, v, err)
	})
	mux.HandleFunc("POST /outbox/retry", func(w http.ResponseWriter, r *http.Request) {
		var ids []uint64
		for _, x := range r.URL.Query()["id"] {
			n, err := strconv.ParseUint(x, 10, 64)
			if err != nil {
				reply(w, nil, fmt.Errorf("bad outbox item id %q: %w", x, err))
				return
			}
			ids = append(ids, n)
		}
		n, err := api.OutboxRetry(ids, r.URL.Query().Get("failed") == "1")
		reply(w, n, err)
	})
	mux.HandleFunc("GET /quarantine", func(w http.ResponseWriter, r *http.Request) {
		v, err := api.Quarantine(limit(r))
		reply(w, v, err)
	})
	mux.HandleFunc("GET /quarantine/show", func(w http.ResponseWriter, r *http.Request) {
		n, err := id(r)
		if err != nil {
			reply(w, nil, err)
			return
		}
		v, err := api.QuarantineShow(n)
		reply(w, v, err)
	})
	mux.HandleFunc("POST /quarantine/release", func(w http.ResponseWriter, r *http.Request) {
		n, err := id(r)
		if err != nil {
			reply(w, nil, err)
			return
		}
		v, err := api.Release(n)
		reply(w, v, err)
	})
	mux.HandleFunc("POST /rotate-key", func(w http.ResponseWriter, r *http.Request) {
		n, err := api.RotateKey()
		reply(w, n, err)
	})
	mux.HandleFunc("GET /automations", func(w http.ResponseWriter, r *http.Request) {
		at, err := time.Parse(time.RFC3339Nano, r.URL.Query().Get("at"))
		if err != nil {
			reply(w, nil, fmt.Errorf("bad instant: %w", err))
			return
		}
		v, err := api.Automations(at)
		reply(w, v, err)
	})
	mux.HandleFunc("GET /clock", func(w http.ResponseWriter, r *http.Request) {
		v, err := api.Clock()
		reply(w, v, err)
	})
	mux.HandleFunc("POST /clock/set", func(w http.ResponseWriter, r *http.Request) {
		at, err := time.Parse(time.RFC3339Nano, r.URL.Query().Get("at"))
		if err != nil {
			reply(w, nil, fmt.Errorf("bad instant: %w", err))
			return
		}
		v, err := api.SetClock(at)
		reply(w, v, err)
	})
	mux.HandleFunc("POST /clock/advance", func(w http.ResponseWriter, r *http.Request) {
		d, err := config.ParseDuration(r.URL.Query().Get("by"))
		if err != nil {
			reply(w, nil, fmt.Errorf("bad duration: %w", err))
			return
		}
		v, err := api.AdvanceClock(d)
		reply(w, v, err)
	})
	customerRoutes(mux, api)
	mux.HandleFunc("GET /report", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		v, err := api.Report(q.Get("period"), q.Get("by"))
		reply(w, v, err)
	})
	mux.HandleFunc("GET /export", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		from, err1 := time.Parse(time.RFC3339Nano, q.Get("from"))
		to, err2 := time.Parse(time.RFC3339Nano, q.Get("to"))
		if err := errors.Join(err1, err2); err != nil {
			reply(w, nil, fmt.Errorf("bad period: %w", err))
			return
		}
		w.Header().Set("Trailer", "X-Export-Error, X-Export-Tickets")
		n, err := api.Export(w, from, to, q.Get("format"))
		if err != nil {
			w.Header().Set("X-Export-Error", err.Error())
		}
		w.Header().Set("X-Export-Tickets", strconv.Itoa(n))
	})
	mux.HandleFunc("GET /backup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-tar")
		// Errors after the first byte cannot change the status: the
		// trailer tells the client whether the archive is complete.
		w.Header().Set("Trailer", "X-Backup-Error, X-Backup-Files")
		n, err := api.Backup(w)
		if err != nil {
			w.Header().Set("X-Backup-Error", err.Error())
		}
		w.Header().Set("X-Backup-Files", strconv.Itoa(n))
	})
	handleStoreUpkeep(mux, api)
	return mux
}

type errorBody struct {
	Error    string `json:"error"`
	NotFound bool   `json:"not_found,omitempty"`
	NoUser   bool   `json:"no_such_mailbox,omitempty"`
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(errorBody{Error: err.Error(), NotFound: errors.Is(err, store.ErrNotFound), NoUser: errors.Is(err, engine.ErrNoSuchMailbox)})
		return
	}
	json.NewEncoder(w).Encode(v)
}

// Client talks to a running daemon.
type Client struct {
	hc *http.Client
}

// Dial returns a client when a daemon serves dataDir's socket, else an
// error (the caller then opens the store itself).
func Dial(dataDir string) (*Client, error) {
	path := filepath.Join(dataDir, SocketName)
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil, err
	}
	c.Close()
	return &Client{hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}, nil
}

func (c *Client) call(method, path string, q url.Values, body io.Reader, out any) error {
	u := "http://helpdesk" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("talking to the daemon: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var eb errorBody
		json.NewDecoder(resp.Body).Decode(&eb)
		if eb.NotFound {
			return fmt.Errorf("%s: %w", eb.Error, store.ErrNotFound)
		}
		if eb.NoUser {
			return fmt.Errorf("%s: %w", eb.Error, engine.ErrNoSuchMailbox)
		}
		return errors.New(eb.Error)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (c *Client) Tickets(status string, limit int) ([]TicketSummary, error) {
	var v []TicketSummary
	err := c.call("GET", "/tickets", url.Values{"status": {status}, "limit": {strconv.Itoa(limit)}}, nil, &v)
	return v, err
}

func (c *Client) View(name string, limit int) ([]TicketSummary, error) {
	var v []TicketSummary
	err := c.call("GET", "/view", url.Values{"name": {name}, "limit": {strconv.Itoa(limit)}}, nil, &v)
	return v, err
}

func (c *Client) Show(id uint64) (*TicketView, error) {
	var v TicketView
	if err := c.call("GET", "/show", url.Values{"id": {strconv.FormatUint(id, 10)}}, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func (c *Client) SLA(id uint64) (*SLAView, error) {
	var v SLAView
	if err := c.call("GET", "/sla", url.Values{"id": {strconv.FormatUint(id, 10)}}, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func (c *Client) Inject(raw []byte, opt engine.InjectOptions) (engine.Result, error) {
	var v engine.Result
	q := url.Values{}
	if opt.TrustAuthRes {
		q.Set("trust_authres", "1")
	}
	q["rcpt"] = opt.Rcpts
	if opt.HasSender {
		q.Set("sender", opt.Sender)
	}
	err := c.call("POST", "/inject", q, bytes.NewReader(raw), &v)
	return v, err
}

func (c *Client) Explain(raw []byte, opt engine.InjectOptions) (*engine.Explanation, error) {
	var v engine.Explanation
	q := url.Values{}
	if opt.TrustAuthRes {
		q.Set("trust_authres", "1")
	}
	q["rcpt"] = opt.Rcpts
	if opt.HasSender {
		q.Set("sender", opt.Sender)
	}
	if err := c.call("POST", "/explain", q, bytes.NewReader(raw), &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func (c *Client) Outbox(limit int) (*OutboxView, error) {
	var v OutboxView
	if err := c.call("GET", "/outbox", url.Values{"limit": {strconv.Itoa(limit)}}, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func (c *Client) Webhooks(limit int) (*WebhooksView, error) {
	var v WebhooksView
	if err := c.call("GET", "/webhooks", url.Values{"limit": {strconv.Itoa(limit)}}, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func (c *Client) OutboxRetry(ids []uint64, allFailed bool) (int, error) {
	q := url.Values{}
	for _, id := range ids {
		q.Add("id", strconv.FormatUint(id, 10))
	}
	if allFailed {
		q.Set("failed", "1")
	}
	var n int
	err := c.call("POST", "/outbox/retry", q, nil, &n)
	return n, err
}

func (c *Client) Quarantine(limit int) ([]model.Quarantine, error) {
	var v []model.Quarantine
	err := c.call("GET", "/quarantine", url.Values{"limit": {strconv.Itoa(limit)}}, nil, &v)
	return v, err
}

func (c *Client) QuarantineShow(id uint64) (*QuarantineView, error) {
	var v QuarantineView
	if err := c.call("GET", "/quarantine/show", url.Values{"id": {strconv.FormatUint(id, 10)}}, nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func (c *Client) Release(id uint64) (engine.Result, error) {
	var v engine.Result
	err := c.call("POST", "/quarantine/release", url.Values{"id": {strconv.FormatUint(id, 10)}}, nil, &v)
	return v, err
}

func (c *Client) RotateKey() (int, error) {
	var n int
	err := c.call("POST", "/rotate-key", nil, nil, &n)
	return n, err
}

func (c *Client) Backup(w io.Writer) (int, error) {
	resp, err := c.hc.Get("http://helpdesk/backup")
	if err != nil {
		return 0, fmt.Errorf("talking to the daemon: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return 0, err
	}
	if e := resp.Trailer.Get("X-Backup-Error"); e != "" {
		return 0, errors.New(e)
	}
	n, _ := strconv.Atoi(resp.Trailer.Get("X-Backup-Files"))
	if n == 0 {
		return 0, errors.New("backup incomplete: the daemon did not confirm the archive")
	}
	return n, nil
}

// Automations lists the automations that would fire up to at.
func (c *Client) Automations(at time.Time) ([]engine.AutomationPreview, error) {
	var v []engine.AutomationPreview
	err := c.call("GET", "/automations", url.Values{"at": {at.Format(time.RFC3339Nano)}}, nil, &v)
	return v, err
}

func (c *Client) Report(period, by string) (*report.Report, error) {
	var v report.Report
	err := c.call("GET", "/report", url.Values{"period": {period}, "by": {by}}, nil, &v)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

func (c *Client) Export(w io.Writer, from, to time.Time, format string) (int, error) {
	q := url.Values{"from": {from.Format(time.RFC3339Nano)}, "to": {to.Format(time.RFC3339Nano)}, "format": {format}}
	resp, err := c.hc.Get("http://helpdesk/export?" + q.Encode())
	if err != nil {
		return 0, fmt.Errorf("talking to the daemon: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		json.NewDecoder(resp.Body).Decode(&e)
		return 0, errors.New(e.Error)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return 0, err
	}
	if e := resp.Trailer.Get("X-Export-Error"); e != "" {
		return 0, errors.New(e)
	}
	n, err := strconv.Atoi(resp.Trailer.Get("X-Export-Tickets"))
	if err != nil {
		return 0, errors.New("export incomplete: the daemon did not confirm it")
	}
	return n, nil
}

func (c *Client) Clock() (ClockView, error) {
	var v ClockView
	err := c.call("GET", "/clock", nil, nil, &v)
	return v, err
}

func (c *Client) SetClock(at time.Time) (ClockView, error) {
	var v ClockView
	err := c.call("POST", "/clock/set", url.Values{"at": {at.Format(time.RFC3339Nano)}}, nil, &v)
	return v, err
}

func (c *Client) AdvanceClock(d time.Duration) (ClockView, error) {
	var v ClockView
	err := c.call("POST", "/clock/advance", url.Values{"by": {d.String()}}, nil, &v)
	return v, err
}

// mailRequest reads the mail and the envelope of an inject or explain
// request: the body (at most 256 MiB) and the query's trust_authres,
// rcpt and sender.
func mailRequest(r *http.Request) ([]byte, engine.InjectOptions, error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 256<<20))
	if err != nil {
		return nil, engine.InjectOptions{}, err
	}
	q := r.URL.Query()
	return raw, engine.InjectOptions{TrustAuthRes: q.Get("trust_authres") == "1",
		Rcpts: q["rcpt"], Sender: q.Get("sender"), HasSender: q.Has("sender")}, nil
}
