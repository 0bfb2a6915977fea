package authz

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func TestBindFlags(t *testing.T) {
	tests := map[string]struct {
		args    []string
		check   func(*Options, *ServerOptions) bool
		wantErr string
	}{
		"defaults as New applies them": {args: nil, check: func(o *Options, so *ServerOptions) bool {
			return o.MaxBodyBytes == DefaultMaxBodyBytes && o.MaxInFlight == 0 && o.QueueWait == DefaultQueueWait &&
				o.MaxRequestCost == DefaultMaxRequestCost && so.MaxConnections == DefaultMaxConnections && o.SAR.Group == DefaultSARGroup
		}},
		"every limit set": {args: []string{"--authz-max-in-flight=3", "--authz-queue-wait=2s", "--authz-max-condition-time=10ms",
			"--authz-failed-auth-rate=-1", "--authz-max-connections-per-source=7"}, check: func(o *Options, so *ServerOptions) bool {
			return o.MaxInFlight == 3 && o.QueueWait == 2*time.Second && o.MaxConditionTime == 10*time.Millisecond &&
				o.FailedAuthRate == -1 && so.MaxConnectionsPerSource == 7
		}},
		"SAR maps": {args: []string{"--sar-map=/configmaps=assets,modules.gatehouse.dev/workorders/status=workorders", "--sar-verb-map=deletecollection=delete"},
			check: func(o *Options, _ *ServerOptions) bool {
				return o.SAR.Map["/configmaps"] == "assets" && o.SAR.Map["modules.gatehouse.dev/workorders/status"] == "workorders" && o.SAR.Verbs["deletecollection"] == "delete"
			}},
		"a malformed map names the flag": {args: []string{"--sar-map=nonsense"}, wantErr: "sar-map"},
		"a malformed number":             {args: []string{"--authz-max-queue=lots"}, wantErr: "authz-max-queue"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var o Options
			var so ServerOptions
			BindFlags(fs, &o, &so)
			err := fs.Parse(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(&o, &so) {
				t.Fatalf("err %v, options %+v %+v", err, o, so)
			}
			// What the flags give, New accepts.
			o.Authenticator, o.TenantAuthorizer = None{}, None{}
			if _, err := New(store.New(), o); err != nil {
				t.Fatalf("New rejects what the flags give: %v", err)
			}
		})
	}
}
