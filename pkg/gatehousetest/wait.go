package gatehousetest

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// DefaultWaitTimeout bounds WaitForRevision when its context has no
// deadline.
const DefaultWaitTimeout = 30 * time.Second

// LeftOut is an object the compiler left out of a tenant's snapshot.
type LeftOut struct {
	// Kind and Name identify the object (Kind: Role, UserGroup,
	// FieldPolicy, ApprovalChain).
	Kind, Name string
	// Field is the offending field's path, e.g. spec.permissions[2].when.
	Field string
	// Reason is a reason code such as InvalidReference, InvalidExpression
	// or Cycle; Message explains it.
	Reason, Message string
}

// LeftOutError is WaitForRevision's error when the served revision leaves
// objects out (they are invalid: a webhook would have refused most of
// them). The revision is served all the same.
type LeftOutError struct {
	// Tenant is the namespace, Revision the served revision.
	Tenant, Revision string
	// Objects are the objects left out, with why.
	Objects []LeftOut
}

func (e *LeftOutError) Error() string {
	parts := make([]string, len(e.Objects))
	for i, o := range e.Objects {
		field := ""
		if o.Field != "" {
			field = " " + o.Field
		}
		parts[i] = fmt.Sprintf("%s %s%s: %s: %s", o.Kind, o.Name, field, o.Reason, o.Message)
	}
	return fmt.Sprintf("gatehousetest: tenant %s, revision %s leaves out %d object(s): %s",
		e.Tenant, e.Revision, len(e.Objects), strings.Join(parts, "; "))
}

// WaitForRevision waits until tenant's snapshot describes every access
// object of the namespace as it is now (each object's status reports its
// current generation, the PermissionSnapshot is Ready and counts exactly
// the namespace's objects) and the endpoint serves that revision, then
// returns the revision. Call it after Apply (or any change) and before
// asserting decisions.
//
// When the revision leaves objects out, it returns the revision and a
// *LeftOutError listing them. When ctx ends first (DefaultWaitTimeout when
// it has no deadline), the error says what was still awaited.
func (k *Kit) WaitForRevision(ctx context.Context, tenant string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultWaitTimeout)
		defer cancel()
	}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		rev, leftOut, pending, err := k.served(ctx, tenant)
		if err != nil && ctx.Err() == nil {
			return "", err
		}
		if pending == "" && err == nil {
			if len(leftOut) > 0 {
				return rev, &LeftOutError{Tenant: tenant, Revision: rev, Objects: leftOut}
			}
			return rev, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("gatehousetest: tenant %s: %s: %w", tenant, pending, ctx.Err())
		case <-tick.C:
		}
	}
}

// served checks once whether tenant's current objects are served: pending
// says what is awaited ("" when served).
func (k *Kit) served(ctx context.Context, tenant string) (rev string, leftOut []LeftOut, pending string, err error) {
	var psnap accessv1.PermissionSnapshot
	if err := k.Client.Get(ctx, client.ObjectKey{Namespace: tenant, Name: accessv1.SnapshotObjectName}, &psnap); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil, "no PermissionSnapshot yet (does the namespace hold access objects?)", nil
		}
		return "", nil, "reading the PermissionSnapshot", fmt.Errorf("gatehousetest: %w", err)
	}
	st := psnap.Status
	ready := meta.FindStatusCondition(st.Conditions, accessv1.ConditionReady)
	switch {
	case ready == nil:
		return "", nil, "PermissionSnapshot has no Ready condition yet", nil
	case ready.Status != metav1.ConditionTrue:
		return "", nil, fmt.Sprintf("PermissionSnapshot not Ready: %s: %s", ready.Reason, ready.Message), nil
	case st.Revision == "":
		return "", nil, "PermissionSnapshot has no revision yet", nil
	}
	rev = st.Revision

	objects := 0
	for _, kind := range accessv1.AccessKinds {
		list := kind.NewList()
		if err := k.Client.List(ctx, list, client.InNamespace(tenant)); err != nil {
			return "", nil, "listing " + kind.Kind, fmt.Errorf("gatehousetest: %w", err)
		}
		for _, o := range list.AccessItems() {
			if o.GetDeletionTimestamp() != nil {
				continue
			}
			objects++
			s := o.AccessStatus()
			if s.ObservedGeneration != o.GetGeneration() {
				return "", nil, fmt.Sprintf("%s %s: generation %d not compiled yet (status describes %d)",
					kind.Kind, o.GetName(), o.GetGeneration(), s.ObservedGeneration), nil
			}
			c := meta.FindStatusCondition(s.Conditions, accessv1.ConditionReady)
			if c != nil && c.Status == metav1.ConditionTrue && s.Revision != rev {
				return "", nil, fmt.Sprintf("%s %s: served in revision %s, the PermissionSnapshot shows %s",
					kind.Kind, o.GetName(), s.Revision, rev), nil
			}
		}
	}
	seen := map[string]bool{}
	for _, l := range st.LeftOut {
		if key := l.Kind + "/" + l.Name; !seen[key] {
			seen[key] = true
		}
		leftOut = append(leftOut, LeftOut{Kind: l.Kind, Name: l.Name, Field: l.Field, Reason: l.Reason, Message: l.Message})
	}
	c := st.Counts
	if counted := int(c.Roles+c.Groups+c.FieldPolicies+c.ApprovalChains) + len(seen); counted != objects {
		return "", nil, fmt.Sprintf("PermissionSnapshot describes %d objects, the namespace holds %d", counted, objects), nil
	}

	d, err := k.Check(ctx, tenant, Request{Subject: "gatehousetest.probe", Action: "view", ResourceType: "gatehousetest.probe"})
	if err != nil {
		return "", nil, "asking the endpoint", err
	}
	if d.Revision != rev {
		return "", nil, fmt.Sprintf("endpoint serves revision %q, the PermissionSnapshot shows %s", d.Revision, rev), nil
	}
	return rev, leftOut, "", nil
}
