package controllers

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// maxConditionMessage bounds a condition message well below the API's
// 32768-byte limit: a tenant admin reads it in `kubectl describe`.
const maxConditionMessage = 4096

// maxLeftOut is the schema's limit on PermissionSnapshot status.leftOut.
const maxLeftOut = 1000

// desiredAccessStatus returns the status an access object should have when
// revision is served and problems are the object's own (empty when it is
// part of the snapshot). It starts from the current status so that the
// Ready condition keeps its lastTransitionTime while its status holds.
func desiredAccessStatus(cur *accessv1.AccessObjectStatus, generation int64, revision string, problems []snapshot.Problem) accessv1.AccessObjectStatus {
	st := *cur.DeepCopy()
	st.ObservedGeneration = generation
	cond := metav1.Condition{Type: accessv1.ConditionReady, ObservedGeneration: generation}
	if len(problems) == 0 {
		st.Revision = revision
		cond.Status = metav1.ConditionTrue
		cond.Reason = accessv1.ReasonCompiled
		cond.Message = "Served in revision " + revision
	} else {
		// A left-out object is in no served revision.
		st.Revision = ""
		cond.Status = metav1.ConditionFalse
		cond.Reason = problems[0].Reason
		cond.Message = problemMessage(problems, revision)
	}
	meta.SetStatusCondition(&st.Conditions, cond)
	return st
}

// problemMessage says why an object is left out, naming each offending
// field, e.g. "spec.permissions[2].when: undeclared reference to 'x'".
func problemMessage(problems []snapshot.Problem, revision string) string {
	msg := joinProblems(problems) + " (left out of revision " + revision + "; the rest of the tenant is served)"
	return truncate(msg, maxConditionMessage)
}

// joinProblems renders problems as "field: message; ...".
func joinProblems(problems []snapshot.Problem) string {
	parts := make([]string, 0, len(problems))
	for _, p := range problems {
		if p.Field != "" {
			parts = append(parts, p.Field+": "+p.Message)
		} else {
			parts = append(parts, p.Message)
		}
	}
	return strings.Join(parts, "; ")
}

// desiredSnapshotStatus returns the PermissionSnapshot status describing the
// served entry. compiledAt is kept while the revision is unchanged, so that
// replicas taking over leadership (each with its own compile time) do not
// rewrite it: it says when the revision was first served (also when the
// tenant moves to another shard). shard is the serving shard's name.
func desiredSnapshotStatus(cur *accessv1.PermissionSnapshotStatus, generation int64, shard string, s *snapshot.Snapshot, compiledAt time.Time, problems []snapshot.Problem) accessv1.PermissionSnapshotStatus {
	st := *cur.DeepCopy()
	st.Shard = shard
	rev := s.Revision()
	if st.Revision != rev || st.CompiledAt == nil {
		st.CompiledAt = &metav1.Time{Time: compiledAt.Truncate(time.Second)}
	}
	st.ObservedGeneration = generation
	st.Revision = rev
	c := s.Counts()
	st.Counts = accessv1.SnapshotCounts{
		Roles: int32(c.Roles), Groups: int32(c.Groups), Subjects: int32(c.Subjects),
		FieldPolicies: int32(c.FieldPolicies), ApprovalChains: int32(c.ApprovalChains),
	}
	st.LeftOut = nil
	for _, p := range problems {
		if len(st.LeftOut) == maxLeftOut {
			break
		}
		st.LeftOut = append(st.LeftOut, p.LeftOut())
	}
	leftOut := len(problemsByObject(problems))
	msg := fmt.Sprintf("Serving revision %s: %d roles, %d groups, %d subjects, %d field policies, %d approval chains",
		rev, c.Roles, c.Groups, c.Subjects, c.FieldPolicies, c.ApprovalChains)
	if leftOut > 0 {
		msg += fmt.Sprintf("; %d objects left out (see status.leftOut)", leftOut)
	}
	// The snapshot is served even with objects left out: Ready is True.
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: accessv1.ConditionReady, Status: metav1.ConditionTrue, Reason: accessv1.ReasonCompiled,
		Message: msg, ObservedGeneration: generation,
	})
	return st
}

// refusedSnapshotStatus marks a PermissionSnapshot whose tenant's last
// compile was refused (over its compiled-size quota, or its audit record
// not delivered): Ready is False with the problem, the rest still describes
// what is served (if anything).
func refusedSnapshotStatus(st *accessv1.PermissionSnapshotStatus, generation int64, serving bool, problems []snapshot.Problem) {
	msg := joinProblems(problems)
	if serving {
		msg = "The latest change is not served: " + msg + ". Still serving revision " + st.Revision
	} else {
		msg = "Not served: " + msg + ". Nothing is served: the authorization endpoint denies this tenant (NoSnapshot)"
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: accessv1.ConditionReady, Status: metav1.ConditionFalse, Reason: problems[0].Reason,
		Message: truncate(msg, maxConditionMessage), ObservedGeneration: generation,
	})
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
