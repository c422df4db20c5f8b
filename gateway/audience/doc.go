// Package audience decides who receives which mail about a comment, a
// change or an assignment on a ticket, and who is deliberately left out. It is one pure
// function, Decide (decide.go): from the event, a read-only snapshot of
// the ticket's participants, and a directory of current staff, to the list
// of recipients, each with the view he gets and the kind of reply token
// his mail carries. It reads no store, does no I/O and reads no clock:
// the engine's fan-out (fanOut in gateway/engine/notify.go) copies the
// participants out of the ticket, asks Decide, then only renders and
// queues each mail.
//
// The whole "who sees what" matrix (events by author roles against every
// participant role) is the table in matrix_test.go.
//
// # SPEC 6: Who sees what
//
// Every mail caused by a comment is chosen in one place, Decide; each
// recipient gets a mail of his own with his own reply token, the author
// never gets his own comment back, and a staff member who is no longer in
// the configuration gets nothing. An end user whose address bounces or
// who is blocked gets nothing either, nor does anyone when a guard held
// the comment (the leak and collision guards, SPEC 2 and 7) or the loop
// guard stopped mail caused by its author (SPEC 3.7). When an end user
// wrote the comment, end users who already got the inbound mail because
// it was addressed to them (reply-all) are not sent it again.
//
// Three views: the customer view (from the mailbox, only the requester
// and end-user CCs named, a reply adds a public comment), the staff view
// (a notification with the reply marker, the ticket's state and a footer;
// a staff token), and the collaborator view (from the side thread's own
// signed address; a reply lands in that thread only).
//
//   - A public comment on the main thread (publicComment) goes to the
//     requester and the CCs and to the followers; when an end user wrote
//     it, also to the assignee, or to the group's agents while the ticket
//     is unassigned. Written by an agent, it is sent from the mailbox with
//     the agent's name in the display name (SPEC 2). A staff member made
//     CC with #cc gets a staff view. A merge notice and a held reply
//     released by #send are public comments like any other.
//   - A private note (privateNote) goes to the assignee, the followers
//     and the #notify targets: staff only, never to the requester, CCs or
//     collaborators.
//   - Who gets a side thread's reply (sideThreadMessage): a side thread
//     is started with "#forward addr ..." (outside addresses only: not
//     our mailboxes, not the requester or a CC). The agent's text and
//     attachments go to each collaborator from the thread's own signed
//     address, with the public comments chosen by #include (none, the
//     default; the last one; all), their authors named without a staff
//     address. The subject is "[#N] " and #subject, or "Side
//     conversation"; the ticket's subject, requester and References never
//     go along, whatever #include says. A message from outside the
//     thread's staff (a collaborator's answer, the requester, a CC, a
//     follower, a light agent) is private to the ticket and goes to the
//     assignee, the agent who started the thread and the followers, or to
//     the group's agents when none of them is current staff. An agent's
//     reply to a side-thread notification goes to the thread's
//     collaborators (and those staff) unless it says #reply or #note
//     (SPEC 3.4); a light agent's never reaches the collaborators (SPEC
//     1). #done marks the thread done; a later reply reopens it. A ticket
//     may have several side threads; a collaborator only ever gets his
//     own thread's messages, never the requester, CCs, followers, notes or
//     other threads, and the requester and CCs never get a side thread.
//   - Followers (#follow, #follower) get every update, public and private,
//     including side threads; no mail to an end user or collaborator
//     names them (PublicHeaders names only the requester and end-user
//     CCs).
//   - A change notice (changeNotice: a possibly related ticket, a ticket
//     opened on someone's behalf) goes to the ticket's agents: the
//     assignee, or the group's agents while unassigned (every agent when
//     the group has none).
//   - "Assigned to you" (assigned) goes to the new assignee when another
//     staff member set him with #assign; whoever assigns himself gets
//     nothing, and an assignment no staff member made (round-robin, a
//     trigger) is told by an intro instead.
//   - Assignment intros (Intro, a change notice): a ticket an agent
//     opened on someone's behalf, a #child's new ticket, a #group change
//     tell the ticket's agents (the assignee, or the group's agents
//     while unassigned), but the agent who did it unless round-robin
//     chose him. The first staff mail of the same write carries the
//     intro; otherwise it is a notice of its own.
//   - #available's digest (Digest) goes to each agent who got waiting
//     tickets, while he is current staff.
//   - A delivery failure or complaint (bounced) goes to the staff member
//     who wrote the mail that failed, else to the assignee; never to an
//     end user.
//   - A trigger's notify (trigger) goes to its targets: "assignee" (as
//     the trigger left the ticket), "group" (every member of the
//     ticket's group, light agents too) and staff addresses; current
//     staff only, each once; an end user named there gets nothing.
//   - The acknowledgement of a new ticket (Ack), the satisfaction survey
//     (Survey) and a trigger's mail to the requester (RuleMail) go to
//     the requester alone, and only when he is an end user who neither
//     bounces nor is blocked; whether a mail is answered at all (auto
//     mail, DMARC, the rate limits, our own addresses, spam and merged
//     tickets) the engine decides before (acknowledge in
//     gateway/engine/notify.go, gateway/survey).
//   - The answer to a staff mail's commands (Transcript: the transcript,
//     the held-mail notice) goes to its sender while he is current
//     staff, never to the requester or an end user.
//   - None of these notices but the requester's automatic mail ever
//     reaches an end user or a collaborator (TestSpec6).
//   - Parent and child: "#parent N" links the ticket as a child of N (a
//     cycle is refused); "#child subject" opens a child ticket with the
//     same requester, group and type, the mail's text as its first private
//     comment, and no acknowledgement or public mail; it is assigned like
//     a new ticket and its assignee, or its group's agents, get a notice
//     naming the parent. Each ticket keeps its own assignee and group.
//     While a child is not resolved or closed, its parent cannot be set to
//     resolved or closed (tickets.parent_blocks_resolve, on by default).
//   - "#merge N" moves comments, CCs, followers and side threads into
//     ticket N; tokens and Message-IDs of the merged ticket lead to N from
//     then on, and the merged ticket is closed with a link. Tickets with
//     different requesters merge only with "#merge N cc", which adds this
//     ticket's requester as a CC of N and tells both requesters with a
//     public comment on N. (Decided by gateway/plan's mergeInto, applied
//     by merge in gateway/engine's changes.go.)
//
// TestMatrix (matrix_test.go) is the table of who gets which view for
// every kind of event and author; TestSpec6 checks the rules above over
// it. TestScenarioAcceptanceCollaboration (package gateway) plays the
// collaboration scenario of the product brief end to end (Ken, Victoria,
// Venkat, finance, vendor) and checks each mailbox.
package audience
