// Package sqltest holds the test that runs the WHERE fragments of
// snapshot.Plan.SQL on a real PostgreSQL server (started by
// internal/pgtest) and compares the rows they select with Check's answers.
// It has no code of its own.
package sqltest
