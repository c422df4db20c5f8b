// Package crashdrill holds the crash drill (issue 6, SPEC 11): a test that
// runs the real helpdesk binary as a child process, sends mail from
// several clients, kills the daemon with SIGKILL at a random moment,
// restarts it, retries mail, and checks that every mail answered 250 is
// stored exactly once, that retries of a stored mail never become a second
// comment, that the bbolt file passes its consistency check after the
// crash, and that outbound mail is still queued or was delivered (a
// duplicate delivery only for an attempt the daemon logged as possibly
// duplicated).
//
// `go test ./gateway/internal/crashdrill` runs one iteration (skipped with -short);
// `go test -tags crashdrill -run Crash ./gateway/internal/crashdrill` runs 20, and
// HELPDESK_CRASH_ITERATIONS=N overrides either. scripts/crash-drill wraps
// the second form.
package crashdrill
