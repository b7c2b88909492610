package identity

import (
	"strings"

	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/store"
)

// The dynamic permission check of PROTOCOL.md §6.8.1 decides with the
// caller's current roles, ACL entries and ownership. Those live in four
// system buckets; a snapshot of them, indexed for the check, is rebuilt
// lazily after any of them changed (a store event bumps a generation
// number synchronously with the commit, so a request sent after a grant's
// answer already sees the grant). A check on a current snapshot is a few
// map lookups and allocates nothing.

// ACL operations as bits.
type aclOps uint8

const (
	aclRead aclOps = 1 << iota
	aclWrite
	aclAdmin
)

var aclOpNames = map[string]aclOps{"read": aclRead, "write": aclWrite, "admin": aclAdmin}

// aclOpOf is the ACL operation a request needs (§6.8.1): the same split as
// the tiers of §6.4.
func aclOpOf(op string) aclOps {
	switch auth.TierOf(op) {
	case auth.TierRead:
		return aclRead
	case auth.TierWrite:
		return aclWrite
	case auth.TierAdmin:
		return aclAdmin
	}
	return 0
}

// resourceTypeOf is the resource type of an operation (§6.8.1).
func resourceTypeOf(op string) string {
	switch {
	case strings.HasPrefix(op, "store."):
		return "bucket"
	case strings.HasPrefix(op, "rules."):
		return "topic"
	case strings.HasPrefix(op, "procedures."):
		return "procedure"
	}
	return ""
}

type role struct {
	id, name string
	system   bool
	perms    []perm
}

// perm is one parsed role permission entry.
type perm struct {
	allow   []string
	buckets []string // nil: no restriction
	topics  []string // nil: no restriction
}

type aclKey struct{ subjectType, subjectID, resourceType, resourceName string }

type resKey struct{ resourceType, resourceName string }

type snapshot struct {
	gen        uint64
	roles      map[string]*role   // id → role
	roleByName map[string]*role   // name → role
	userRoles  map[string][]*role // user id → current roles
	acl        map[aclKey]aclOps
	owners     map[resKey]string // resource → owner's user id
}

func buildSnapshot(st *store.Store, gen uint64) (*snapshot, error) {
	s := &snapshot{gen: gen, roles: map[string]*role{}, roleByName: map[string]*role{},
		userRoles: map[string][]*role{}, acl: map[aclKey]aclOps{}, owners: map[resKey]string{}}
	roles, err := st.All(BucketRoles)
	if err != nil {
		return nil, err
	}
	for _, rec := range roles.Records() {
		r := &role{id: str(rec["id"]), name: str(rec["name"]), system: rec["system"] == true,
			perms: parsePerms(rec["permissions"])}
		s.roles[r.id] = r
		s.roleByName[r.name] = r
	}
	assignments, err := st.All(BucketUserRoles)
	if err != nil {
		return nil, err
	}
	for _, rec := range assignments.Records() {
		if r := s.roles[str(rec["roleId"])]; r != nil {
			uid := str(rec["userId"])
			s.userRoles[uid] = append(s.userRoles[uid], r)
		}
	}
	entries, err := st.All(BucketACL)
	if err != nil {
		return nil, err
	}
	for _, rec := range entries.Records() {
		k := aclKey{str(rec["subjectType"]), str(rec["subjectId"]), str(rec["resourceType"]), str(rec["resourceName"])}
		s.acl[k] |= parseOps(rec["operations"])
	}
	owners, err := st.All(BucketOwners)
	if err != nil {
		return nil, err
	}
	for _, rec := range owners.Records() {
		s.owners[resKey{str(rec["resourceType"]), str(rec["resourceName"])}] = str(rec["userId"])
	}
	return s, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func parseOps(v any) aclOps {
	list, _ := v.([]any)
	var ops aclOps
	for _, o := range list {
		if s, ok := o.(string); ok {
			ops |= aclOpNames[s]
		}
	}
	return ops
}

// parsePerms reads a role's permission entries; anything malformed is
// skipped (roles' permissions are not validated on write, §6.9.4).
func parsePerms(v any) []perm {
	list, _ := v.([]any)
	var out []perm
	for _, el := range list {
		m, ok := el.(map[string]any)
		if !ok {
			continue
		}
		p := perm{allow: strings1(m["allow"])}
		if b, ok := m["buckets"]; ok {
			p.buckets = orEmpty(strings1(b))
		}
		if t, ok := m["topics"]; ok {
			p.topics = orEmpty(strings1(t))
		}
		out = append(out, p)
	}
	return out
}

// strings1 reads a string or a list of strings.
func strings1(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// rolesOf returns the user's current roles; the virtual superadmin always
// has exactly the superadmin role.
func (s *snapshot) rolesOf(userID string) []*role {
	if userID == SuperadminID {
		if r := s.roleByName[RoleSuperadmin]; r != nil {
			return []*role{r}
		}
		return []*role{{name: RoleSuperadmin}}
	}
	return s.userRoles[userID]
}

func (s *snapshot) hasRole(userID, name string) bool {
	if userID == SuperadminID && name == RoleSuperadmin {
		return true
	}
	for _, r := range s.userRoles[userID] {
		if r.name == name {
			return true
		}
	}
	return false
}

// aclAllows reports whether a user or role ACL entry of the user on the
// resource contains need (§6.8.1 steps 2–3).
func (s *snapshot) aclAllows(userID, resourceType, resource string, need aclOps) bool {
	if s.acl[aclKey{"user", userID, resourceType, resource}]&need != 0 {
		return true
	}
	for _, r := range s.rolesOf(userID) {
		if s.acl[aclKey{"role", r.id, resourceType, resource}]&need != 0 {
			return true
		}
	}
	return false
}

func (s *snapshot) owns(userID, resourceType, resource string) bool {
	o, ok := s.owners[resKey{resourceType, resource}]
	return ok && o == userID
}

// roleAllows is §6.8.1 step 5.
func (s *snapshot) roleAllows(userID, op, resourceType, resource string) bool {
	for _, r := range s.rolesOf(userID) {
		for i := range r.perms {
			p := &r.perms[i]
			if !matchAny(p.allow, op) {
				continue
			}
			if resourceType == "bucket" && p.buckets != nil && !contains(p.buckets, resource) {
				continue
			}
			if resourceType == "topic" && p.topics != nil && !matchAny(p.topics, resource) {
				continue
			}
			return true
		}
	}
	return false
}

// allowed is the whole decision of §6.8.1 for op on resource.
func (s *snapshot) allowed(userID, op, resource string) bool {
	if s.hasRole(userID, RoleSuperadmin) {
		return true
	}
	rt := resourceTypeOf(op)
	if need := aclOpOf(op); rt != "" && resource != "*" && need != 0 {
		if s.aclAllows(userID, rt, resource, need) || s.owns(userID, rt, resource) {
			return true
		}
	}
	return s.roleAllows(userID, op, rt, resource)
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if auth.Match(p, s) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
