package bench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"helpdesk/store/bolt"
	"helpdesk/store/postgres"

	"github.com/emersion/go-smtp"
)

// Reference is the bench's yardstick: a minimal go-smtp server that stores
// each raw message in bbolt with the commit strategy of helpdesk's store
// (store/bolt/store.go writer and commit): one writer goroutine takes whatever
// requests are queued (at most 512), commits them in one transaction with
// one fsync, and only then answers 250. It does nothing else: no parsing,
// no threading, no indexes, no outbound mail.
type Reference struct {
	db   rawLog
	srv  *smtp.Server
	reqs chan *refReq
	wg   sync.WaitGroup
	once sync.Once
	// Addr is where it listens.
	Addr string
}

type refReq struct {
	raw  []byte
	done chan error
}

// refMaxBatch is bolt.Options.MaxBatch's default.
const refMaxBatch = bolt.DefaultMaxBatch

// rawLog is where the reference appends raw messages: bbolt or
// PostgreSQL, as the store under test.
type rawLog interface {
	Append(raws [][]byte) error
	Count() int
	Close() error
}

// StartReference opens (creating) dir/reference.db with the same bbolt
// options as the store, or with dsn a table in that PostgreSQL database,
// and serves SMTP on listen (e.g. "127.0.0.1:0").
func StartReference(dir, dsn, listen string, maxMessageBytes int64) (*Reference, error) {
	var db rawLog
	var err error
	if dsn != "" {
		db, err = postgres.OpenRawLog(dsn)
	} else {
		db, err = bolt.OpenRawLog(dir, "reference.db")
	}
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		db.Close()
		return nil, err
	}
	r := &Reference{db: db, reqs: make(chan *refReq, 4096), Addr: ln.Addr().String()}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &refSession{r: r}, nil }))
	srv.Domain = "reference.bench"
	srv.MaxMessageBytes = maxMessageBytes
	srv.MaxRecipients = 100
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.ErrorLog = nopLogger{}
	r.srv = srv
	r.wg.Add(2)
	go r.writer()
	go func() { defer r.wg.Done(); srv.Serve(ln) }()
	return r, nil
}

// Close stops serving, commits what is queued and closes the database.
func (r *Reference) Close() error {
	var err error
	r.once.Do(func() {
		r.srv.Close()
		close(r.reqs)
		r.wg.Wait()
		err = r.db.Close()
	})
	return err
}

// Count is the number of stored messages.
func (r *Reference) Count() int {
	return r.db.Count()
}

func (r *Reference) writer() {
	defer r.wg.Done()
	batch := make([]*refReq, 0, refMaxBatch)
	for {
		q, ok := <-r.reqs
		if !ok {
			return
		}
		batch = append(batch[:0], q)
	drain:
		for len(batch) < refMaxBatch {
			select {
			case q, ok := <-r.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, q)
			default:
				break drain
			}
		}
		raws := make([][]byte, len(batch))
		for i, q := range batch {
			raws[i] = q.raw
		}
		err := r.db.Append(raws)
		for _, q := range batch {
			q.done <- err
		}
	}
}

var errRefClosed = errors.New("reference: closed")

func (r *Reference) store(raw []byte) (err error) {
	defer func() {
		if recover() != nil { // send on a closed channel during Close
			err = errRefClosed
		}
	}()
	q := &refReq{raw: raw, done: make(chan error, 1)}
	r.reqs <- q
	return <-q.done
}

type refSession struct{ r *Reference }

func (s *refSession) Reset()        {}
func (s *refSession) Logout() error { return nil }
func (s *refSession) Mail(string, *smtp.MailOptions) error {
	return nil
}
func (s *refSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *refSession) Data(rd io.Reader) error {
	var b bytes.Buffer
	if _, err := b.ReadFrom(rd); err != nil {
		return err
	}
	if err := s.r.store(b.Bytes()); err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: fmt.Sprint("store: ", err)}
	}
	return nil
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...interface{}) {}
func (nopLogger) Println(...interface{})        {}
