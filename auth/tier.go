// Package auth holds the access-control pieces of the noex server
// (PROTOCOL.md §6): the operation tiers of Appendix A, the auth context,
// the token-validation hook of external-token mode, the tier and
// permission checks of the access gate (§6.4, §6.5) and a JWT validator
// built on the standard library.
package auth

import "strings"

// Tier is an operation's access tier (PROTOCOL.md §6.4, Appendix A).
type Tier int

// The tiers, ordered: read < write < admin. TierNone means the operation
// is not subject to the tier check.
const (
	TierNone Tier = iota
	TierRead
	TierWrite
	TierAdmin
)

// String is the tier's wire name ("read", "write", "admin"), or "" for
// TierNone.
func (t Tier) String() string {
	switch t {
	case TierRead:
		return "read"
	case TierWrite:
		return "write"
	case TierAdmin:
		return "admin"
	}
	return ""
}

// tiers is the operation → tier table of PROTOCOL.md Appendix A. Every
// operation not listed has no tier.
var tiers = map[string]Tier{
	// admin
	"store.defineBucket": TierAdmin, "store.dropBucket": TierAdmin, "store.updateBucket": TierAdmin,
	"store.getBucketSchema": TierAdmin, "store.defineQuery": TierAdmin, "store.undefineQuery": TierAdmin,
	"store.listQueries":  TierAdmin,
	"rules.registerRule": TierAdmin, "rules.unregisterRule": TierAdmin, "rules.updateRule": TierAdmin,
	"rules.enableRule": TierAdmin, "rules.disableRule": TierAdmin, "rules.getRule": TierAdmin,
	"rules.getRules": TierAdmin, "rules.validateRule": TierAdmin,
	"procedures.register": TierAdmin, "procedures.unregister": TierAdmin, "procedures.update": TierAdmin,
	"procedures.list": TierAdmin,
	"server.stats":    TierAdmin, "server.connections": TierAdmin, "audit.query": TierAdmin,
	"identity.login": TierAdmin, "identity.loginWithSecret": TierAdmin, "identity.logout": TierAdmin,
	"identity.createUser": TierAdmin, "identity.deleteUser": TierAdmin, "identity.enableUser": TierAdmin,
	"identity.disableUser": TierAdmin, "identity.changePassword": TierAdmin, "identity.resetPassword": TierAdmin,
	"identity.assignRole": TierAdmin, "identity.removeRole": TierAdmin, "identity.createRole": TierAdmin,
	"identity.deleteRole": TierAdmin, "identity.grant": TierAdmin, "identity.revoke": TierAdmin,
	"identity.transferOwner": TierAdmin,
	// write
	"store.insert": TierWrite, "store.update": TierWrite, "store.delete": TierWrite, "store.clear": TierWrite,
	"store.transaction": TierWrite,
	"rules.emit":        TierWrite, "rules.setFact": TierWrite, "rules.deleteFact": TierWrite,
	"procedures.call": TierWrite,
	// read
	"store.get": TierRead, "store.all": TierRead, "store.where": TierRead, "store.findOne": TierRead,
	"store.count": TierRead, "store.first": TierRead, "store.last": TierRead, "store.paginate": TierRead,
	"store.sum": TierRead, "store.avg": TierRead, "store.min": TierRead, "store.max": TierRead,
	"store.subscribe": TierRead, "store.unsubscribe": TierRead, "store.buckets": TierRead,
	"store.stats":   TierRead,
	"rules.getFact": TierRead, "rules.queryFacts": TierRead, "rules.getAllFacts": TierRead,
	"rules.subscribe": TierRead, "rules.unsubscribe": TierRead, "rules.stats": TierRead,
	"procedures.get": TierRead,
}

// TierOf returns op's tier. Operations the table does not list — auth.*,
// ping, the tier-less identity.* operations and any unknown or misspelt
// name — have TierNone, as PROTOCOL.md §6.4 says ("everything else …
// unknown types"). That does not open anything up: in required mode an
// unauthenticated request for an unknown name is still refused by the
// authentication step, and a bound context reaches dispatch, which answers
// UNKNOWN_OPERATION.
func TierOf(op string) Tier { return tiers[op] }

// Operations returns every operation that has tier t (t != TierNone), in
// no particular order.
func Operations(t Tier) []string {
	var out []string
	for op, ot := range tiers {
		if ot == t {
			out = append(out, op)
		}
	}
	return out
}

// Ungated reports whether op bypasses the access gate entirely
// (PROTOCOL.md §6.4 steps 1–2): auth.*, ping, identity.login and
// identity.loginWithSecret.
func Ungated(op string) bool {
	return strings.HasPrefix(op, "auth.") || op == "ping" ||
		op == "identity.login" || op == "identity.loginWithSecret"
}

// roleLevel maps the three role names the tier check knows to a tier.
var roleLevel = map[string]Tier{"reader": TierRead, "writer": TierWrite, "admin": TierAdmin}

// RoleLevel is the highest tier the roles reach through the role names
// reader, writer and admin; ok is false when none of them is present, in
// which case the tier check does not apply (§6.4 step 6).
func RoleLevel(roles []string) (level Tier, ok bool) {
	for _, r := range roles {
		if l, found := roleLevel[r]; found {
			ok = true
			if l > level {
				level = l
			}
		}
	}
	return level, ok
}
