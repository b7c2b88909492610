package store

// Bucket definitions (STORE.md §2, §3.1; PROTOCOL.md §4.1–§4.5): parsing and
// whole-definition validation of the JSON config, and its faithful
// re-serialisation. Validation of records lives in schema_validate.go, the
// insert/update pipelines in schema_generated.go and schema_update.go.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Field types (STORE.md §3.2).
const (
	TypeString  = "string"
	TypeNumber  = "number"
	TypeBoolean = "boolean"
	TypeObject  = "object"
	TypeArray   = "array"
	TypeDate    = "date"
)

// Generated-value kinds (STORE.md §3.4).
const (
	GeneratedUUID          = "uuid"
	GeneratedCUID          = "cuid"
	GeneratedAutoincrement = "autoincrement"
	GeneratedTimestamp     = "timestamp"
)

// String formats (STORE.md §3.5).
const (
	FormatEmail   = "email"
	FormatURL     = "url"
	FormatISODate = "iso-date"
)

// onDelete actions of reference fields (STORE.md §3.7).
const (
	OnDeleteRestrict = "restrict"
	OnDeleteCascade  = "cascade"
	OnDeleteSetNull  = "set_null"
)

// Storage flavours (STORE.md §2.1); only EtsOrderedSet changes behaviour.
const (
	EtsSet          = "set"
	EtsOrderedSet   = "ordered_set"
	EtsBag          = "bag"
	EtsDuplicateBag = "duplicate_bag"
)

// Limits of a bucket definition.
const (
	// MaxBucketNameBytes bounds a bucket name: it becomes a persistence key
	// and a segment of every event topic.
	MaxBucketNameBytes = 128
	// MaxSchemaDepth bounds the nesting of properties/items. The reference
	// silently stops validating below 10 levels; we validate every level and
	// refuse absurdly deep definitions instead.
	MaxSchemaDepth = 32
	// maxSafeInteger is JavaScript's Number.MAX_SAFE_INTEGER.
	maxSafeInteger = 1<<53 - 1
)

// FieldDef is one parsed field definition (STORE.md §3.1). It is immutable
// once parsed and may be shared between definitions.
type FieldDef struct {
	Type       string   // one of the Type* constants
	Required   bool     // value must be present and not null
	Default    any      // value applied on insert when absent (valid if HasDefault)
	HasDefault bool     // whether "default" was given (a null default is a default)
	Generated  string   // one of the Generated* constants, "" for none
	Enum       []any    // allowed values, compared with StrictEqual (valid if HasEnum)
	HasEnum    bool     // whether "enum" was given
	Min, Max   *float64 // inclusive bounds for numbers
	MinLength  *int     // inclusive lower bound on the UTF-16 length of strings
	MaxLength  *int     // inclusive upper bound on the UTF-16 length of strings
	Pattern    string   // JavaScript regular-expression source, "" for none
	Format     string   // one of the Format* constants, "" for none
	Unique     bool     // value unique within the bucket (top-level fields only)
	Ref        string   // target bucket of a reference, "" for none
	OnDelete   string   // restrict (default when Ref is set), cascade or set_null
	Properties []Field  // nested schema of an object, in document order
	Items      *FieldDef

	re  *regexp.Regexp  // Pattern translated to RE2 and compiled
	raw json.RawMessage // top-level fields: the definition as supplied, compacted
}

// Field is a named field definition; schemas keep their document order.
type Field struct {
	Name string
	Def  *FieldDef
}

// IndexSpec is one index of a bucket (STORE.md §7).
type IndexSpec struct {
	Field  string // indexed top-level field
	Unique bool   // whether the index enforces uniqueness
}

// BucketDef is a parsed, validated bucket definition. It is immutable:
// ApplyUpdate returns a new one, so a definition may be read concurrently.
type BucketDef struct {
	Name       string   // bucket name
	Key        string   // primary-key field
	Fields     []Field  // declared fields in document order
	Indexes    []string // fields listed in "indexes", deduplicated, in order
	EtsType    string   // storage flavour, "set" by default
	Persistent bool     // false opts out of persistence; true by default
	TTL        int64    // per-record lifetime in ms, 0 for none
	MaxSize    int      // capacity, 0 for none

	fieldIndex map[string]int // Fields position by name
	members    []member       // top-level config members as supplied
}

// DefinitionError reports an invalid bucket definition or schema update
// (served as VALIDATION_ERROR, per COMPATIBILITY.md).
type DefinitionError struct {
	Message string
}

// Error returns the message naming the problem.
func (e *DefinitionError) Error() string { return e.Message }

// member is one top-level key of a JSON object with its raw value.
type member struct {
	key string
	raw json.RawMessage
}

// ValidateBucketName checks a bucket name: non-empty, valid UTF-8, at most
// MaxBucketNameBytes bytes, no '.' (it would break topic matching, STORE.md
// §2.3) and no control characters.
func ValidateBucketName(name string) error {
	switch {
	case name == "":
		return &DefinitionError{Message: "Invalid bucket name: must not be empty"}
	case !utf8.ValidString(name):
		return &DefinitionError{Message: fmt.Sprintf("Invalid bucket name %q: must be valid UTF-8", name)}
	case len(name) > MaxBucketNameBytes:
		return &DefinitionError{Message: fmt.Sprintf("Invalid bucket name %q: longer than %d bytes", name, MaxBucketNameBytes)}
	case strings.Contains(name, "."):
		return &DefinitionError{Message: fmt.Sprintf("Invalid bucket name %q: must not contain \".\"", name)}
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return &DefinitionError{Message: fmt.Sprintf("Invalid bucket name %q: must not contain control characters", name)}
	}
	return nil
}

// ParseBucketDef validates a whole bucket definition (PROTOCOL.md §4.1,
// STORE.md §2.2) before anything is registered; every problem is a
// *DefinitionError whose message names it.
func ParseBucketDef(name string, config json.RawMessage) (*BucketDef, error) {
	if err := ValidateBucketName(name); err != nil {
		return nil, err
	}
	members, ok := objectMembers(config)
	if !ok {
		return nil, bucketErr(name, "config must be a JSON object")
	}
	d := &BucketDef{Name: name, EtsType: EtsSet, Persistent: true, members: members}
	get := func(k string) (json.RawMessage, bool) { return memberValue(members, k) }

	rawSchema, _ := get("schema")
	schemaMembers, ok := splitObject(rawSchema)
	if !ok {
		return nil, bucketErr(name, `"schema" is required and must be an object mapping field names to field definitions`)
	}
	rawKey, _ := get("key")
	var key string
	if err := json.Unmarshal(rawKey, &key); rawKey == nil || isNull(rawKey) || err != nil {
		return nil, bucketErr(name, `"key" is required and must be a string naming a schema field`)
	}
	d.Key = key
	if _, ok := memberValue(schemaMembers, key); !ok {
		return nil, &DefinitionError{Message: fmt.Sprintf("Key field %q does not exist in schema for bucket %q", key, name)}
	}
	if raw, ok := get("indexes"); ok && !isNull(raw) {
		idx, ok := stringList(raw)
		if !ok {
			return nil, bucketErr(name, `"indexes" must be an array of field names`)
		}
		for _, f := range idx {
			if _, ok := memberValue(schemaMembers, f); !ok {
				return nil, &DefinitionError{Message: fmt.Sprintf("Index field %q does not exist in schema for bucket %q", f, name)}
			}
			d.Indexes = appendUnique(d.Indexes, f)
		}
	}
	fields, err := parseSchema(name, "", schemaMembers, 0)
	if err != nil {
		return nil, err
	}
	d.setFields(fields)
	if err := d.checkKeyField(); err != nil {
		return nil, err
	}
	if raw, ok := get("etsType"); ok && !isNull(raw) {
		var s string
		if json.Unmarshal(raw, &s) != nil || (s != EtsSet && s != EtsOrderedSet && s != EtsBag && s != EtsDuplicateBag) {
			return nil, bucketErr(name, `"etsType" must be one of "set", "ordered_set", "bag", "duplicate_bag"`)
		}
		d.EtsType = s
	}
	if raw, ok := get("persistent"); ok && !isNull(raw) {
		if json.Unmarshal(raw, &d.Persistent) != nil {
			return nil, bucketErr(name, `"persistent" must be a boolean`)
		}
	}
	if raw, ok := get("ttl"); ok && !isNull(raw) {
		v, err := DecodeJSON(raw)
		if err != nil {
			return nil, bucketErr(name, fmt.Sprintf(`"ttl" cannot be decoded: %v`, err))
		}
		if d.TTL, err = ParseTTL(v); err != nil {
			return nil, err
		}
	}
	if raw, ok := get("maxSize"); ok && !isNull(raw) {
		var f float64
		if json.Unmarshal(raw, &f) != nil || f < 1 || f != math.Trunc(f) || f > maxSafeInteger {
			return nil, bucketErr(name, `"maxSize" must be a positive integer`)
		}
		d.MaxSize = int(f)
	}
	return d, nil
}

// ParseStoredBucketDef parses a definition written by MarshalConfig, when
// the store recovers from its log; the rules are those of ParseBucketDef.
func ParseStoredBucketDef(name string, config json.RawMessage) (*BucketDef, error) {
	return ParseBucketDef(name, config)
}

// FieldDef returns the definition of a declared top-level field, or nil.
func (d *BucketDef) FieldDef(name string) *FieldDef {
	if i, ok := d.fieldIndex[name]; ok {
		return d.Fields[i].Def
	}
	return nil
}

// IndexedFields lists the bucket's indexes: the "indexes" entries in order,
// then every unique field not listed there, in schema order (STORE.md §7).
func (d *BucketDef) IndexedFields() []IndexSpec {
	out := make([]IndexSpec, 0, len(d.Indexes))
	listed := make(map[string]bool, len(d.Indexes))
	for _, f := range d.Indexes {
		listed[f] = true
		fd := d.FieldDef(f)
		out = append(out, IndexSpec{Field: f, Unique: fd != nil && fd.Unique})
	}
	for _, f := range d.Fields {
		if f.Def.Unique && !listed[f.Name] {
			out = append(out, IndexSpec{Field: f.Name, Unique: true})
		}
	}
	return out
}

// MarshalConfig returns the definition as it was supplied (PROTOCOL.md
// §4.5): the original members in their order, with the merges of
// ApplyUpdate applied; "indexes" appears only if supplied or added, "ttl"
// only while set.
func (d *BucketDef) MarshalConfig() json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range d.members {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, m.key)
		b.WriteByte(':')
		if m.key == "schema" {
			writeSchema(&b, d.Fields)
			continue
		}
		writeCompact(&b, m.raw)
	}
	b.WriteByte('}')
	return json.RawMessage(b.Bytes())
}

// setFields installs the top-level fields and their lookup table.
func (d *BucketDef) setFields(fields []Field) {
	d.Fields = fields
	d.fieldIndex = make(map[string]int, len(fields))
	for i, f := range fields {
		d.fieldIndex[f.Name] = i
	}
}

// checkKeyField rejects key fields that can never hold a valid key.
func (d *BucketDef) checkKeyField() error {
	switch d.Key {
	case FieldVersion, FieldCreatedAt, FieldUpdatedAt, FieldExpiresAt:
		return bucketErr(d.Name, fmt.Sprintf("the key field cannot be the metadata field %q", d.Key))
	}
	switch t := d.FieldDef(d.Key).Type; t {
	case TypeObject, TypeArray:
		return bucketErr(d.Name, fmt.Sprintf("the key field %q must be a string, number, boolean or date, not %q", d.Key, t))
	}
	return nil
}

// parseSchema parses the members of a schema object ("schema" or a nested
// "properties") into fields in document order.
func parseSchema(bucket, prefix string, members []member, depth int) ([]Field, error) {
	fields := make([]Field, 0, len(members))
	for _, m := range members {
		path := m.key
		if prefix != "" {
			path = prefix + "." + m.key
		}
		fd, err := parseFieldDef(bucket, path, m.raw, depth)
		if err != nil {
			return nil, err
		}
		fields = append(fields, Field{Name: m.key, Def: fd})
	}
	return fields, nil
}

// fieldOptions is the JSON shape of a field definition; pointers and raw
// messages tell absent and null apart from wrong types.
type fieldOptions struct {
	Type       json.RawMessage `json:"type"`
	Required   json.RawMessage `json:"required"`
	Default    json.RawMessage `json:"default"`
	Generated  json.RawMessage `json:"generated"`
	Enum       json.RawMessage `json:"enum"`
	Min        json.RawMessage `json:"min"`
	Max        json.RawMessage `json:"max"`
	MinLength  json.RawMessage `json:"minLength"`
	MaxLength  json.RawMessage `json:"maxLength"`
	Pattern    json.RawMessage `json:"pattern"`
	Format     json.RawMessage `json:"format"`
	Unique     json.RawMessage `json:"unique"`
	Ref        json.RawMessage `json:"ref"`
	OnDelete   json.RawMessage `json:"onDelete"`
	Properties json.RawMessage `json:"properties"`
	Items      json.RawMessage `json:"items"`
}

// parseFieldDef parses and checks one field definition. Options set to
// null count as absent (the reference tests them with != null), except
// "default", where null is a default value. Unknown options are kept in
// the raw definition and otherwise ignored, as the reference does.
func parseFieldDef(bucket, path string, raw json.RawMessage, depth int) (*FieldDef, error) {
	fail := func(format string, args ...any) error {
		return &DefinitionError{Message: fmt.Sprintf("Invalid definition of field %q in bucket %q: ", path, bucket) + fmt.Sprintf(format, args...)}
	}
	if depth > MaxSchemaDepth {
		return nil, fail("properties/items are nested deeper than %d levels", MaxSchemaDepth)
	}
	members, ok := splitObject(raw)
	if !ok {
		return nil, fail("the field definition must be an object")
	}
	// Decode member by member so duplicate keys resolve like JSON.parse
	// (last value wins) and case-insensitive matching cannot creep in.
	var o fieldOptions
	for _, m := range members {
		switch m.key {
		case "type":
			o.Type = m.raw
		case "required":
			o.Required = m.raw
		case "default":
			o.Default = m.raw
		case "generated":
			o.Generated = m.raw
		case "enum":
			o.Enum = m.raw
		case "min":
			o.Min = m.raw
		case "max":
			o.Max = m.raw
		case "minLength":
			o.MinLength = m.raw
		case "maxLength":
			o.MaxLength = m.raw
		case "pattern":
			o.Pattern = m.raw
		case "format":
			o.Format = m.raw
		case "unique":
			o.Unique = m.raw
		case "ref":
			o.Ref = m.raw
		case "onDelete":
			o.OnDelete = m.raw
		case "properties":
			o.Properties = m.raw
		case "items":
			o.Items = m.raw
		}
	}
	fd := &FieldDef{}
	if depth == 0 {
		fd.raw = compact(raw) // MarshalConfig writes top-level definitions as supplied
	}

	if !present(o.Type) || json.Unmarshal(o.Type, &fd.Type) != nil {
		return nil, fail(`"type" is required and must be one of "string", "number", "boolean", "object", "array", "date"`)
	}
	switch fd.Type {
	case TypeString, TypeNumber, TypeBoolean, TypeObject, TypeArray, TypeDate:
	default:
		return nil, fail(`unknown type %q (expected "string", "number", "boolean", "object", "array" or "date")`, fd.Type)
	}
	isString := fd.Type == TypeString || fd.Type == TypeDate
	isNumber := fd.Type == TypeNumber || fd.Type == TypeDate

	if present(o.Required) && json.Unmarshal(o.Required, &fd.Required) != nil {
		return nil, fail(`"required" must be a boolean`)
	}
	if present(o.Unique) && json.Unmarshal(o.Unique, &fd.Unique) != nil {
		return nil, fail(`"unique" must be a boolean`)
	}
	if o.Default != nil {
		v, err := DecodeJSON(o.Default)
		if err != nil {
			return nil, fail(`"default" cannot be decoded: %v`, err)
		}
		fd.Default, fd.HasDefault = v, true
	}
	if present(o.Generated) {
		if json.Unmarshal(o.Generated, &fd.Generated) != nil {
			fd.Generated = "\x00"
		}
		switch fd.Generated {
		case GeneratedUUID, GeneratedCUID, GeneratedAutoincrement, GeneratedTimestamp:
		default:
			return nil, fail(`"generated" must be one of "uuid", "cuid", "autoincrement", "timestamp", got %s`, compact(o.Generated))
		}
	}
	if present(o.Enum) {
		var list []any
		if json.Unmarshal(o.Enum, &list) != nil || len(list) == 0 {
			return nil, fail(`"enum" must be a non-empty array of allowed values`)
		}
		fd.Enum, fd.HasEnum = list, true
	}
	var err error
	if fd.Min, err = numberOption(o.Min); err != nil {
		return nil, fail(`"min" must be a number`)
	}
	if fd.Max, err = numberOption(o.Max); err != nil {
		return nil, fail(`"max" must be a number`)
	}
	if (fd.Min != nil || fd.Max != nil) && !isNumber {
		return nil, fail(`"min"/"max" apply only to fields of type "number" or "date", not %q`, fd.Type)
	}
	if fd.MinLength, err = lengthOption(o.MinLength); err != nil {
		return nil, fail(`"minLength" must be a non-negative integer`)
	}
	if fd.MaxLength, err = lengthOption(o.MaxLength); err != nil {
		return nil, fail(`"maxLength" must be a non-negative integer`)
	}
	if (fd.MinLength != nil || fd.MaxLength != nil) && !isString {
		return nil, fail(`"minLength"/"maxLength" apply only to fields of type "string" or "date", not %q`, fd.Type)
	}
	if present(o.Pattern) {
		if json.Unmarshal(o.Pattern, &fd.Pattern) != nil {
			return nil, fail(`"pattern" must be a string holding a regular expression`)
		}
		if !isString {
			return nil, fail(`"pattern" applies only to fields of type "string" or "date", not %q`, fd.Type)
		}
		if fd.re, err = compilePattern(fd.Pattern); err != nil {
			return nil, fail("%v", err)
		}
	}
	if present(o.Format) {
		if json.Unmarshal(o.Format, &fd.Format) != nil {
			fd.Format = "\x00"
		}
		switch fd.Format {
		case FormatEmail, FormatURL, FormatISODate:
		default:
			return nil, fail(`"format" must be one of "email", "url", "iso-date", got %s`, compact(o.Format))
		}
		if !isString {
			return nil, fail(`"format" applies only to fields of type "string" or "date", not %q`, fd.Type)
		}
	}
	if present(o.Ref) {
		if json.Unmarshal(o.Ref, &fd.Ref) != nil || fd.Ref == "" {
			return nil, fail(`"ref" must be the name of a bucket`)
		}
	}
	if present(o.OnDelete) {
		if fd.Ref == "" {
			return nil, fail(`"onDelete" needs "ref"`)
		}
		if json.Unmarshal(o.OnDelete, &fd.OnDelete) != nil {
			fd.OnDelete = "\x00"
		}
		switch fd.OnDelete {
		case OnDeleteRestrict, OnDeleteCascade, OnDeleteSetNull:
		default:
			return nil, fail(`"onDelete" must be one of "restrict", "cascade", "set_null", got %s`, compact(o.OnDelete))
		}
	} else if fd.Ref != "" {
		fd.OnDelete = OnDeleteRestrict
	}
	if fd.Ref != "" && fd.OnDelete == OnDeleteSetNull && fd.Required {
		return nil, fail(`a required field cannot have onDelete "set_null" (deleting the referenced record would set it to null)`)
	}
	if present(o.Properties) {
		if fd.Type != TypeObject {
			return nil, fail(`"properties" applies only to fields of type "object", not %q`, fd.Type)
		}
		members, ok := splitObject(o.Properties)
		if !ok {
			return nil, fail(`"properties" must be an object mapping field names to field definitions`)
		}
		if fd.Properties, err = parseSchema(bucket, path, members, depth+1); err != nil {
			return nil, err
		}
	}
	if present(o.Items) {
		if fd.Type != TypeArray {
			return nil, fail(`"items" applies only to fields of type "array", not %q`, fd.Type)
		}
		if fd.Items, err = parseFieldDef(bucket, path+"[]", o.Items, depth+1); err != nil {
			return nil, err
		}
	}
	return fd, nil
}

// numberOption decodes an optional numeric option.
func numberOption(raw json.RawMessage) (*float64, error) {
	if !present(raw) {
		return nil, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// lengthOption decodes an optional non-negative integer option.
func lengthOption(raw json.RawMessage) (*int, error) {
	p, err := numberOption(raw)
	if err != nil || p == nil {
		return nil, err
	}
	if *p < 0 || *p != math.Trunc(*p) || *p > maxSafeInteger {
		return nil, fmt.Errorf("not a non-negative integer")
	}
	n := int(*p)
	return &n, nil
}

// bucketErr builds a definition error about the bucket as a whole.
func bucketErr(bucket, problem string) error {
	return &DefinitionError{Message: fmt.Sprintf("Invalid definition for bucket %q: %s", bucket, problem)}
}

// present reports whether an option was given with a non-null value.
func present(raw json.RawMessage) bool { return raw != nil && !isNull(raw) }

// isNull reports whether a raw JSON value is null.
func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// objectMembers splits a JSON object into its members in document order;
// a duplicate key keeps its first position and takes its last value, as
// JavaScript's JSON.parse does. ok is false for anything but an object.
// Definitions are parsed level by level, so the splitting is a plain scan
// rather than a full decode.
func objectMembers(raw json.RawMessage) (members []member, ok bool) {
	if !json.Valid(raw) {
		return nil, false
	}
	return splitObject(raw)
}

// splitObject is objectMembers for input known to be valid JSON.
func splitObject(raw []byte) (members []member, ok bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	var pos map[string]int
	i = skipSpace(raw, i+1)
	for i < len(raw) && raw[i] == '"' {
		end := skipValue(raw, i)
		k := unquoteKey(raw[i:end])
		i = skipSpace(raw, end)
		i = skipSpace(raw, i+1) // the colon
		end = skipValue(raw, i)
		v := json.RawMessage(raw[i:end:end])
		if j, dup := pos[k]; dup {
			members[j].raw = v
		} else {
			if pos == nil {
				pos = map[string]int{}
			}
			pos[k] = len(members)
			members = append(members, member{key: k, raw: v})
		}
		i = skipSpace(raw, end)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
		}
	}
	return members, true
}

// skipSpace returns the index of the first non-whitespace byte from i.
func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the valid JSON value starting at i.
func skipValue(raw []byte, i int) int {
	if i >= len(raw) {
		return i
	}
	switch raw[i] {
	case '"':
		return skipString(raw, i)
	case '{', '[':
		depth := 0
		for i < len(raw) {
			switch raw[i] {
			case '"':
				i = skipString(raw, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(raw) && !strings.ContainsRune(",}] \t\n\r", rune(raw[i])) {
		i++
	}
	return i
}

// skipString returns the index just past the JSON string starting at i.
func skipString(raw []byte, i int) int {
	for i++; i < len(raw) && raw[i] != '"'; i++ {
		if raw[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// unquoteKey decodes a JSON string the way encoding/json does (invalid
// UTF-8 and lone surrogates become U+FFFD).
func unquoteKey(q []byte) string {
	plain := true
	for _, c := range q[1 : len(q)-1] {
		if c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain {
		return string(q[1 : len(q)-1])
	}
	var s string
	_ = json.Unmarshal(q, &s) // q is a valid JSON string
	return s
}

// memberValue finds a member's raw value by key.
func memberValue(members []member, key string) (json.RawMessage, bool) {
	for _, m := range members {
		if m.key == key {
			return m.raw, true
		}
	}
	return nil, false
}

// setMember replaces a member's value, appending the member if absent.
func setMember(members []member, key string, raw json.RawMessage) []member {
	for i := range members {
		if members[i].key == key {
			members[i].raw = raw
			return members
		}
	}
	return append(members, member{key: key, raw: raw})
}

// removeMember drops a member if present.
func removeMember(members []member, key string) []member {
	out := members[:0]
	for _, m := range members {
		if m.key != key {
			out = append(out, m)
		}
	}
	return out
}

// stringList decodes a JSON array of strings.
func stringList(raw json.RawMessage) ([]string, bool) {
	var vals []any
	if json.Unmarshal(raw, &vals) != nil || vals == nil {
		return nil, false
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// appendUnique appends s unless the list already holds it.
func appendUnique(list []string, s string) []string {
	for _, e := range list {
		if e == s {
			return list
		}
	}
	return append(list, s)
}

// compact returns raw JSON without insignificant whitespace.
func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	writeCompact(&b, raw)
	return json.RawMessage(b.Bytes())
}

// writeCompact writes raw JSON without insignificant whitespace.
func writeCompact(b *bytes.Buffer, raw json.RawMessage) {
	if err := json.Compact(b, raw); err != nil {
		b.WriteString("null") // unreachable: raw values come from valid JSON
	}
}

// writeJSONString writes s as a JSON string without HTML escaping.
func writeJSONString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	b.Truncate(b.Len() - 1)
}

// writeSchema writes fields as a JSON object of their raw definitions.
func writeSchema(b *bytes.Buffer, fields []Field) {
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(b, f.Name)
		b.WriteByte(':')
		b.Write(f.Def.raw)
	}
	b.WriteByte('}')
}
