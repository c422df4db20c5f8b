// Package store is the seam between the helpdesk and its storage engine:
// the interfaces every engine implements, grouped by role (Tickets,
// Messages, Users, OutboundQueue, Quarantine, Keys, Rates, in one Tx per
// Update or View; Blobs and Spool for raw mail), the errors they return,
// and the conformance suite any engine runs (package store/storetest).
// The records themselves are package store/model; the embedded engine is
// package store/bolt (one bbolt file under data_dir), opened by the
// daemon's opener from the configuration. Nothing above this package
// names an engine.
//
// # SPEC 11: Guarantees
//
// What the code guarantees, and where:
//
//   - Stored before 250. The SMTP server (package gateway) answers 250 to
//     DATA only after the mail's raw bytes and every effect of it (ticket
//     changes, queued outbound mail) are committed in one transaction of
//     this store and fsync'd; a body above smtp.spool_threshold is first
//     written to its own blob file and fsync'd. A failed commit answers
//     451, so the sending MTA retries; /healthz then answers 503 naming
//     the failure. A SIGKILL at any moment loses nothing that got 250 (the
//     crash drill, package gateway/internal/crashdrill, checks it), and
//     power loss nothing as far as the disk honours fsync.
//   - Any bytes the SMTP layer accepts are stored raw. Parsing never fails
//     (package threading): a mail that cannot be parsed fully is applied
//     with what could be read, its problems are kept on the message
//     record, and the raw bytes stay in the store; a mail with no usable
//     sender at all becomes a ticket from "unknown-sender@invalid" rather
//     than a 451.
//   - Limits are enforced while the mail streams in (package gateway:
//     size, line length, header block, recipients, time for the whole
//     DATA), before it is parsed or held in memory whole, and the bytes
//     being parsed at once are bounded by smtp.parse_budget (SPEC 10).
//   - Applied once. The duplicate check of SPEC 3.6 runs in the same
//     write that would store the mail, so the same mail arriving twice,
//     even at the same time, runs its commands and sends its mail once.
//     A request's function may run more than once inside the writer
//     (group retry), which is why it has no effects outside the
//     transaction.
//   - Outbound mail is queued in the same transaction as the change that
//     causes it, so it survives restarts. Delivery to the relay is at least
//     once: an attempt is recorded as started before the relay is
//     contacted (package gateway/outbound), so only a crash between the
//     relay's acceptance and our record of it can repeat a delivery, and
//     the repeat is logged as a possible duplicate.
package store
