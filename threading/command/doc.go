// Package command parses and validates the mail command language (SPEC 4):
// the block of "#name args" lines at the very top of the new text of an
// authenticated staff mail.
//
// The package is pure: no I/O, no store, no configuration. The engine
//
//  1. calls Parse on the new text (quoted history and HTML already removed),
//  2. calls ExpandMacro with a lookup into its configured macros,
//  3. calls Validate for the syntax, role and conflict checks,
//  4. has package gateway/plan add the semantic checks (unknown agent,
//     group, ticket ...) as Problems, using Suggest for the "did you
//     mean" part, and plan the changes as values,
//  5. applies everything in one store write, or nothing, and
//  6. renders Results(b, problems) with FormatTranscript.
//
// Decisions where SPEC 4 is silent (all documented on the help card):
//
//   - Blank lines between command lines do not end the block: only a line
//     of prose (or #end) does. A command the agent separated with an empty
//     line must not end up as text in a public reply.
//   - Every status value is also a short form (#waiting-customer,
//     #on-hold ...), not only #open #pending #resolved #solved #closed.
//   - A status value may be written in words: "#status waiting customer",
//     "#status on hold", "#status waiting_third_party" all work.
//   - "#name: args" is accepted like "#name args" (RT CommandByMail habit).
//   - Lists (#tag, #cc, #follower, #notify, #forward) are separated by
//     spaces, commas or semicolons; addresses may be written <a@b>.
//   - #requester takes one address, with or without a display name
//     (Quinn <quinn@q.example>, "Quinn Q." <quinn@q.example>).
//   - Ticket numbers may be written #123.
//   - #assign, #group and #macro take the rest of the line (names may
//     contain spaces); #subject and #child keep it exactly as written.
//   - #priority medium is accepted for normal (Freshdesk habit).
//   - #end is returned as a command (so its line shows in a transcript);
//     it does nothing.
//   - Repeated list commands (#tag, #cc, #follower, #notify, #forward)
//     add up. Repeating a single-valued command (#status, #assign ...)
//     with the same value is harmless (use Block.Find, the first one);
//     with another value it is a conflict.
//   - A light agent's #macro expands like anyone's, and each expanded
//     command is then refused by Validate like a typed one.
//   - A block has at most MaxCommands commands and a command at most
//     MaxArgs arguments; more is a problem, never a silent cut.
//
// # SPEC 4: The command language
//
// Only mail from authenticated staff (SPEC 5) is read for commands; in an
// end user's or a collaborator's mail, lines starting with '#' are ordinary
// text. Parse reads the new text of the mail (quoted history, the reply
// marker and everything below it already cut; an HTML-only mail converted
// to text first, so markup is never read). The block is the run of lines
// at the very top that start with '#' followed by a letter, one command
// per line; it ends at the first line of prose or at #end. "# Summary" or
// "#1" is prose. Command names and keyword values are case-insensitive.
// The command lines are taken out of the stored text, and a mail that
// holds only commands adds no comment.
//
// The commands the engine knows, with what they do there: #status (with
// the values open, pending, waiting-customer, waiting-third-party,
// resolved, closed and the aliases solved and on-hold) and a short form
// for every status value; #assign agent|me|none (agent by address, name
// or alias); #group; #priority low|normal|high|urgent; #type
// question|incident|problem|task; #tag and #cc with +, - or bare entries;
// #follow, #unfollow and #follower; #reply and #note; #notify (extra staff
// for a note); #requester; #forward with #include none|last|all and
// #subject (a side thread, SPEC 6); #done (in a side thread only); #merge N
// [cc]; #parent N and #child subject; #macro name (a macro's commands are
// expanded into the block and validated like typed ones, its text becomes
// the reply); #available and #away (automatic assignment, SPEC 7); #ticket
// N (in a new mail only: in an answer about another ticket the whole mail
// is refused); #list mine|unassigned|group|open|overdue|due [8h]|stale
// (mailed back; overdue: a breached SLA target still running; due: SLA
// targets due within that business time, default 4h; stale: open or
// pending with no change for 24 hours); #spam (closes the ticket and blocks its requester; "#spam
// domain" blocks the domain and is for admins); #send (releases a mail
// held by a guard, SPEC 7); #report [period] [agents|groups|mailboxes|
// tickets] (mails the report's CSV, SPEC 9); #help (mails back the card of help.go).
//
// Execution is all or nothing. Validate checks syntax, the sender's role
// and conflicts inside the block; the planner (package gateway/plan) then
// checks every remaining line against the ticket and the configuration
// (unknown agent, group, ticket, macro ...). If any line has a problem, nothing is applied and
// nothing is mailed to end users or collaborators: the mail is kept on the
// ticket as a hidden "rejected" record and the sender gets a transcript
// (FormatTranscript, Auto-Submitted: auto-replied, In-Reply-To the mail)
// that names every bad line with the reason and, where Suggest finds one,
// a "did you mean". Its subject is "Commands not applied: " and the
// ticket's subject, however often it is answered. On success a transcript
// goes out only with commands.confirm = "always", or when the commands
// have an answer to mail back (#list, #help).
//
// A light agent may use #note, #notify, #follow, #unfollow, #list and
// #help (and #end); anything else, typed or from a macro, is refused the
// same way. His text is a private note whatever he writes.//
// A few commands in more detail (moved from the README): #cc may add a staff
// address, and only this way: that staff member then gets every public
// update as a CC. #requester takes an address or "Name <addr>". #list <view>
// mails the tickets of a [[view]] (conditions of the trigger vocabulary and
// a sort). #report mails the report's CSV with the transcript; an agent gets
// their own row and their groups' rows, an admin all; it is read before the
// mail's write, so other mail does not wait for it, and the CSV commits with
// the transcript that claims it. #customer tag|note|lang|tz|address changes
// the requester's profile, #customer alone mails it to the agent only;
// admins merge profiles with #customer merge ADDR and erase the requester
// with #customer erase, confirmed by #customer erase confirm CODE (SPEC 8,
// package gateway/engine). A transcript names every bad line at once. With
// [commands] confirm = "always" every command mail is answered with a
// transcript.
package command
