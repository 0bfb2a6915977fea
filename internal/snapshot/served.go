package snapshot

// HasRole reports whether the named Role is part of the snapshot (compiled,
// not left out).
func (s *Snapshot) HasRole(name string) bool {
	if s == nil {
		return false
	}
	_, ok := s.roleIndex(name)
	return ok
}

// HasGroup reports whether the named UserGroup is part of the snapshot.
func (s *Snapshot) HasGroup(name string) bool {
	if s == nil {
		return false
	}
	i, ok := s.groupIndex(name)
	return ok && !s.groups[i].restrictOnly
}
