package authz

import (
	"net"
	"sync"
)

// connLimiter bounds the connections a server holds open, in all and per
// source address, so that one client opening thousands of idle or trickling
// connections exhausts neither file descriptors nor memory, nor other
// clients' share. A connection beyond a limit is closed as soon as it is
// accepted (the client sees a reset and may retry); the accept loop never
// blocks, so other sources keep connecting.
type connLimiter struct {
	net.Listener
	total, perSource int

	mu      sync.Mutex
	open    int
	sources map[string]int
}

func newConnLimiter(ln net.Listener, total, perSource int) *connLimiter {
	return &connLimiter{Listener: ln, total: total, perSource: perSource, sources: map[string]int{}}
}

// Accept returns the next connection within the limits.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src := sourceOf(c.RemoteAddr().String())
		l.mu.Lock()
		if l.open >= l.total || l.sources[src] >= l.perSource {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.open++
		l.sources[src]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, src: src}, nil
	}
}

func (l *connLimiter) done(src string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if n := l.sources[src] - 1; n > 0 {
		l.sources[src] = n
	} else {
		delete(l.sources, src)
	}
}

type limitedConn struct {
	net.Conn
	l    *connLimiter
	src  string
	once sync.Once
}

// Close closes the connection and frees its place once.
func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.done(c.src) })
	return err
}
