package snapshot

// HasRole reports whether the named Role is part of the snapshot (compiled,
// not left out).
func (s *Snapshot) HasRole(name string) bool {
	if s == nil {
		return false
	}
	_, ok := s.roleIdx[name]
	return ok
}

// HasGroup reports whether the named UserGroup is part of the snapshot.
func (s *Snapshot) HasGroup(name string) bool {
	if s == nil {
		return false
	}
	i, ok := s.grpIdx[name]
	return ok && !s.groups[i].restrictOnly
}
