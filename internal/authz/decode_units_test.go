package authz

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// unitJSON is a unit as a JSON string literal.
func unitJSON(t testing.TB, u string) string {
	t.Helper()
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRequestUnits: a unit in a request that is not a canonical path
// (snapshot.ValidUnit) is a 400 naming the field, never a match, wherever
// it appears: the resource, the subject, a search candidate, an item of a
// batch. "" and null are no unit, as before.
func TestRequestUnits(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	// lit is the JSON literal of the unit; want the parenthesised reason,
	// "" for a unit that is accepted.
	cases := map[string]struct{ lit, want string }{
		"canonical":               {`"/ca/ab/calgary"`, ""},
		"root":                    {`"/"`, ""},
		"empty is no unit":        {`""`, ""},
		"null is no unit":         {`null`, ""},
		"relative":                {`"ca/ab"`, `(does not start with \"/\")`},
		"double slash":            {`"/ca//ab"`, `(an empty segment, \"//\")`},
		"trailing slash":          {`"/ca/ab/calgary/"`, `(a trailing \"/\")`},
		"dot segment":             {`"/ca/./ab"`, `(a \".\" segment)`},
		"dot-dot segment":         {`"/ca/../on"`, `(a \"..\" segment)`},
		"dot-dot escaping a tree": {`"/ca/ab/calgary/../../on"`, `(a \"..\" segment)`},
		"escaped dot-dot":         {`"\/ca\/ab\/calgary\/\u002e\u002e\/..\/on"`, `(a \"..\" segment)`},
		"NUL":                     {`"/ca/ab/calgary\u0000"`, "(a NUL or control character)"},
		"newline":                 {`"/ca/ab/calgary\n/x"`, "(a NUL or control character)"},
		"DEL":                     {"\"/ca/ab/calgary\x7f\"", "(a NUL or control character)"},
		"over-long":               {unitJSON(t, "/ca/ab/calgary/"+strings.Repeat("a", snapshot.MaxUnitLen)), "(longer than 1024 bytes)"},
	}
	// Each place a unit can appear, with the field the error names. tom.tech
	// holds workorders/view with scope unitTree at /ca/ab/calgary through
	// his group; dana.director's groups define no unit, so hers comes from
	// the request.
	places := map[string]struct{ path, body, field string }{
		"resource": {"/access/v1/evaluation",
			`{"subject":{"type":"user","id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"workorders","id":"1","properties":{"unit":UNIT}}}`,
			"resource.properties.unit"},
		"subject": {"/access/v1/evaluation",
			`{"subject":{"type":"user","id":"tom.tech","properties":{"unit":UNIT}},"action":{"name":"view"},"resource":{"type":"workorders","id":"1","properties":{"unit":"/ca/ab/calgary"}}}`,
			"subject.properties.unit"},
		"batch item": {"/access/v1/evaluations",
			`{"subject":{"type":"user","id":"tom.tech"},"action":{"name":"view"},"evaluations":[{"resource":{"type":"workorders","id":"0"}},{"resource":{"type":"workorders","id":"1","properties":{"unit":UNIT}}}]}`,
			"evaluations[1].resource.properties.unit"},
		"candidate": {"/access/v1/search/resource",
			`{"subject":{"type":"user","id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"workorders"},"context":{"candidates":[{"id":"0","properties":{"unit":"/ca"}},{"id":"1","properties":{"unit":UNIT}}]}}`,
			"context.candidates[1].properties.unit"},
	}
	for name, tc := range cases {
		for where, pl := range places {
			t.Run(name+"/"+where, func(t *testing.T) {
				w := do(h, "POST", base+pl.path, strings.Replace(pl.body, "UNIT", tc.lit, 1))
				if tc.want == "" {
					if w.Code != 200 {
						t.Fatalf("%d %s", w.Code, w.Body)
					}
					return
				}
				want := `{"error":"` + pl.field + `: not a canonical unit path ` + tc.want + `"}`
				if w.Code != 400 || w.Body.String() != want {
					t.Fatalf("got %d %s\nwant 400 %s", w.Code, w.Body, want)
				}
			})
		}
	}
}

// TestRequestUnitNoMatch: a unit that reaches above the subject's with ".."
// never matches its tree; before units were checked it did, being a string
// that starts with /ca/ab/calgary/.
func TestRequestUnitNoMatch(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	body := `{"subject":{"type":"user","id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"workorders","id":"1","properties":{"unit":"/ca/ab/calgary/../../on"}}}`
	w := do(h, "POST", base+"/access/v1/evaluation", body)
	if w.Code != 400 || strings.Contains(w.Body.String(), `"decision":true`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	// the canonical spelling of that unit is outside tom.tech's tree
	w = do(h, "POST", base+"/access/v1/evaluation", strings.Replace(body, "/ca/ab/calgary/../../on", "/ca/on", 1))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"decision":false`) {
		t.Fatalf("/ca/on: %d %s", w.Code, w.Body)
	}
}

// TestRequestUnitInvalidUTF8: strings are decoded as encoding/json does, so
// invalid UTF-8 in a unit becomes U+FFFD before the unit is checked: the
// unit is then canonical and names no other unit.
func TestRequestUnitInvalidUTF8(t *testing.T) {
	var r request
	body := "{\"resource\":{\"type\":\"workorders\",\"properties\":{\"unit\":\"/ca/\xff\"}}}"
	if err := r.decode([]byte(body), epEvaluation, testLimits); err != nil {
		t.Fatal(err)
	}
	if got := r.top.res.Unit; got != "/ca/\uFFFD" {
		t.Fatalf("unit %q, want /ca/\\uFFFD", got)
	}
}

// TestDecodeUnitsAllocs: checking units costs no allocation.
func TestDecodeUnitsAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	body := []byte(`{"subject":{"type":"user","id":"u","properties":{"unit":"/ca/ab"}},"action":{"name":"view"},"resource":{"type":"workorders","id":"1","properties":{"unit":"/ca/ab/calgary/north"}}}`)
	var r request
	if err := r.decode(body, epEvaluation, testLimits); err != nil {
		t.Fatal(err)
	}
	if r.top.sub.Unit != "/ca/ab" || r.top.res.Unit != "/ca/ab/calgary/north" {
		t.Fatalf("units %q %q", r.top.sub.Unit, r.top.res.Unit)
	}
	if n := testing.AllocsPerRun(200, func() { _ = r.decode(body, epEvaluation, testLimits) }); n != 0 {
		t.Errorf("%.1f allocs per decode, want 0", n)
	}
}
