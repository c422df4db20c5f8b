// Package config loads and validates helpdesk.toml. Key names are a public
// interface (issue 2, SPEC section 5): scripts and admins rely on them.
//
// Load and Check report every problem at once, each with its key, its line
// and a fix; settings that are valid but do nothing are warnings. Lookups
// of staff, mailboxes, groups and macros are O(1) through an index built
// once per configuration.
//
// # SPEC 1: People and roles
//
// Staff are the [[agent]] entries: an email, a name, aliases (other
// addresses that count as the same person, also for authentication), the
// groups they belong to, and a role:
//
//   - "agent": everything in the command language (SPEC 4);
//   - "admin": an agent who may also block a whole domain (#spam domain);
//   - "light" (engineers, managers): #note, #notify, #follow, #unfollow,
//     #list and #help only; whatever a light agent writes is a private
//     note, or a private message of a side thread, and never reaches an
//     end user or a collaborator. A light agent cannot open a ticket by
//     mail.
//
// The other roles exist only on a ticket (package threading, SPEC 3.3):
// the requester (the sender of the first mail, or set with #requester), CCs
// (end users from the mail's recipients, SPEC 3.7, or anyone added with
// #cc; staff only when added explicitly), followers (staff who see every
// update, public or private, and are never named to end users or
// collaborators) and collaborators (outside addresses of one side thread).
// End users need no configuration: a user record is created the first time
// an address writes or is named (SPEC 8).
//
// Mailboxes ([[mailbox]]: address, name, group), groups ([[group]]: name,
// auto_assign) and macros ([[macro]]) are declared here too. Admins also
// get every row of a report (SPEC 9) and merge and erase customers by
// mail (SPEC 8, package gateway/engine);
// releasing quarantined mail is done with `helpdesk quarantine release` by
// whoever may use the CLI (the control socket is mode 0600).
//
// SIGHUP makes the daemon read the file again (gateway/daemon): staff,
// mailboxes, groups, macros, threading, lifecycle and authentication
// settings apply at once, and a staff member removed from the file gets
// nothing from then on, not even mail already queued for him. A file with
// problems, or one that changes what needs a restart (data_dir, listen
// addresses, [smtp] limits, DKIM signing), is refused and the running
// configuration is kept. `helpdesk check-config` runs the same checks.
package config
