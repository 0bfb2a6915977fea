//go:build !linux

package snapshot

func adviseHugePages[T any](xs []T) {}
