// Package pgdrill is the faults drill of the PostgreSQL engine (issue
// 18): two daemons on one database under mail from several clients, one
// of them kill -9'd and restarted, the database restarted as a crash
// would stop it (pg_ctl -m immediate); every mail that got 250 must be
// stored exactly once, byte for byte, and the outbound queue must drain.
// Run it with scripts/pg-drill (build tag pgdrill).
package pgdrill
