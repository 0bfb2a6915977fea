package snapshot

import (
	"reflect"
	"sync"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"
)

// activation resolves the four CEL variables of one evaluation. subject,
// resource, their properties and action are views over the request and the
// profile rather than maps: a key becomes a CEL value only when the
// expression reads it, so `resource.properties.amount < 5000` builds no map.
// Every view behaves as the map[string]any the plan path still builds
// (subjectMap, resourceMap): lookups, presence, size and `in` are answered
// directly, anything else (iteration, equality, conversion) goes through
// that map, built on demand.
//
// Activations are pooled. A view must not outlive its evaluation; eval and
// evalStrict keep only a bool, so none does.
type activation struct {
	// p is nil for an approval step's condition, whose subject is only an
	// empty id, type and properties.
	p      *profile
	sub    *Subject
	action string
	res    *Resource
	ctx    map[string]any
	ad     types.Adapter
	views  [nViews]mapView
	// meter counts the evaluation's comprehension steps (see meter).
	meter meter
}

// View kinds, indexes into activation.views.
const (
	vSubject = iota
	vSubjectProps
	vResource
	vResourceProps
	vAction
	nViews
)

var (
	_ interpreter.Activation = (*activation)(nil)
	_ traits.Mapper          = (*mapView)(nil)
	_ traits.Foldable        = (*mapView)(nil)
	_ traits.Zeroer          = (*mapView)(nil)

	// noSubject is the subject of an approval step's condition.
	noSubject Subject
	// emptyMap stands for an absent context; CEL never writes to it.
	emptyMap = map[string]any{}
)

var actPool = sync.Pool{New: func() any {
	a := &activation{}
	for i := range a.views {
		a.views[i] = mapView{a: a, kind: uint8(i)}
	}
	return a
}}

// newActivation returns a pooled activation for a request; release it after
// the evaluation. p nil means an approval step (see activation.p).
func newActivation(p *profile, sub *Subject, action string, res *Resource, ctx map[string]any) *activation {
	a := actPool.Get().(*activation)
	if a.ad == nil {
		e, _ := env()
		a.ad = e.CELTypeAdapter()
	}
	if p == nil {
		sub = &noSubject
	}
	if ctx == nil {
		ctx = emptyMap
	}
	a.p, a.sub, a.action, a.res, a.ctx = p, sub, action, res, ctx
	return a
}

// release returns a to the pool, dropping its references to the request.
func (a *activation) release() {
	a.p, a.sub, a.res, a.ctx, a.action = nil, nil, nil, nil, ""
	a.meter = meter{}
	actPool.Put(a)
}

// ResolveName implements interpreter.Activation. context is the request's
// own map: CEL reads a map[string]any without converting it.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "subject":
		return &a.views[vSubject], true
	case "resource":
		return &a.views[vResource], true
	case "action":
		return &a.views[vAction], true
	case "context":
		return a.ctx, true
	case interruptVar:
		// Asked once per comprehension step, at every nesting level.
		return a.meter.step(), true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

// mapView is one string-keyed map of an activation (see activation).
type mapView struct {
	a    *activation
	kind uint8
}

// str is a string as a CEL value; NativeToValue would box it twice.
func str(s string) (ref.Val, bool) { return types.String(s), true }

// find is the value under key k, converted as cel-go converts a map[string]any
// entry, without building the map.
func (v *mapView) find(k string) (ref.Val, bool) {
	a := v.a
	switch v.kind {
	case vSubject:
		switch k {
		case "id":
			return str(a.sub.ID)
		case "type":
			return str(a.sub.Type)
		case "properties":
			return &a.views[vSubjectProps], true
		case "groups":
			if a.p != nil {
				return a.ad.NativeToValue(a.p.groupNames), true
			}
		case "roles":
			if a.p != nil {
				return a.ad.NativeToValue(a.p.roleNames), true
			}
		}
	case vSubjectProps:
		// mergedProps: snapshot attributes over the standard request
		// properties over the other request properties.
		if a.p == nil {
			return nil, false
		}
		if x, ok := a.p.attr.props[k]; ok {
			return a.ad.NativeToValue(x), true
		}
		sub := a.sub
		switch k {
		case AttrUnit:
			if sub.Unit != "" {
				return str(sub.Unit)
			}
		case AttrCompany:
			if sub.Company != "" {
				return str(sub.Company)
			}
		case AttrCompanies:
			if sub.Companies != nil {
				return a.ad.NativeToValue(sub.Companies), true
			}
		case AttrFacilities:
			if sub.Facilities != nil {
				return a.ad.NativeToValue(sub.Facilities), true
			}
		case AttrGroups:
			if sub.Groups != nil {
				return a.ad.NativeToValue(sub.Groups), true
			}
		}
		if x, ok := sub.Properties[k]; ok {
			return a.ad.NativeToValue(x), true
		}
	case vResource:
		switch k {
		case "type":
			return str(a.res.Type)
		case "id":
			return str(a.res.ID)
		case "properties":
			return &a.views[vResourceProps], true
		}
	case vResourceProps:
		// resourceMap: standard properties over the other properties.
		res := a.res
		switch k {
		case PropOwnerID:
			if res.OwnerID != "" {
				return str(res.OwnerID)
			}
		case PropAssigneeIDs:
			if res.AssigneeIDs != nil {
				return a.ad.NativeToValue(res.AssigneeIDs), true
			}
		case PropUnit:
			if res.Unit != "" {
				return str(res.Unit)
			}
		case PropFacilityID:
			if res.FacilityID != "" {
				return str(res.FacilityID)
			}
		case PropCompanyID:
			if res.CompanyID != "" {
				return str(res.CompanyID)
			}
		case PropProjectContacts:
			if res.ProjectContacts != nil {
				return a.ad.NativeToValue(res.ProjectContacts), true
			}
		case PropApprovals:
			if res.Approvals != nil {
				return a.ad.NativeToValue(approvalList(res.Approvals)), true
			}
		}
		if x, ok := res.Properties[k]; ok {
			return a.ad.NativeToValue(x), true
		}
	case vAction:
		if k == "name" {
			return str(a.action)
		}
	}
	return nil, false
}

// size is the number of keys the equivalent map has.
func (v *mapView) size() int {
	a := v.a
	switch v.kind {
	case vSubject:
		if a.p == nil {
			return 3
		}
		return 5
	case vSubjectProps:
		if a.p == nil {
			return 0
		}
		attr, sub := a.p.attr.props, a.sub
		n := len(attr)
		for k := range sub.Properties {
			if _, dup := attr[k]; !dup {
				n++
			}
		}
		extra := func(k string, set bool) {
			if !set {
				return
			}
			if _, dup := attr[k]; dup {
				return
			}
			if _, dup := sub.Properties[k]; dup {
				return
			}
			n++
		}
		extra(AttrUnit, sub.Unit != "")
		extra(AttrCompany, sub.Company != "")
		extra(AttrCompanies, sub.Companies != nil)
		extra(AttrFacilities, sub.Facilities != nil)
		extra(AttrGroups, sub.Groups != nil)
		return n
	case vResource:
		return 3
	case vResourceProps:
		res := a.res
		n := len(res.Properties)
		extra := func(k string, set bool) {
			if !set {
				return
			}
			if _, dup := res.Properties[k]; !dup {
				n++
			}
		}
		extra(PropOwnerID, res.OwnerID != "")
		extra(PropAssigneeIDs, res.AssigneeIDs != nil)
		extra(PropUnit, res.Unit != "")
		extra(PropFacilityID, res.FacilityID != "")
		extra(PropCompanyID, res.CompanyID != "")
		extra(PropProjectContacts, res.ProjectContacts != nil)
		extra(PropApprovals, res.Approvals != nil)
		return n
	case vAction:
		return 1
	}
	return 0
}

// native builds the map the view stands for, exactly as the map-based
// activation did.
func (v *mapView) native() map[string]any {
	a := v.a
	switch v.kind {
	case vSubject:
		if a.p == nil {
			return map[string]any{"id": "", "type": "", "properties": map[string]any{}}
		}
		return subjectMap(a.p, a.sub)
	case vSubjectProps:
		if a.p == nil {
			return map[string]any{}
		}
		return subjectProps(a.p, a.sub)
	case vResource:
		return resourceMap(a.res)
	case vResourceProps:
		return resourceProps(a.res)
	case vAction:
		return map[string]any{"name": a.action}
	}
	return map[string]any{}
}

// slow is the view as a cel-go map, for the operations that walk it.
func (v *mapView) slow() traits.Mapper {
	return types.NewStringInterfaceMap(v.a.ad, v.native())
}

// Find implements traits.Mapper: only string keys are found, as in a
// map[string]any.
func (v *mapView) Find(key ref.Val) (ref.Val, bool) {
	k, ok := key.(types.String)
	if !ok {
		return nil, false
	}
	return v.find(string(k))
}

// Get implements traits.Indexer.
func (v *mapView) Get(key ref.Val) ref.Val {
	val, found := v.Find(key)
	if !found {
		return types.ValOrErr(val, "no such key: %v", key)
	}
	return val
}

// Contains implements traits.Container.
func (v *mapView) Contains(key ref.Val) ref.Val {
	_, found := v.Find(key)
	return types.Bool(found)
}

// Size implements traits.Sizer; the cost tracker reads it too, so it must
// match the map.
func (v *mapView) Size() ref.Val { return types.Int(v.size()) }

// IsZeroValue implements traits.Zeroer.
func (v *mapView) IsZeroValue() bool { return v.size() == 0 }

// Iterator implements traits.Iterable.
func (v *mapView) Iterator() traits.Iterator { return v.slow().Iterator() }

// Fold implements traits.Foldable.
func (v *mapView) Fold(f traits.Folder) { v.slow().(traits.Foldable).Fold(f) }

// ConvertToNative implements ref.Val.
func (v *mapView) ConvertToNative(t reflect.Type) (any, error) { return v.slow().ConvertToNative(t) }

// ConvertToType implements ref.Val.
func (v *mapView) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.MapType:
		return v
	case types.TypeType:
		return types.MapType
	}
	return types.NewErr("type conversion error from '%s' to '%s'", types.MapType, t)
}

// Equal implements ref.Val.
func (v *mapView) Equal(other ref.Val) ref.Val { return v.slow().Equal(other) }

// Type implements ref.Val.
func (v *mapView) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (v *mapView) Value() any { return v.native() }

// String formats the view as cel-go formats a map.
func (v *mapView) String() string {
	if s, ok := v.slow().(interface{ String() string }); ok {
		return s.String()
	}
	return "map"
}
