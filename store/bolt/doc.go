// Package bolt is the embedded storage engine: everything durable in one
// bbolt file under data_dir (tickets, comments, raw messages, users,
// indexes, the outbound queue and quarantine), large raw messages as
// fsync'd content-addressed files under data_dir/blobs. It implements
// package store's interfaces; its tuning (group commit, the Coming hook,
// bbolt options) is set when it is opened and is no part of them.
//
// Writes go through one writer goroutine that commits whatever requests are
// queued in a single transaction: many SMTP sessions share one fsync, and a
// lone sender is never held back by a timer (group commit without delay).
// Each request's function may run more than once (when another request in
// its group fails, the group is retried without it), so functions must not
// have effects outside the transaction.
//
// The record files are one per record type: tickets.go (tickets and
// comments), messages.go (messages and the Message-ID index), users.go,
// outbox.go, quarantine.go, keys.go, rates.go; tx.go is what they share.
package bolt
