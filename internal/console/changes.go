package console

import (
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// changesData is the audit trail of a tenant as a timeline, newest first:
// GET /t/{tenant}/changes?since=&until=&user=.
type changesData struct {
	// NoTrail: the console was started without --audit-log.
	NoTrail bool
	Trail   []string
	Since   string
	Until   string
	User    string
	Stats   audit.ReadStats
	Entries []changeEntry
}

// changeEntry is one served change or one denied admission.
type changeEntry struct {
	Time time.Time
	// Denied is set for a denied admission (nothing changed).
	Denied bool
	// User, Groups and Source describe the author.
	User   string
	Groups []string
	Source *audit.Source
	// Operation and Reason of a denied admission.
	Operation, Reason string
	// Objects are the objects changed (for a denial, the one refused).
	Objects []audit.Object
	// Served are the revisions that served the change; Diff is the first
	// one's diff (nil when unknown).
	Served []*audit.Served
	Effect effect
	// NoDiff: the trail has no diff of it (not served yet, or loaded).
	NoDiff bool
}

func (s *Server) changesData(r *http.Request, t *Tenant) (any, error) {
	q := r.URL.Query()
	d := changesData{Trail: s.opts.Trail, Since: q.Get("since"), Until: q.Get("until"), User: q.Get("user")}
	if len(s.opts.Trail) == 0 {
		d.NoTrail = true
		return d, nil
	}
	f := audit.Filter{Tenant: t.Name, User: d.User}
	var err error
	if f.Since, err = parseTime("since", d.Since); err != nil {
		return nil, err
	}
	if f.Until, err = parseTime("until", d.Until); err != nil {
		return nil, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return nil, badInput("since must be before until")
	}
	ix, stats, err := s.trail.index(s.opts.Trail)
	if err != nil {
		return nil, err
	}
	d.Stats = stats
	for _, c := range ix.Changes(f) {
		e := changeEntry{Time: c.Time, Objects: []audit.Object{c.Object}, Served: c.Served, Source: c.Source}
		if c.Admission != nil {
			e.User, e.Groups = c.Admission.User.Name, c.Admission.User.Groups
		}
		if len(c.Served) > 0 && c.Served[0].Diff != nil {
			e.Effect = effectOf(c.Served[0].Diff)
		} else {
			e.NoDiff = true
		}
		d.Entries = append(d.Entries, e)
	}
	for _, a := range ix.Denied(f) {
		d.Entries = append(d.Entries, changeEntry{Time: a.Time, Denied: true, User: a.User.Name, Groups: a.User.Groups,
			Source: a.Object.Source, Operation: a.Operation, Reason: a.Reason, Objects: []audit.Object{a.Object}})
	}
	sort.SliceStable(d.Entries, func(i, j int) bool { return d.Entries[i].Time.After(d.Entries[j].Time) })
	return d, nil
}

// parseTime reads an RFC 3339 time or a date (midnight UTC).
func parseTime(param, v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, badInput("%s %s: want a time like 2026-11-30T10:00:00Z or a date like 2026-11-30", param, quote(v))
}
