package command

import "strings"

// HelpCard is the command card mailed back for #help.
func HelpCard() string { return helpCard }

const helpCard = `HELPDESK COMMANDS

Put commands at the very top of your mail, one per line, each starting
with # in the first column. Blank lines between them are fine; the first
line of ordinary text (or a line #end) ends the commands, and everything
from there on is your message. Lines such as "# Summary" or "#1" are text.
Quoted lines (>) and the quoted history below your reply are never read.
Names and values may be written in any case. A mail that holds only
commands adds no comment to the ticket.

All or nothing: every line is checked first. If one is wrong, nothing is
applied, nothing is sent to anyone, and you get a transcript marking each
bad line with the reason (and a "did you mean"). Fix it and send again.

WHO SEES YOUR TEXT
  Every notification says at its end whether a plain reply to it is
  PUBLIC (mailed to the requester and CCs) or PRIVATE (a note for staff).
  #reply               this mail is a public reply, whatever the
                       notification said
  #note                this mail is a private note, whatever the
                       notification said
  #notify <agent> ...  this mail is a private note, and these staff get
                       it by mail too (followers always do)
  Mail from a light agent is always a private note.

TICKET
  #status <status>     open, pending, waiting-customer, waiting-third-party,
                       resolved, closed (also solved = resolved,
                       on-hold = waiting-third-party); words may be
                       separated by spaces: #status waiting customer
  #open #pending #resolved #solved #closed   short forms of #status;
                       every status works as one: #waiting-customer,
                       #waiting-third-party, #on-hold
  #assign <agent>|me|none   assignee, by address, name or alias
  #group <group>       move to a group (and its routing): an assignee
                       outside it is unassigned, the group's round-robin
                       applies, and the new assignee (or the group) is told
  #priority <p>        low, normal, high, urgent (medium = normal)
  #type <t>            question, incident, problem, task
  #tag +a -b c         add (+ or bare) and remove (-) tags
  #cc +addr -addr      add (+ or bare) and remove public CCs
  #requester <addr>    set or change the requester; a name may go with
                       it: #requester Quinn <quinn@example.com>
  #follow / #unfollow  follow the ticket yourself, or stop
  #follower +agent -agent   add or remove followers (never shown to
                       customers)
  Lists may be separated by spaces, commas or semicolons.

SIDE THREADS (with people outside the helpdesk)
  #forward <addr> [<addr>...]   start a side thread; this mail's text and
                       attachments are the message
  #include none|last|all   with #forward: how much public history goes along
                       (default none: the collaborator sees nothing of the
                       ticket, not even its subject or requester)
  #subject <text>      with #forward or #child: the subject to use, as written
  #done                in a reply to a side thread: mark it done
                       (a later reply from the collaborator reopens it)
  In a reply to a side-thread notification, plain text goes to the
  thread's collaborators; #reply makes it a public reply to the requester
  and CCs on the main thread, #note a private note on the main thread.

LINKED TICKETS
  #merge <n> [cc]      merge this ticket into ticket n (this one is closed
                       with a link). Different requesters need cc: this
                       ticket's requester becomes a CC of n.
  #parent <n>          make this ticket a child of ticket n
  #child <subject>     open a child ticket (same requester, nothing is mailed
                       to the customer; its assignee or group is told)
  #ticket <n>          in a new mail to a support address: act on ticket n
                       (numbers may be written #123)

CUSTOMER (the requester's profile; staff only, never shown to customers)
  #customer            mail me the requester's profile: addresses,
                       organization, tags, notes, language, time zone,
                       tickets and the latest activity
  #customer tag +vip -trial   profile tags, added to all their new tickets
  #customer note <text>       add a staff note (the rest of the line)
  #customer lang ko|none      the language of their automatic mail
  #customer tz Asia/Seoul|none   their time zone
  #customer address +a -b     add or remove another address of theirs
  #customer merge <addr>      (admins) merge the profile of addr into the
                       requester's: its tickets, addresses, tags and notes
  #customer erase             (admins) erase the requester (GDPR): answered
                       with a code, valid 15 minutes, for you alone
  #customer erase confirm <code>   erases them; it cannot be undone

OTHER
  #macro <name>        apply a configured macro (its commands and its text)
  #available / #away   your availability for automatic assignment
  #list mine|unassigned|group|open|overdue|due|stale   mail me a list of
                       tickets: overdue = an SLA target breached and still
                       running; due [8h] = SLA targets due within that
                       business time (default 4h); stale = open or pending
                       with no change for 24 hours (or #list <view>, a view
                       in helpdesk.toml)
  #spam                close the ticket as spam and block its sender
  #spam domain         (admins) block the sender's whole domain
  #send                in a reply to a held-mail transcript: send it anyway
  #report [period] [agents|groups|mailboxes|tickets]
                       mail me a report as a CSV file (default: 30d by
                       agents; agents get their own and their groups'
                       rows). Periods: today, yesterday, week, last-week,
                       month, last-month, quarter, last-quarter, year,
                       last-year, 30d, 4w, 2025, 2025-05, 2025-05-01 or
                       2025-05-01..2025-05-31
  #help                mail me this card
  #end                 end of the commands (the next lines are text even if
                       they start with #)

NOT TOGETHER IN ONE MAIL
  #reply and #note; two different values of one setting (#status,
  #assign, #priority ...); #follow and #unfollow; #available and #away;
  #done and #forward; #forward and #child; #notify and #reply; #merge and
  #status, #parent or #child; #spam and #status, #merge, #reply or
  #forward. #include needs #forward; #subject needs #forward or #child.

WHO MAY USE WHAT
  agents and admins    every command (#spam domain, #customer merge,
                       #customer erase: admins only)
  light agents         #note, #notify, #follow, #unfollow, #list, #help, #end

EXAMPLE
  #assign me
  #status pending
  #tag +vip
  Hello Ken, the new certificate is on its way.
`

// Footer is the short footer every staff notification ends with. public
// says whether a plain reply to this notification is a public reply.
func Footer(public bool) string {
	var sb strings.Builder
	sb.WriteString("-- \n")
	if public {
		sb.WriteString("A plain reply to this mail is PUBLIC: the requester and CCs get it.\n")
		sb.WriteString("Start it with #note to make it a private note instead.\n")
	} else {
		sb.WriteString("A plain reply to this mail is PRIVATE: a note for staff only.\n")
		sb.WriteString("Start it with #reply to answer the requester and CCs instead.\n")
	}
	sb.WriteString("Commands go at the top, one per line:\n")
	sb.WriteString("  #status pending|resolved   #assign me|<agent>\n")
	sb.WriteString("  #tag +a -b   #forward <addr>\n")
	sb.WriteString("Send #help for all commands.\n")
	return sb.String()
}

// SideFooter ends a staff notification of a side-thread message: a plain
// reply to it goes to the thread's collaborators (SPEC 3.4, 6), which the
// public/private wording of Footer cannot say. collaborators names them.
// A light agent's reply never reaches them (SPEC 1).
func SideFooter(collaborators []string, light bool) string {
	who := strings.Join(collaborators, ", ")
	var sb strings.Builder
	sb.WriteString("-- \n")
	if light {
		sb.WriteString("A plain reply is a PRIVATE message of this side thread: the assignee and\n")
		sb.WriteString("followers get it, never the requester or the collaborators\n")
		sb.WriteString("(" + who + ").\n")
		sb.WriteString("Start it with #note to make it a private note on the main thread instead.\n")
		sb.WriteString("Send #help for the commands you can use.\n")
		return sb.String()
	}
	sb.WriteString("A plain reply to this mail goes to the side thread's collaborators\n")
	sb.WriteString("(" + who + "), never to the requester.\n")
	sb.WriteString("Start it with #reply to answer the requester and CCs on the main thread\n")
	sb.WriteString("(PUBLIC), or with #note to make it a private note on the main thread.\n")
	sb.WriteString("Use #done to close the side thread. Send #help for all commands.\n")
	return sb.String()
}
