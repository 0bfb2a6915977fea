package console

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/views"
)

// diffRoots are the directories /diff may read: paths inside them, and git
// revisions of paths inside them. nil: /diff is disabled (the console was
// not told its -f directories: Options.Roots).
func (s *Server) diffRoots() []string { return s.opts.Roots }

// diffData is gatehouse diff OLD NEW rendered: GET /diff?old=&new=&tenant=.
type diffData struct {
	Old, New, Tenant string
	Roots            []string
	// Disabled: the console has no roots to read from.
	Disabled bool
	// Asked: old and new were given.
	Asked bool
	Out   views.DiffOutput
	// Changed are the tenants whose access changed.
	Changed []diffTenant
}

type diffTenant struct {
	views.TenantDiff
	Effect effect
}

var gitRev = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/~^@{}-]{0,99}$`)

func (s *Server) diffData(r *http.Request, _ *Tenant) (any, error) {
	q := r.URL.Query()
	d := diffData{Old: q.Get("old"), New: q.Get("new"), Tenant: q.Get("tenant"), Roots: s.diffRoots()}
	if len(d.Roots) == 0 {
		d.Disabled = true
		return d, nil
	}
	if d.Old == "" && d.New == "" {
		return d, nil
	}
	d.Asked = true
	var sets [2]*manifest.Set
	for i, side := range []struct{ param, spec string }{{"old", d.Old}, {"new", d.New}} {
		set, err := s.readDiffSide(side.param, side.spec, d.Roots)
		if err != nil {
			return nil, err
		}
		sets[i] = set
	}
	d.Out = views.DiffSets(d.Old, d.New, sets[0], sets[1])
	for _, t := range d.Out.Tenants {
		if (d.Tenant == "" || t.Tenant == d.Tenant) && t.Changed() {
			d.Changed = append(d.Changed, diffTenant{TenantDiff: t, Effect: effectOf(&t.Changes)})
		}
	}
	return d, nil
}

// readDiffSide reads a directory or file inside a root, or git:REV:PATH of
// a path inside a root; anything else is bad input naming param.
func (s *Server) readDiffSide(param, spec string, roots []string) (*manifest.Set, error) {
	if spec == "" {
		return nil, badInput("%s: missing (a directory inside %s, or git:REV:PATH)", param, strings.Join(roots, ", "))
	}
	if strings.HasPrefix(spec, "cluster:") {
		return nil, badInput("%s %s: the console diffs files and git revisions only", param, quote(spec))
	}
	rev, path, isGit, err := views.GitSpec(spec)
	if err != nil {
		return nil, badInput("%s %s: want git:REV:PATH", param, quote(spec))
	}
	if !isGit {
		abs, ok := insideRoots(spec, roots)
		if !ok {
			return nil, badInput("%s %s: not inside the directories the console reads (%s)", param, quote(spec), strings.Join(roots, ", "))
		}
		set, err := manifest.Read([]string{abs}, manifest.Options{})
		if err != nil {
			return nil, badInput("%s %s: %s", param, quote(spec), bounded(err.Error()))
		}
		return set, nil
	}
	if !gitRev.MatchString(rev) || strings.Contains(rev, "..") {
		return nil, badInput("%s %s: not a git revision", param, quote(spec))
	}
	// PATH is relative to the top of the repository of a root.
	if filepath.IsAbs(path) || hasDotDot(path) {
		return nil, badInput("%s %s: PATH must be relative to the repository, without ..", param, quote(spec))
	}
	for _, root := range roots {
		top, err := views.GitTop(root)
		if err != nil {
			continue
		}
		if _, ok := insideRoots(filepath.Join(top, path), roots); !ok {
			continue
		}
		dir, err := os.MkdirTemp("", "gatehouse-console-diff-")
		if err != nil {
			return nil, err
		}
		defer func() { _ = os.RemoveAll(dir) }() // best-effort cleanup of a temp dir
		if err := views.GitExtract(top, rev, path, dir); err != nil {
			return nil, badInput("%s %s: %s", param, quote(spec), bounded(err.Error()))
		}
		set, err := manifest.Read([]string{filepath.Join(dir, path)}, manifest.Options{})
		if err != nil {
			return nil, badInput("%s %s: %s", param, quote(spec), bounded(err.Error()))
		}
		views.NameGitFiles(set, dir, rev)
		return set, nil
	}
	return nil, badInput("%s %s: not a path inside the directories the console reads (%s), in their git repository", param, quote(spec), strings.Join(roots, ", "))
}

// hasDotDot reports whether a path has a ".." element.
func hasDotDot(p string) bool {
	return slices.Contains(strings.FieldsFunc(filepath.ToSlash(p), func(r rune) bool { return r == '/' }), "..")
}

// insideRoots resolves p (symbolic links too) and reports whether it is a
// root or inside one. A path with a ".." element is refused outright.
func insideRoots(p string, roots []string) (string, bool) {
	if hasDotDot(p) {
		return "", false
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", false
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	for _, root := range roots {
		r, err := filepath.Abs(root)
		if err != nil {
			continue
		}
		if real, err := filepath.EvalSymlinks(r); err == nil {
			r = real
		}
		if rel, err := filepath.Rel(r, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return abs, true
		}
	}
	return "", false
}

// bounded cuts an error message that may quote input.
func bounded(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// effect is a snapshot.Changes worded for the pages (changes, diff,
// what-if), gained and lost told by words as well as colour.
type effect struct {
	Permissions []permRow
	Fields      []snapshot.FieldChange
	Approvals   []approvalRow
}

type permRow struct {
	Gained   bool
	Words    string
	Subjects []string
	Groups   []string
}

type approvalRow struct {
	Gained   bool
	Resource string
	Step     string
	Subjects []string
}

// Empty reports whether nothing changed.
func (e effect) Empty() bool {
	return len(e.Permissions) == 0 && len(e.Fields) == 0 && len(e.Approvals) == 0
}

func effectOf(c *snapshot.Changes) effect {
	var e effect
	if c == nil {
		return e
	}
	for _, p := range c.Permissions {
		e.Permissions = append(e.Permissions, permRow{Gained: p.Change == snapshot.Gained, Words: views.GrantWords(p), Subjects: p.Subjects, Groups: p.Groups})
	}
	e.Fields = c.Fields
	for _, a := range c.Approvals {
		e.Approvals = append(e.Approvals, approvalRow{Gained: a.Change == snapshot.Gained, Resource: a.Resource, Step: a.Step, Subjects: a.Subjects})
	}
	return e
}
