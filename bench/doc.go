// Package bench compares Gatehouse with its peers (OPA, Casbin, Cerbos) on
// the same generated tenant and request mix. It is a separate module so
// that the peers' dependencies never enter the main module.
package bench
