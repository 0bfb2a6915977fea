//go:build soak

package soak

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// ---- the report ----

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func (run *soakRun) report() string {
	run.mu.Lock()
	defer run.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %s, %d tenants, 2 replicas\n", run.end.Sub(run.start).Round(time.Second), len(run.tenants))
	fmt.Fprintf(&b, "answers checked: %d; wrong: %d; at an unknown revision: %d; at a revision mixing the Roles of one applied state with the UserGroups of another (checked against that mix): %d\n",
		run.checked.Load(), run.wrong.Load(), run.unknown.Load(), run.mixed.Load())
	if u := run.firstUnknown.Load(); u != nil {
		fmt.Fprintf(&b, "first unknown revision: %s\n", u)
		var secs []string
		last := -1
		for _, at := range run.unknownAt {
			if s := int(at.Seconds()); s != last {
				secs = append(secs, strconv.Itoa(s))
				last = s
			}
		}
		fmt.Fprintf(&b, "seconds with answers at unknown revisions: %s\n", strings.Join(secs, " "))
		if len(run.unknownRevs) > 0 {
			records, _, err := audit.ReadPaths([]string{run.h.replicas[0].audit}, nil)
			fmt.Fprintf(&b, "unknown revisions of %s, from its audit trail (read error: %v):\n", run.h.replicas[0].name, err)
			for _, tn := range run.tenants {
				for i, rev := range run.unknownRevs[tn] {
					if i == 5 {
						fmt.Fprintf(&b, "  %s: %d more\n", tn.name, len(run.unknownRevs[tn])-i)
						break
					}
					fmt.Fprintf(&b, "  %s: %s\n", tn.name, tn.composition(records, rev, 4))
				}
			}
		}
	}
	var searches int
	var searchTime time.Duration
	for _, tn := range run.tenants {
		tn.mu.Lock()
		searches, searchTime = searches+tn.searches, searchTime+tn.searchTime
		tn.mu.Unlock()
	}
	fmt.Fprintf(&b, "searches for mixes of two states: %d, %s in all\n", searches, searchTime.Round(time.Millisecond))
	fmt.Fprintf(&b, "changes applied: %d (apply errors, retried: %d); invalid changes rejected by the webhook: %d, admitted: %d\n",
		run.changes.Load(), run.changeErrors.Load(), run.invalidRejected.Load(), run.invalidAccepted.Load())
	inFault := func(at time.Time) bool {
		for _, f := range run.faultLogs {
			if !at.Before(f.from.Add(-time.Second)) && at.Before(f.to.Add(10*time.Second)) {
				return true
			}
		}
		return false
	}
	for _, r := range run.h.replicas {
		var all, quiet, quietSmall []time.Duration
		for _, p := range run.propag[r.name] {
			all = append(all, p.d)
			if !inFault(p.acked) {
				quiet = append(quiet, p.d)
				if !p.big {
					quietSmall = append(quietSmall, p.d)
				}
			}
		}
		for _, set := range []struct {
			name string
			ds   []time.Duration
		}{{"outside faults", quiet}, {"outside faults, small tenants", quietSmall}, {"all", all}} {
			fmt.Fprintf(&b, "propagation to %s, %s (acknowledged -> first answer at that revision): n=%d p50=%s p99=%s max=%s\n",
				r.name, set.name, len(set.ds), pct(set.ds, .5).Round(time.Millisecond), pct(set.ds, .99).Round(time.Millisecond), pct(set.ds, 1).Round(time.Millisecond))
		}
	}
	causes := make([]string, 0, len(run.errors))
	for c := range run.errors {
		causes = append(causes, c)
	}
	sort.Strings(causes)
	b.WriteString("errors by cause:\n")
	for _, c := range causes {
		fmt.Fprintf(&b, "  %6d  %s\n", run.errors[c], c)
	}
	b.WriteString("faults (window = the fault and 10 s after):\n")
	for _, f := range run.faultLogs {
		to := f.to.Add(10 * time.Second)
		fmt.Fprintf(&b, "  at %s: %s (%s): %s\n", f.from.Sub(run.start).Round(time.Second), f.name, f.to.Sub(f.from).Round(time.Second), f.note)
		for _, r := range run.h.replicas {
			down := 0
			for s := int(f.from.Sub(run.start).Seconds()); s <= int(to.Sub(run.start).Seconds()); s++ {
				c := run.answers[fmt.Sprintf("%s/%d", r.name, s)]
				if c[0] == 0 && c[1] > 0 {
					down++
				}
			}
			var ready []string
			for _, s := range run.samples {
				at := run.start.Add(s.at)
				if at.After(f.from) && at.Before(to) {
					ready = append(ready, strconv.Itoa(s.ready[slices.Index(run.h.replicas, r)]))
				}
			}
			fmt.Fprintf(&b, "    %s: %d s without an answer; /readyz: %s\n", r.name, down, strings.Join(ready, " "))
		}
	}
	for _, r := range run.h.replicas {
		fmt.Fprintf(&b, "%s exited and was restarted %d times; audit records lost since its last start: %.0f (gatehouse_audit_write_errors_total; %s)\n",
			r.name, r.restarts.Load(), r.metric("gatehouse_audit_write_errors_total"), r.audit)
	}
	b.WriteString("memory and goroutines (RSS MB / goroutines, every ~20 s):\n")
	for i, s := range run.samples {
		if i%10 != 0 && i != len(run.samples)-1 {
			continue
		}
		fmt.Fprintf(&b, "  %6s  replica-1 %4d MB %5.0f   replica-2 %4d MB %5.0f\n", s.at.Round(time.Second),
			s.rss[0]>>20, s.goroutines[0], s.rss[1]>>20, s.goroutines[1])
	}
	return b.String()
}

func waitFor(timeout, every time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(every)
	}
	return true
}
