// Package engine applies an accepted mail to the store: it parses and
// authenticates the mail outside any transaction, then, in one
// group-committed store write, dedupes it, decides its ticket and thread
// (threading.Decide), runs agent commands, updates the ticket and enqueues
// every notification the change causes. The SMTP session answers 250 only
// after that write is on disk.
//
// The engine does no network I/O inside a transaction; the rules it applies
// are pure functions: in package threading and its subpackages; in
// package gateway/plan, which decides what a staff mail's commands do
// (commands.go asks it and answers with the transcript; changes.go
// applies the changes it returns, in one switch); and in package
// gateway/audience, which decides who receives each mail.
//
// Who receives each mail a comment or a change causes, with which view
// and reply token (SPEC 6), is decided by one pure function,
// audience.Decide (package gateway/audience, where the rules are written
// down and the whole matrix is a table test). fanOut in notify.go copies
// the ticket's participants into it, then only renders and queues one
// mail per recipient.
//
// # SPEC 7: Lifecycle and automation
//
// Statuses are open, pending, waiting-customer, waiting-third-party,
// resolved and closed, set with #status or its short forms. A requester's
// or CC's comment sets a pending, waiting-customer or resolved ticket back
// to open (SPEC 3.4); a reply to a closed one opens a follow-up.
// Auto-close (the built-in automation, automations.go) closes resolved tickets
// tickets.auto_close_after (5 days) after they were resolved.
//
// Scheduler (timers.go; issue 14 item 6): whatever happens at an instant
// of the ticket clock is a timer source, registered from an init function
// with registerTimer(timerSource{kind, stamp, next, fire}). next(a, tk)
// says when the source next wants the ticket (ok false: never); fire(a,
// tk, at) does it inside the store write. Every ticket a write stores is
// re-armed for every source in that write (applier.flush → armAll; only
// changed instants are written) into the store's due-time index
// (store.Timers: SetTimer, ClearTimer, TimersOf, DueTimers, NextTimerAt;
// one timer per ticket and kind). RunTimers fires the due timers in due
// order, up to timerBatch per write, each firing with its effects and
// re-arming committed together; RunScheduler (the daemon's loop) sleeps
// until the next timer or until a write arms an earlier one (Engine.update
// wakes it after the commit). stamp(cfg) names the settings next reads:
// when the stamps of all sources differ from the index's (a new source,
// an upgraded store, a reload), every ticket is re-armed once
// (ensureArmed). A manual clock ([testing] clock = "manual") steps
// through NextTimer's instants and calls RunTimers at each.
//
// Automatic assignment: a mailbox routes new tickets to its group; a group
// with auto_assign gives them round-robin to its agents (role agent or
// admin) who are not away (#available, #away). With nobody available the
// ticket waits unassigned in the group until someone says #available:
// that assigns the open, unassigned tickets of the agent's auto_assign
// groups, oldest first, round-robin among each group's available agents
// (at most 200 per #available; the transcript says when more wait), and
// each agent who got tickets receives one digest listing them. Tickets an
// agent opens and #child
// tickets are assigned the same way. #group keeps an assignee who belongs
// to the new group; otherwise the ticket is unassigned and the new group's
// assignment applies. Whoever a ticket reaches without choosing it (the
// new assignee, or the group's agents while it is unassigned) gets a mail
// saying why (assign.go); the agent whose mail caused it only when
// round-robin chose him. Macros ([[macro]]) are named
// bundles of commands and a reply text (#macro).
//
// Acknowledgement: a new ticket from an end user gets one mail to the
// requester with the ticket number and how to reply (for a follow-up, the
// closed ticket's number too). At most one per ticket, and none for
// tickets staff open, for machine or bulk mail or mail an upstream marked
// as spam (SPEC 3.1), for the null sender, for a sender whose domain failed
// DMARC or whose DMARC was not checked (a mail sent to a reply token issued
// to the requester needs no check), or for a bouncing or blocked address.
// The number is further capped per sender address
// (tickets.ack_per_sender_per_hour, 5), per SMTP client
// (tickets.ack_per_ip_per_hour, 20; an IPv6 client counts by its /64; a
// trusted relay and mail without a client address are exempt) and in
// total (tickets.ack_per_hour, 200). Over a limit the ticket still opens;
// only the acknowledgement is skipped, counted in
// helpdesk_acks_suppressed_total{limit} and logged at most once a minute.
//
// Collision guard (guard.go): an agent's public reply answering a
// notification older than another agent's public reply on the ticket is
// held as a hidden comment, and the author gets a transcript quoting what
// was said meanwhile. The leak guard (SPEC 2) holds mail the same way
// when it shares a run of commands.leak_guard_words (8) words with a
// private note or another side thread, or, for text written without
// spaces, a run of 3 × that (24) Han, Hiragana, Katakana or Hangul-syllable
// characters (all other characters left out); both are hashed windows
// confirmed by comparison, and the transcript quotes the run. A
// held mail is held whole, commands included; #send in a reply to the
// transcript, from its author, applies and sends it.
//
// Triggers (triggers.go): after route, each ticket the mail updated gets
// one pass over the [[trigger]] rules, compiled once per configuration by
// package gateway/rules; their actions are planned by package plan as
// role Rule and applied by applyRule, each firing an event naming it.
//
// SLA (responses.go, slatimer.go, package gateway/sla): a response is
// recorded by markResponse, a customer comment by markCustomer; the
// targets of the ticket's [[sla]] policy are computed from them and the
// status log whenever read; warnings and breach notices are the timer
// source "sla", each recorded on the ticket (SLAMarks) in the write that
// sends it.
//
// Automations (automations.go): [[automation]] rules with time
// conditions ("created more than 9h ago in business time", inside or
// outside business hours) are armed as timers and looked at when the
// timer fires or the ticket changes; each fires at most once per
// condition epoch (again only after a look found it false and a later one
// true), so no cancelling condition is needed. Auto-close is the built-in
// automation "auto-close".
//
// Webhooks (package gateway/webhook): a trigger's webhook action queues a
// delivery of the ticket's public fields in the mail's own write; a
// separate worker POSTs it (at least once, X-Helpdesk-Delivery for
// deduplication, retries with the outbound backoff until give_up_after),
// refusing private destinations unless allow_private, checked on the
// address connected to. Attempts run in parallel (16) but one webhook
// holds at most 8 of them, and once an attempt of a webhook fails it
// holds a single probe while its other deliveries wait for its retry
// (listed as "not attempted"), so a hanging receiver delays neither
// intake nor the other webhooks.
//
// Knowledge base (package gateway/kb): the acknowledgement suggests up to
// three articles of [knowledge_base] dir ranked by BM25, recorded on the
// ticket. Satisfaction survey (package gateway/survey): [survey] mails the
// requester once per resolution after its delay, with its own reply
// token; an answer is a rating that never reopens the ticket.
//
// # SPEC 8: Customers
//
// Each end user has a user record per address (store.User: the address in
// its comparison form and as its owner spells it, display name, bounces,
// #spam blocks) and a customer profile (store/model.Customer, customers.go)
// created with their first mail or CC: name, primary and other addresses,
// organization (by address domain, [[organization]]), tags added to their
// new tickets, staff notes, language and time zone, created/updated, an
// activity timeline (newest first, 10 at a time) and the tickets they
// requested and are CC'd on. Agents change it with #customer
// tag|note|lang|tz|address and read it with #customer (mailed to them
// only); admins merge profiles (#customer merge ADDR, `helpdesk customer
// merge A B`: A is kept). Organization and customer tags are words of the
// rule vocabulary (package gateway/rules).
//
// Erase (erase.go, erasemail.go, erasures.go): an admin erases a customer
// with `helpdesk customer erase ADDR --yes`, or by mail with #customer
// erase, answered with a confirmation code (kept as a hash on the ticket,
// for that admin and requester, 15 minutes on the ticket clock) that a
// second mail must quote. One write makes their tickets shells (figures
// kept, words gone, marked erased) and removes their raw mail, comment
// texts and attachments, outbound mail, quarantine entries, webhook
// payloads, index entries and profile; on other people's tickets the
// address is replaced; an erasure record counts what went and names no
// one. Then the files it orphaned go and the store is compacted, so no
// file under data_dir (no row on PostgreSQL) keeps their bytes.
//
// An erase by mail is recorded in the confirming mail's write, which
// consumes the code (an erasure record in state confirmed, naming the
// requester until the erase's write). The node that leads runs it once
// that write has committed; the erase's write moves the record to erased
// (the address leaves it), and one write after the compaction completes
// it and queues the admin's transcript. A daemon killed at any point
// (kill -9 after the 250, in the erase's write, in the compaction)
// resumes the erasures not complete when it starts, on a shared database
// the leader only; each write checks the record's state, so the erase
// runs once and one transcript goes. An erase the CLI ran is completed
// the same way if its compaction was cut short. A confirmed erase that
// can no longer run (the requester is staff now, nothing is stored) is
// dropped and the admin told why.
package engine
