package snapshot_test

import (
	"encoding/json"
	"runtime"
	"testing"
	"weak"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// A kept snapshot must not keep the objects it was compiled from: a
// replica holds thousands of snapshots, and the decoded objects (metadata,
// annotations, everything under them) would more than double its memory.
func TestSnapshotDoesNotKeepItsInput(t *testing.T) {
	set, err := manifest.Read([]string{"../../config/samples"}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := json.Marshal(set.SnapshotObjects(set.Tenants()[0]))
	if err != nil {
		t.Fatal(err)
	}
	var objs snapshot.Objects
	if err := json.Unmarshal(enc, &objs); err != nil {
		t.Fatal(err)
	}
	if len(objs.Roles) == 0 || len(objs.Groups) == 0 {
		t.Fatal("config/samples has no roles or groups")
	}
	roles, groups := weak.Make(&objs.Roles[0]), weak.Make(&objs.Groups[0])
	s, probs := snapshot.Compile("acme", objs)
	if len(probs) > 0 {
		t.Fatalf("config/samples: %v", probs[0])
	}
	objs = snapshot.Objects{}
	runtime.GC()
	runtime.GC()
	if roles.Value() != nil {
		t.Error("the snapshot keeps the Role objects alive")
	}
	if groups.Value() != nil {
		t.Error("the snapshot keeps the UserGroup objects alive")
	}
	if s.Revision() == "" {
		t.Fatal("no revision")
	}
	runtime.KeepAlive(s)
}
