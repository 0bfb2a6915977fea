// Package manifest reads Gatehouse access objects (Roles, UserGroups,
// FieldPolicies, ApprovalChains) from YAML or JSON files, directories and
// stdin, the way tenant admins keep them in Git, and remembers where each
// object (and each of its fields) was written so that compile problems can
// be reported as file:line.
//
// Objects are grouped by tenant: metadata.namespace, else the namespace of a
// kustomization.yaml in the same directory, else a default. Other kinds
// (Namespace, Deployments, …) and documents that are not Kubernetes objects
// are skipped; the four access kinds are decoded strictly.
package manifest

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Stdin is the path that reads from the stdin reader given to Read.
const Stdin = "-"

// DefaultTenant is the tenant of objects with no namespace from anywhere.
const DefaultTenant = "default"

// Object is one access object read from a file.
type Object struct {
	// Kind is Role, UserGroup, FieldPolicy or ApprovalChain.
	Kind string
	// Name is metadata.name.
	Name string
	// Tenant is the namespace the object belongs to.
	Tenant string
	// Doc is the document the object was read from.
	Doc *Document
	// Node is the object's node in Doc (Doc.Node, or an item of a List).
	Node *yaml.Node

	// Role is set when Kind is Role (exactly one of the four is set).
	Role *v1alpha1.Role
	// UserGroup is set when Kind is UserGroup.
	UserGroup *v1alpha1.UserGroup
	// FieldPolicy is set when Kind is FieldPolicy.
	FieldPolicy *v1alpha1.FieldPolicy
	// ApprovalChain is set when Kind is ApprovalChain.
	ApprovalChain *v1alpha1.ApprovalChain
}

// Pos is the object's position, "file:line".
func (o *Object) Pos() string { return o.Doc.Pos(o.Node.Line) }

// FieldPos is the position of a field of the object (a path like
// spec.permissions[2].when), or of the closest enclosing field written.
func (o *Object) FieldPos(field string) string {
	if field == "" {
		return o.Pos()
	}
	return o.Doc.Pos(LocateNode(o.Node, field))
}

// Set is every access object read, in reading order.
type Set struct {
	// Objects in the order they were read (files sorted by path).
	Objects []*Object
}

// Options tune Read.
type Options struct {
	// Tenant is used for objects whose tenant is not known otherwise
	// (DefaultTenant when empty).
	Tenant string
	// Stdin is read for the path "-".
	Stdin io.Reader
	// Lean keeps no YAML node trees of files: each object keeps only its
	// own line, so FieldPos gives the object's line (read the file again
	// for fields' lines). For reading thousands of tenants, whose trees
	// would take several times the memory of the compiled snapshots.
	// Standard input, which cannot be read again, keeps its trees.
	Lean bool
}

// Read reads every path: a file, a directory (recursively, *.yaml, *.yml and
// *.json, kustomization files excepted) or "-" for stdin.
func Read(paths []string, opts Options) (*Set, error) {
	if opts.Tenant == "" {
		opts.Tenant = DefaultTenant
	}
	set := &Set{}
	for _, p := range paths {
		if p == Stdin {
			if opts.Stdin == nil {
				return nil, fmt.Errorf("-: no standard input")
			}
			data, err := io.ReadAll(opts.Stdin)
			if err != nil {
				return nil, fmt.Errorf("-: %w", err)
			}
			if err := set.add(Stdin, data, opts.Tenant, false); err != nil {
				return nil, err
			}
			continue
		}
		files, err := listFiles(p)
		if err != nil {
			return nil, err
		}
		if err := set.addFiles(files, opts); err != nil {
			return nil, err
		}
	}
	return set, nil
}

// addFiles reads files as a loop over them would, returning the error of
// the first file that has one, but parses them concurrently: parsing is
// most of the time of reading thousands of tenants.
func (s *Set) addFiles(files []string, opts Options) error {
	type dirResult struct {
		tenant string
		err    error
	}
	dirs := map[string]dirResult{}
	for _, f := range files {
		d := filepath.Dir(f)
		if _, ok := dirs[d]; !ok {
			t, err := dirTenant(d, opts.Tenant)
			dirs[d] = dirResult{t, err}
		}
	}
	parsed := make([]struct {
		set Set
		err error
	}, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(files) {
					return
				}
				f, r := files[i], &parsed[i]
				data, err := os.ReadFile(f)
				if err == nil {
					err = dirs[filepath.Dir(f)].err
				}
				if err == nil {
					err = r.set.add(f, data, dirs[filepath.Dir(f)].tenant, opts.Lean)
				}
				r.err = err
			}
		})
	}
	wg.Wait()
	for i := range parsed {
		if parsed[i].err != nil {
			return parsed[i].err
		}
		s.Objects = append(s.Objects, parsed[i].set.Objects...)
	}
	return nil
}

// isKustomization reports whether a file name is a kustomization file.
func isKustomization(name string) bool {
	switch name {
	case "kustomization.yaml", "kustomization.yml", "Kustomization":
		return true
	}
	return false
}

// listFiles lists the manifest files of a path, sorted.
func listFiles(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if isKustomization(d.Name()) {
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// dirTenant returns the namespace of the kustomization file in dir, or def.
func dirTenant(dir, def string) (string, error) {
	for _, name := range []string{"kustomization.yaml", "kustomization.yml", "Kustomization"} {
		f := filepath.Join(dir, name)
		data, err := os.ReadFile(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return "", err
		}
		docs, err := ParseDocuments(f, data)
		if err != nil {
			return "", err
		}
		if len(docs) > 0 {
			if ns := scalar(docs[0].Node, "namespace"); ns != "" {
				return ns, nil
			}
		}
		return def, nil
	}
	return def, nil
}

// Add parses data (YAML or JSON documents, e.g. objects listed from a
// cluster) and keeps its access objects; file names them in positions, and
// tenant is the tenant of objects without a namespace.
func (s *Set) Add(file string, data []byte, tenant string) error {
	return s.add(file, data, tenant, false)
}

// add parses one file's documents and keeps its access objects; lean: see
// Options.Lean.
func (s *Set) add(file string, data []byte, tenant string, lean bool) error {
	docs, err := ParseDocuments(file, data)
	if err != nil {
		return err
	}
	for _, d := range docs {
		first := len(s.Objects)
		if err := s.addNode(d, d.Node, tenant); err != nil {
			return err
		}
		if lean {
			for _, o := range s.Objects[first:] {
				o.Node = &yaml.Node{Kind: o.Node.Kind, Line: o.Node.Line, Column: o.Node.Column}
			}
			d.Node = nil
		}
	}
	return nil
}

// addNode keeps the object at n, descending into List items.
func (s *Set) addNode(d *Document, n *yaml.Node, tenant string) error {
	if n.Kind != yaml.MappingNode {
		return nil // not a Kubernetes object (e.g. a list of values)
	}
	kind := scalar(n, "kind")
	apiVersion := scalar(n, "apiVersion")
	if items, _ := child(n, "items"); items != nil && strings.HasSuffix(kind, "List") {
		if items.Kind != yaml.SequenceNode {
			return &Error{File: d.File, Line: items.Line, Msg: "items: must be a list"}
		}
		for _, it := range items.Content {
			if err := s.addNode(d, it, tenant); err != nil {
				return err
			}
		}
		return nil
	}
	group, _, _ := strings.Cut(apiVersion, "/")
	if group != v1alpha1.GroupVersion.Group {
		return nil
	}
	if apiVersion != v1alpha1.GroupVersion.String() {
		return &Error{File: d.File, Line: n.Line, Msg: fmt.Sprintf("apiVersion %s is not supported (want %s)", apiVersion, v1alpha1.GroupVersion)}
	}
	o := &Object{Kind: kind, Doc: d, Node: n}
	k, ok := v1alpha1.LookupAccessKind(kind)
	if !ok {
		return nil // PermissionSnapshot and kinds of later versions
	}
	obj := k.New()
	if err := decodeNode(d, n, "", obj); err != nil {
		return err
	}
	switch x := obj.(type) {
	case *v1alpha1.Role:
		o.Role = x
	case *v1alpha1.UserGroup:
		o.UserGroup = x
	case *v1alpha1.FieldPolicy:
		o.FieldPolicy = x
	case *v1alpha1.ApprovalChain:
		o.ApprovalChain = x
	}
	meta := &objectMeta{obj.GetName(), obj.GetNamespace()}
	if meta.name == "" {
		return &Error{File: d.File, Line: n.Line, Msg: kind + ": metadata.name is required"}
	}
	o.Name = meta.name
	o.Tenant = meta.namespace
	if o.Tenant == "" {
		o.Tenant = tenant
	}
	s.Objects = append(s.Objects, o)
	return nil
}

type objectMeta struct{ name, namespace string }

// Tenants lists the tenants of the set, sorted.
func (s *Set) Tenants() []string {
	seen := map[string]bool{}
	var ts []string
	for _, o := range s.Objects {
		if !seen[o.Tenant] {
			seen[o.Tenant] = true
			ts = append(ts, o.Tenant)
		}
	}
	sort.Strings(ts)
	return ts
}

// appendTo adds the object to objs, in the list of its kind.
func (o *Object) appendTo(objs *snapshot.Objects) {
	switch {
	case o.Role != nil:
		objs.Roles = append(objs.Roles, *o.Role)
	case o.UserGroup != nil:
		objs.Groups = append(objs.Groups, *o.UserGroup)
	case o.FieldPolicy != nil:
		objs.FieldPolicies = append(objs.FieldPolicies, *o.FieldPolicy)
	case o.ApprovalChain != nil:
		objs.ApprovalChains = append(objs.ApprovalChains, *o.ApprovalChain)
	}
}

// SnapshotObjects returns the tenant's objects in the form Compile takes.
func (s *Set) SnapshotObjects(tenant string) snapshot.Objects {
	var objs snapshot.Objects
	for _, o := range s.Objects {
		if o.Tenant != tenant {
			continue
		}
		o.appendTo(&objs)
	}
	return objs
}

// ByTenant returns every tenant's objects in the form Compile takes: what
// SnapshotObjects returns for each, in one pass over the set. The slices
// are sized exactly: a snapshot may keep them.
func (s *Set) ByTenant() map[string]snapshot.Objects {
	type counts struct{ roles, groups, fps, chains int }
	n := map[string]*counts{}
	for _, o := range s.Objects {
		c := n[o.Tenant]
		if c == nil {
			c = &counts{}
			n[o.Tenant] = c
		}
		switch {
		case o.Role != nil:
			c.roles++
		case o.UserGroup != nil:
			c.groups++
		case o.FieldPolicy != nil:
			c.fps++
		case o.ApprovalChain != nil:
			c.chains++
		}
	}
	m := make(map[string]snapshot.Objects, len(n))
	for t, c := range n {
		m[t] = snapshot.Objects{
			Roles:          sized[v1alpha1.Role](c.roles),
			Groups:         sized[v1alpha1.UserGroup](c.groups),
			FieldPolicies:  sized[v1alpha1.FieldPolicy](c.fps),
			ApprovalChains: sized[v1alpha1.ApprovalChain](c.chains),
		}
	}
	for _, o := range s.Objects {
		objs := m[o.Tenant]
		o.appendTo(&objs)
		m[o.Tenant] = objs
	}
	return m
}

// sized is a slice with room for n, nil for none (as append leaves it).
func sized[T any](n int) []T {
	if n == 0 {
		return nil
	}
	return make([]T, 0, n)
}

// Find returns the first object of the tenant with that kind and name.
func (s *Set) Find(tenant, kind, name string) *Object {
	for _, o := range s.Objects {
		if o.Tenant == tenant && o.Kind == kind && o.Name == name {
			return o
		}
	}
	return nil
}
