package authz

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/authz/jsonscan/jsonscantest"
)

// Tests of the decoder's error paths and of its defences against hostile
// bodies: long keys and values, deep nesting, long lists, many keys, and
// numbers a float64 would silently change.

func decodeErr(t *testing.T, ep endpoint, lim limits, body string) *DecodeError {
	t.Helper()
	var r request
	return r.decode([]byte(body), ep, lim)
}

func TestDecodeErrorPaths(t *testing.T) {
	for name, c := range map[string]struct {
		ep   endpoint
		body string
		want string
	}{
		"batch limit":                {epEvaluations, `{"evaluations":[{},{},{},{},{},{}]}`, "evaluations: more than 5 evaluations"},
		"batch syntax between items": {epEvaluations, `{"evaluations":[{},{} {}]}`, "evaluations: invalid JSON at offset 22"},
		"batch item not an object":   {epEvaluations, `{"evaluations":[{},1]}`, "evaluations[1]: expected object, got number"},
		"batch item unknown key":     {epEvaluations, `{"evaluations":[{"subject":null},{"subjects":{}}]}`, "evaluations[1].subjects: unknown field"},
		"batch item duplicate part":  {epEvaluations, `{"evaluations":[{"action":null,"action":null}]}`, "evaluations[0].action: duplicate key"},
		"batch item nested":          {epEvaluations, `{"evaluations":[{},{},{"context":{"a":[1,{"b":1,"b":2}]}}]}`, "evaluations[2].context.a[1].b: duplicate key"},
		"after batch":                {epEvaluations, `{"evaluations":[{}],"subject":{"id":1}}`, "subject.id: expected string, got number"},
		"duplicate in generic value": {epEvaluation, `{"context":{"a":{"b":1,"b":2}}}`, "context.a.b: duplicate key"},
		"duplicate in context":       {epEvaluation, `{"context":{"a":1,"a":2}}`, "context.a: duplicate key"},
		"number out of range":        {epEvaluation, `{"resource":{"properties":{"amount":1e400}}}`, "resource.properties.amount: number 1e400 out of range"},
		"number too precise":         {epEvaluation, `{"resource":{"properties":{"amount":5000.0000000000001}}}`, "resource.properties.amount: number has more precision than a 64-bit float can hold; send it as a string"},
		"nested arrays":              {epEvaluation, `{"context":{"a":[0,1,{"b":tru}]}}`, "context.a[2].b: invalid JSON at offset 26"},
		"arrays in arrays":           {epEvaluation, `{"context":{"a":[[],[0,[1,2e999]]]}}`, "context.a[1][1][1]: number 2e999 out of range"},
		"string escape in list":      {epEvaluation, `{"context":{"a":["x","\q"]}}`, `context.a[1]: invalid escape in string`},
		"subject custom property":    {epEvaluation, `{"subject":{"properties":{"dept":{"x":[1,1e-400]}}}}`, "subject.properties.dept.x[1]: number has more precision than a 64-bit float can hold; send it as a string"},
		"subject duplicate custom":   {epEvaluation, `{"subject":{"properties":{"dept":1,"dept":2}}}`, "subject.properties.dept: duplicate key"},
		"subject duplicate standard": {epEvaluation, `{"subject":{"properties":{"unit":"/a","unit":"/b"}}}`, "subject.properties.unit: duplicate key"},
		"group not a string":         {epEvaluation, `{"subject":{"properties":{"groups":["a","b",3]}}}`, "subject.properties.groups[2]: expected string, got number"},
		"assignee bad escape":        {epEvaluation, `{"resource":{"properties":{"assigneeIds":["a","\u12"]}}}`, `resource.properties.assigneeIds[1]: invalid \u escape in string`},
		"approval unknown key":       {epEvaluation, `{"resource":{"properties":{"approvals":[{"step":"a"},{"step":"a","who":"b"}]}}}`, "resource.properties.approvals[1].who: unknown field"},
		"approval duplicate key":     {epEvaluation, `{"resource":{"properties":{"approvals":[{"step":"a","step":"b"}]}}}`, "resource.properties.approvals[0].step: duplicate key"},
		"approval wrong type":        {epEvaluation, `{"resource":{"properties":{"approvals":[{},{"by":1}]}}}`, "resource.properties.approvals[1].by: expected string, got number"},
		"approval not an object":     {epEvaluation, `{"resource":{"properties":{"approvals":[{},[]]}}}`, "resource.properties.approvals[1]: expected object, got array"},
		"approval syntax after item": {epEvaluation, `{"resource":{"properties":{"approvals":[{} {}]}}}`, "resource.properties.approvals: invalid JSON at offset 43"},
		"candidate property":         {epSearchResource, `{"context":{"candidates":[{},{},{},{"properties":{"x":1.00000000000000001}}]}}`, "context.candidates[3].properties.x: number has more precision than a 64-bit float can hold; send it as a string"},
		"candidate nested":           {epSearchResource, `{"context":{"candidates":[{"properties":{"x":{"y":[true,nul]}}}]}}`, "context.candidates[0].properties.x.y[1]: invalid JSON at offset 56"},
		"candidate unknown key":      {epSearchResource, `{"context":{"candidates":[{},{"kind":"x"}]}}`, "context.candidates[1].kind: unknown field"},
		"candidate approvals":        {epSearchResource, `{"context":{"candidates":[{"properties":{"approvals":[{"by":1}]}}]}}`, "context.candidates[0].properties.approvals[0].by: expected string, got number"},
		"candidates syntax":          {epSearchResource, `{"context":{"candidates":[{} x]}}`, "context.candidates: invalid JSON at offset 29"},
		"after candidates":           {epSearchResource, `{"context":{"candidates":[{}],"a":{"b":1,"b":1}}}`, "context.a.b: duplicate key"},
		"columns value":              {epPlan, `{"columns":{"a":"x","b":1}}`, "columns.b: expected string, got number"},
		"page limit":                 {epSearchSubject, `{"page":{"limit":1.5}}`, "page.limit: expected a non-negative integer"},
		"key with a dot":             {epEvaluation, `{"context":{"a.b":{"c":1,"c":1}}}`, `context["a.b"].c: duplicate key`},
		"key with control bytes":     {epEvaluation, `{"context":{"a\nb\"":[tru]}}`, `context["a\nb\""][0]: invalid JSON at offset 22`},
		"unknown top key":            {epEvaluation, `{"subjekt":{}}`, "subjekt: unknown field"},
		"unknown odd top key":        {epEvaluation, `{"sub ject":{}}`, `["sub ject"]: unknown field`},
		"empty key":                  {epEvaluation, `{"context":{"":{"":1,"":2}}}`, `context[""][""]: duplicate key`},
		"deep path elided":           {epEvaluation, `{"context":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":[1e999]}}}}}}}}}}`, "context.a.b.c.d….g.h.i[0]: number 1e999 out of range"},
	} {
		t.Run(name, func(t *testing.T) {
			err := decodeErr(t, c.ep, limits{maxDepth: DefaultMaxDepth, maxBatch: 5}, c.body)
			if err == nil || err.Error() != c.want {
				t.Errorf("got %v\nwant %s", err, c.want)
			}
		})
	}
}

// TestDecodePathStackReuse decodes errors and successes into one request,
// as the handler's pool does: no path steps may leak from one to the next.
func TestDecodePathStackReuse(t *testing.T) {
	var r request
	lim := limits{maxDepth: DefaultMaxDepth, maxBatch: 5}
	steps := []struct{ body, want string }{
		{`{"context":{"a":{"b":[1,{"c":tru}]}}}`, "context.a.b[1].c: invalid JSON at offset 29"},
		{`{"context":{"a":{"b":[1,{"c":true}]}}}`, ""},
		{`{"subject":{"id":1}}`, "subject.id: expected string, got number"},
		{`{"context":{"x":[1,2,[3,{}]]},"resource":{"properties":{"y":{"z":1,"z":2}}}}`, "resource.properties.y.z: duplicate key"},
		{`{"subject":{"properties":{"groups":["a",2]}}}`, "subject.properties.groups[1]: expected string, got number"},
		{`{"action":{"name":2}}`, "action.name: expected string, got number"},
	}
	for i, st := range steps {
		err := r.decode([]byte(st.body), epEvaluation, lim)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != st.want {
			t.Errorf("step %d: got %q want %q", i, got, st.want)
		}
	}
}

// TestDecodeHugeKey sends a 100 KB key (and a 100 KB number) wherever a
// body can carry one: the error names the field and stays short.
func TestDecodeHugeKey(t *testing.T) {
	key := strings.Repeat("k", 100<<10)
	hostile := strings.Repeat("\\u0001\\\"", 20<<10) // escapes that expand when quoted
	num := "1" + strings.Repeat("0", 100<<10)
	short := `"` + strings.Repeat("k", 32) + `"…`
	for name, c := range map[string]struct {
		ep         endpoint
		body, want string // want: the start of the error
	}{
		"top unknown":            {epEvaluation, `{"` + key + `":1}`, `[` + short + `]: unknown field`},
		"subject unknown":        {epEvaluation, `{"subject":{"` + key + `":1}}`, `subject[` + short + `]: unknown field`},
		"action unknown":         {epEvaluation, `{"action":{"` + key + `":1}}`, `action[` + short + `]: unknown field`},
		"resource unknown":       {epEvaluation, `{"resource":{"` + key + `":1}}`, `resource[` + short + `]: unknown field`},
		"subject prop duplicate": {epEvaluation, `{"subject":{"properties":{"` + key + `":1,"` + key + `":2}}}`, `subject.properties[` + short + `]: duplicate key`},
		"resource prop nested":   {epEvaluation, `{"resource":{"properties":{"a":{"` + key + `":1,"` + key + `":2}}}}`, `resource.properties.a[` + short + `]: duplicate key`},
		"context duplicate":      {epEvaluation, `{"context":{"` + key + `":1,"` + key + `":2}}`, `context[` + short + `]: duplicate key`},
		"context value error":    {epEvaluation, `{"context":{"` + key + `":[1e999]}}`, `context[` + short + `][0]: number 1e999 out of range`},
		"approval unknown":       {epEvaluation, `{"resource":{"properties":{"approvals":[{"` + key + `":1}]}}}`, `resource.properties.approvals[0][` + short + `]: unknown field`},
		"batch item unknown":     {epEvaluations, `{"evaluations":[{"` + key + `":1}]}`, `evaluations[0][` + short + `]: unknown field`},
		"candidate unknown":      {epSearchResource, `{"context":{"candidates":[{"` + key + `":1}]}}`, `context.candidates[0][` + short + `]: unknown field`},
		"page unknown":           {epSearchSubject, `{"page":{"` + key + `":1}}`, `page[` + short + `]: unknown field`},
		"column duplicate":       {epPlan, `{"columns":{"` + key + `":"a","` + key + `":"b"}}`, `columns[` + short + `]: duplicate key`},
		"column wrong type":      {epPlan, `{"columns":{"` + key + `":1}}`, `columns[` + short + `]: expected string`},
		"escaped key":            {epEvaluation, `{"context":{"` + hostile + `":1,"` + hostile + `":1}}`, `context["\x01\"\x01\"`},
		"long number":            {epEvaluation, `{"context":{"n":` + num + `}}`, `context.n: number 10000000000000000000000000000000… out of range`},
		"long precise number":    {epEvaluation, `{"context":{"n":1.` + strings.Repeat("0", 100<<10) + `1}}`, `context.n: number has more precision`},
		"long number in page":    {epSearchSubject, `{"page":{"limit":` + num + `}}`, `page.limit: number 100000`},
	} {
		t.Run(name, func(t *testing.T) {
			err := decodeErr(t, c.ep, limits{maxDepth: DefaultMaxDepth, maxBatch: 5}, c.body)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if len(msg) >= 200 || !strings.HasPrefix(msg, c.want) || !utf8.ValidString(msg) {
				t.Errorf("got %d bytes %q\nwant < 200 bytes starting %q", len(msg), msg, c.want)
			}
		})
	}
}

func TestDecodeListCaps(t *testing.T) {
	list := func(n int, item string) string {
		return "[" + strings.TrimSuffix(strings.Repeat(item+",", n), ",") + "]"
	}
	object := func(n int) string {
		var b strings.Builder
		b.WriteByte('{')
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"k` + strconv.Itoa(i) + `":1`)
		}
		b.WriteByte('}')
		return b.String()
	}
	sub := func(props string) string { return `{"subject":{"properties":{` + props + `}}}` }
	res := func(props string) string { return `{"resource":{"properties":{` + props + `}}}` }
	for name, c := range map[string]struct {
		ep      endpoint
		maxList int
		body    func(n int) string
		field   string
	}{
		"groups":             {epEvaluation, 0, func(n int) string { return sub(`"groups":` + list(n, `"g"`)) }, "subject.properties.groups"},
		"companies":          {epEvaluation, 3, func(n int) string { return sub(`"companies":` + list(n, `"c"`)) }, "subject.properties.companies"},
		"facilities":         {epEvaluation, 3, func(n int) string { return sub(`"facilities":` + list(n, `"f"`)) }, "subject.properties.facilities"},
		"assigneeIds":        {epEvaluation, 0, func(n int) string { return res(`"assigneeIds":` + list(n, `"a"`)) }, "resource.properties.assigneeIds"},
		"projectContacts":    {epEvaluation, 3, func(n int) string { return res(`"projectContacts":` + list(n, `"p"`)) }, "resource.properties.projectContacts"},
		"approvals":          {epEvaluation, 3, func(n int) string { return res(`"approvals":` + list(n, `{"step":"s"}`)) }, "resource.properties.approvals"},
		"subject array":      {epEvaluation, 0, func(n int) string { return sub(`"x":` + list(n, `1`)) }, "subject.properties.x"},
		"resource array":     {epEvaluation, 3, func(n int) string { return res(`"x":{"y":` + list(n, `null`) + `}`) }, "resource.properties.x.y"},
		"context array":      {epEvaluation, 0, func(n int) string { return `{"context":{"a":[1,` + list(n, `"s"`) + `]}}` }, "context.a[1]"},
		"context object":     {epEvaluation, 3, func(n int) string { return `{"context":{"a":` + object(n) + `}}` }, "context.a"},
		"context keys":       {epEvaluation, 0, func(n int) string { return `{"context":` + object(n) + `}` }, "context"},
		"subject props keys": {epEvaluation, 3, func(n int) string { return `{"subject":{"properties":` + object(n) + `}}` }, "subject.properties"},
		"resource prop keys": {epEvaluation, 0, func(n int) string { return `{"resource":{"properties":` + object(n) + `}}` }, "resource.properties"},
		"candidate property": {epSearchResource, 3, func(n int) string {
			return `{"context":{"candidates":[{},{"properties":{"x":` + list(n, `1`) + `}}]}}`
		}, "context.candidates[1].properties.x"},
		"batch item": {epEvaluations, 3, func(n int) string {
			return `{"evaluations":[{},{"context":{"x":` + list(n, `1`) + `}}]}`
		}, "evaluations[1].context.x"},
	} {
		t.Run(name, func(t *testing.T) {
			max := c.maxList
			if max == 0 {
				max = DefaultMaxListItems
			}
			lim := limits{maxDepth: DefaultMaxDepth, maxBatch: 5, maxList: c.maxList}
			if err := decodeErr(t, c.ep, lim, c.body(max)); err != nil {
				t.Errorf("%d items: %v", max, err)
			}
			want := c.field + ": more than " + strconv.Itoa(max) + " items"
			if err := decodeErr(t, c.ep, lim, c.body(max+1)); err == nil || err.Error() != want {
				t.Errorf("%d items: got %v want %s", max+1, err, want)
			}
		})
	}
	// Standard keys of properties and context do not count.
	lim := limits{maxDepth: DefaultMaxDepth, maxBatch: 5, maxList: 2}
	if err := decodeErr(t, epEvaluation, lim, `{"subject":{"properties":{"unit":"/a","groups":[],"a":1,"b":2}},"context":{"minRevision":"","a":1,"b":2}}`); err != nil {
		t.Errorf("standard keys counted: %v", err)
	}
	// Skipped values (action properties, unknown options) are not bound
	// by the list cap: nothing keeps them.
	if err := decodeErr(t, epEvaluation, lim, `{"action":{"name":"a","properties":{"x":[1,2,3,4]}}}`); err != nil {
		t.Errorf("action properties: %v", err)
	}
}

func TestDecodeHostile(t *testing.T) {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	var many strings.Builder
	many.WriteString(`{"context":{`)
	for i := 0; i < 100000; i++ {
		if i > 0 {
			many.WriteByte(',')
		}
		many.WriteString(`"key` + strconv.Itoa(i) + `":[1,2]`)
	}
	many.WriteString(`}}`)
	bigList := `{"context":{"a":[` + strings.TrimSuffix(strings.Repeat(`1,`, 100000), ",") + `]}}`
	hugeKeys := `{"context":{"a":{"` + strings.Repeat("x", 100<<10) + `":1,"` + strings.Repeat("y", 100<<10) + `":[1e999]}}}`
	for name, c := range map[string]struct {
		ep         endpoint
		body, want string
	}{
		"deep arrays":   {epEvaluation, `{"context":{"a":` + deep + `}}`, "context.a[0][0][0]…[0][0][0][0]: nesting deeper than 32"},
		"deep objects":  {epEvaluation, `{"context":` + strings.Repeat(`{"a":`, 50000) + `1` + strings.Repeat("}", 50000) + `}`, "context.a.a.a.a….a.a.a.a: nesting deeper than 32"},
		"deep skipped":  {epEvaluation, `{"action":{"properties":{"a":` + deep + `}}}`, "action.properties: nesting deeper than 32"},
		"deep top":      {epEvaluation, deep, "expected object, got array"},
		"many keys":     {epEvaluation, many.String(), "context: more than 1000 items"},
		"100k list":     {epEvaluation, bigList, "context.a: more than 1000 items"},
		"huge keys":     {epEvaluation, hugeKeys, `context.a["yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"…][0]: number 1e999 out of range`},
		"deep in batch": {epEvaluations, `{"evaluations":[{"context":{"a":` + deep + `}}]}`, "evaluations[0].context.a[0][0][0]…[0][0][0][0]: nesting deeper than 32"},
	} {
		t.Run(name, func(t *testing.T) {
			err := decodeErr(t, c.ep, limits{maxDepth: DefaultMaxDepth, maxBatch: 5}, c.body)
			if err == nil || err.Error() != c.want {
				t.Errorf("got %v\nwant %s", err, c.want)
			}
		})
	}
}

// TestDecodeNumberPrecision: numbers in generic values must keep their
// decimal value through float64.
func TestDecodeNumberPrecision(t *testing.T) {
	const precise = "number has more precision than a 64-bit float can hold; send it as a string"
	for name, c := range map[string]struct {
		in   string
		want string // "" accepted, else the message
	}{
		"zero":                {"0", ""},
		"negative zero":       {"-0", ""},
		"zero fraction":       {"-0.000e-999999", ""},
		"tenth":               {"0.1", ""},
		"exponent":            {"1e3", ""},
		"small":               {"2.5e-3", ""},
		"15 digits":           {"123456789012345", ""},
		"15 digits fraction":  {"1234567.89012345", ""},
		"trailing zeros":      {"1.50000000000000000000000000", ""},
		"integer zeros":       {"100000000000000000000000000000", ""},
		"17 digits shortest":  {"0.30000000000000004", ""},
		"max float":           {"1.7976931348623157e308", ""},
		"min normal":          {"2.2250738585072014e-308", ""},
		"min subnormal":       {"5e-324", ""},
		"subnormal":           {"1e-320", ""},
		"1e23":                {"1e23", ""},
		"2^53":                {"9007199254740992", ""},
		"money":               {"5000.01", ""},
		"2^53+1":              {"9007199254740993", precise},
		"above 5000":          {"5000.0000000000001", precise},
		"below 5000":          {"4999.9999999999999", precise},
		"0.1 long":            {"0.1000000000000000055511151231257827", precise},
		"18 digits":           {"123456789012345678", precise},
		"underflow":           {"1e-400", precise},
		"negative underflow":  {"-1e-400", precise},
		"subnormal too long":  {"1.23456789e-320", precise},
		"subnormal rounded":   {"4e-324", precise},
		"overflow":            {"1e400", "number 1e400 out of range"},
		"negative overflow":   {"-1.8e308", "number -1.8e308 out of range"},
		"huge exponent":       {"1e99999999999999999999", "number 1e99999999999999999999 out of range"},
		"tiny exponent":       {"1e-99999999999999999999", precise},
		"zero huge exponent":  {"0e10000000000000000000", ""},
		"zero 10^9 exponent":  {"-0.0e-999999999", ""},
		"compensated":         {"0." + strings.Repeat("0", 500) + "1e501", ""},
		"compensated inexact": {"0." + strings.Repeat("0", 500) + "10000000000000000001e501", precise},
	} {
		t.Run(name, func(t *testing.T) {
			err := decodeErr(t, epEvaluation, testLimits, `{"resource":{"properties":{"amount":`+c.in+`}}}`)
			got := ""
			if err != nil {
				if err.Field != "resource.properties.amount" {
					t.Errorf("field %q", err.Field)
				}
				got = err.Msg
			}
			if got != c.want {
				t.Errorf("got %q want %q", got, c.want)
			}
			if ref := jsonscantest.RefExact(t, c.in); ref != (c.want == "") {
				t.Errorf("math/big reference says exact=%v", ref)
			}
		})
	}
}
