package authz

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// serial number.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "gatehouse-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func peerSerial(t *testing.T, addr string) int64 {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test against a self-signed cert
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestServerTLSReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeCert(t, certFile, keyFile, 1)
	h, _ := newTestHandler(t, Options{})
	srv, err := NewServer(h, ServerOptions{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if !srv.TLS() {
		t.Fatal("not TLS")
	}
	var clock atomic.Int64 // nanoseconds added to the real time
	srv.certs.now = func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }() // returns ErrServerClosed after Shutdown
	defer func() { _ = srv.Shutdown(context.Background()) }()
	addr := ln.Addr().String()
	if s := peerSerial(t, addr); s != 1 {
		t.Fatalf("serial %d", s)
	}
	// Rotate: new files with a later mtime.
	writeCert(t, certFile, keyFile, 2)
	later := time.Now().Add(time.Minute)
	chtimes(t, later, certFile, keyFile)
	if s := peerSerial(t, addr); s != 1 {
		t.Errorf("reloaded before the check interval: %d", s)
	}
	clock.Add(int64(2 * time.Second))
	if s := peerSerial(t, addr); s != 2 {
		t.Errorf("not reloaded: serial %d", s)
	}
	// A half-written rotation (garbage key) keeps the previous certificate.
	if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	later = later.Add(time.Minute)
	chtimes(t, later, keyFile)
	clock.Add(int64(2 * time.Second))
	if s := peerSerial(t, addr); s != 2 {
		t.Errorf("broken rotation: serial %d", s)
	}
	// HTTPS works end to end.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec
	resp, err := client.Get("https://" + addr + base + "/.well-known/authzen-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("discovery over TLS: %d", resp.StatusCode)
	}
}

// chtimes sets the access and modification times of files to at.
func chtimes(t *testing.T, at time.Time, files ...string) {
	t.Helper()
	for _, f := range files {
		if err := os.Chtimes(f, at, at); err != nil {
			t.Fatal(err)
		}
	}
}

func TestServerOptions(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	if _, err := NewServer(h, ServerOptions{}); err == nil {
		t.Error("plain HTTP without AllowPlainHTTP accepted")
	}
	if _, err := NewServer(h, ServerOptions{CertFile: "x"}); err == nil {
		t.Error("certificate without key accepted")
	}
	if _, err := NewServer(h, ServerOptions{CertFile: "/nonexistent", KeyFile: "/nonexistent"}); err == nil {
		t.Error("missing certificate accepted")
	}
	srv, err := NewServer(h, ServerOptions{AllowPlainHTTP: true, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	s := srv.srv
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 || s.MaxHeaderBytes <= 0 {
		t.Errorf("unbounded phase: %+v", s)
	}
	if srv.NeedLeaderElection() {
		t.Error("server needs leader election")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for srv.Addr() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if srv.Addr() == nil {
		t.Fatal("not listening")
	}
	resp, err := http.Get("http://" + srv.Addr().String() + base + "/.well-known/authzen-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Start: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Start did not return after cancel")
	}
}
