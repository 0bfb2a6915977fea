package snapshot

import (
	"slices"
	"sync"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// The compiled snapshot's data model: what Compile produces and Check,
// Plan, WhoCan and Diff read.

// Snapshot is one tenant's compiled permissions. It is immutable after
// Compile and safe for any number of concurrent readers.
type Snapshot struct {
	tenant   string
	revision string
	counts   Counts

	// Interned names. Index 0 of both is the wildcard slot: the row of
	// resources and the bit of actions that no object names, which "*"
	// grants also cover.
	resNames []string
	actNames []string
	resTab   *nameTable // name -> index in resNames
	actTab   *nameTable
	words    int // uint64 words per action bitset
	// compact: at most 32 actions (wildcard slot included), so a block is
	// one 64-byte cache line: 8 scope bitsets of 32 bits in 4 words, 2
	// header words, 2 inline grants of one word each.
	compact bool

	roles   []*role            // sorted by name (roleIndex searches it)
	matches []Match            // every (group, role, grant) explanation
	groups  []*group           // served groups by name, then left-out ones by name (groupIndex)
	nServed int                // served groups: groups[:nServed]
	ext     map[string][]int32 // IdP group -> groups naming it

	subjects   *subjectTable // subject ID -> profile
	profiles   []profile
	profileKey map[string]int32 // group-set key -> profile

	// Hot path arrays: pHot[profile] is the offset of the profile's block
	// in bits (low 32 bits) and flags.
	pHot     []uint64
	bits     []uint64
	grants   []rowGrant
	restrict []uint16

	policies    []*fieldPolicy
	policyByRes map[string]int32
	chains      []*chain
	chainByRes  map[string]int32

	// extCache holds profiles built at request time for group sets that
	// external groups produce and compile did not foresee.
	extMu    sync.Mutex
	extCache map[string]*profile
}

const maxExtCache = 4096

const hotHasRoles = uint64(1) << 63

type flatGrant struct {
	defRole string
	index   int
	full    bool
	allRes  bool
	res     []int32
	acts    []uint64
	mask    uint16
	scope   string
	cond    *condition
	perm    *v1alpha1.Permission // as written, for Diff; nil for fullAccess
}

// names returns the grant's modules and actions as written, sorted and
// without repeats (Diff compares them; computed on demand, as Diff is rare
// and a snapshot is kept for long).
func (f *flatGrant) names() (res, acts []string) {
	if f.perm == nil {
		return nil, nil
	}
	for _, r := range f.perm.Resources {
		res = append(res, string(r))
	}
	for _, a := range f.perm.Actions {
		acts = append(acts, string(a))
	}
	slices.Sort(res)
	slices.Sort(acts)
	return slices.Compact(res), slices.Compact(acts)
}

type role struct {
	name string
	own  []flatGrant // the role's own grants (fullAccess first)
	// extends are the roles it extends, as indices, in the order written.
	extends []int32
	// flat and holds are resolved only for roles some group holds (see
	// resolveRoles): resolving every role of a long extends chain would
	// copy the chain into each of its links.
	full  bool
	flat  []*flatGrant // own grants, then each extended role's, without repeats
	holds []int32      // this role and every role it extends, transitively, sorted
	// spec is the Role as decoded, read while compiling only: release
	// drops it so a kept snapshot does not keep its input alive.
	spec *v1alpha1.Role
}

type restriction struct {
	allRes bool
	res    []int32
	mask   uint16
	key    string
}

type group struct {
	name         string
	roles        []int32
	matches      [][]Match // per roles[k], per flat grant of that role (views of Snapshot.matches)
	matchBase    []uint32  // index of matches[k][0] in Snapshot.matches
	attrs        map[string]v1alpha1.AttributeValue
	restrictions []restriction
	ancestors    []int32 // the group and every group including it, sorted
	// written are the restrictions as written, for Diff.
	written []v1alpha1.Restriction
	// spec is the UserGroup as decoded, read while compiling only (see
	// role.spec).
	spec *v1alpha1.UserGroup
	// restrictOnly marks a left-out group: it keeps restricting its
	// members but grants nothing and is not served.
	restrictOnly bool
}

type roleSrc struct{ role, group, k int32 }

// profile is everything Check needs about the subjects sharing one
// effective group set. Its permission block is laid out for few cache
// misses: per resource, one bitset word group per scope followed by two
// header words (where the resource's grants and restrictions are), so a
// check touches one block and, to explain an allow, one grant run. After
// Compile the blocks, grants and restrictions of all profiles live in three
// shared arrays.
type profile struct {
	// attr comes first: scope checks read it right after the block.
	attr attrs

	hasRoles bool
	full     bool
	bits     []uint64   // [resource]{[scope][word], h0, h1}
	grants   []rowGrant // indexed by header offsets
	restrict []uint16   // restriction masks, indexed by header offsets

	groups  []int32
	srcs    []roleSrc // every (group, assigned role), sorted by role then group
	held    []int32   // roles held, extends included, sorted
	fields  []*fieldResult
	members []string

	groupNames []string
	roleNames  []string
}

type attrs struct {
	units, company, companies, facilities            []string
	hasUnit, hasCompany, hasCompanies, hasFacilities bool
	props                                            map[string]any
}

// Tenant is the tenant (namespace) the snapshot was compiled for.
func (s *Snapshot) Tenant() string {
	if s == nil {
		return ""
	}
	return s.tenant
}

// Revision is the content hash of the compiled input: equal inputs, in any
// order and whatever their metadata, give equal revisions.
func (s *Snapshot) Revision() string {
	if s == nil {
		return ""
	}
	return s.revision
}

// Counts says how many objects and subjects the snapshot holds.
func (s *Snapshot) Counts() Counts {
	if s == nil {
		return Counts{}
	}
	return s.counts
}
