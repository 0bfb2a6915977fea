package cli

import (
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/views"
)

// The property parser is shared with the console: internal/views.

// parseProps parses KEY=VALUE flags (views.ParseProps); a malformed one is
// a usage error.
func parseProps(flags []string) (map[string]any, error) {
	props, err := views.ParseProps(flags)
	if err != nil {
		return nil, usageError("%v", err)
	}
	return props, nil
}

// makeResource builds a Resource from its type, ID and properties, standard
// properties going to their own fields.
func makeResource(typ, id string, props map[string]any) (snapshot.Resource, error) {
	return views.MakeResource(typ, id, props)
}

// makeSubject builds a Subject from its ID, IdP groups and properties.
func makeSubject(id string, groups []string, props map[string]any) (snapshot.Subject, error) {
	return views.MakeSubject(id, groups, props)
}

func sortedKeys[V any](m map[string]V) []string { return views.SortedKeys(m) }

// splitResource splits "workorders/42" into type and ID.
func splitResource(s string) (typ, id string) {
	typ, id, _ = strings.Cut(s, "/")
	return typ, id
}
