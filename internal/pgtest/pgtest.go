// Package pgtest starts a throwaway PostgreSQL server for a test: the
// server binaries of the Debian package (initdb, postgres), run as an
// unprivileged user when the test runs as root, in a temporary data
// directory, listening on a free loopback port with its unix socket in that
// directory. The server is stopped and its directory removed when the test
// ends.
//
// A missing PostgreSQL fails the test, never skips it: `make test` installs
// the package (hack/postgres.sh) and passes its bin directory in
// GATEHOUSE_PG_BIN.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvBin names the environment variable with the directory of initdb and
// postgres; without it Start looks under /usr/lib/postgresql/*/bin.
const EnvBin = "GATEHOUSE_PG_BIN"

// unprivileged is the user the server runs as when the test runs as root
// (PostgreSQL refuses to run as root).
const unprivileged = "nobody"

// Server is a running PostgreSQL server.
type Server struct {
	// DSN connects as the superuser postgres to the database postgres over
	// TCP on 127.0.0.1.
	DSN string
	// Port is the loopback TCP port.
	Port int
	// Version is the server's version line (postgres --version).
	Version string
}

// BinDir finds the directory holding initdb and postgres: $GATEHOUSE_PG_BIN,
// else the newest /usr/lib/postgresql/<version>/bin that has both.
func BinDir() (string, error) {
	has := func(d string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(d, b)); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if d := os.Getenv(EnvBin); d != "" {
		if !has(d) {
			return "", fmt.Errorf("%s=%s has no initdb and postgres", EnvBin, d)
		}
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", errors.New("no initdb and postgres under /usr/lib/postgresql/*/bin")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start starts a server for t and registers its shutdown with t.Cleanup.
// A missing PostgreSQL is a failure (in CI and locally alike).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := BinDir()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL is missing in CI (%v): a missing part fails the run; .ci/run's make test installs it (hack/postgres.sh)", err)
		}
		t.Fatalf("PostgreSQL is missing (%v): `make test` installs it (hack/postgres.sh, the Debian package postgresql via apt-get as root)", err)
	}

	var cred *syscall.Credential
	var uid, gid = -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup(unprivileged)
		if err != nil {
			t.Fatalf("running as root, PostgreSQL needs an unprivileged user: %v", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}

	// Not t.TempDir: its directories are private to the test's user, and
	// the server's user must own its data directory.
	dir, err := os.MkdirTemp("", "gatehouse-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	env := []string{"PATH=" + bin + ":/usr/bin:/bin", "LANG=C", "LC_ALL=C", "HOME=" + dir, "TZ=UTC"}
	run := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(filepath.Join(bin, name), args...)
		c.Dir = dir
		c.Env = env
		c.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
		return c
	}

	version, _ := run("postgres", "--version").Output()
	// C locale: text compares byte by byte, as Check compares strings.
	initdb := run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}

	var srv *exec.Cmd
	var logs lockedBuffer
	var port int
	for attempt := 0; ; attempt++ {
		port = freePort(t)
		srv = run("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir,
			"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off", "-c", "max_connections=20", "-c", "shared_buffers=64MB",
			"-c", "logging_collector=off")
		logs.Reset()
		srv.Stdout, srv.Stderr = &logs, &logs
		if err := srv.Start(); err != nil {
			t.Fatalf("postgres: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- srv.Wait() }()
		dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", port)
		err := waitReady(dsn, exited, 60*time.Second)
		if err == nil {
			pid := srv.Process.Pid
			t.Cleanup(func() { _ = stop(pid, exited) })
			return &Server{DSN: dsn, Port: port, Version: string(bytes.TrimSpace(version))}
		}
		_ = stop(srv.Process.Pid, exited)
		// Another process may have taken the port between freePort and
		// the server's bind: try another one, a few times.
		if attempt < 2 && bytes.Contains(logs.Bytes(), []byte("could not bind")) {
			continue
		}
		t.Fatalf("postgres did not become ready: %v\nserver log:\n%s", err, logs.Bytes())
	}
}

// waitReady connects until the server answers, it exits or the time is up.
func waitReady(dsn string, exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := pgx.Connect(ctx, dsn)
		if err == nil {
			err = c.Ping(ctx)
			_ = c.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		select {
		case e := <-exited:
			return fmt.Errorf("server exited: %v (last connect error: %v)", e, err)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %v", limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop asks the postmaster for a fast shutdown, then kills its process
// group if it has not exited within 10 s. It returns how it exited (a
// signal after SIGKILL).
func stop(pid int, exited <-chan error) error {
	_ = syscall.Kill(pid, syscall.SIGINT)
	var err error
	select {
	case err = <-exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		err = <-exited
	}
	// Backends that outlived the postmaster, if any.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	return err
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}
