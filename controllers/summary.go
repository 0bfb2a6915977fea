package controllers

import (
	"fmt"
	"strings"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// maxEventNote is the events.k8s.io/v1 limit on an Event's note.
const maxEventNote = 1024

// shownSubjects is how many subjects a summary names before "+N more": the
// audit line has them all.
const shownSubjects = 5

// summarizeDiff renders a diff on one line for an Event note, e.g.
// "gained workorders:delete (unitTree) for alex.apprentice, tina.tech",
// stopping once it is longer than an Event note can be (the audit line has
// the whole diff).
func summarizeDiff(d *snapshot.Changes) string {
	if d == nil {
		return "no diff: the previous snapshot was served by an earlier process"
	}
	if d.Empty() {
		return "no subject's access changed"
	}
	var parts []string
	size := 0
	add := func(part string) bool {
		parts = append(parts, part)
		size += len(part) + 2
		return size <= maxEventNote
	}
	for _, p := range d.Permissions {
		var what string
		switch p.Kind {
		case "fullAccess":
			what = "full access"
		case "restriction":
			what = fmt.Sprintf("restriction of %s to %s", p.Resource, p.Scope)
		default:
			what = p.Resource + ":" + p.Action
			if p.Scope != "" && p.Scope != "all" {
				what += " (" + p.Scope + ")"
			}
			if p.When != "" {
				what += " when " + truncate(p.When, 80)
			}
		}
		if !add(fmt.Sprintf("%s %s for %s", p.Change, what, subjectList(p.Subjects))) {
			return strings.Join(parts, "; ")
		}
	}
	for _, f := range d.Fields {
		if !add(fmt.Sprintf("field %s.%s %s→%s for %s", f.Resource, f.Field, f.From, f.To, subjectList(f.Subjects))) {
			return strings.Join(parts, "; ")
		}
	}
	for _, a := range d.Approvals {
		verb := "became"
		if a.Change == snapshot.Lost {
			verb = "no longer"
		}
		if !add(fmt.Sprintf("%s %s approver of %s step %s", subjectList(a.Subjects), verb, a.Resource, a.Step)) {
			break
		}
	}
	return strings.Join(parts, "; ")
}

func subjectList(subjects []string) string {
	if len(subjects) == 0 {
		return "no known subject"
	}
	if len(subjects) <= shownSubjects {
		return strings.Join(subjects, ", ")
	}
	return fmt.Sprintf("%s +%d more", strings.Join(subjects[:shownSubjects], ", "), len(subjects)-shownSubjects)
}

// eventFor returns the Event an object change is reported with: its type,
// reason and note. diff is summarizeDiff(rec.Diff), computed once per record.
func eventFor(o audit.Object, rec *audit.Record, diff string) (eventType, reason, note string) {
	revs := fmt.Sprintf("revision %s", rec.ToRevision)
	if rec.FromRevision != "" {
		revs = fmt.Sprintf("revision %s (was %s)", rec.ToRevision, rec.FromRevision)
	}
	subject := fmt.Sprintf("%s %s", o.Kind, o.Name)
	if o.Generation > 0 && o.Change != audit.ChangeDeleted { // a deletion makes no generation
		subject += fmt.Sprintf(" (generation %d)", o.Generation)
	}
	switch {
	case o.Change == audit.ChangeDeleted:
		eventType, reason = "Normal", "ObjectDeleted"
		note = fmt.Sprintf("%s deleted; serving %s: %s", subject, revs, diff)
	case !o.Served && len(o.Problems) > 0:
		p := o.Problems[0]
		eventType, reason = "Warning", p.Reason
		field := ""
		if p.Field != "" {
			field = p.Field + ": "
		}
		if o.Change == audit.ChangeLeftOut {
			note = fmt.Sprintf("%s left out of %s after a change to an object it depends on: %s%s", subject, revs, field, p.Message)
		} else {
			note = fmt.Sprintf("%s %s and left out of %s: %s%s", subject, o.Change, revs, field, p.Message)
		}
	default:
		eventType, reason = "Normal", accessv1.ReasonCompiled
		note = fmt.Sprintf("%s %s, served in %s: %s", subject, o.Change, revs, diff)
	}
	return eventType, reason, truncate(note, maxEventNote)
}
