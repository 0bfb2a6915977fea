package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/views"
)

// The what-if form (GET and POST /t/{tenant}/what-if, POST .../download):
//
//	set=Role/NAME/MODULE/ACTION/SCOPE       repeatable; SCOPE none removes the grant
//	set=FieldPolicy/NAME/FIELD/ROLE/ACCESS  repeatable; ACCESS default removes the role's grant
//	object=Kind/Name                        the object the textarea holds
//	yaml=...                                that object edited (applied before the set edits)
//
// Every toggle of the page is a submit button name=set value=its edit; the
// edits so far ride along as hidden set inputs, so that without JavaScript
// each toggle posts the form and the page comes back with all of them.
// assets/whatif.js posts the same form with fetch and swaps the result in.

// maxWhatIfBody bounds the whole form: the YAML (views.MaxYAML) and the edits.
const maxWhatIfBody = views.MaxYAML + 64<<10

type whatIfData struct {
	Posted  bool
	Refused bool // the loaded tenant has no snapshot
	Edits   []views.Edit
	Object  string
	Objects []views.ObjectRef
	YAML    string
	Matrix  views.ToggleMatrix
	Roles   []string
	Fields  []views.FieldToggleRow
	Result  *views.WhatIf
	Effect  effect
}

// whatIfInput is the form read and applied.
type whatIfInput struct {
	edits  []views.Edit
	object views.ObjectRef
	yaml   string
	edited snapshot.Objects
}

func (s *Server) readWhatIf(r *http.Request, t *Tenant) (*whatIfInput, error) {
	in := &whatIfInput{edited: t.Objects}
	var values map[string][]string
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(nil, r.Body, maxWhatIfBody)
		if err := r.ParseForm(); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return nil, badInput("the form is larger than %d bytes (yaml: at most %d)", maxWhatIfBody, views.MaxYAML)
			}
			return nil, badInput("the form cannot be read: %s", bounded(err.Error()))
		}
		values = r.PostForm
	} else {
		values = r.URL.Query()
	}
	var sets []string
	for _, v := range values["set"] {
		if v != "" {
			sets = append(sets, v)
		}
	}
	if len(sets) > views.MaxEdits {
		return nil, badInput("set: %d edits, at most %d", len(sets), views.MaxEdits)
	}
	for _, v := range sets {
		e, err := views.ParseEdit(v)
		if err != nil {
			return nil, badInput("set: %v", err)
		}
		in.edits = append(in.edits, e)
	}
	in.edits = latestEdits(in.edits)
	if o := first(values["object"]); o != "" {
		ref, err := views.ParseObjectRef(o)
		if err != nil {
			return nil, badInput("object: %v", err)
		}
		if _, ok := views.ObjectYAML(t.Objects, ref); !ok {
			return nil, badInput("object %s: no such object in tenant %s", quote(o), quote(t.Name))
		}
		in.object = ref
	}
	if r.Method == http.MethodPost {
		in.yaml = strings.ReplaceAll(first(values["yaml"]), "\r\n", "\n")
	}
	if len(in.yaml) > views.MaxYAML {
		return nil, badInput("yaml: %d bytes, at most %d", len(in.yaml), views.MaxYAML)
	}
	if strings.TrimSpace(in.yaml) != "" {
		if in.object.Kind == "" {
			return nil, badInput("object: say which object the yaml replaces (Kind/Name)")
		}
		orig, _ := views.ObjectYAML(t.Objects, in.object)
		if in.yaml != string(orig) {
			edited, err := views.ReplaceObject(t.Objects, t.Name, in.object, []byte(in.yaml))
			if err != nil {
				return nil, badInput("%v", err)
			}
			in.edited = edited
		}
	}
	edited, err := views.ApplyEdits(in.edited, in.edits)
	if err != nil {
		return nil, badInput("set: %v", err)
	}
	in.edited = edited
	return in, nil
}

// latestEdits keeps the last edit of each cell, in the order of their
// last setting.
func latestEdits(edits []views.Edit) []views.Edit {
	target := func(e views.Edit) views.Edit {
		e.Scope, e.Access = "", ""
		return e
	}
	var out []views.Edit
	for i, e := range edits {
		later := false
		for _, f := range edits[i+1:] {
			if target(f) == target(e) {
				later = true
				break
			}
		}
		if !later {
			out = append(out, e)
		}
	}
	return out
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func (s *Server) whatIfData(r *http.Request, t *Tenant) (any, error) {
	in, err := s.readWhatIf(r, t)
	if err != nil {
		return nil, err
	}
	d := whatIfData{Posted: r.Method == http.MethodPost, Refused: t.Snapshot == nil, Edits: in.edits,
		Objects: views.ObjectRefs(t.Objects), YAML: in.yaml}
	if in.object.Kind == "" && len(d.Objects) > 0 {
		in.object = d.Objects[0]
	}
	d.Object = in.object.String()
	if d.YAML == "" || !d.Posted {
		y, _ := views.ObjectYAML(t.Objects, in.object)
		d.YAML = string(y)
	}
	d.Matrix = views.RoleToggles(in.edited)
	d.Roles, d.Fields = views.FieldToggles(in.edited)
	if d.Posted {
		w := views.Evaluate(t.Name, t.Snapshot, t.Problems, t.Objects, in.edited, s.limit)
		d.Result = &w
		d.Effect = effectOf(&w.Changes)
	}
	return d, nil
}

// whatIfDownload answers the edited objects as YAML, or with
// ?format=patch a unified-diff-style patch of their YAML.
func (s *Server) whatIfDownload(w http.ResponseWriter, r *http.Request, t *Tenant) error {
	format := r.URL.Query().Get("format")
	if format != "" && format != "yaml" && format != "patch" {
		return badInput("format %s: want yaml or patch", quote(format))
	}
	in, err := s.readWhatIf(r, t)
	if err != nil {
		return err
	}
	changed := views.ChangedObjects(t.Objects, in.edited)
	var body strings.Builder
	name := t.Name + "-what-if.yaml"
	if format == "patch" {
		name = t.Name + "-what-if.patch"
		body.WriteString(views.Patch(t.Objects, in.edited, changed))
	} else {
		if len(changed) == 0 {
			body.WriteString("# no objects changed\n")
		}
		for i, ref := range changed {
			if i > 0 {
				body.WriteString("---\n")
			}
			y, _ := views.ObjectYAML(in.edited, ref)
			body.Write(y)
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if format == "patch" {
		h.Set("Content-Type", "text/x-diff; charset=utf-8")
	}
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", safeFileName(name)))
	_, err = w.Write([]byte(body.String()))
	return err
}

// safeFileName keeps the characters of a tenant name a file name may have.
func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
