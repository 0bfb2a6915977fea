package authz

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// Server defaults: every phase of a connection is bounded so that slow or
// idle clients cannot hold goroutines and file descriptors forever.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultShutdownTimeout   = 10 * time.Second
	// DefaultMaxConnections and DefaultMaxConnectionsPerSource bound the
	// connections held open, in all and per client address.
	DefaultMaxConnections          = 10_000
	DefaultMaxConnectionsPerSource = 1_000
)

// ServerOptions configure NewServer.
type ServerOptions struct {
	// Addr is the listen address, e.g. ":8443".
	Addr string
	// CertFile and KeyFile are the PEM certificate (chain) and key. They
	// are re-read when either file's modification time changes, so a
	// rotated certificate (cert-manager, a mounted Secret) is picked up
	// without a restart.
	CertFile, KeyFile string
	// AllowPlainHTTP must be set to serve without TLS (development only);
	// without it, NewServer refuses to start with no certificate.
	AllowPlainHTTP bool

	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout bound
	// each phase of a connection (defaults 5 s, 10 s, 10 s, 120 s).
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// ShutdownTimeout bounds graceful shutdown in Start (default 10 s).
	ShutdownTimeout time.Duration
	// MaxHeaderBytes bounds request headers (default 64 KiB).
	MaxHeaderBytes int
	// MaxConnections and MaxConnectionsPerSource bound the connections
	// held open, in all (default 10,000) and per client address (default
	// 1,000); a connection beyond them is closed when accepted.
	MaxConnections, MaxConnectionsPerSource int
	// ErrorLog receives net/http's connection errors (nil: discarded,
	// since TLS handshake noise from scanners is not actionable).
	ErrorLog *log.Logger
}

// Server is an HTTP(S) server for the Handler with bounded timeouts and
// certificate reload. It implements controller-runtime's manager.Runnable
// (Start) and LeaderElectionRunnable (every replica serves).
type Server struct {
	srv      *http.Server
	certs    *certReloader
	shutdown time.Duration
	addr     string
	maxConns int
	perSrc   int

	mu sync.Mutex
	ln net.Listener
}

// NewServer returns a Server for h. It fails when neither a certificate
// nor AllowPlainHTTP is given, or when the certificate cannot be loaded.
func NewServer(h http.Handler, o ServerOptions) (*Server, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&o.ReadTimeout, DefaultReadTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.IdleTimeout, DefaultIdleTimeout)
	def(&o.ShutdownTimeout, DefaultShutdownTimeout)
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	orDefault(&o.MaxConnections, DefaultMaxConnections)
	orDefault(&o.MaxConnectionsPerSource, DefaultMaxConnectionsPerSource)
	if o.ErrorLog == nil {
		o.ErrorLog = log.New(discard{}, "", 0)
	}
	s := &Server{
		srv: &http.Server{
			Addr:              o.Addr,
			Handler:           h,
			ReadHeaderTimeout: o.ReadHeaderTimeout,
			ReadTimeout:       o.ReadTimeout,
			WriteTimeout:      o.WriteTimeout,
			IdleTimeout:       o.IdleTimeout,
			MaxHeaderBytes:    o.MaxHeaderBytes,
			ErrorLog:          o.ErrorLog,
		},
		shutdown: o.ShutdownTimeout,
		addr:     o.Addr,
		maxConns: o.MaxConnections,
		perSrc:   o.MaxConnectionsPerSource,
	}
	switch {
	case o.CertFile != "" || o.KeyFile != "":
		if o.CertFile == "" || o.KeyFile == "" {
			return nil, errors.New("authz: both a certificate and a key file are needed")
		}
		c, err := newCertReloader(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, err
		}
		s.certs = c
		s.srv.TLSConfig = &tls.Config{
			MinVersion:     tls.VersionTLS12,
			GetCertificate: c.getCertificate,
			NextProtos:     []string{"h2", "http/1.1"},
		}
	case !o.AllowPlainHTTP:
		return nil, errors.New("authz: no TLS certificate configured; plain HTTP needs AllowPlainHTTP (development only)")
	}
	return s, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TLS reports whether the server serves HTTPS.
func (s *Server) TLS() bool { return s.certs != nil }

// Serve serves on ln until Shutdown, within the connection limits; it
// returns http.ErrServerClosed after a shutdown.
func (s *Server) Serve(ln net.Listener) error {
	ln = newConnLimiter(ln, s.maxConns, s.perSrc)
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	if s.certs != nil {
		return s.srv.ServeTLS(ln, "", "")
	}
	return s.srv.Serve(ln)
}

// Addr returns the listening address once serving (useful with ":0").
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops accepting connections and waits for in-flight requests
// until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Start listens on the configured address and serves until ctx ends, then
// shuts down gracefully. It implements manager.Runnable, so
// mgr.Add(server) runs it with the manager.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("authz: listen %s: %w", s.addr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), s.shutdown)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			return err
		}
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// NeedLeaderElection is false: every manager replica serves decisions.
func (s *Server) NeedLeaderElection() bool { return false }

// certReloader serves the certificate of two files and reloads it when
// their modification times change. It checks at most once per second, so a
// handshake storm does not turn into a stat storm. A certificate that fails
// to load (e.g. the key was written before the certificate) is ignored
// and the previous one kept until the files are consistent again.
type certReloader struct {
	certFile, keyFile string

	mu        sync.Mutex
	cert      *tls.Certificate
	certMod   time.Time
	keyMod    time.Time
	lastCheck time.Time
	now       func() time.Time
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, now: time.Now}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certReloader) reload() error {
	cs, err := os.Stat(c.certFile)
	if err != nil {
		return fmt.Errorf("authz: certificate: %w", err)
	}
	ks, err := os.Stat(c.keyFile)
	if err != nil {
		return fmt.Errorf("authz: key: %w", err)
	}
	if c.cert != nil && cs.ModTime().Equal(c.certMod) && ks.ModTime().Equal(c.keyMod) {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("authz: load certificate: %w", err)
	}
	c.cert, c.certMod, c.keyMod = &cert, cs.ModTime(), ks.ModTime()
	return nil
}

func (c *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.lastCheck) >= time.Second {
		c.lastCheck = now
		_ = c.reload() // keep serving the previous certificate on error
	}
	return c.cert, nil
}
