package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"helpdesk/store"
	"helpdesk/store/bolt"
	"helpdesk/store/model"
)

// PrefillOptions shape a pre-filled store.
type PrefillOptions struct {
	Tickets int
	// Batch is the number of tickets per transaction (default 5000).
	Batch int
	// BodyBytes is the size of each ticket's stored raw message (default
	// 1024: the store grows by what a ticket costs without multiplying the
	// file by the mail sizes of the run).
	BodyBytes int
	// Open, when set, makes the newest Open tickets open (instead of
	// the newest 1% in various statuses).
	Open int
	// Progress, if set, is called after every transaction.
	Progress func(done int, elapsed time.Duration)
}

// Prefill writes n tickets straight into the store in dir (no daemon may
// run on it), each with what a real mail-opened ticket leaves behind: the
// requester's user record and address index, the raw message with its
// record and dedupe key, the comment, the Message-ID index entries, the
// status and requester indexes, the acknowledgement and the assignee's
// notification as sent outbound items with their Message-IDs indexed, and
// the ack and fan-out rate-limit keys. Customers have three tickets each;
// the tickets span three years and all but the newest 1% are closed, as
// in an old store.
func Prefill(dir string, o PrefillOptions) (time.Duration, error) {
	if o.Batch <= 0 {
		o.Batch = 5000
	}
	if o.BodyBytes <= 0 {
		o.BodyBytes = 1024
	}
	body := lorem(9, o.BodyBytes)
	base := time.Now().Add(-3 * 365 * 24 * time.Hour)
	step := 3 * 365 * 24 * time.Hour / time.Duration(max(o.Tickets, 1))
	return fillStore(dir, o.Tickets, o.Batch, func(tx store.Tx, i int) error {
		return prefillOne(tx, i, o.Tickets, o.Open, body, base.Add(time.Duration(i)*step))
	}, nil, o.Progress)
}

// fillStore writes tickets into the bbolt store in dir (no daemon may run
// on it) from the number it holds up to n, batch to a transaction, each by
// put; last, when set, runs in the transaction that writes ticket n-1.
// progress, when set, is called after every transaction. A store that
// holds n tickets is left as it is.
func fillStore(dir string, n, batch int, put func(tx store.Tx, i int) error, last func(tx store.Tx) error, progress func(done int, elapsed time.Duration)) (time.Duration, error) {
	start := time.Now()
	db, err := bolt.Open(dir, bolt.Options{})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var existing int
	db.View(func(tx store.Tx) error { existing = tx.TicketCount(); return nil })
	for done := existing; done < n; {
		k := min(batch, n-done)
		first := done
		err := db.Update(func(tx store.Tx) error {
			for i := first; i < first+k; i++ {
				if err := put(tx, i); err != nil {
					return fmt.Errorf("ticket %d: %w", i, err)
				}
			}
			if last != nil && first+k == n {
				return last(tx)
			}
			return nil
		})
		if err != nil {
			return time.Since(start), err
		}
		done += k
		if progress != nil {
			progress(done, time.Since(start))
		}
	}
	return time.Since(start), db.Close()
}

// recentStatus cycles over the newest 1% of pre-filled tickets; older
// ones are closed, as the lifecycle sweep (auto_close_after) leaves them.
var recentStatus = []string{model.StatusOpen, model.StatusPending, model.StatusWaitingCustomer, model.StatusResolved}

func prefillOne(tx store.Tx, i, total, open int, body string, at time.Time) error {
	requester := fmt.Sprintf("p%d@prefill%d.example", i/3, (i/3)%500)
	name := fmt.Sprintf("Prefill Customer %d", i/3)
	msgID := fmt.Sprintf("prefill.%d@client.example", i)
	raw := fmt.Sprintf("From: %s <%s>\r\nTo: %s\r\nSubject: Old request %d\r\nMessage-ID: <%s>\r\n\r\n%s",
		name, requester, benchMailbox, i, msgID, body)
	sum := sha256.Sum256([]byte(body))
	if _, err := tx.EnsureUser(requester, name); err != nil {
		return err
	}
	m := &model.Message{Received: at, MailFrom: requester, Rcpts: []string{benchMailbox}, Size: int64(len(raw)),
		MessageID: msgID, BodyHash: hex.EncodeToString(sum[:]), Class: "human", RemoteIP: "127.0.0.1"}
	if err := tx.AddMessage(m, []byte(raw)); err != nil {
		return err
	}
	agent := benchAgents[i%len(benchAgents)]
	tk := &model.Ticket{
		Subject: fmt.Sprintf("Old request %d", i), Status: model.StatusClosed, Priority: "normal",
		Mailbox: benchMailbox, Group: "support", Requester: requester, Assignee: agent.Email, RootMessageID: msgID,
		Threads: []model.Thread{{ID: 0, Kind: model.ThreadMain, Created: at}},
		CCs:     []string{}, Followers: []string{}, Tags: []string{}, Links: []model.Link{},
		Created: at, AckSent: true,
	}
	switch {
	case open > 0 && i >= total-open:
		tk.Status = model.StatusOpen
	case open == 0 && i >= total-total/100:
		tk.Status = recentStatus[i%len(recentStatus)]
	}
	if tk.Status == model.StatusClosed || tk.Status == model.StatusResolved {
		resolved := at.Add(24 * time.Hour)
		tk.ResolvedAt = &resolved
		if tk.Status == model.StatusClosed {
			closed := resolved.Add(5 * 24 * time.Hour)
			tk.ClosedAt = &closed
		}
	}
	if err := tx.NewTicket(tk); err != nil {
		return err
	}
	c := &model.Comment{Kind: model.KindComment, Author: requester, AuthorName: name, Visibility: model.Public,
		Text: body, Created: at, MessageID: msgID, Message: m.ID, Recipients: []string{benchMailbox}}
	if err := tx.AddComment(tk, c); err != nil {
		return err
	}
	if err := tx.AddComment(tk, &model.Comment{Kind: model.KindEvent, Author: requester, Visibility: model.Private,
		Text: "assigned to " + agent.Email + " (round-robin)", Created: at, Message: m.ID}); err != nil {
		return err
	}
	if _, err := tx.RateAllow("ack:"+requester, time.Hour, 5); err != nil {
		return err
	}
	if _, err := tx.RateAllow(fmt.Sprintf("fan:%d:%s", tk.ID, requester), time.Hour, 10); err != nil {
		return err
	}
	for k, rcpt := range []string{requester, agent.Email} {
		u, err := tx.EnsureUser(rcpt, "")
		if err != nil {
			return err
		}
		kind := "ack"
		if k == 1 {
			kind = "notification"
		}
		id := fmt.Sprintf("hd.%d.prefill%d.%d@helpdesk.bench", tk.ID, i, k)
		ob := &model.Outbound{Ticket: tk.ID, Kind: kind, MailFrom: benchMailbox, Rcpt: rcpt, From: benchMailbox,
			To: []string{rcpt}, Subject: "[#" + fmt.Sprint(tk.ID) + "] " + tk.Subject, MessageID: id, InReplyTo: msgID,
			Text: "We received your request.", Created: at}
		if err := tx.Enqueue(ob); err != nil {
			return err
		}
		prev := ob.NextAttempt
		ob.State, ob.Attempts, ob.Done = model.OutSent, 1, at
		if err := tx.PutOutbound(ob, prev); err != nil {
			return err
		}
		if err := tx.IndexMessageID(id, model.Ref{Ticket: tk.ID, Comment: c.ID, Outbound: true, Party: u.ID, Private: k == 1}); err != nil {
			return err
		}
	}
	if err := tx.PutTicket(tk); err != nil {
		return err
	}
	if err := tx.IndexMessageID(msgID, model.Ref{Ticket: tk.ID, Comment: c.ID}); err != nil {
		return err
	}
	m.Ticket, m.Comment, m.Disposition = tk.ID, c.ID, model.DispTicket
	return tx.PutMessage(m)
}
