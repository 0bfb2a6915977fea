package cli

import (
	"reflect"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// TestPropsCoverStandardProperties: --prop KEY=VALUE reaches the Resource
// field of every standard property.
func TestPropsCoverStandardProperties(t *testing.T) {
	for _, sp := range snapshot.StandardProperties() {
		t.Run(sp.Name, func(t *testing.T) {
			flag, want := sp.Name+"=/a", snapshot.Resource{Type: "m"}
			switch sp.Kind {
			case snapshot.PropStringList:
				flag = sp.Name + "=/a,/b"
				sp.SetForTest(&want, "/a", "/b")
			case snapshot.PropApprovalList:
				flag = sp.Name + "=s:/a"
				sp.SetForTest(&want, "/a")
			default:
				sp.SetForTest(&want, "/a")
			}
			props, err := parseProps([]string{flag})
			if err != nil {
				t.Fatal(err)
			}
			got, err := makeResource("m", "", props)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("--prop %s gives %+v, want %+v", flag, got, want)
			}
		})
	}
}
