// Command gatehouse is the Gatehouse CLI: it works on access-policy manifests
// with no cluster, using the same compiler and evaluator as the operator.
// The commands live in internal/cli; installed as kubectl-gatehouse it also
// runs as the kubectl plugin "kubectl gatehouse".
//
// Exit codes: 0 success, 1 a check failed (compile problems, failed policy
// tests, a denied check), 2 bad usage or unreadable input.
package main

import "github.com/gatehouse-dev/gatehouse/internal/cli"

func main() { cli.Main() }
