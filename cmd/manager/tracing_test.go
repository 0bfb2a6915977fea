package main

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestTracingFlags(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts.Add(1)
		}
	}))
	defer collector.Close()
	hostPort := strings.TrimPrefix(collector.URL, "http://")
	tests := map[string]struct {
		args    []string
		on      bool
		wantErr string
	}{
		"off by default":            {},
		"a bad ratio":               {args: []string{"--tracing-otlp-endpoint=" + hostPort, "--tracing-sample-ratio=2"}, wantErr: "want 0 to 1"},
		"host:port, plain HTTP":     {args: []string{"--tracing-otlp-endpoint=" + hostPort, "--tracing-insecure"}, on: true},
		"a URL naming its scheme":   {args: []string{"--tracing-otlp-endpoint=" + collector.URL + "/v1/traces"}, on: true},
		"a ratio of 0 still starts": {args: []string{"--tracing-otlp-endpoint=" + hostPort, "--tracing-insecure", "--tracing-sample-ratio=0"}, on: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var o tracingOptions
			fs := flag.NewFlagSet("manager", flag.ContinueOnError)
			o.bindFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			tracer, stop, err := o.start()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (tracer != nil) != tc.on {
				t.Fatalf("tracer %v, want on=%v", tracer, tc.on)
			}
			if tracer == nil {
				stop()
				return
			}
			before := posts.Load()
			_, span := tracer.Start(context.Background(), "test")
			span.End()
			stop() // flushes the batch
			sampled := !strings.Contains(name, "ratio of 0")
			if got := posts.Load() > before; got != sampled {
				t.Errorf("the collector got spans: %v, want %v", got, sampled)
			}
		})
	}
}
