// Package views computes what the console and the CLI show, with the one
// compiler and evaluator (internal/snapshot). It is pure: no HTTP, no
// Kubernetes client.
//
// The role matrix (RoleLevels) and the field matrix (FieldMatrix) give
// every role to a synthetic member of a one-role group (with a placeholder
// unit, company and facility) and ask the evaluator (Plan for records,
// Fields for fields), so that a matrix cannot disagree with the decisions
// the same policy serves.
package views
