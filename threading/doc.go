// Package threading holds the pure decisions of helpdesk: turning a raw mail
// into facts (Parse), classifying machine mail, stripping quoted history,
// parsing agent commands, signing reply tokens and choosing the ticket and
// thread a mail belongs to (SPEC section 3). Nothing here does network or
// disk I/O; the engine applies these decisions inside one store write.
//
// The sections below say what the code does for each part of the threading
// rules. "SPEC n" in a comment anywhere in this module names the section of
// that number; every section is written down as a heading of some
// package's documentation (README.md, "Design", has the table).
//
// # SPEC 3: Threading an inbound mail
//
// Every accepted mail goes through the same steps, in this order, inside
// one store write (engine, applier.route): the duplicate check (SPEC 3.6),
// the loop check (SPEC 3.1), staff authentication (SPEC 5), a blocked
// sender or domain (#spam), machine mail (SPEC 3.1), and only then
// [Decide] for human mail: find a candidate ticket and thread (SPEC 3.2),
// work out the sender's role on it (SPEC 3.3) and pick the outcome (SPEC
// 3.4). Mail with no usable key opens a ticket (SPEC 3.5).
//
// # SPEC 3.1: Loops and machine mail
//
// A mail is a loop when one of its X-Helpdesk-Loop headers ([LoopHeader],
// which every mail we send carries with our installation id) holds our own
// installation id, or when it has more Received headers than
// threading.max_received (50). A loop is kept as a quarantine record: the
// raw mail is stored, no ticket changes, nothing is answered, and it is
// logged and counted.
//
// Package machine sorts the rest into human mail, delivery status
// notifications, feedback (abuse) reports and auto-replies. A delivery
// report or feedback report is matched to our outbound mail by the reply
// token of its envelope recipient (the VERP address every outbound mail
// uses as its return path) or by the Message-ID it quotes; it is added to
// that ticket and thread as a hidden "delivery" record, a permanent failure
// marks the recipient's address as bouncing (it gets no mail until it
// writes again), and for permanent failures and complaints the author of
// the bounced mail (or the assignee) is told. A report we cannot match is
// quarantined. Reports never open a ticket and are never answered.
//
// An auto-reply is threaded with the same keys and participant rule as
// human mail. When it lands on a ticket it is stored as a private
// "auto-reply" record and the status does not change; on a closed ticket it
// attaches to that ticket instead of opening a follow-up. With no ticket it
// opens one tagged "auto", which notifies nobody.
//
// No automatic answer (acknowledgement) goes to: machine mail, mail with
// Precedence bulk, junk or list, X-Auto-Response-Suppress, a List-Id
// header, an upstream spam flag (X-Spam-Flag or X-Spam-Status "yes"), the
// null envelope sender, or a sender whose domain failed DMARC
// ([Mail.SuppressAutoAnswer] and the engine's acknowledgement rules, SPEC
// 7). Those header signals only stop automatic answers; the mail is
// otherwise handled as a person's.
//
// # SPEC 3.2: Thread keys
//
// The candidate ticket and thread come from the first key that matches:
//
//  1. a valid reply token in any recipient address (envelope, To or Cc),
//     resolved through merges to the surviving ticket and its renumbered
//     side thread; a token that does not verify is ignored and logged;
//  2. In-Reply-To, then References from the newest to the oldest, against
//     every Message-ID we sent or stored;
//  3. the subject tag "[#N]" (the prefix is threading.tag_prefix).
//
// Keys 2 and 3 are skipped when the sender's domain fails DMARC, so a
// forged From cannot reach a ticket with a Message-ID or a number. The
// engine checks DKIM/DMARC before the write whenever one of these keys is
// present and no reply token decides. A subject tag only names a candidate: the sender must be a
// participant of its main thread (SPEC 3.3), otherwise the mail opens a new
// ticket (SPEC 3.4). A token or Message-ID of a private notification makes
// a staff reply private by default.
//
// # SPEC 3.3: The sender's role
//
// [RoleOf] compares normalized addresses (lower case; with
// threading.ignore_plus_tags a "+tag" is dropped too). An authenticated
// staff member (SPEC 5), found by address or alias, is the assignee, a
// follower, a light agent or another agent, in that order. Anyone else is
// the requester, a CC, a collaborator of the side thread the key named, or
// nobody. A staff address that failed authentication never reaches this
// step: it is quarantined (SPEC 5).
//
// # SPEC 3.4: Attach or open
//
// [Decide] picks one [Outcome]:
//
//   - Requester or CC on the main thread: a public comment. A comment from
//     them on a pending, waiting-customer or resolved ticket sets it back
//     to open, unless its text is a bare acknowledgement (one of
//     threading.acknowledgements, such as "thanks" or "감사합니다", also
//     with "so much" or "a lot", followed by at most two lines of three
//     words or fewer, such as a name), which is recorded with the status
//     unchanged.
//   - Requester or CC replying to a closed ticket: a bare acknowledgement
//     is recorded on the closed ticket and opens nothing. Anything else
//     joins the newest follow-up of that ticket that is not closed yet, or
//     opens one follow-up ticket, linked both ways, that takes over the
//     requester (a CC who wrote becomes a CC), CCs, mailbox, group, type,
//     tags, priority and, while that agent is still an agent and not away,
//     the assignee. Its acknowledgement names the new and the old number.
//   - An agent or admin: the command language runs (SPEC 4) and the text
//     is a public reply, or a private note when the notification answered
//     was private (its token or Message-ID says so); #reply and #note
//     override. Every notification's footer says which a plain reply
//     becomes.
//   - A light agent on the main thread: a private note, always.
//   - In a side thread, an agent's reply goes to the thread's
//     collaborators, unless it says #reply (a public reply to the
//     requester and CCs on the main thread) or #note (a private note on
//     the main thread); its commands run either way. A reply there from a
//     collaborator, the requester, a CC, a follower or a light agent is a
//     private message of that thread (SPEC 6 says who gets it); a light
//     agent's commands run too, and his text never reaches the
//     collaborators. A reply to a thread marked done reopens it.
//   - Anyone else, including a collaborator writing on the main thread,
//     opens a new ticket. When a key named a candidate the sender is not a
//     participant of, nothing is added to it: the new ticket gets a
//     "possibly related" link, the agents of the candidate (its assignee,
//     or its group's agents) are told, and the sender's acknowledgement
//     never mentions the candidate.
//
// There is no satisfaction survey yet, so no reply is read as a rating.
//
// # SPEC 3.5: Mail with no thread keys
//
// An end user's mail without a key opens a ticket in the mailbox it was
// sent to (the first recipient that is one of ours), with that mailbox's
// group and the cleaned subject ([CleanSubject] removes reply prefixes in
// many languages and our tag).
//
// From an authenticated agent, a mail without keys may act on an existing
// ticket with #ticket N (its text is then a private note unless #reply);
// may hold only #list, #help, #report, #available or #away, which are
// answered without opening a ticket; or opens a ticket on someone's
// behalf. The requester is the #requester address or, when the agent
// forwarded a customer's mail (an inline forwarded block or an attached
// message/rfc822, see forward.go), the original sender; the forwarded
// content, its header block removed, becomes the requester's first
// comment and the agent's own text above it a private note. With neither,
// the agent is the requester (an internal ticket). Such a ticket is not
// acknowledged (the customer did not write to us); it is assigned like
// customer mail unless the mail says #assign, and its assignee, or the
// group's agents while it waits unassigned, get a mail saying why (the
// agent who opened it only when round-robin chose him). A light agent cannot open a ticket this way: the mail
// is refused with a transcript.
//
// # SPEC 3.6: The same mail twice
//
// A mail whose Message-ID and body hash match a stored message is not
// stored or applied again; the SMTP client still gets 250, and the result
// names the first copy. Mail without a Message-ID is never deduplicated.
// The check runs in the same store write that would store the mail, so
// concurrent copies are applied once.
//
// # SPEC 3.7: CCs, reply-all and the fan-out limit
//
// With threading.customer_cc on (the default), the addresses in an end
// user's To and Cc lines become ticket CCs, except our own mailbox
// addresses, staff addresses and the requester; an event records who was
// added. Staff join as CC only with #cc. An end user's comment is not
// mailed again to the end users who were already its recipients. When one
// outside address writes more than threading.fanout_limit_per_hour
// comments (10) an hour on one ticket, its comments are still stored but
// mailed to nobody, and the ticket is flagged "fanout-limited" with an
// event for staff.
package threading
