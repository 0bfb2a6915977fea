package authz

import (
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/internal/authz/jsonscan"
)

// The SubjectAccessReview decoder reads the webhook body with the same
// scanner and rules as the AuthZEN decoder: keys are case-sensitive, a key
// repeated in one object, an unknown key or a value of the wrong type is a
// 400 naming the field path (request keys in it cut and quoted as the
// scanner does), nesting is bounded by Options.MaxDepth, lists, extra and
// selector requirements by DefaultMaxListItems, and the body by
// Options.MaxBodyBytes. encoding/json, which it replaces, let the
// last of two "user" keys win and matched "User" or "USER" to user, so that
// a proxy in front of Gatehouse and Gatehouse itself could read different
// subjects from one body.
//
// What is accepted is exactly what encoding/json decodes into an
// authorizationv1.SubjectAccessReview, minus the ambiguity:
//
//   - apiVersion and kind (required, checked by the handler);
//   - metadata: an object (or null) whose keys must be ObjectMeta's JSON
//     names (the API server sends {"creationTimestamp":null}); the values
//     are syntax-checked and skipped, never interpreted;
//   - spec (required): resourceAttributes {namespace, verb, group, version,
//     resource, subresource, name, fieldSelector, labelSelector},
//     nonResourceAttributes {path, verb}, user, groups, extra, uid. The
//     selectors are decoded strictly ({rawSelector, requirements: [{key,
//     operator, values}]}) and ignored: they only narrow a request;
//   - status: {allowed, denied, reason, evaluationError}, type-checked and
//     ignored (the API server sends {"allowed":false}).
//
// null stands for "absent" where the Go type is a pointer, slice or map
// (metadata, status, the attribute objects, selectors, groups, extra and
// its values, requirements, values); a null string or boolean is a type
// error. Strings alias the body buffer (see view) and are valid for one
// request.

// sarFields are the known keys of one object of the review, with their
// error paths precomputed so that decoding builds no strings.
type sarFields struct {
	path  string
	names []string
	paths []string
}

func newSARFields(path string, names ...string) *sarFields {
	f := &sarFields{path: path, names: names}
	for _, n := range names {
		f.paths = append(f.paths, jsonscan.JoinField(path, n))
	}
	return f
}

func (f *sarFields) index(k string) int {
	for i, n := range f.names {
		if n == k {
			return i
		}
	}
	return -1
}

// objectMetaKeys are the JSON names of metav1.ObjectMeta.
var objectMetaKeys = []string{
	"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion",
	"generation", "creationTimestamp", "deletionTimestamp",
	"deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences",
	"finalizers", "managedFields",
}

const (
	sarRAPath    = "spec.resourceAttributes"
	sarFieldSel  = sarRAPath + ".fieldSelector"
	sarLabelSel  = sarRAPath + ".labelSelector"
	sarExtraPath = "spec.extra"
)

var (
	sarTopFields    = newSARFields("", "apiVersion", "kind", "metadata", "spec", "status")
	sarMetaFields   = newSARFields("metadata", objectMetaKeys...)
	sarSpecFields   = newSARFields("spec", "resourceAttributes", "nonResourceAttributes", "user", "groups", "extra", "uid")
	sarRAFields     = newSARFields(sarRAPath, "namespace", "verb", "group", "version", "resource", "subresource", "name", "fieldSelector", "labelSelector")
	sarNRAFields    = newSARFields("spec.nonResourceAttributes", "path", "verb")
	sarStatusFields = newSARFields("status", "allowed", "denied", "reason", "evaluationError")
	sarFieldSelF    = newSARFields(sarFieldSel, "rawSelector", "requirements")
	sarLabelSelF    = newSARFields(sarLabelSel, "rawSelector", "requirements")
	// Requirement items get their index from the scanner's item prefix
	// (e.g. spec.resourceAttributes.fieldSelector.requirements[2].key).
	sarReqFields = newSARFields("", "key", "operator", "values")
)

// decodeSAR decodes body into sar (which it resets). A nil error means the
// body is one JSON object with only known keys, none repeated, each of the
// right type; whether apiVersion, kind and spec are present and right is
// reported by present (bit 0 apiVersion, 1 kind, 3 spec, as the indexes of
// sarTopFields).
func decodeSAR(body []byte, maxDepth int, sar *authorizationv1.SubjectAccessReview) (present uint32, err *DecodeError) {
	*sar = authorizationv1.SubjectAccessReview{}
	var s scanner
	s.Reset(body, maxDepth)
	if s.Peek() == 0 {
		s.Fail("", "empty request body")
		return 0, s.Err()
	}
	ok := s.sarObject(sarTopFields, &present, func(i int) bool {
		switch i {
		case 0:
			var ok bool
			sar.APIVersion, ok = s.StringField("apiVersion")
			return ok
		case 1:
			var ok bool
			sar.Kind, ok = s.StringField("kind")
			return ok
		case 2:
			if s.sarNull("metadata") {
				return s.Err() == nil
			}
			var seen uint32
			return s.sarObject(sarMetaFields, &seen, func(i int) bool {
				return s.Skip(sarMetaFields.paths[i])
			})
		case 3:
			return s.sarSpec(&sar.Spec)
		case 4:
			return s.sarStatus(&sar.Status)
		}
		return false
	})
	if !ok || !s.End() {
		return 0, s.Err()
	}
	return present, nil
}

// sarObject decodes an object with the keys of f, calling member with the
// index of each key; unknown and repeated keys are errors. seen collects
// the indexes present.
func (s *scanner) sarObject(f *sarFields, seen *uint32, member func(i int) bool) bool {
	for k, more := s.FirstKey(f.path); more; k, more = s.NextKey(f.path) {
		i := f.index(k)
		if i < 0 {
			return s.FailKey(f.path, k, "unknown field")
		}
		if *seen&(1<<i) != 0 {
			return s.Fail(f.paths[i], "duplicate key")
		}
		*seen |= 1 << i
		if !member(i) {
			return false
		}
	}
	return s.Err() == nil
}

// sarNull consumes a null and reports whether there was one (check s.Err()
// afterwards).
func (s *scanner) sarNull(field string) bool {
	if s.Peek() != 'n' {
		return false
	}
	s.Literal(field, "null")
	return true
}

func (s *scanner) sarBool(field string) (bool, bool) {
	switch s.Peek() {
	case 't':
		return true, s.Literal(field, "true")
	case 'f':
		return false, s.Literal(field, "false")
	}
	return false, s.Expected(field, "boolean")
}

// sarStrings reads a string list that may be null (nil).
func (s *scanner) sarStrings(field string) ([]string, bool) {
	if s.sarNull(field) {
		return nil, s.Err() == nil
	}
	return s.StringList(field, nil)
}

func (s *scanner) sarSpec(spec *authorizationv1.SubjectAccessReviewSpec) bool {
	var seen uint32
	return s.sarObject(sarSpecFields, &seen, func(i int) bool {
		var ok bool
		switch i {
		case 0:
			if s.sarNull(sarSpecFields.paths[i]) {
				return s.Err() == nil
			}
			spec.ResourceAttributes = &authorizationv1.ResourceAttributes{}
			return s.sarResourceAttributes(spec.ResourceAttributes)
		case 1:
			if s.sarNull(sarSpecFields.paths[i]) {
				return s.Err() == nil
			}
			spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{}
			var seen uint32
			return s.sarObject(sarNRAFields, &seen, func(i int) bool {
				var ok bool
				switch i {
				case 0:
					spec.NonResourceAttributes.Path, ok = s.StringField(sarNRAFields.paths[i])
				case 1:
					spec.NonResourceAttributes.Verb, ok = s.StringField(sarNRAFields.paths[i])
				}
				return ok
			})
		case 2:
			spec.User, ok = s.StringField(sarSpecFields.paths[i])
		case 3:
			spec.Groups, ok = s.sarStrings(sarSpecFields.paths[i])
		case 4:
			spec.Extra, ok = s.sarExtra()
		case 5:
			spec.UID, ok = s.StringField(sarSpecFields.paths[i])
		}
		return ok
	})
}

func (s *scanner) sarResourceAttributes(ra *authorizationv1.ResourceAttributes) bool {
	var seen uint32
	return s.sarObject(sarRAFields, &seen, func(i int) bool {
		p := sarRAFields.paths[i]
		var ok bool
		switch i {
		case 0:
			ra.Namespace, ok = s.StringField(p)
		case 1:
			ra.Verb, ok = s.StringField(p)
		case 2:
			ra.Group, ok = s.StringField(p)
		case 3:
			ra.Version, ok = s.StringField(p)
		case 4:
			ra.Resource, ok = s.StringField(p)
		case 5:
			ra.Subresource, ok = s.StringField(p)
		case 6:
			ra.Name, ok = s.StringField(p)
		case 7, 8:
			if s.sarNull(p) {
				return s.Err() == nil
			}
			f := sarFieldSelF
			if i == 8 {
				f = sarLabelSelF
			}
			raw, reqs, ok := s.sarSelector(f)
			if !ok {
				return false
			}
			if i == 7 {
				fs := &authorizationv1.FieldSelectorAttributes{RawSelector: raw}
				if reqs != nil {
					fs.Requirements = make([]metav1.FieldSelectorRequirement, len(reqs))
					for j, r := range reqs {
						fs.Requirements[j] = metav1.FieldSelectorRequirement{Key: r.key, Operator: metav1.FieldSelectorOperator(r.op), Values: r.values}
					}
				}
				ra.FieldSelector = fs
			} else {
				ls := &authorizationv1.LabelSelectorAttributes{RawSelector: raw}
				if reqs != nil {
					ls.Requirements = make([]metav1.LabelSelectorRequirement, len(reqs))
					for j, r := range reqs {
						ls.Requirements[j] = metav1.LabelSelectorRequirement{Key: r.key, Operator: metav1.LabelSelectorOperator(r.op), Values: r.values}
					}
				}
				ra.LabelSelector = ls
			}
			return true
		}
		return ok
	})
}

// sarRequirement is one requirement of a field or label selector.
type sarRequirement struct {
	key, op string
	values  []string
}

// sarSelector decodes a field or label selector: {rawSelector, requirements:
// [{key, operator, values}]}. A present requirements array gives a non-nil
// reqs, as encoding/json makes it.
func (s *scanner) sarSelector(f *sarFields) (raw string, reqs []sarRequirement, ok bool) {
	defer func() { s.Item, s.ItemField = -1, "" }()
	var seen uint32
	ok = s.sarObject(f, &seen, func(i int) bool {
		p := f.paths[i]
		if i == 0 {
			var ok bool
			raw, ok = s.StringField(p)
			return ok
		}
		if s.sarNull(p) {
			return s.Err() == nil
		}
		if s.Peek() == '[' {
			reqs = []sarRequirement{}
		}
		for n, more := 0, s.FirstItem(p); more; n, more = n+1, s.NextItem(p) {
			if n >= s.MaxList {
				return s.TooMany(p)
			}
			s.Item, s.ItemField = n, p
			var r sarRequirement
			var rseen uint32
			if !s.sarObject(sarReqFields, &rseen, func(i int) bool {
				var ok bool
				switch i {
				case 0:
					r.key, ok = s.StringField("key")
				case 1:
					r.op, ok = s.StringField("operator")
				case 2:
					r.values, ok = s.sarStrings("values")
				}
				return ok
			}) {
				return false
			}
			reqs = append(reqs, r)
			// Errors between items have no item prefix.
			s.Item = -1
		}
		return s.Err() == nil
	})
	return raw, reqs, ok
}

// sarExtra decodes spec.extra, a map of string lists (null values are nil
// lists, as encoding/json makes them).
func (s *scanner) sarExtra() (map[string]authorizationv1.ExtraValue, bool) {
	const f = sarExtraPath
	if s.sarNull(f) {
		return nil, s.Err() == nil
	}
	var m map[string]authorizationv1.ExtraValue
	if s.Peek() == '{' {
		m = map[string]authorizationv1.ExtraValue{}
	}
	for k, more := s.FirstKey(f); more; k, more = s.NextKey(f) {
		if _, dup := m[k]; dup {
			return nil, s.FailKey(f, k, "duplicate key")
		}
		if len(m) >= s.MaxList {
			return nil, s.TooMany(f)
		}
		var v []string
		s.PushKey(k)
		if s.sarNull(f) {
			if s.Err() != nil {
				return nil, false
			}
		} else if l, ok := s.StringList(f, nil); ok {
			v = l
		} else {
			return nil, false
		}
		s.Pop()
		m[k] = v
	}
	if s.Err() != nil {
		return nil, false
	}
	return m, true
}

func (s *scanner) sarStatus(st *authorizationv1.SubjectAccessReviewStatus) bool {
	if s.sarNull("status") {
		return s.Err() == nil
	}
	var seen uint32
	return s.sarObject(sarStatusFields, &seen, func(i int) bool {
		p := sarStatusFields.paths[i]
		var ok bool
		switch i {
		case 0:
			st.Allowed, ok = s.sarBool(p)
		case 1:
			st.Denied, ok = s.sarBool(p)
		case 2:
			st.Reason, ok = s.StringField(p)
		case 3:
			st.EvaluationError, ok = s.StringField(p)
		}
		return ok
	})
}
