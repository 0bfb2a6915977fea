package snapshot

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

type level uint8

const (
	lvHidden level = iota
	lvRead
	lvWrite
)

func toLevel(a v1alpha1.FieldAccess) level {
	switch a {
	case v1alpha1.FieldHidden:
		return lvHidden
	case v1alpha1.FieldRead:
		return lvRead
	}
	return lvWrite
}

var levelNames = [...]v1alpha1.FieldAccess{lvHidden: v1alpha1.FieldHidden, lvRead: v1alpha1.FieldRead, lvWrite: v1alpha1.FieldWrite}

type fieldGrant struct {
	roles, groups []int32
	access        level
}

type fieldRule struct {
	name   string
	def    level
	grants []fieldGrant
}

type fieldPolicy struct {
	name, resource string
	def            level
	fields         []fieldRule // sorted by name
	relRoles       map[int32]bool
	relGroups      map[int32]bool
	nobody         *fieldResult // for subjects no grant can match
	closed         FieldAccessResult
}

// FieldAccessResult is what a subject may do with the fields of one module.
// Slices are shared between subjects: callers must not modify them.
type FieldAccessResult struct {
	// Covered is true when a FieldPolicy covers the module, and for a
	// subject denied everything (Reason set); when false every field is
	// writable (Default is write).
	Covered bool `json:"covered"`
	// Default is the access to fields the policy does not list.
	Default v1alpha1.FieldAccess `json:"default"`
	// Readable lists the policy's fields the subject may read (including
	// the writable ones), sorted.
	Readable []string `json:"readable"`
	// Writable lists the policy's fields the subject may write, sorted.
	Writable []string `json:"writable"`
	// Hidden lists the policy's fields the subject may not see, sorted.
	Hidden []string `json:"hidden"`
	// Reason is empty when the subject may act at all. Otherwise it is the
	// code Check denies the subject every request with (ReasonNoSnapshot,
	// ReasonInvalidRequest, ReasonUnknownSubject, ReasonNoRoles), and the
	// answer is closed: nothing readable or writable, Default hidden, every
	// field of the policy (if any) hidden.
	Reason string `json:"reason,omitempty"`
}

type fieldResult struct {
	res    FieldAccessResult
	levels []level // per policy field
}

// buildPolicies lays out the served policies, then the fail-closed ones.
func (c *compiler) buildPolicies(fps, failClosed []*v1alpha1.FieldPolicy) {
	s := c.s
	s.policyByRes = map[string]int32{}
	for _, fp := range append(slices.Clone(fps), failClosed...) {
		p := &fieldPolicy{name: fp.Name, resource: string(fp.Spec.Resource), def: toLevel(fp.Spec.Default),
			relRoles: map[int32]bool{}, relGroups: map[int32]bool{}}
		for _, f := range fp.Spec.Fields {
			r := fieldRule{name: string(f.Name), def: p.def}
			if f.Default != "" {
				r.def = toLevel(f.Default)
			}
			for _, g := range f.Grants {
				fg := fieldGrant{access: toLevel(g.Access)}
				for _, n := range g.Roles {
					ri := s.roleAt(string(n))
					fg.roles = append(fg.roles, ri)
					p.relRoles[ri] = true
				}
				for _, n := range g.Groups {
					gi := s.groupAt(string(n))
					fg.groups = append(fg.groups, gi)
					p.relGroups[gi] = true
				}
				r.grants = append(r.grants, fg)
			}
			p.fields = append(p.fields, r)
		}
		sort.Slice(p.fields, func(i, j int) bool { return p.fields[i].name < p.fields[j].name })
		p.nobody = p.evaluate(false, nil, nil)
		p.closed = closedFields("")
		if len(p.fields) > 0 {
			p.closed.Hidden = make([]string, len(p.fields))
			for i, f := range p.fields {
				p.closed.Hidden[i] = f.name
			}
		}
		s.policyByRes[p.resource] = int32(len(s.policies))
		s.policies = append(s.policies, p)
	}
}

// evaluate computes field access for a holder of roles and member of groups.
func (p *fieldPolicy) evaluate(full bool, roles, groups []int32) *fieldResult {
	fr := &fieldResult{levels: make([]level, len(p.fields))}
	fr.res.Covered = true
	fr.res.Default = levelNames[p.def]
	if full {
		fr.res.Default = v1alpha1.FieldWrite
	}
	fr.res.Readable, fr.res.Writable, fr.res.Hidden = []string{}, []string{}, []string{}
	for i, f := range p.fields {
		lv, matched := lvHidden, false
		for _, g := range f.grants {
			hit := false
			for _, r := range g.roles {
				if slices.Contains(roles, r) {
					hit = true
				}
			}
			for _, gr := range g.groups {
				if slices.Contains(groups, gr) {
					hit = true
				}
			}
			if hit {
				matched = true
				lv = max(lv, g.access)
			}
		}
		if !matched {
			lv = f.def
		}
		if full {
			lv = lvWrite
		}
		fr.levels[i] = lv
		switch lv {
		case lvWrite:
			fr.res.Writable = append(fr.res.Writable, f.name)
			fr.res.Readable = append(fr.res.Readable, f.name)
		case lvRead:
			fr.res.Readable = append(fr.res.Readable, f.name)
		default:
			fr.res.Hidden = append(fr.res.Hidden, f.name)
		}
	}
	return fr
}

// buildFields precomputes a profile's access per policy. Results depend
// only on the policy's grant-relevant roles and groups, so they are shared
// through cache.
func (s *Snapshot) buildFields(p *profile, cache map[string]*fieldResult) []*fieldResult {
	out := make([]*fieldResult, len(s.policies))
	var sb strings.Builder
	for pi, pol := range s.policies {
		var roles, groups []int32
		for _, r := range p.held {
			if pol.relRoles[r] {
				roles = append(roles, r)
			}
		}
		for _, g := range p.groups {
			if pol.relGroups[g] {
				groups = append(groups, g)
			}
		}
		full := p.full
		if !full && len(roles) == 0 && len(groups) == 0 {
			out[pi] = pol.nobody
			continue
		}
		sb.Reset()
		sb.WriteString(strconv.Itoa(pi))
		if full {
			sb.WriteString("F")
		}
		for _, r := range roles {
			sb.WriteString(",r" + strconv.Itoa(int(r)))
		}
		for _, g := range groups {
			sb.WriteString(",g" + strconv.Itoa(int(g)))
		}
		k := sb.String()
		fr, ok := cache[k]
		if !ok {
			fr = pol.evaluate(full, roles, groups)
			if cache != nil {
				cache[k] = fr
			}
		}
		out[pi] = fr
	}
	return out
}

var uncovered = FieldAccessResult{Covered: false, Default: v1alpha1.FieldWrite}

var noFields = []string{}

// closedFields is the answer for a subject Check denies everything.
func closedFields(reason string) FieldAccessResult {
	return FieldAccessResult{Covered: true, Default: v1alpha1.FieldHidden,
		Readable: noFields, Writable: noFields, Hidden: noFields, Reason: reason}
}

// Fields says which fields of req.Resource.Type the subject may read and
// write: the most open level of the grants that match the subject (through a
// role it holds or a group it is in), else the field's default, else the
// policy's. Full access makes every field writable. A subject Check denies
// everything (no snapshot, no request or subject ID, unknown subject, no
// roles) gets nothing readable or writable, on covered and uncovered modules
// alike, with Check's reason. Otherwise Fields does not check that the
// subject may act on the record: call Check for that.
func (s *Snapshot) Fields(req *Request) FieldAccessResult {
	if s == nil {
		return closedFields(ReasonNoSnapshot)
	}
	if req == nil {
		return closedFields(ReasonInvalidRequest)
	}
	pi, covered := s.policyByRes[req.Resource.Type]
	var p *profile
	var why string
	if len(req.Subject.Groups) == 0 && req.Subject.ID != "" {
		// As in Check: the slot says whether the member has roles.
		switch sl := s.subjects.find(req.Subject.ID); {
		case sl == nil:
			why = ReasonUnknownSubject
		case !sl.roles:
			why = ReasonNoRoles
		default:
			p = &s.profiles[sl.pi]
		}
	} else if p, why = s.profileFor(&req.Subject); p != nil && !p.hasRoles {
		p, why = nil, ReasonNoRoles
	}
	if p == nil {
		if !covered {
			return closedFields(why)
		}
		res := s.policies[pi].closed
		res.Reason = why
		return res
	}
	if !covered {
		return uncovered
	}
	return p.fields[pi].res
}
