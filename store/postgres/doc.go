// Package postgres is the PostgreSQL storage engine (issue 18): the
// store's interfaces over real tables (tickets, comments, messages and
// their raw bytes, users, the outbound and webhook queues, quarantine,
// rate windows, counters), created and migrated by the binary
// (schema.go; `helpdesk migrate-schema`), readable with psql: every record
// is a row with its indexed fields as columns and the whole record as a
// json column. An outbound queue item is the exception that is written
// most: its record (the mail) is written once, when it is queued, and its
// claims and outcome go to the columns and the progress column, whose
// JSON fields override the record's when it is read (outData), so a mail
// sent costs one record written, not three.
//
// # Writes
//
// Update keeps the bbolt engine's contract: one goroutine per process
// groups concurrent Updates into one PostgreSQL transaction (one commit,
// one WAL flush for many mails), and a request that fails is rolled back
// alone. Every write transaction first takes one transaction-scoped
// advisory lock, so writes of several daemons on one database are
// serialized exactly as the single bbolt writer serializes them: ticket
// numbers come from the sequences table without gaps or collisions, the
// duplicate check and the insert of a message's identity cannot race
// (the identity is also the unique index messages_identity, so a second
// copy is refused by the database too: store.ErrDuplicate), and rate
// windows, acknowledgement limits and round-robin positions are one shared
// state. A request's writes are kept in the transaction's memory and sent
// in one pipelined batch when it ends (or before a query that must see
// them), as multi-row INSERTs per table, so a mail costs the round trips
// of its reads, not of its writes.
//
// The reads are cut too (tryCommit): a commit begins, takes the lock,
// reads the write generation, the sequences and the rows the group's
// requests named (store.Hints: the duplicate check, the sender's user and
// profile, the threads referred to, the queue items settled) in one
// pipelined batch, and ends with its writes and the COMMIT in another.
// The writer keeps what it read and wrote (sequences, counters, the key
// ring, rate windows, users) from commit to commit: every commit numbers
// itself (meta write_seq) and lists in the write log (table write_log)
// the keys of such rows it wrote; a writer that finds commits of another
// process after its own drops only the rows they name (with two daemons
// on one database, the other's mails touch few of them: the agents,
// counters and key ring stay cached), and everything when the log does
// not reach back (pruned after 1,024 commits) or names a statement not
// by key. Every write to the tables goes through a writer; a tool that
// writes otherwise (the import) deletes the number.
//
// # Bodies
//
// Large bodies (above smtp.spool_threshold) are spooled to a temporary
// file while they stream in and committed into the blobs table before the
// record naming them: no node-local files, any daemon serves any ticket.
package postgres
