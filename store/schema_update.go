package store

// The update pipeline (STORE.md §4) and bucket schema updates (§17.1,
// PROTOCOL.md §4.4).

import (
	"encoding/json"
	"fmt"
)

// PrepareUpdate runs steps 1–4 of the update pipeline (STORE.md §4): drop
// _version, _createdAt, _updatedAt, the key field and every generated
// field from changes (silently), shallow-merge the rest over old (null
// stores null; nested objects are replaced, not merged), set _version to
// old's + 1 and _updatedAt to now, and validate. _expiresAt is not
// protected. old is not modified; the result shares old's nested values
// (stored records are never mutated in place) and deep copies of changes'.
// err is a *ValidationError. Unique checks are the bucket's business.
func (d *BucketDef) PrepareUpdate(old Record, changes Record, now int64) (Record, error) {
	merged := make(Record, len(old)+len(changes))
	for k, v := range old {
		merged[k] = v
	}
	for k, v := range changes {
		if d.isImmutable(k) {
			continue
		}
		merged[k] = CloneValue(v)
	}
	version, _ := old[FieldVersion].(float64)
	merged[FieldVersion] = version + 1
	merged[FieldUpdatedAt] = float64(now)
	if issues := d.Validate(merged); issues != nil {
		return nil, &ValidationError{Bucket: d.Name, Issues: issues}
	}
	return merged, nil
}

// isImmutable reports whether updates silently drop field k.
func (d *BucketDef) isImmutable(k string) bool {
	switch k {
	case FieldVersion, FieldCreatedAt, FieldUpdatedAt, d.Key:
		return true
	}
	fd := d.FieldDef(k)
	return fd != nil && fd.Generated != ""
}

// ApplyUpdate validates a schema update (STORE.md §17.1, PROTOCOL.md §4.4)
// and returns the merged definition; d is unchanged. addFields appends new
// fields (an existing name is an error), addIndexes appends indexes on
// fields of the merged schema (already-indexed ones are ignored), ttl is
// kept when absent, removed when null and replaced otherwise. Unknown keys
// are ignored; {} changes nothing. Errors are *DefinitionError.
func (d *BucketDef) ApplyUpdate(updates json.RawMessage) (*BucketDef, error) {
	members, ok := objectMembers(updates)
	if !ok {
		return nil, &DefinitionError{Message: fmt.Sprintf("Invalid update for bucket %q: updates must be a JSON object", d.Name)}
	}
	nd := *d
	nd.members = append([]member(nil), d.members...)
	nd.Indexes = append([]string(nil), d.Indexes...)
	fields := append([]Field(nil), d.Fields...)

	if raw, ok := memberValue(members, "addFields"); ok && !isNull(raw) {
		added, ok := splitObject(raw)
		if !ok {
			return nil, &DefinitionError{Message: fmt.Sprintf(`Invalid update for bucket %q: "addFields" must be an object mapping field names to field definitions`, d.Name)}
		}
		for _, m := range added {
			if d.FieldDef(m.key) != nil {
				return nil, &DefinitionError{Message: fmt.Sprintf("Field %q already exists in bucket %q", m.key, d.Name)}
			}
			fd, err := parseFieldDef(d.Name, m.key, m.raw, 0)
			if err != nil {
				return nil, err
			}
			fields = append(fields, Field{Name: m.key, Def: fd})
		}
	}
	nd.setFields(fields)

	if raw, ok := memberValue(members, "addIndexes"); ok && !isNull(raw) {
		list, ok := stringList(raw)
		if !ok {
			return nil, &DefinitionError{Message: fmt.Sprintf(`Invalid update for bucket %q: "addIndexes" must be an array of field names`, d.Name)}
		}
		before := len(nd.Indexes)
		for _, f := range list {
			if nd.FieldDef(f) == nil {
				return nil, &DefinitionError{Message: fmt.Sprintf("Index field %q does not exist in schema for bucket %q", f, d.Name)}
			}
			nd.Indexes = appendUnique(nd.Indexes, f)
		}
		if len(nd.Indexes) != before {
			idx, _ := json.Marshal(nd.Indexes)
			nd.members = setMember(nd.members, "indexes", idx)
		}
	}

	if raw, ok := memberValue(members, "ttl"); ok {
		if isNull(raw) {
			nd.TTL = 0
			nd.members = removeMember(nd.members, "ttl")
		} else {
			v, err := DecodeJSON(raw)
			if err != nil {
				return nil, &DefinitionError{Message: fmt.Sprintf(`Invalid update for bucket %q: "ttl" cannot be decoded: %v`, d.Name, err)}
			}
			if nd.TTL, err = ParseTTL(v); err != nil {
				return nil, err
			}
			nd.members = setMember(nd.members, "ttl", compact(raw))
		}
	}
	return &nd, nil
}
