package authz

import (
	"io"
	"net/http"
	"sync"
)

// bodyChunk is how much a body read reserves at a time from the byte
// budget and grows its buffer by: a body is held in memory only as its
// bytes arrive, never sized from the Content-Length it claims.
const bodyChunk = 16 << 10

// byteBudget bounds the request bytes all requests in flight hold together,
// and the share of that one caller may hold, so that many connections
// trickling large bodies exhaust neither the memory limit nor the budget
// of other callers.
type byteBudget struct {
	total, perCaller int64

	mu      sync.Mutex
	used    int64
	callers map[string]int64
}

func newByteBudget(total, perCaller int64) *byteBudget {
	return &byteBudget{total: total, perCaller: perCaller, callers: map[string]int64{}}
}

// reserve takes n bytes for caller, or reports false when the total or the
// caller's share would be exceeded.
func (b *byteBudget) reserve(caller string, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.callers[caller]
	if b.used+n > b.total || c+n > b.perCaller {
		return false
	}
	b.used += n
	b.callers[caller] = c + n
	return true
}

// free returns n bytes of caller's reservation.
func (b *byteBudget) free(caller string, n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	if c := b.callers[caller] - n; c > 0 {
		b.callers[caller] = c
	} else {
		delete(b.callers, caller)
	}
}

// inUse is the bytes reserved now.
func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// bodyRefusal says why a body was not read.
type bodyRefusal uint8

const (
	bodyRead     bodyRefusal = iota
	bodyTooLarge             // over MaxBodyBytes: 413
	bodyNoBudget             // the byte budget is spent: 429
	bodyBroken               // the connection failed or timed out: 400
)

// readBody reads the request body into buf (reused) as it arrives, up to
// MaxBodyBytes. Every buffer it allocates is first reserved from the byte
// budget (held, to free once the request is answered); it grows
// geometrically from bodyChunk, so a body claiming a megabyte and sending a
// byte holds 16 KiB. A pooled buffer (at most maxPooledBuffer) is filled
// without a reservation: that memory exists whether or not it is in use.
func (h *Handler) readBody(r *http.Request, buf []byte, caller string) (body []byte, held int64, why bodyRefusal) {
	limit := h.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return buf[:0], 0, bodyTooLarge
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			grow := min(max(2*int64(cap(buf)), bodyChunk), limit+1)
			if grow > held {
				if !h.bytes.reserve(caller, grow-held) {
					return buf[:0], held, bodyNoBudget
				}
				held = grow
			}
			nb := make([]byte, len(buf), grow)
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return buf[:0], held, bodyTooLarge
		}
		if err == io.EOF {
			return buf, held, bodyRead
		}
		if err != nil {
			return buf[:0], held, bodyBroken
		}
	}
}
