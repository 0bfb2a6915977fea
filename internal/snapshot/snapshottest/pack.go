// Package snapshottest holds helpers for benchmarks of the snapshot
// evaluator, shared by internal/snapshot's benchmarks and the side-by-side
// benchmarks in bench/.
package snapshottest

import (
	"unsafe"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// PackRequests lays each request's strings out next to each other in one
// arena, in request order, as a decoder filling requests from a buffer
// would: a request's own data is then one or two cache lines, fetched
// sequentially, while the snapshot data of its random subject stays cold.
func PackRequests(reqs []snapshot.Request) []snapshot.Request {
	arena := make([]byte, 0, len(reqs)*160)
	str := func(s string) string {
		if s == "" {
			return ""
		}
		if cap(arena)-len(arena) < len(s) {
			arena = make([]byte, 0, 1<<20)
		}
		start := len(arena)
		arena = append(arena, s...)
		return unsafe.String(unsafe.SliceData(arena[start:]), len(s))
	}
	out := make([]snapshot.Request, len(reqs))
	for i, r := range reqs {
		o := &out[i]
		*o = r
		o.Subject.ID, o.Action, o.Resource.Type = str(r.Subject.ID), str(r.Action), str(r.Resource.Type)
		o.Resource.OwnerID, o.Resource.Unit = str(r.Resource.OwnerID), str(r.Resource.Unit)
		o.Resource.FacilityID, o.Resource.CompanyID = str(r.Resource.FacilityID), str(r.Resource.CompanyID)
		o.Resource.AssigneeIDs = nil
		for _, a := range r.Resource.AssigneeIDs {
			o.Resource.AssigneeIDs = append(o.Resource.AssigneeIDs, str(a))
		}
	}
	return out
}
