//go:build soak

package soak

import (
	"fmt"
	"strings"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// ---- what an unknown revision was compiled from ----
//
// A replica that answers at a revision matching no applied state (nor a mix
// of two states' Roles and UserGroups) compiled some other combination of
// object versions. Its audit trail says which: each compile record lists
// the objects changed since the previous revision with their spec hashes,
// and the churner notes which state applied each stored version.

// versionKey names one stored version of an object.
func versionKey(kind, name, specHash string) string { return kind + "/" + name + "@" + specHash }

// noteApplied records that state seq stored obj's current spec (obj is
// the API server's answer to the apply).
func (tn *tenant) noteApplied(obj accessv1.AccessObject, seq int) {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	if tn.versions == nil {
		tn.versions = map[string]int{}
	}
	tn.versions[versionKey(obj.AccessKind(), obj.GetName(), audit.SpecHash(obj))] = seq
}

// composition explains rev from a replica's trail: the revision it was
// compiled from and the state each changed object's version comes from,
// following unknown revisions back up to depth times.
func (tn *tenant) composition(records []audit.Record, rev string, depth int) string {
	tn.mu.Lock()
	known := map[string]int{}
	for r, st := range tn.byRevision {
		known[r] = st.seq
	}
	versions := tn.versions
	tn.mu.Unlock()
	var b strings.Builder
	for range depth {
		var rec *audit.Record
		for i := range records {
			r := &records[i]
			if r.Tenant == tn.name && r.ToRevision == rev && (r.Event == audit.EventCompiled || r.Event == audit.EventLoaded) {
				rec = r
			}
		}
		if rec == nil {
			fmt.Fprintf(&b, "%s: no compile record in the trail", rev)
			return b.String()
		}
		fmt.Fprintf(&b, "%s (%s at %s) changed", rev, rec.Event, rec.Time.Format("15:04:05.000"))
		for _, o := range rec.Objects {
			if o.Change == audit.ChangeUnchanged {
				continue
			}
			seq, ok := versions[versionKey(o.Kind, o.Name, o.SpecHash)]
			where := "a version no recorded apply stored"
			if ok {
				where = fmt.Sprintf("state %d's", seq)
			}
			fmt.Fprintf(&b, " %s/%s (%s, %s)", o.Kind, o.Name, o.Change, where)
		}
		if seq, ok := known[rec.FromRevision]; ok || rec.FromRevision == "" {
			fmt.Fprintf(&b, " from state %d (%q); the churner applied since:", seq, rec.FromRevision)
			applied := map[int]string{}
			top := seq
			for k, s := range versions {
				if s > seq {
					applied[s] = k
					top = max(top, s)
				}
			}
			for s := seq + 1; s <= top && s <= seq+60; s++ {
				if k, ok := applied[s]; ok {
					fmt.Fprintf(&b, " %d:%s", s, k)
				}
			}
			return b.String()
		}
		fmt.Fprintf(&b, "; from unknown ")
		rev = rec.FromRevision
	}
	return b.String()
}
