package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/noex-go/noex/internal/wire"
	"github.com/noex-go/noex/store"
)

// ACL entries and resource ownership (§6.8.4, §6.9.5).

var (
	errNotACLManager = wire.NewError(wire.CodeForbidden,
		"Must be the resource owner, admin, or have admin ACL to manage permissions")
	errNotOwner          = wire.NewError(wire.CodeForbidden, "Only the owner or superadmin can transfer ownership")
	errACLNotFound       = wire.NewError(wire.CodeNotFound, "ACL entry not found")
	errNoOwner           = wire.NewError(wire.CodeNotFound, "Resource has no owner")
	errNewOwnerNotFound  = wire.NewError(wire.CodeNotFound, "New owner not found")
	errSubjectUserAbsent = wire.NewError(wire.CodeNotFound, "Subject user not found")
	errSubjectRoleAbsent = wire.NewError(wire.CodeNotFound, "Subject role not found")
)

// requireStrings reads required string fields in order.
func requireStrings(f map[string]json.RawMessage, names ...string) ([]string, error) {
	out := make([]string, len(names))
	for i, n := range names {
		v, werr := wire.RequireString(f, n)
		if werr != nil {
			return nil, werr
		}
		out[i] = v
	}
	return out, nil
}

// aclManager is the ACL-manager requirement of §6.8.2, with current roles.
func (id *Identity) aclManager(userID, resourceType, resourceName string) (bool, error) {
	s, err := id.current()
	if err != nil {
		return false, err
	}
	return s.hasRole(userID, RoleSuperadmin) || s.hasRole(userID, RoleAdmin) ||
		s.owns(userID, resourceType, resourceName) ||
		s.acl[aclKey{"user", userID, resourceType, resourceName}]&aclAdmin != 0, nil
}

func validResourceType(t string) bool {
	return slices.Contains([]string{"bucket", "topic", "procedure", "query"}, t)
}

func (id *Identity) grant(ctx context.Context, c Caller, f map[string]json.RawMessage) (any, error) {
	v, err := requireStrings(f, "subjectType", "subjectId", "resourceType", "resourceName")
	if err != nil {
		return nil, err
	}
	subjectType, subjectID, resourceType, resourceName := v[0], v[1], v[2], v[3]
	raw, isList := decode(f, "operations")
	list, isList := raw.([]any)
	if !isList {
		return nil, wire.NewError(wire.CodeValidation, `Missing or invalid "operations": expected non-empty array`)
	}
	if len(list) == 0 {
		return nil, wire.NewError(wire.CodeValidation, "Operations must be a non-empty array")
	}
	ops := make([]string, 0, len(list))
	for _, o := range list {
		s, ok := o.(string)
		if _, valid := aclOpNames[s]; !ok || !valid {
			return nil, wire.NewError(wire.CodeValidation,
				fmt.Sprintf("Invalid ACL operation %q. Valid operations: read, write, admin", store.Display(o)))
		}
		if !slices.Contains(ops, s) {
			ops = append(ops, s)
		}
	}
	switch subjectType {
	case "user":
		if subjectID != SuperadminID {
			if u, err := id.user(subjectID); err != nil {
				return nil, err
			} else if u == nil {
				return nil, errSubjectUserAbsent
			}
		}
	case "role":
		doc, err := id.st.Get(BucketRoles, subjectID)
		if err != nil {
			return nil, err
		}
		if !doc.Found() {
			return nil, errSubjectRoleAbsent
		}
	default:
		return nil, wire.NewError(wire.CodeValidation,
			fmt.Sprintf("Invalid subject type %q. Must be \"user\" or \"role\"", subjectType))
	}
	// The reference lets an unknown resource type fail inside the store
	// (INTERNAL_ERROR); it is a validation error here (P§11 #22).
	if !validResourceType(resourceType) {
		return nil, wire.NewError(wire.CodeValidation,
			fmt.Sprintf("Invalid resource type %q. Valid types: bucket, topic, procedure, query", resourceType))
	}
	if ok, err := id.aclManager(c.Auth().UserID, resourceType, resourceName); err != nil {
		return nil, err
	} else if !ok {
		return nil, errNotACLManager
	}
	err = id.transaction(ctx, func(tx *store.Tx) error {
		existing, err := txWhere(tx, BucketACL, map[string]any{"subjectType": subjectType, "subjectId": subjectID,
			"resourceType": resourceType, "resourceName": resourceName})
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			merged := strings1(existing[0]["operations"])
			for _, o := range ops {
				if !slices.Contains(merged, o) {
					merged = append(merged, o)
				}
			}
			_, err := tx.Update(BucketACL, existing[0]["id"], store.Record{"operations": anyList(merged)})
			return err
		}
		_, err = tx.Insert(BucketACL, store.Record{"subjectType": subjectType, "subjectId": subjectID,
			"resourceType": resourceType, "resourceName": resourceName, "operations": anyList(ops),
			"grantedBy": c.Auth().UserID})
		return err
	})
	if err != nil {
		return nil, err
	}
	return map[string]bool{"granted": true}, nil
}

func anyList(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func (id *Identity) revoke(ctx context.Context, c Caller, f map[string]json.RawMessage) (any, error) {
	v, err := requireStrings(f, "subjectType", "subjectId", "resourceType", "resourceName")
	if err != nil {
		return nil, err
	}
	subjectType, subjectID, resourceType, resourceName := v[0], v[1], v[2], v[3]
	var remove []string
	if raw, ok := decode(f, "operations"); ok {
		if list, isList := raw.([]any); isList {
			remove = strings1(list)
			if len(remove) == 0 {
				remove = nil
			}
		}
	}
	if ok, err := id.aclManager(c.Auth().UserID, resourceType, resourceName); err != nil {
		return nil, err
	} else if !ok {
		return nil, errNotACLManager
	}
	err = id.transaction(ctx, func(tx *store.Tx) error {
		existing, err := txWhere(tx, BucketACL, map[string]any{"subjectType": subjectType, "subjectId": subjectID,
			"resourceType": resourceType, "resourceName": resourceName})
		if err != nil {
			return err
		}
		if len(existing) == 0 {
			return errACLNotFound
		}
		entry := existing[0]
		left := slices.DeleteFunc(strings1(entry["operations"]), func(o string) bool { return slices.Contains(remove, o) })
		if remove == nil || len(left) == 0 {
			return tx.Delete(BucketACL, entry["id"])
		}
		_, err = tx.Update(BucketACL, entry["id"], store.Record{"operations": anyList(left)})
		return err
	})
	if err != nil {
		return nil, err
	}
	return map[string]bool{"revoked": true}, nil
}

type aclEntryInfo struct {
	SubjectType string   `json:"subjectType"`
	SubjectID   string   `json:"subjectId"`
	SubjectName string   `json:"subjectName"`
	Operations  []string `json:"operations"`
	IsOwner     bool     `json:"isOwner"`
}

// owner returns the owner's user id of a resource ("" when none).
func (id *Identity) owner(resourceType, resourceName string) (string, error) {
	recs, err := id.where(BucketOwners, map[string]any{"resourceType": resourceType, "resourceName": resourceName})
	if err != nil || len(recs) == 0 {
		return "", err
	}
	return str(recs[0]["userId"]), nil
}

func (id *Identity) getAcl(f map[string]json.RawMessage) (any, error) {
	v, err := requireStrings(f, "resourceType", "resourceName")
	if err != nil {
		return nil, err
	}
	resourceType, resourceName := v[0], v[1]
	owner, err := id.owner(resourceType, resourceName)
	if err != nil {
		return nil, err
	}
	recs, err := id.where(BucketACL, map[string]any{"resourceType": resourceType, "resourceName": resourceName})
	if err != nil {
		return nil, err
	}
	entries := make([]aclEntryInfo, 0, len(recs)+1)
	ownerListed := false
	for _, r := range recs {
		e := aclEntryInfo{SubjectType: str(r["subjectType"]), SubjectID: str(r["subjectId"]),
			Operations: orEmpty(strings1(r["operations"]))}
		if e.SubjectType == "user" {
			e.SubjectName = id.usernameOf(e.SubjectID)
			if owner != "" && e.SubjectID == owner {
				e.IsOwner, ownerListed = true, true
			}
		} else {
			e.SubjectName = e.SubjectID
			if doc, err := id.st.Get(BucketRoles, e.SubjectID); err == nil && doc.Found() {
				e.SubjectName = str(doc.Record()["name"])
			}
		}
		entries = append(entries, e)
	}
	if owner != "" && !ownerListed {
		entries = append([]aclEntryInfo{{SubjectType: "user", SubjectID: owner, SubjectName: id.usernameOf(owner),
			Operations: []string{}, IsOwner: true}}, entries...)
	}
	return map[string]any{"entries": entries}, nil
}

type accessInfo struct {
	ResourceType string   `json:"resourceType"`
	ResourceName string   `json:"resourceName"`
	Operations   []string `json:"operations"`
	IsOwner      bool     `json:"isOwner"`
}

func (id *Identity) myAccess(c Caller) (any, error) {
	userID := c.Auth().UserID
	username := SuperadminID
	if userID != SuperadminID {
		u, err := id.existingUser(userID)
		if err != nil {
			return nil, err
		}
		username = str(u["username"])
	}
	s, err := id.current()
	if err != nil {
		return nil, err
	}
	roles := s.rolesOf(userID)
	roleNames := make([]string, len(roles))
	subjects := []aclKey{{subjectType: "user", subjectID: userID}}
	for i, r := range roles {
		roleNames[i] = r.name
		subjects = append(subjects, aclKey{subjectType: "role", subjectID: r.id})
	}
	var order []resKey
	merged := map[resKey]*accessInfo{}
	add := func(k resKey, ops []string, owner bool) {
		a := merged[k]
		if a == nil {
			a = &accessInfo{ResourceType: k.resourceType, ResourceName: k.resourceName, Operations: []string{}}
			merged[k] = a
			order = append(order, k)
		}
		for _, o := range ops {
			if !slices.Contains(a.Operations, o) {
				a.Operations = append(a.Operations, o)
			}
		}
		a.IsOwner = a.IsOwner || owner
	}
	for _, subj := range subjects {
		recs, err := id.where(BucketACL, map[string]any{"subjectType": subj.subjectType, "subjectId": subj.subjectID})
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			add(resKey{str(r["resourceType"]), str(r["resourceName"])}, strings1(r["operations"]), false)
		}
	}
	owned, err := id.where(BucketOwners, map[string]any{"userId": userID})
	if err != nil {
		return nil, err
	}
	for _, r := range owned {
		add(resKey{str(r["resourceType"]), str(r["resourceName"])}, []string{"admin", "read", "write"}, true)
	}
	resources := make([]accessInfo, 0, len(order))
	for _, k := range order {
		a := merged[k]
		slices.Sort(a.Operations)
		resources = append(resources, *a)
	}
	return map[string]any{
		"user":      map[string]any{"id": userID, "username": username, "roles": roleNames},
		"resources": resources,
	}, nil
}

func (id *Identity) getOwner(f map[string]json.RawMessage) (any, error) {
	v, err := requireStrings(f, "resourceType", "resourceName")
	if err != nil {
		return nil, err
	}
	owner, err := id.owner(v[0], v[1])
	if err != nil {
		return nil, err
	}
	if owner == "" {
		return map[string]any{"owner": nil}, nil
	}
	return map[string]any{"owner": map[string]string{"userId": owner, "username": id.usernameOf(owner),
		"resourceType": v[0], "resourceName": v[1]}}, nil
}

func (id *Identity) transferOwner(ctx context.Context, c Caller, f map[string]json.RawMessage) (any, error) {
	v, err := requireStrings(f, "resourceType", "resourceName", "newOwnerId")
	if err != nil {
		return nil, err
	}
	resourceType, resourceName, newOwner := v[0], v[1], v[2]
	owner, err := id.owner(resourceType, resourceName)
	if err != nil {
		return nil, err
	}
	if owner == "" {
		return nil, errNoOwner
	}
	caller := c.Auth().UserID
	if caller != owner && !id.HasCurrentRole(caller, RoleSuperadmin) {
		return nil, errNotOwner
	}
	if newOwner != SuperadminID {
		if u, err := id.user(newOwner); err != nil {
			return nil, err
		} else if u == nil {
			return nil, errNewOwnerNotFound
		}
	}
	if err := id.SetOwner(ctx, resourceType, resourceName, newOwner); err != nil {
		return nil, err
	}
	return map[string]bool{"transferred": true}, nil
}

// SetOwner makes userID the owner of a resource, replacing any previous
// owner record (§6.8.4: defineBucket, defineQuery, transferOwner).
func (id *Identity) SetOwner(ctx context.Context, resourceType, resourceName, userID string) error {
	return id.transaction(ctx, func(tx *store.Tx) error {
		existing, err := txWhere(tx, BucketOwners, map[string]any{"resourceType": resourceType, "resourceName": resourceName})
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			for _, extra := range existing[1:] {
				if err := tx.Delete(BucketOwners, extra["id"]); err != nil {
					return err
				}
			}
			_, err := tx.Update(BucketOwners, existing[0]["id"], store.Record{"userId": userID})
			return err
		}
		_, err = tx.Insert(BucketOwners, store.Record{"userId": userID, "resourceType": resourceType,
			"resourceName": resourceName})
		return err
	})
}

// ForgetResource deletes a resource's owner record and ACL entries
// (§6.8.4: dropBucket, undefineQuery).
func (id *Identity) ForgetResource(ctx context.Context, resourceType, resourceName string) error {
	filter := map[string]any{"resourceType": resourceType, "resourceName": resourceName}
	return id.transaction(ctx, func(tx *store.Tx) error {
		if err := deleteWhere(tx, BucketOwners, filter); err != nil {
			return err
		}
		return deleteWhere(tx, BucketACL, filter)
	})
}
