package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/console"
	"github.com/gatehouse-dev/gatehouse/internal/manifest"
)

const consoleLong = `Console serves a read-only web console on this machine: a tenant's access as
its admins think of it — overview, role matrix, field access, people, explain
and who-can, approvers, changes (the audit trail) and what-if.

It reads the manifests of -f (re-read once a change has held for one
--interval) or, with --from-cluster, the live objects your kubeconfig may
read (re-read every --cluster-interval). It never writes to a cluster:
what-if downloads the changed YAML or a patch for Git.

It listens on loopback only and answers only requests addressed to
loopback, with your own credentials behind it: do not expose it.`

func newConsoleCmd(e *env) *cobra.Command {
	var (
		src             source
		listen          string
		trail           []string
		interval        time.Duration
		clusterInterval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "console -f DIR [--listen 127.0.0.1:8099] [--audit-log FILE|DIR]...",
		Short: "Serve a read-only web console of tenants' access on loopback",
		Long:  consoleLong,
		Example: `  gatehouse console -f config/samples
  gatehouse console --from-cluster --tenant acme-field-services --audit-log trails/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 || clusterInterval <= 0 {
				return usageError("--interval and --cluster-interval must be positive")
			}
			for _, f := range src.files {
				if f == manifest.Stdin {
					return usageError("-f -: the console re-reads its files; pass a file or directory")
				}
			}
			if !src.fromCluster && len(src.files) == 0 {
				return usageError("no manifests: pass -f DIR|FILE (or --from-cluster)")
			}
			ln, err := console.ListenLoopback(listen)
			if err != nil {
				return usageError("%v", err)
			}
			defer func() { _ = ln.Close() }()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts := console.Options{
				Load:   func(context.Context) (*manifest.Set, error) { return src.read(e) },
				Source: src.where(),
				Trail:  trail,
			}
			if !src.fromCluster {
				opts.Fingerprint = func() string { return fingerprint(src.files) }
				opts.Roots = src.files
			}
			srv, err := console.New(ctx, opts)
			if err != nil {
				return err
			}
			if src.fromCluster {
				go reloadEvery(ctx, srv, clusterInterval)
			} else {
				go srv.Watch(ctx, interval)
			}
			fmt.Fprintf(e.stderr, "gatehouse: console of %s on http://%s/ (Ctrl-C stops it)\n", src.where(), ln.Addr())
			hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
				WriteTimeout: 60 * time.Second, MaxHeaderBytes: 64 << 10}
			go func() {
				<-ctx.Done()
				shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = hs.Shutdown(shut)
			}()
			if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	src.addFlags(cmd, "with --from-cluster: the namespace to read (default: every namespace)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8099", "loopback address to serve on")
	cmd.Flags().StringArrayVar(&trail, "audit-log", nil, "audit trail file or directory for the Changes page (repeatable; JSON lines or CloudEvents)")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "how often the files are checked for changes")
	cmd.Flags().DurationVar(&clusterInterval, "cluster-interval", 30*time.Second, "with --from-cluster: how often the objects are read again")
	return cmd
}

// reloadEvery reads the cluster again every interval until ctx ends; a
// failed read keeps the previous version (the console says so).
func reloadEvery(ctx context.Context, srv *console.Server, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = srv.Reload(ctx)
		}
	}
}
