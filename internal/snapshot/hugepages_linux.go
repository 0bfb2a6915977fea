//go:build linux

package snapshot

import (
	"syscall"
	"unsafe"
)

// adviseHugePages asks Linux to back a large, randomly accessed array with
// transparent huge pages. Check touches one cache line of the permission
// blocks and one of the subject table per request, at random: with 4 KiB
// pages most of those also miss the TLB. Advice only; errors are ignored.
func adviseHugePages[T any](xs []T) {
	if cap(xs) == 0 {
		return
	}
	var zero T
	size := uintptr(cap(xs)) * unsafe.Sizeof(zero)
	if size < 4<<20 {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(xs[:1]))), size)
	// Only whole huge pages inside the array can be backed by one.
	const huge = 2 << 20
	start := (uintptr(unsafe.Pointer(&b[0])) + huge - 1) &^ (huge - 1)
	end := (uintptr(unsafe.Pointer(&b[0])) + size) &^ (huge - 1)
	if end <= start {
		return
	}
	off := start - uintptr(unsafe.Pointer(&b[0]))
	_ = syscall.Madvise(b[off:off+(end-start)], 14 /* MADV_HUGEPAGE */)
}
