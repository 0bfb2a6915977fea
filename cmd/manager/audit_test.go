package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuditFlags(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		args    []string
		wantErr string
		spooled bool // the spool directory was created and locked
	}{
		"defaults":                    {},
		"token file without a URL":    {args: []string{"--audit-http-token-file=/var/run/token"}, wantErr: "need --audit-http-url"},
		"spool without a URL":         {args: []string{"--audit-http-spool-dir=" + filepath.Join(dir, "a")}, wantErr: "need --audit-http-url"},
		"spool with a URL":            {args: []string{"--audit-http-url=http://127.0.0.1:9/", "--audit-http-spool-dir=" + filepath.Join(dir, "b")}, spooled: true},
		"non-positive delivery bound": {args: []string{"--audit-delivery-timeout=0s"}, wantErr: "--audit-delivery-timeout"},
		"a bad URL names the flag's option, not the value": {args: []string{"--audit-http-url=ftp://user:secret@host/"}, wantErr: "HTTPOptions.URL"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var o auditOptions
			fs := flag.NewFlagSet("manager", flag.ContinueOnError)
			o.bindFlags(fs)
			if err := fs.Parse(append([]string{"--audit-log=" + filepath.Join(t.TempDir(), "audit.log")}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			trail, closeTrail, err := o.trail("replica-0")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("the error echoes a credential: %v", err)
				}
				return
			}
			if err != nil || trail == nil {
				t.Fatalf("trail: %v", err)
			}
			defer closeTrail()
			if tc.spooled {
				if _, err := os.Stat(filepath.Join(o.httpSpoolDir, "lock")); err != nil {
					t.Errorf("the spool directory was not opened: %v", err)
				}
			}
		})
	}
}
