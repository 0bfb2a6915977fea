package authz

import (
	"flag"
)

// BindFlags registers the endpoint's limits and SubjectAccessReview mapping
// on fs, writing into o and so: the manager and `gatehouse serve` share
// these names, defaults and help texts. Zero values keep the defaults New
// and NewServer apply, which the help texts state.
func BindFlags(fs *flag.FlagSet, o *Options, so *ServerOptions) {
	fs.Int64Var(&o.MaxBodyBytes, "authz-max-body-bytes", DefaultMaxBodyBytes, "Largest request body in bytes; larger bodies get 413.")
	fs.IntVar(&o.MaxInFlight, "authz-max-in-flight", 0, "Requests decoded and evaluated at once (0: GOMAXPROCS-1, at least 1); the others queue fairly per caller and tenant.")
	fs.IntVar(&o.MaxQueuePerFlow, "authz-max-queue-per-flow", DefaultMaxQueuePerFlow, "Requests one caller may have queued for one tenant; beyond it 429.")
	fs.IntVar(&o.MaxQueue, "authz-max-queue", DefaultMaxQueue, "Requests queued in all; beyond it 429.")
	fs.DurationVar(&o.QueueWait, "authz-queue-wait", DefaultQueueWait, "Longest a request waits in the queue; then 429.")
	fs.Int64Var(&o.MaxRequestCost, "authz-max-request-cost", DefaultMaxRequestCost, "Cost units (condition evaluations and comprehension steps) one request's conditions may spend; beyond it 422.")
	fs.DurationVar(&o.MaxConditionTime, "authz-max-condition-time", DefaultMaxConditionTime, "Time one request's conditions may run; beyond it 422.")
	fs.Int64Var(&o.MaxBytesInFlight, "authz-max-bytes-in-flight", DefaultMaxBytesInFlight, "Request body bytes all requests being read may hold together; beyond it 429.")
	fs.Int64Var(&o.MaxBytesPerCaller, "authz-max-bytes-per-caller", DefaultMaxBytesPerCaller, "Request body bytes one caller's requests may hold together; beyond it 429.")
	fs.Float64Var(&o.FailedAuthRate, "authz-failed-auth-rate", DefaultFailedAuthRate, "Failed authentications and tenant authorizations per second a source address may make after its burst; beyond it 429 (negative: no limit).")
	fs.IntVar(&o.FailedAuthBurst, "authz-failed-auth-burst", DefaultFailedAuthBurst, "Failed authentications a source address may make at once.")
	fs.IntVar(&so.MaxConnections, "authz-max-connections", DefaultMaxConnections, "Connections held open in all; more are closed when accepted.")
	fs.IntVar(&so.MaxConnectionsPerSource, "authz-max-connections-per-source", DefaultMaxConnectionsPerSource, "Connections one client address may hold open.")
	fs.StringVar(&o.SAR.Group, "sar-module-group", DefaultSARGroup, `API group whose resources /subjectaccessreview answers as modules ("`+SARGroupNone+`": none).`)
	fs.Func("sar-map", "Extra /subjectaccessreview mappings, group/resource[/subresource]=module, comma-separated (core group: /configmaps=assets).", func(s string) error {
		m, err := ParseSARPairs(s)
		o.SAR.Map = m
		return err
	})
	fs.Func("sar-verb-map", "Kubernetes verbs mapped to actions for /subjectaccessreview, verb=action, comma-separated (impersonate, escalate, bind and use are answered only when mapped).", func(s string) error {
		m, err := ParseSARPairs(s)
		o.SAR.Verbs = m
		return err
	})
}
