// Package postfixdrill holds the Postfix drill (issue 17): a test that
// follows scripts/deploy/GUIDE.md literally. It reads the guide's blocks
// marked "<!-- drill: NAME -->", replaces only paths and loopback ports,
// configures a private Postfix instance, OpenDKIM and OpenDMARC (Debian
// packages) with them, runs helpdesk behind them as the helpdesk user,
// and sends a customer mail, a DKIM-signed staff mail, a mail with a
// forged Authentication-Results, mail through the inject pipe route and
// a bounce to support+token@. Every peer is on 127.0.0.0/8: the customers'
// world and the staff's mail server are SMTP sinks in the test, and DNS
// is a test server on 127.0.0.1:53 that the programs reach through
// /etc/resolv.conf, replaced in a private mount namespace.
//
// It needs root and the packages; scripts/postfix-drill installs them,
// sets up the namespace and runs `go test -tags postfixdrill`. Without
// the tag the package has no tests.
package postfixdrill
