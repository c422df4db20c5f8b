// Package gateway is the SMTP edge of helpdesk: the inbound server with its
// limits and spooling, the listener that bounds connections, and (in
// subpackages) sender authentication, the engine that applies mail to the
// store, and the outbound queue worker.
//
// The server answers 250 to DATA only after the engine's store write for
// that mail, with every effect it has, is committed and fsync'd, and 451
// when the write fails (the guarantees are written down as SPEC 11 in
// package store). RCPT accepts only our mailboxes and their plus-addresses
// (SPEC 2, in package gateway/outbound); the connection and size limits
// are listed as SPEC 10 in package main (cmd/helpdesk).
package gateway
