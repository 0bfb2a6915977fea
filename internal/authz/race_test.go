//go:build race

package authz

// raceEnabled: sync.Pool drops objects at random under the race detector,
// so allocation counts are meaningless there.
const raceEnabled = true
