package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// ShardLabel on a tenant namespace names the shard that serves the tenant.
const ShardLabel = "access.gatehouse.dev/shard"

// Shard is the part of the tenants a manager compiles and serves. The zero
// value is unsharded: every namespace, as a single install has always done.
//
// A sharded install runs one Deployment per shard, each with its own name.
// A namespace labelled ShardLabel=<name> is served by shard <name> only; an
// unlabelled namespace (or one with an empty value) by the shard marked
// Default only. So with exactly one default shard every tenant is served by
// exactly one shard, and a label naming no running shard leaves its tenant
// unserved: the endpoint denies it (no snapshot), never answers from a
// stale one.
type Shard struct {
	// Name is the shard's name, a DNS label (it is a label value and part
	// of the leader election lease's name); empty means unsharded.
	Name string
	// Default makes this shard also serve namespaces without the label.
	Default bool
}

// Sharded reports whether the manager serves a part of the tenants only.
func (s Shard) Sharded() bool { return s.Name != "" }

// Validate checks the shard's name; errors name the manager's flags.
func (s Shard) Validate() error {
	if s.Name == "" {
		if s.Default {
			return fmt.Errorf("--shard-default needs --shard: an unsharded manager already serves every namespace")
		}
		return nil
	}
	if errs := validation.IsDNS1123Label(s.Name); len(errs) > 0 {
		return fmt.Errorf("--shard %q: %s", s.Name, errs[0])
	}
	return nil
}

// Serves reports whether the shard serves a namespace with these labels.
// It is the one rule deciding which shard a tenant belongs to.
func (s Shard) Serves(labels map[string]string) bool {
	if !s.Sharded() {
		return true
	}
	assigned := labels[ShardLabel]
	if assigned == "" {
		return s.Default
	}
	return assigned == s.Name
}

// membership is where the shard stands with a tenant.
type membership struct {
	// serves is whether this shard compiles and serves the tenant.
	serves bool
	// assigned is the namespace's ShardLabel value ("" when unlabelled or
	// when the namespace is not in the cache).
	assigned string
	// found is false when the namespace is not in the cache: deleted, or
	// its watch event not arrived yet (its arrival enqueues the tenant).
	found bool
}

// notServedBecause says why shard s does not serve the tenant, for logs
// and the PermissionSnapshot's condition.
func (m membership) notServedBecause(s Shard) string {
	switch {
	case !m.found:
		return "its namespace is not known to shard " + s.Name
	case m.assigned == "":
		return fmt.Sprintf("its namespace has no %s label and shard %s is not the default shard", ShardLabel, s.Name)
	default:
		return fmt.Sprintf("its namespace's label %s=%s assigns it to another shard than %s", ShardLabel, m.assigned, s.Name)
	}
}

// member reads the tenant's namespace from the cache and applies
// Shard.Serves. Unsharded, it reads nothing: every tenant is served.
func member(ctx context.Context, c client.Reader, s Shard, tenant string) (membership, error) {
	if !s.Sharded() {
		return membership{serves: true, found: true}, nil
	}
	var ns corev1.Namespace
	err := c.Get(ctx, client.ObjectKey{Name: tenant}, &ns)
	if apierrors.IsNotFound(err) {
		// Not knowing the namespace, serve nothing: fail closed.
		return membership{}, nil
	}
	if err != nil {
		return membership{}, fmt.Errorf("reading namespace %s for its %s label: %w", tenant, ShardLabel, err)
	}
	return membership{serves: s.Serves(ns.Labels), assigned: ns.Labels[ShardLabel], found: true}, nil
}

// shardLabelChanged passes namespace creations, deletions and the updates
// that change ShardLabel: a tenant joining or leaving a shard.
func shardLabelChanged() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			if e.ObjectOld == nil || e.ObjectNew == nil {
				return true
			}
			return e.ObjectOld.GetLabels()[ShardLabel] != e.ObjectNew.GetLabels()[ShardLabel]
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}
