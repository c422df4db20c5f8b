// Package rules is the condition vocabulary of triggers, views and (issue
// 14) automations: conditions written as short English lines in
// helpdesk.toml, compiled once per configuration load, then matched
// against the facts of a ticket update. It is pure: no store, no I/O, no
// clock (the caller puts Now and the business-hours predicate in the
// Facts).
//
// # The vocabulary
//
// A rule has `all = [...]` (every line must hold) and `any = [...]` (at
// least one must hold, when the list is given). Each line is
// "FIELD OPERATOR VALUE"; names and operators in any case, values
// separated by commas mean "one of":
//
//	event is created, customer-comment      what this update did (below)
//	mailbox is support@example.com          the ticket's mailbox (address or name)
//	sender is kim@example.com               who caused the update
//	sender domain is example.com
//	subject contains 환불                    case-insensitive; Korean works
//	body does not contain unsubscribe
//	subject matches (?i)^re: *urgent        a Go regular expression (RE2)
//	text contains outage                    subject or body
//	status is open, pending                 also: status is not closed
//	priority is urgent / type is incident / group is dns
//	assignee is kim@example.com             an agent's address, name or alias
//	assignee is none                        or the line "unassigned"
//	tags include service:dns, service:web   at least one of them
//	tags exclude spam                       none of them
//	status changed                          also priority, type, group,
//	                                        assignee, tags: this update changed it
//	created more than 24h ago               also "less than"; updated, resolved too; units m, h, d
//	inside business hours                   or "outside business hours"
//
// Events: created, customer-comment (the requester or a CC wrote),
// response (an agent's public reply), note (a private note),
// side-message, command (a staff mail's commands changed the ticket),
// automation, merge, and, once SLA policies and surveys exist,
// sla-warning, sla-breach and rating.
//
// Compile reports, for each bad line, what is wrong and the fix: an
// unknown field or operator, a bad regular expression, a value the
// configuration does not know (a status, group, mailbox or agent), and
// a set of conditions that can never hold together ("status is open"
// with "status is closed", "tags include x" with "tags exclude x",
// inside with outside business hours).
package rules
