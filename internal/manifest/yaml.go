package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	kjson "sigs.k8s.io/json"
)

// Document is one YAML (or JSON) document of a file, kept as a node tree so
// that any field can be traced back to its line.
type Document struct {
	// File is the file the document was read from ("-" for stdin).
	File string
	// Line is the line where the document's content starts.
	Line int
	// Node is the document's root node (a mapping for Kubernetes objects).
	Node *yaml.Node
}

// Pos returns "file:line" for the given line.
func (d *Document) Pos(line int) string { return fmt.Sprintf("%s:%d", d.File, line) }

// Error is an error in an input file at a known position.
type Error struct {
	// File is the file the error is in ("-" for stdin).
	File string
	// Line is the line of the error, 0 when unknown.
	Line int
	// Msg says what is wrong.
	Msg string
}

// Error renders the error as "file:line: message".
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ParseDocuments splits data into its YAML documents (JSON is YAML too).
// Empty documents are skipped. Syntax errors carry the line they occur on.
func ParseDocuments(file string, data []byte) ([]*Document, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*Document
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, yamlError(file, err)
		}
		root := &n
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		docs = append(docs, &Document{File: file, Line: root.Line, Node: root})
	}
}

// yamlError turns a yaml.v3 error ("yaml: line 7: did not find ...") into an
// Error with the line split out.
func yamlError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = strings.Join(te.Errors, "; ")
	}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.Index(rest, ":"); i > 0 {
			if line, err := strconv.Atoi(rest[:i]); err == nil {
				return &Error{File: file, Line: line, Msg: strings.TrimSpace(rest[i+1:])}
			}
		}
	}
	return &Error{File: file, Msg: msg}
}

// Decode decodes the document into v strictly: unknown and duplicate fields
// are errors, located at their line. YAML is converted to JSON first so that
// v's JSON tags and custom unmarshalers apply, exactly as for objects read
// from the API server.
func (d *Document) Decode(v any) error {
	return decodeNode(d, d.Node, "", v)
}

// decodeNode decodes n strictly into v; errors are located in d below n.
func decodeNode(d *Document, n *yaml.Node, prefix string, v any) error {
	var raw any
	if err := n.Decode(&raw); err != nil {
		return yamlError(d.File, err)
	}
	data, err := json.Marshal(jsonable(raw))
	if err != nil {
		return &Error{File: d.File, Line: n.Line, Msg: err.Error()}
	}
	strict, err := kjson.UnmarshalStrict(data, v)
	if err != nil {
		return d.fieldError(n, prefix, err)
	}
	if len(strict) > 0 {
		return d.fieldError(n, prefix, strict[0])
	}
	return nil
}

// fieldError locates a decoding error by its field path when it has one.
func (d *Document) fieldError(n *yaml.Node, prefix string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "json: ")
	path := ""
	var fe kjson.FieldError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &fe):
		path = fe.FieldPath()
	case errors.As(err, &te):
		path = te.Field
		msg = fmt.Sprintf("%s: cannot use %s as %s", te.Field, te.Value, te.Type)
	}
	line := n.Line
	if path != "" {
		line = LocateNode(n, path)
		if prefix != "" {
			msg = prefix + "." + msg
		}
	}
	return &Error{File: d.File, Line: line, Msg: msg}
}

// jsonable converts what yaml.v3 decodes into values encoding/json accepts
// (maps with non-string keys become string-keyed).
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonable(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = jsonable(e)
		}
		return t
	default:
		return v
	}
}

// Locate returns the line of the node at path in the document, e.g.
// spec.permissions[2].when, or of the deepest node on the path that exists.
func (d *Document) Locate(path string) int { return LocateNode(d.Node, path) }

// LocateNode returns the line of the node at path below n (a path of
// dot-separated keys and [index] suffixes, as in Problem.Field and JSON
// decoding errors), or of the deepest existing node on the way.
func LocateNode(n *yaml.Node, path string) int {
	line := n.Line
	for _, seg := range splitPath(path) {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		next, keyLine := child(n, seg)
		if next == nil {
			if keyLine > 0 {
				return keyLine
			}
			return line
		}
		n = next
		line = keyLine
	}
	return line
}

// child returns the child node for one path segment and the line to report
// for it (the key's line for mapping entries).
func child(n *yaml.Node, seg string) (*yaml.Node, int) {
	if idx, ok := strings.CutPrefix(seg, "["); ok {
		i, err := strconv.Atoi(strings.TrimSuffix(idx, "]"))
		if err != nil || n.Kind != yaml.SequenceNode || i < 0 || i >= len(n.Content) {
			return nil, 0
		}
		return n.Content[i], n.Content[i].Line
	}
	if n.Kind != yaml.MappingNode {
		return nil, 0
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == seg {
			return n.Content[i+1], n.Content[i].Line
		}
	}
	return nil, 0
}

// splitPath splits "spec.permissions[2].when" into spec, permissions, [2],
// when. Quoted keys (["a.b"]) are not used by the compiler and not handled.
func splitPath(path string) []string {
	var segs []string
	for _, part := range strings.Split(path, ".") {
		for part != "" {
			i := strings.Index(part, "[")
			switch {
			case i < 0:
				segs = append(segs, part)
				part = ""
			case i > 0:
				segs = append(segs, part[:i])
				part = part[i:]
			default:
				j := strings.Index(part, "]")
				if j < 0 {
					segs = append(segs, part)
					part = ""
					continue
				}
				segs = append(segs, part[:j+1])
				part = part[j+1:]
			}
		}
	}
	return segs
}

// scalar returns the string value of key in a mapping node ("" if absent).
func scalar(n *yaml.Node, keys ...string) string {
	for _, k := range keys {
		c, _ := child(n, k)
		if c == nil {
			return ""
		}
		n = c
	}
	if n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
