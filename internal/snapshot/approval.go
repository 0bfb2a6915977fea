package snapshot

import (
	"slices"
	"sort"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

type step struct {
	name          string
	cond          *condition
	roles, groups []int32
	users         []string
	required      int
	requireAll    bool
}

type chain struct {
	name, resource, action     string
	requireContact, forbidSelf bool
	steps                      []step
}

func (c *compiler) buildChains(chs []*v1alpha1.ApprovalChain) {
	s := c.s
	s.chainByRes = map[string]int32{}
	for _, ch := range chs {
		k := &chain{name: ch.Name, resource: string(ch.Spec.Resource), action: chainAction(ch),
			requireContact: ch.Spec.RequireProjectContact, forbidSelf: ch.Spec.ForbidSelfApproval}
		for i, st := range ch.Spec.Steps {
			x := step{name: string(st.Name), cond: c.chainConds[ch.Name][i], required: 1, requireAll: st.RequireAll}
			if st.Required != nil {
				x.required = int(*st.Required)
			}
			for _, r := range st.Approvers.Roles {
				x.roles = append(x.roles, s.roleAt(string(r)))
			}
			for _, g := range st.Approvers.Groups {
				x.groups = append(x.groups, s.groupAt(string(g)))
			}
			for _, u := range st.Approvers.Users {
				x.users = append(x.users, string(u))
			}
			k.steps = append(k.steps, x)
		}
		s.chainByRes[k.resource] = int32(len(s.chains))
		s.chains = append(s.chains, k)
	}
}

// PlannedStep is one applicable step of a record's approval chain.
type PlannedStep struct {
	// Name of the step.
	Name string `json:"name"`
	// Required is the number of distinct approvals the step needs (for
	// requireAll, the number of eligible approvers, at least 1).
	Required int `json:"required"`
	// RequireAll is set when every eligible approver must approve.
	RequireAll bool `json:"requireAll,omitempty"`
	// Eligible are the subjects who may approve the step on this record.
	Eligible []string `json:"eligible"`
	// ApprovedBy are the eligible subjects who already approved the step.
	ApprovedBy []string `json:"approvedBy"`
	// Done is true when the step has its approvals.
	Done bool `json:"done"`
}

// ApprovalPlanResult is the approval path of one record.
type ApprovalPlanResult struct {
	// Chain is the ApprovalChain covering the record's module ("" if none).
	Chain string `json:"chain,omitempty"`
	// Action is the permission approvers must hold on the record.
	Action string `json:"action,omitempty"`
	// Steps are the applicable steps (their `when` is true), in order.
	Steps []PlannedStep `json:"steps"`
	// Current is the first step that is not done ("" when complete).
	Current string `json:"current,omitempty"`
	// Complete is true when every applicable step is done.
	Complete bool `json:"complete"`
	// Reason is NoApprovalChain when no chain covers the module.
	Reason string `json:"reason,omitempty"`
}

// ApprovalDecision answers whether a subject may approve a record now.
type ApprovalDecision struct {
	// Allowed is true when the subject is eligible for the current step and
	// has not approved it yet.
	Allowed bool `json:"allowed"`
	// Step is the current step ("" when complete or without chain).
	Step string `json:"step,omitempty"`
	// Complete is true when every applicable step is done.
	Complete bool `json:"complete"`
	// Reason is a stable code: Allowed, NotEligible, AlreadyApproved,
	// ApprovalComplete, NoApprovalChain, NoEligibleApprovers or NoSnapshot.
	Reason string `json:"reason"`
}

func (s *Snapshot) stepApplies(k *chain, st *step, res *Resource, b *Budget) bool {
	if st.cond == nil {
		return true
	}
	// No profile: the step's subject is an empty id, type and properties.
	act := newActivation(nil, nil, k.action, res, nil)
	// A condition that cannot be decided (missing amount, wrong type)
	// keeps the step: skipping it would approve by default.
	v, ok := st.cond.evalStrict(act, b)
	act.release()
	return v || !ok
}

// eligible tells whether the subject with profile p may approve st on res.
func (s *Snapshot) eligible(k *chain, st *step, p *profile, sub *Subject, res *Resource, b *Budget) bool {
	if p == nil || sub.ID == "" {
		return false
	}
	named := slices.Contains(st.users, sub.ID)
	for _, r := range st.roles {
		named = named || containsSorted(p.held, r)
	}
	for _, g := range st.groups {
		named = named || containsSorted(p.groups, g)
	}
	if !named {
		return false
	}
	if k.requireContact && !slices.Contains(res.ProjectContacts, sub.ID) {
		return false
	}
	if k.forbidSelf && res.OwnerID == sub.ID {
		return false
	}
	return s.check(p, &Request{Subject: *sub, Action: k.action, Resource: *res, Budget: b}).Allowed
}

// knownEligible is eligible for a known member identified only by ID.
func (s *Snapshot) knownEligible(k *chain, st *step, id string, res *Resource, b *Budget) bool {
	pi, ok := s.lookup(id)
	if !ok {
		return false
	}
	return s.eligible(k, st, &s.profiles[pi], &Subject{ID: id}, res, b)
}

// candidates are the known members a step names (before the per-record
// checks).
func (s *Snapshot) candidates(st *step) []string {
	set := map[string]bool{}
	for _, u := range st.users {
		set[u] = true
	}
	for pi := range s.profiles {
		p := &s.profiles[pi]
		named := false
		for _, r := range st.roles {
			named = named || containsSorted(p.held, r)
		}
		for _, g := range st.groups {
			named = named || containsSorted(p.groups, g)
		}
		if named {
			for _, m := range p.members {
				set[m] = true
			}
		}
	}
	return sortedKeys(set)
}

func (s *Snapshot) planStep(k *chain, st *step, res *Resource, b *Budget) PlannedStep {
	ps := PlannedStep{Name: st.name, Required: st.required, RequireAll: st.requireAll, Eligible: []string{}, ApprovedBy: []string{}}
	for _, id := range s.candidates(st) {
		if !b.ok() {
			break
		}
		if s.knownEligible(k, st, id, res, b) {
			ps.Eligible = append(ps.Eligible, id)
		}
	}
	if st.requireAll {
		ps.Required = max(1, len(ps.Eligible))
	}
	for _, a := range res.Approvals {
		if a.Step == st.name && !slices.Contains(ps.ApprovedBy, a.By) {
			if _, ok := slices.BinarySearch(ps.Eligible, a.By); ok {
				ps.ApprovedBy = append(ps.ApprovedBy, a.By)
			}
		}
	}
	sort.Strings(ps.ApprovedBy)
	ps.Done = len(ps.ApprovedBy) >= ps.Required
	return ps
}

// ApprovalPlan lists the applicable steps of the record's approval chain,
// each with its eligible approvers: named by the step (role, group or user)
// AND allowed the chain's action on the record AND, when the chain says so,
// a project contact of the record and not its owner.
func (s *Snapshot) ApprovalPlan(res Resource) ApprovalPlanResult {
	return s.Within(nil).ApprovalPlan(res)
}

// ApprovalPlan is Snapshot.ApprovalPlan charged to the budget.
func (q Bounded) ApprovalPlan(res Resource) ApprovalPlanResult {
	s, b := q.s, q.b
	if s == nil {
		return ApprovalPlanResult{Reason: ReasonNoSnapshot, Steps: []PlannedStep{}}
	}
	ci, ok := s.chainByRes[res.Type]
	if !ok {
		return ApprovalPlanResult{Reason: ReasonNoApprovalChain, Steps: []PlannedStep{}}
	}
	k := s.chains[ci]
	out := ApprovalPlanResult{Chain: k.name, Action: k.action, Steps: []PlannedStep{}}
	for i := range k.steps {
		st := &k.steps[i]
		if !s.stepApplies(k, st, &res, b) {
			continue
		}
		ps := s.planStep(k, st, &res, b)
		if !ps.Done && out.Current == "" {
			out.Current = ps.Name
		}
		out.Steps = append(out.Steps, ps)
	}
	out.Complete = out.Current == ""
	return out
}

// CanApprove finds the record's current step (the first applicable step
// without its required distinct approvals from eligible approvers) and
// says whether the subject may approve it now.
func (s *Snapshot) CanApprove(sub Subject, res Resource) ApprovalDecision {
	return s.Within(nil).CanApprove(sub, res)
}

// CanApprove is Snapshot.CanApprove charged to the budget.
func (q Bounded) CanApprove(sub Subject, res Resource) ApprovalDecision {
	s, b := q.s, q.b
	if s == nil {
		return ApprovalDecision{Reason: ReasonNoSnapshot}
	}
	ci, ok := s.chainByRes[res.Type]
	if !ok {
		return ApprovalDecision{Reason: ReasonNoApprovalChain}
	}
	k := s.chains[ci]
	p, _ := s.profileFor(&sub)
	for i := range k.steps {
		st := &k.steps[i]
		if !s.stepApplies(k, st, &res, b) {
			continue
		}
		self := s.eligible(k, st, p, &sub, &res, b)
		var approved []string
		selfApproved := false
		for _, a := range res.Approvals {
			if a.Step != st.name || slices.Contains(approved, a.By) {
				continue
			}
			var ok bool
			if a.By == sub.ID {
				ok = self
				selfApproved = true
			} else {
				ok = s.knownEligible(k, st, a.By, &res, b)
			}
			if ok {
				approved = append(approved, a.By)
			}
		}
		required := st.required
		if st.requireAll {
			ps := s.planStep(k, st, &res, b)
			n := len(ps.Eligible)
			if self && !slices.Contains(ps.Eligible, sub.ID) {
				n++ // the requester is eligible through request-time groups
			}
			if n == 0 {
				return ApprovalDecision{Step: st.name, Reason: ReasonNoApprovers}
			}
			required = n
		}
		if len(approved) >= required {
			continue
		}
		switch {
		case !self:
			return ApprovalDecision{Step: st.name, Reason: ReasonNotEligible}
		case selfApproved:
			return ApprovalDecision{Step: st.name, Reason: ReasonAlreadyApproved}
		}
		return ApprovalDecision{Allowed: true, Step: st.name, Reason: ReasonAllowed}
	}
	return ApprovalDecision{Complete: true, Reason: ReasonApprovalComplete}
}
