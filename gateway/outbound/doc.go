// Package outbound drains the durable outbound queue outside any store
// transaction: it renders each queued mail, DKIM-signs it when a key is
// configured, and either relays it over SMTP (STARTTLS and AUTH PLAIN
// optional) or, with no relay, writes it as an .eml file under
// <data_dir>/outbox/. Delivery is at least once (SPEC 11): an attempt is
// recorded as started before the relay is contacted, so a crash between
// the relay's acceptance and our record is detected and logged as a
// possible duplicate on the next attempt. A round claims its items under
// a lease (store.OutboundLeases) and settles each with its outcome, so
// several workers, in one process or daemons sharing a store, never
// attempt the same mail while its lease runs; a worker renews the leases
// of deliveries under way and, starting again, releases what it held.
// Mail its own process queues is leased to it in the queuing write and
// handed over in memory once that committed (store.Handoff), with Started
// set when a relay is configured: a worker taking it over after a crash
// logs it as a possible duplicate, since its delivery may have begun.
//
// What a mail says and whom it goes to is decided when it is queued:
// whom by gateway/audience (SPEC 6), what by the engine's fan-out
// (gateway/engine); this package only turns a queued record into MIME and
// delivers it.
//
// # SPEC 2: Addresses, reply tokens and outbound mail
//
// Mailboxes. Each [[mailbox]] has an address, a name (the brand shown in
// From) and a group. The SMTP server (package gateway) accepts RCPT for a
// mailbox address and any plus-address of it, and refuses every other
// address with 550 5.1.1, so nothing is accepted that would have to be
// bounced later.
//
// Reply tokens (package threading/token). Every mail we send carries a
// plus-address of its mailbox, mailbox+<token>@domain (the separator is
// threading.token_separator, "+" or "-"), as Reply-To and as the envelope
// sender (so a bounce names the mail it is about); mail to a side thread's
// collaborators also has it as From. Each recipient gets a token of his
// own: it names the ticket, the thread, the recipient, the ticket's comment
// count at sending, whether the notification was private, and when it was
// issued. It is lowercase base32 with an HMAC-SHA256 cut to 80 bits, keyed
// with a per-installation secret that the store generates on first start
// and keeps (a restored backup keeps every reply address working).
// `helpdesk rotate-key` starts a new secret; tokens of the old one verify
// for threading.secret_grace_period (30 days). As a thread key a token does
// not expire; as a staff credential it does (auth.staff_token_max_age,
// SPEC 5). A token of a merged ticket leads to the surviving ticket. A
// token that does not verify is logged and treated as absent: the mail is
// still accepted and threaded by its other keys.
//
// From and headers. From is always the mailbox address. Its display name
// is outbound.from_name_format ("{agent} ({mailbox})") for mail an agent
// wrote, and the mailbox name for everything else. Mail to end users and
// collaborators names no staff address anywhere in the headers we write:
// To and Cc list only the requester and the end-user CCs. The text of such
// mail is what the author wrote, without the quoted history and anything
// below the reply marker.
//
// Message-IDs are ours (hd.<ticket>.<random>@<hostname>) and indexed to
// ticket, thread and recipient, so a reply to any of them threads (SPEC
// 3.2). Subjects carry the tag "[#N]" (threading.tag_prefix). Every mail
// carries In-Reply-To and a References chain for its recipient: the
// ticket's first Message-ID (for a side thread, nothing of the ticket),
// then the newest Message-IDs that recipient got or sent on the ticket and
// thread, shortened from the oldest so the header line stays within 998
// characters. A main-thread mail answers the recipient's newest message.
//
// Staff notifications start with the reply marker line
// (threading.reply_marker, "##- Reply above this line -##") and end with a
// footer saying whether a plain reply is public, private or goes to a side
// thread's collaborators; staff text is cut at the marker as well as at
// quoted history. Before a public reply or a side-thread message leaves,
// the leak guard (gateway/engine, guard.go) holds it when it shares a run
// of commands.leak_guard_words words (8) with a private note or another
// side thread of the ticket; the author gets a transcript and #send
// releases it (SPEC 7 has the collision guard, which works the same way).
//
// MIME (Render). Every mail is multipart/alternative, text and a simple
// HTML rendering of it, written with go-message, plus the author's
// attachments copied byte for byte, with their names, from the stored raw
// message: customer to staff, agent to customer, agent to collaborator.
// Attachments of one mail are capped at outbound.max_attachment_bytes
// (10 MiB); a file left out is named in the mail. Mail is DKIM-signed when
// outbound.dkim_* is configured. Automatic mail has Auto-Submitted:
// auto-generated (notifications) or auto-replied (acknowledgements,
// transcripts, notices; these also ask other responders not to answer with
// X-Auto-Response-Suppress). Mail a person wrote, an agent's public reply
// or a side-thread message, has no Auto-Submitted header. Every mail has
// the loop header X-Helpdesk-Loop with our installation id (SPEC 3.1).
//
// Delivery. With no outbound.relay, each mail is written to
// <data_dir>/outbox/<id>.eml (temporary file, fsync, rename). With a
// relay, connections are reused within a round (after a completed
// transaction the next mail goes straight to MAIL FROM; RSET only after
// one that did not complete; a used connection the relay has closed is
// replaced without costing the mail an attempt), STARTTLS follows
// outbound.starttls, AUTH PLAIN is used only over TLS or to a relay on this
// machine, and each relay command waits at most outbound.command_timeout.
// A refusal of one mail (another 5xx) fails that mail. A failure of the
// relay itself (no connection, timeout, TLS, or an answer about our
// credentials such as 535) is temporary for every mail: nothing is given
// up because of it before outbound.give_up_after, it is logged once per
// relay state, and `helpdesk outbox` and /healthz (503) report it. Other
// failures retry with backoff from outbound.retry_initial up to
// outbound.retry_max, across restarts, until outbound.give_up_after (5
// days); `helpdesk outbox retry` queues given-up mail again. Mail for a
// staff member who was removed from the configuration is not sent.
package outbound
