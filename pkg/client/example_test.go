package client_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/client"
)

// gatehouseURL is the real authorization endpoint over config/samples,
// on a loopback port, for the examples (started by TestMain).
var gatehouseURL string

func TestMain(m *testing.M) {
	srv, _, err := startGatehouse(authz.Options{}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gatehouseURL = srv.URL
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

// Authorize a request, mask the fields of a record, filter a list.
func Example() {
	ctx := context.Background()
	c, err := client.New(gatehouseURL, client.WithTenant("acme-field-services"))
	if err != nil {
		panic(err)
	}
	tom := client.Subject{ID: "tom.tech"}
	d, err := c.Evaluate(ctx, client.Request{Subject: tom, Action: client.Action{Name: "edit"},
		Resource: client.Resource{Type: "workorders", ID: "42", Properties: map[string]any{"unit": "/ca/ab/calgary"}}})
	if err != nil {
		panic(err) // no decision: fail closed
	}
	fmt.Println("edit 42:", d.Allowed, d.Reason)
	fields, err := c.Fields(ctx, tom, client.Resource{Type: "workorders"})
	if err != nil {
		panic(err)
	}
	fmt.Println(fields.Mask(map[string]any{"id": "42", "status": "open", "billingRate": 95}))
	plan, err := c.Plan(ctx, client.PlanRequest{Subject: tom, Action: client.Action{Name: "view"}, ResourceType: "workorders"})
	if err != nil {
		panic(err)
	}
	for _, wo := range []map[string]any{{"id": "42", "unit": "/ca/ab/calgary"}, {"id": "43", "unit": "/ca/on/toronto"}} {
		if ok, err := plan.Matches(wo); err == nil && ok {
			fmt.Println("may view", wo["id"])
		}
	}
	// Output:
	// edit 42: true Allowed
	// map[id:42 status:open]
	// may view 42
}

func ExampleClient_Evaluate() {
	c, err := client.New(gatehouseURL, client.WithTenant("acme-field-services"))
	if err != nil {
		panic(err)
	}
	d, err := c.Evaluate(context.Background(), client.Request{
		Subject:  client.Subject{ID: "alex.apprentice"},
		Action:   client.Action{Name: "edit"},
		Resource: client.Resource{Type: "workorders", ID: "7", Properties: map[string]any{"unit": "/ca/ab/calgary", "ownerId": "tom.tech"}},
	}, client.WithExplain())
	if err != nil {
		fmt.Println("no decision:", err) // never an allow
		return
	}
	fmt.Println(d.Allowed, d.Reason)
	// Output:
	// false ScopeNotMatched
}

func ExampleClient_Evaluations() {
	c, err := client.New(gatehouseURL, client.WithTenant("acme-field-services"), client.WithMaxBatch(2))
	if err != nil {
		panic(err)
	}
	var qs []client.Request
	for _, who := range []string{"dana.director", "tom.tech", "vic.viewer", "bea.billing", "sue.supplier"} {
		qs = append(qs, client.Request{Subject: client.Subject{ID: who}, Action: client.Action{Name: "edit"},
			Resource: client.Resource{Type: "workorders", ID: "42", Properties: map[string]any{"unit": "/ca/ab/calgary"}}})
	}
	ds, err := c.Evaluations(context.Background(), qs) // three requests of at most 2
	if err != nil {
		panic(err)
	}
	for i, d := range ds {
		fmt.Println(qs[i].Subject.ID, d.Allowed)
	}
	// Output:
	// dana.director true
	// tom.tech true
	// vic.viewer false
	// bea.billing false
	// sue.supplier false
}

func ExampleClient_Fields() {
	c, err := client.New(gatehouseURL, client.WithTenant("acme-field-services"))
	if err != nil {
		panic(err)
	}
	fa, err := c.Fields(context.Background(), client.Subject{ID: "tom.tech"}, client.Resource{Type: "workorders"})
	if err != nil {
		panic(err)
	}
	fmt.Println("read billingRate:", fa.CanRead("billingRate"), "write status:", fa.CanWrite("status"), "write custom.warrantyCode:", fa.CanWrite("custom.warrantyCode"))
	fmt.Println(fa.Mask(map[string]any{"id": "7", "billingRate": 95, "margin": 0.2, "custom": map[string]any{"warrantyCode": "W1", "color": "red"}}))
	// Output:
	// read billingRate: false write status: true write custom.warrantyCode: false
	// map[custom:map[color:red warrantyCode:W1] id:7]
}

func ExampleClient_Plan() {
	c, err := client.New(gatehouseURL, client.WithTenant("acme-field-services"))
	if err != nil {
		panic(err)
	}
	p, err := c.Plan(context.Background(), client.PlanRequest{
		Subject: client.Subject{ID: "alex.apprentice"}, Action: client.Action{Name: "view"}, ResourceType: "workorders",
		Columns: map[string]string{"ownerId": "w.owner_id", "assigneeIds": "w.assignee_ids"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Kind)
	printFilter(p.Filter, "")
	if p.SQL != nil {
		fmt.Println("WHERE", p.SQL.Where, p.SQL.Args)
	} else {
		fmt.Println("no SQL:", p.SQLError)
	}
	// Output:
	// conditional
	// or
	//   ownerId eq alex.apprentice
	//   assigneeIds contains alex.apprentice
	// WHERE ("w"."owner_id" = $1 OR $2 = ANY("w"."assignee_ids")) [alex.apprentice alex.apprentice]
}

func printFilter(f *client.Filter, indent string) {
	switch f.Op {
	case client.OpAnd, client.OpOr:
		fmt.Println(indent + f.Op)
		for _, k := range f.Children {
			printFilter(k, indent+"  ")
		}
	case client.OpIn:
		fmt.Println(indent+f.Property, f.Op, f.Values)
	default:
		fmt.Println(indent+f.Property, f.Op, f.Value)
	}
}

func ExampleClient_SearchSubjects() {
	c, err := client.New(gatehouseURL, client.WithTenant("acme-field-services"))
	if err != nil {
		panic(err)
	}
	q := client.SubjectSearch{Action: client.Action{Name: "approve"}, Resource: client.Resource{Type: "purchaseorders", Properties: map[string]any{"unit": "/ca/ab/calgary"}}}
	who, err := client.AllPages(context.Background(), func(ctx context.Context, p client.Page) (*client.Results[client.Subject], error) {
		q.Page = client.Page{Token: p.Token, Limit: 1}
		return c.SearchSubjects(ctx, q)
	})
	if err != nil {
		panic(err)
	}
	for _, s := range who {
		fmt.Println(s.ID)
	}
	// Output:
	// dana.director
	// sam.supervisor
}

func ExampleClient_ApprovalCheck() {
	c, err := client.New(gatehouseURL, client.WithTenant("acme-field-services"))
	if err != nil {
		panic(err)
	}
	po := client.Resource{Type: "purchaseorders", ID: "po-9", Properties: map[string]any{
		"amount": 30000, "unit": "/ca/ab/calgary", "ownerId": "tom.tech",
		"approvals": []map[string]string{{"step": "supervisor", "by": "sam.supervisor"}},
	}}
	plan, err := c.ApprovalPlan(context.Background(), po)
	if err != nil {
		panic(err)
	}
	fmt.Println(plan.Chain, "current step:", plan.Current)
	d, err := c.ApprovalCheck(context.Background(), client.Subject{ID: "dana.director"}, po)
	if err != nil {
		panic(err)
	}
	fmt.Println("dana may approve:", d.Allowed, d.Step)
	// Output:
	// purchase-orders current step: director
	// dana may approve: true director
}

func ExampleMiddleware() {
	c, err := client.New(gatehouseURL, client.WithTenant("acme-field-services"))
	if err != nil {
		panic(err)
	}
	authorize := client.Middleware(c, func(r *http.Request) (client.Request, error) {
		user := r.Header.Get("X-User") // your authentication
		if user == "" {
			return client.Request{}, client.ErrNoSubject
		}
		return client.Request{Subject: client.Subject{ID: user}, Action: client.Action{Name: "archive"},
			Resource: client.Resource{Type: "workorders", ID: r.PathValue("id"), Properties: map[string]any{"unit": "/ca/ab/calgary"}}}, nil
	})
	mux := http.NewServeMux()
	mux.Handle("POST /workorders/{id}/archive", authorize(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintln(w, "archived", r.PathValue("id"))
	})))
	app := httptest.NewServer(mux)
	defer app.Close()
	for _, user := range []string{"sam.supervisor", "tom.tech", ""} {
		req, _ := http.NewRequest(http.MethodPost, app.URL+"/workorders/42/archive", nil)
		req.Header.Set("X-User", user)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		body = bytes.TrimSpace(body)
		resp.Body.Close()
		fmt.Printf("%q: %d %s\n", user, resp.StatusCode, body)
	}
	// Output:
	// "sam.supervisor": 200 archived 42
	// "tom.tech": 403 {"error":"forbidden: NotPermitted"}
	// "": 401 {"error":"unauthenticated"}
}
