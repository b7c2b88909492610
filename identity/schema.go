package identity

import (
	"encoding/json"
	"strings"
)

// The system buckets of PROTOCOL.md §6.7. References between them are not
// declared: the virtual superadmin has no _users record, and the reference
// never enforced them. _sessions has no bucket TTL: a token lives until
// its own expiresAt (COMPATIBILITY.md P§11 #27), and the tokens a user can
// hold are capped (maxSessionsPerUser), so the bucket stays bounded.
const (
	BucketUsers     = "_users"
	BucketRoles     = "_roles"
	BucketUserRoles = "_user_roles"
	BucketACL       = "_acl"
	BucketSessions  = "_sessions"
	BucketOwners    = "_resource_owners"
)

// IsSystemBucket reports whether name is reserved for the server: names
// beginning with "_" (§6.8.3).
func IsSystemBucket(name string) bool { return strings.HasPrefix(name, "_") }

var resourceTypes = []any{"bucket", "topic", "procedure", "query"}

type bucketDef struct {
	name   string
	config map[string]any
}

func field(typ string, opts ...any) map[string]any {
	f := map[string]any{"type": typ}
	for i := 0; i+1 < len(opts); i += 2 {
		f[opts[i].(string)] = opts[i+1]
	}
	return f
}

var idField = field("string", "generated", "uuid")

var systemBuckets = []bucketDef{
	{BucketUsers, map[string]any{"key": "id", "schema": map[string]any{
		"id":           idField,
		"username":     field("string", "required", true, "unique", true, "minLength", 3, "maxLength", 64),
		"passwordHash": field("string", "required", true),
		"displayName":  field("string"),
		"email":        field("string", "format", "email"),
		"enabled":      field("boolean", "default", true),
		"metadata":     field("object"),
	}, "indexes": []any{"username", "email"}}},
	{BucketRoles, map[string]any{"key": "id", "schema": map[string]any{
		"id":          idField,
		"name":        field("string", "required", true, "unique", true, "minLength", 1, "maxLength", 64),
		"description": field("string"),
		"system":      field("boolean", "default", false),
		"permissions": field("array"),
	}, "indexes": []any{"name"}}},
	{BucketUserRoles, map[string]any{"key": "id", "schema": map[string]any{
		"id":        idField,
		"userId":    field("string", "required", true),
		"roleId":    field("string", "required", true),
		"grantedBy": field("string"),
		"grantedAt": field("number", "generated", "timestamp"),
	}, "indexes": []any{"userId", "roleId"}}},
	{BucketACL, map[string]any{"key": "id", "schema": map[string]any{
		"id":           idField,
		"subjectType":  field("string", "required", true, "enum", []any{"user", "role"}),
		"subjectId":    field("string", "required", true),
		"resourceType": field("string", "required", true, "enum", resourceTypes),
		"resourceName": field("string", "required", true),
		"operations":   field("array", "required", true),
		"grantedBy":    field("string"),
		"grantedAt":    field("number", "generated", "timestamp"),
	}, "indexes": []any{"subjectId", "resourceName"}}},
	{BucketSessions, map[string]any{"key": "id", "schema": map[string]any{
		"id":        idField,
		"userId":    field("string", "required", true),
		"expiresAt": field("number", "required", true),
		"createdAt": field("number", "generated", "timestamp"),
		"ip":        field("string"),
		"userAgent": field("string"),
	}, "indexes": []any{"userId"}}},
	{BucketOwners, map[string]any{"key": "id", "schema": map[string]any{
		"id":           idField,
		"userId":       field("string", "required", true),
		"resourceType": field("string", "required", true, "enum", resourceTypes),
		"resourceName": field("string", "required", true),
		"createdAt":    field("number", "generated", "timestamp"),
	}, "indexes": []any{"userId", "resourceName"}}},
}

func (d bucketDef) json() json.RawMessage {
	b, err := json.Marshal(d.config)
	if err != nil {
		panic(err) // static definitions
	}
	return b
}

// The system roles, seeded when missing (§6.7).
const (
	RoleSuperadmin = "superadmin"
	RoleAdmin      = "admin"
	RoleWriter     = "writer"
	RoleReader     = "reader"
)

var readOps = []string{"store.get", "store.all", "store.where", "store.findOne", "store.count",
	"store.first", "store.last", "store.paginate", "store.sum", "store.avg", "store.min", "store.max",
	"store.subscribe", "store.unsubscribe", "store.buckets", "store.stats",
	"rules.getFact", "rules.queryFacts", "rules.getAllFacts", "rules.subscribe", "rules.unsubscribe",
	"rules.stats", "procedures.get"}

var writeOps = []string{"store.insert", "store.update", "store.delete", "store.clear", "store.transaction",
	"rules.emit", "rules.setFact", "rules.deleteFact", "procedures.call"}

type seedRole struct {
	name, description string
	allow             []string
}

var systemRoles = []seedRole{
	{RoleSuperadmin, "Full access to everything including identity management", []string{"*"}},
	{RoleAdmin, "Structural operations, data mutations, and reads", []string{
		"store.*", "rules.*", "procedures.*", "server.*", "audit.*",
		"identity.createUser", "identity.getUser", "identity.updateUser", "identity.deleteUser",
		"identity.listUsers", "identity.enableUser", "identity.disableUser", "identity.resetPassword",
		"identity.listRoles", "identity.assignRole", "identity.removeRole", "identity.getUserRoles",
		"identity.grant", "identity.revoke", "identity.getAcl"}},
	{RoleWriter, "Data mutations and reads", append(append([]string{}, writeOps...), readOps...)},
	{RoleReader, "Read-only access", readOps},
}

func (r seedRole) permissions() []any {
	allow := make([]any, len(r.allow))
	for i, a := range r.allow {
		allow[i] = a
	}
	return []any{map[string]any{"allow": allow}}
}
