// Package auth decides who really sent an inbound mail (SPEC section 5): it
// verifies DKIM signatures and evaluates DMARC with go-msgauth, reads the
// Authentication-Results headers a trusted relay prepended, and combines
// the configured staff checks. It also signs outbound mail with DKIM.
//
// Every DNS query goes through one pure-Go net.Resolver, aimed at the
// configured server when there is one, with a timeout per lookup; a DNS
// failure is a "temperror", never a hang. Check does I/O (DNS) and must run
// outside any store transaction.
//
// We have no SPF, so DMARC here is DKIM-only (RFC 7489 section 4.2: a pass
// needs one aligned, passing identifier; DKIM is ours). An upstream's
// trusted dmarc verdict (which may rest on SPF) overrides our own.
//
// # SPEC 5: Sender authentication
//
// A mail is from staff only when its single From address is a staff
// member's address or alias and one of the checks in auth.staff passes.
// Reply-To and Sender are never looked at for identity; a mail with more
// than one From address is never staff (and counts as a DMARC fail for
// threading, without a lookup). The checks:
//
//   - "dmarc": DMARC passes, or a DKIM signature whose d= is aligned with
//     the From domain verifies (go-msgauth). Keys and DMARC records are
//     looked up through auth.resolver (or the system's), each lookup
//     bounded by auth.dns_timeout and cached for auth.dns_cache; the
//     engine runs Check before the store write, never inside it.
//   - "authres": an Authentication-Results header whose authserv-id is in
//     auth.trusted_authserv_ids says dkim=pass (aligned) or dmarc=pass for
//     the From domain, and it stands in the block of header fields the
//     relay prepended (above the relay's own topmost Received line, below
//     ours), and the SMTP client's address is in auth.trusted_relays. A
//     header with a trusted id further down was written by the sender and
//     is only counted as ignored. A direct connection from an address that
//     is not a trusted relay proves nothing. `helpdesk inject` believes
//     these headers only with --trust-authres, which stands in for the
//     relay's address (the block is then everything above the first
//     Received line). trusted_relays refuses prefixes broader than /8
//     (IPv4) or /16 (IPv6), and a client whose address cannot be read is
//     never a trusted relay.
//   - "token": the mail went to a reply token issued to that staff member
//     (a notification only he received), issued no longer than
//     auth.staff_token_max_age ago (720h; "0s" means no limit). A token
//     from before tokens carried an issue time still threads the mail but
//     passes this check only without a limit.
//
// The built-in default is ["dmarc", "authres"]; the shipped helpdesk.toml
// lists only "dmarc" until trusted_authserv_ids names the front MTA, and
// check-config warns about a listed check that cannot pass.
//
// A mail that claims a staff address and fails every check runs no
// command, reaches no ticket and opens none: it is kept as a quarantine
// record, counted as a security event, and the staff member's real address
// gets a notice naming each failed check, at most one per
// auth.notice_interval (1h). `helpdesk quarantine` lists and shows such
// records; `quarantine release N` applies the mail as if the failed check
// had passed (the admin vouches for it). The control socket the CLI uses
// is mode 0600.//
// Even though a header below the relay's block is ignored, let the front MTA
// remove Authentication-Results headers it did not write: OpenDKIM's
// RemoveARAll yes (its default adds nothing to unsigned mail, and OpenDMARC
// skips local clients); scripts/deploy/GUIDE.md shows it. A token proves
// only that the mail answers a notification sent to that staff member: a new
// mail from an agent to the support address (to open a ticket or use #ticket
// N) carries no token and, with "token" alone, is quarantined as failed
// staff authentication; such mail needs "dmarc" or "authres". To try agent
// commands on one machine without DKIM, set staff = ["token"] and answer the
// Reply-To address of a notification in data/outbox/ (the README shows the
// swaks command).
package auth
