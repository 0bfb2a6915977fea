package main

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/gatehouse-dev/gatehouse/controllers"
)

func TestLeaderElectionID(t *testing.T) {
	tests := map[string]struct {
		shard controllers.Shard
		want  string
	}{
		// An unsharded install keeps the lease it always had, so that an
		// upgrade does not run two leaders side by side.
		"unsharded":     {controllers.Shard{}, "gatehouse.access.gatehouse.dev"},
		"shard a":       {controllers.Shard{Name: "a"}, "gatehouse-a.access.gatehouse.dev"},
		"default shard": {controllers.Shard{Name: "a", Default: true}, "gatehouse-a.access.gatehouse.dev"},
		"shard eu-1":    {controllers.Shard{Name: "eu-1"}, "gatehouse-eu-1.access.gatehouse.dev"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := leaderElectionID(tc.shard)
			if got != tc.want {
				t.Errorf("leaderElectionID(%+v) = %q, want %q", tc.shard, got, tc.want)
			}
			// The ID names a Lease.
			if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
				t.Errorf("%q is not a Lease name: %v", got, errs)
			}
		})
	}
}
