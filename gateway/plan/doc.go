// Package plan decides what a block of commands does: the one place where
// each #command of SPEC 4 is checked against the ticket, the staff,
// groups and configuration, and turned into changes.
//
// Commands is a pure function. From a command block (a mail's, a
// macro's, and later a trigger's or automation's action list), a
// read-only snapshot of the ticket, a read-only View of other tickets,
// the configuration as directory, the actor and his role, it returns the
// changes as values ([]Change: SetStatus, Assign, CCs, StartSideThread,
// Merge, ...) and the problems ([]command.Problem, one per bad line with
// the reason, which the engine's transcript prints). It writes nothing,
// sends nothing, reads no clock and starts nothing; it imports no store
// and no package with effects (TestPackageBoundaries and
// TestPlannerIsPure in cmd/helpdesk check it). The engine
// (gateway/engine/changes.go) applies a plan's changes, in the order the
// plan lists them, in one short switch inside the mail's store write.
//
// # Where each command is decided
//
//	command                          file        function
//	#status and its short forms      fields.go   status
//	#assign                          fields.go   assign
//	#group                           fields.go   group
//	#priority #type                  plan.go     command (no check of their own)
//	#tag #cc                         fields.go   tags, ccs
//	#follow #unfollow #follower      fields.go   follow, followers
//	#requester                       fields.go   requester
//	#spam                            fields.go   spam
//	#reply #note #notify             text.go     visibility, notifyStaff
//	#forward #include #subject       text.go     forwardTo
//	#done                            text.go     done
//	where the mail's text goes       text.go     text
//	#merge                           merge.go    mergeInto
//	#parent #child #ticket           linked.go   parent, openChild, ticket
//	#available #away #list #help     sender.go   availability, list, help
//	#report #send                    sender.go   report, sendHeld
//	#customer (tag note lang tz      customer.go customer (the requester's profile;
//	  address merge)                             merge: admins; ShowCustomer last)
//	#macro                           plan.go     Commands (command.ExpandMacro)
//	a staff member's new mail        newmail.go  NewMail (#ticket N, no ticket, a new one)
//
// Syntax, the sender's role and conflicts inside the block are checked
// first by package threading/command (Validate); lines it refused are not
// planned, every other line is, so one transcript names every bad line.
// Any problem: Changes is nil and nothing is applied (all or nothing).
//
// # Roles
//
// As SPEC 1 defines them: an agent or admin may use every command (#spam
// domain and #customer merge are an admin's); a light agent only #note, #notify, #follow,
// #unfollow, #list and #help, and his text is always a private note, in
// a side thread never mailed to the collaborators. The requester, a CC, a
// collaborator and an unknown sender give no commands: their '#' lines
// are text, and Commands returns no change and no problem for them.
// Role Rule is an action list of a trigger or automation ("rule:NAME"):
// an agent's rights, but no person behind it, so the commands that act
// for their sender (#assign me, #follow, #unfollow, #available, #away,
// #list, #help, #send, #report, #customer alone) are problems.
//
// # The order of the changes
//
// Answers first (#list and #help are computed before anything changes),
// then the ticket's changes in the order of the commands (the profile's
// among them, ShowCustomer after them all, so #customer shows the
// profile as the mail left it), then SendHeld,
// then exactly one change for the mail's text (Reply, Note, SideMessage,
// StartSideThread, OpenChild or NoComment; none for a mail about no
// ticket), and Merge last: a merged ticket takes its last comment along.
package plan
