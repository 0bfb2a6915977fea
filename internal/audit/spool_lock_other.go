//go:build !unix

package audit

import "os"

// lockFile opens path; the spool is not locked where flock is missing (the
// manager, its only user, runs on Linux).
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
}
