// Command workorders is a small work-order service that asks Gatehouse
// for every decision with pkg/client: Middleware authorizes each record
// request, Fields masks what the user may not read (and refuses writes to
// fields they may not write), and Plan filters the list.
//
//	gatehouse serve -f config/samples --authn=none &                    # 127.0.0.1:8080
//	GATEHOUSE_TENANT=acme-field-services go run ./examples/workorders   # :8090
//	curl -H 'X-User: tom.tech' localhost:8090/workorders
//
// The user comes from the X-User header: a stand-in for the application's
// own authentication (a session, an OIDC token).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/pkg/client"
)

// WorkOrder is a record of the service.
type WorkOrder struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Unit        string   `json:"unit"`
	OwnerID     string   `json:"ownerId"`
	AssigneeIDs []string `json:"assigneeIds"`
	Status      string   `json:"status"`
	BillingRate float64  `json:"billingRate"`
	Margin      float64  `json:"margin"`
}

// properties are the record facts Gatehouse decides on (the standard
// property names).
func (w *WorkOrder) properties() map[string]any {
	assignees := make([]any, len(w.AssigneeIDs))
	for i, a := range w.AssigneeIDs {
		assignees[i] = a
	}
	return map[string]any{"id": w.ID, "unit": w.Unit, "ownerId": w.OwnerID, "assigneeIds": assignees}
}

// fields is the record as the API shows it, before masking.
func (w *WorkOrder) fields() map[string]any {
	return map[string]any{"id": w.ID, "title": w.Title, "unit": w.Unit, "ownerId": w.OwnerID,
		"assigneeIds": w.AssigneeIDs, "status": w.Status, "billingRate": w.BillingRate, "margin": w.Margin}
}

const resourceType = "workorders"

type app struct {
	gh     *client.Client
	orders map[string]*WorkOrder
}

type orderKey struct{}

// newApp returns the service's handler over orders.
func newApp(gh *client.Client, orders []WorkOrder) http.Handler {
	a := &app{gh: gh, orders: map[string]*WorkOrder{}}
	for i := range orders {
		a.orders[orders[i].ID] = &orders[i]
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /workorders", a.list)
	mux.Handle("GET /workorders/{id}", a.record(client.Middleware(gh, a.describe("view"))(http.HandlerFunc(a.show))))
	mux.Handle("PATCH /workorders/{id}", a.record(client.Middleware(gh, a.describe("edit"))(http.HandlerFunc(a.update))))
	return mux
}

func user(r *http.Request) string { return r.Header.Get("X-User") }

// record loads the work order of the path into the request's context
// (404 if there is none) for describe and the handlers.
func (a *app) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wo, ok := a.orders[r.PathValue("id")]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such work order"})
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), orderKey{}, wo)))
	})
}

// describe tells Middleware what a request asks: may the user perform
// action on the work order.
func (a *app) describe(action string) func(r *http.Request) (client.Request, error) {
	return func(r *http.Request) (client.Request, error) {
		u := user(r)
		if u == "" {
			return client.Request{}, client.ErrNoSubject
		}
		wo := r.Context().Value(orderKey{}).(*WorkOrder)
		return client.Request{Subject: client.Subject{ID: u}, Action: client.Action{Name: action},
			Resource: client.Resource{Type: resourceType, ID: wo.ID, Properties: wo.properties()}}, nil
	}
}

// fieldAccess asks Gatehouse what the user may do with work-order fields;
// on error it answers 503 (fail closed) and returns nil.
func (a *app) fieldAccess(w http.ResponseWriter, r *http.Request) *client.FieldAccess {
	fa, err := a.gh.Fields(r.Context(), client.Subject{ID: user(r)}, client.Resource{Type: resourceType})
	if err != nil {
		log.Printf("workorders: fields: %v", err)
		unavailable(w)
		return nil
	}
	return fa
}

func (a *app) show(w http.ResponseWriter, r *http.Request) {
	fa := a.fieldAccess(w, r)
	if fa == nil {
		return
	}
	wo := r.Context().Value(orderKey{}).(*WorkOrder)
	writeJSON(w, http.StatusOK, fa.Mask(wo.fields()))
}

// update applies a JSON object of field changes (status, title,
// billingRate) the user may write.
func (a *app) update(w http.ResponseWriter, r *http.Request) {
	var change map[string]json.RawMessage
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&change); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: want a JSON object"})
		return
	}
	fa := a.fieldAccess(w, r)
	if fa == nil {
		return
	}
	keys := make([]string, 0, len(change))
	for k := range change {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains([]string{"status", "title", "billingRate"}, k) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unknown or read-only field"})
			return
		}
		if !fa.CanWrite(k) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": k + ": not writable"})
			return
		}
	}
	wo := *r.Context().Value(orderKey{}).(*WorkOrder) // a copy: this demo does not store changes
	for _, k := range keys {
		var err error
		switch k {
		case "status":
			err = json.Unmarshal(change[k], &wo.Status)
		case "title":
			err = json.Unmarshal(change[k], &wo.Title)
		case "billingRate":
			err = json.Unmarshal(change[k], &wo.BillingRate)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": k + ": wrong type"})
			return
		}
	}
	writeJSON(w, http.StatusOK, fa.Mask(wo.fields()))
}

// list answers the work orders the user may view, masked: Plan gives the
// filter once for the whole list, applied here in memory (a database
// would take plan.SQL, see where).
func (a *app) list(w http.ResponseWriter, r *http.Request) {
	u := user(r)
	if u == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthenticated"})
		return
	}
	plan, err := a.gh.Plan(r.Context(), client.PlanRequest{Subject: client.Subject{ID: u}, Action: client.Action{Name: "view"}, ResourceType: resourceType})
	if err != nil {
		log.Printf("workorders: plan: %v", err)
		unavailable(w)
		return
	}
	fa := a.fieldAccess(w, r)
	if fa == nil {
		return
	}
	ids := make([]string, 0, len(a.orders))
	for id := range a.orders {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := []map[string]any{}
	for _, id := range ids {
		wo := a.orders[id]
		ok, err := plan.Matches(wo.properties())
		if errors.Is(err, client.ErrCELFilter) {
			// A condition only Gatehouse can evaluate: ask about this
			// record.
			ok, err = a.gh.Allowed(r.Context(), client.Request{Subject: client.Subject{ID: u}, Action: client.Action{Name: "view"},
				Resource: client.Resource{Type: resourceType, ID: wo.ID, Properties: wo.properties()}})
		}
		if err != nil {
			log.Printf("workorders: list: %v", err)
			unavailable(w)
			return
		}
		if ok {
			out = append(out, fa.Mask(wo.fields()))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// where is how a service with a database would filter its list: Plan with
// Columns renders the filter as a parameterized WHERE fragment.
func where(ctx context.Context, gh *client.Client, subject string) (string, []any, error) {
	plan, err := gh.Plan(ctx, client.PlanRequest{Subject: client.Subject{ID: subject}, Action: client.Action{Name: "view"}, ResourceType: resourceType,
		Columns: map[string]string{"id": "w.id", "unit": "w.unit", "ownerId": "w.owner_id", "assigneeIds": "w.assignee_ids"}})
	switch {
	case err != nil:
		return "", nil, err
	case plan.Kind == client.PlanAlways:
		return "TRUE", nil, nil
	case plan.Kind == client.PlanNever:
		return "FALSE", nil, nil
	case plan.SQL == nil:
		return "", nil, errors.New("workorders: the filter has no SQL form: " + plan.SQLError)
	}
	return plan.SQL.Where, plan.SQL.Args, nil
}

func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "authorization unavailable"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Printf("workorders: writing the answer: %v", err)
	}
}

// sampleOrders are the work orders the demo serves.
func sampleOrders() []WorkOrder {
	return []WorkOrder{
		{ID: "1", Title: "Replace compressor", Unit: "/ca/ab/calgary", OwnerID: "sam.supervisor", AssigneeIDs: []string{"tom.tech"}, Status: "open", BillingRate: 95, Margin: 0.3},
		{ID: "2", Title: "Inspect boiler", Unit: "/ca/ab/calgary", OwnerID: "tina.tech", AssigneeIDs: []string{"alex.apprentice"}, Status: "open", BillingRate: 110, Margin: 0.25},
		{ID: "3", Title: "Fix dock door", Unit: "/ca/on/toronto", OwnerID: "dana.director", Status: "scheduled", BillingRate: 80, Margin: 0.2},
		{ID: "4", Title: "Service forklift", Unit: "/ca/ab/calgary/north", OwnerID: "alex.apprentice", Status: "done", BillingRate: 70, Margin: 0.1},
	}
}

func main() {
	opts := []client.Option{}
	if t := os.Getenv("GATEHOUSE_TENANT"); t != "" {
		opts = append(opts, client.WithTenant(t))
	}
	if f := os.Getenv("GATEHOUSE_TOKEN_FILE"); f != "" {
		opts = append(opts, client.WithTokenFile(f))
	}
	base := os.Getenv("GATEHOUSE_URL")
	if base == "" {
		base = "http://127.0.0.1:8080"
	}
	gh, err := client.New(base, opts...)
	if err != nil {
		log.Fatal(err)
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8090"
	}
	srv := &http.Server{Addr: addr, Handler: newApp(gh, sampleOrders()), ReadHeaderTimeout: 5 * time.Second}
	log.Printf("workorders: listening on %s, asking %s", addr, strings.TrimSuffix(base, "/"))
	log.Fatal(srv.ListenAndServe())
}
