package store

// Record validation (STORE.md §3.2, §3.5, §3.6, §3.8, §5).

import (
	"strconv"
	"strings"
)

// Issue codes of validation errors (STORE.md §5).
const (
	IssueRequired  = "required"
	IssueType      = "type"
	IssueEnum      = "enum"
	IssueMinLength = "minLength"
	IssueMaxLength = "maxLength"
	IssuePattern   = "pattern"
	IssueFormat    = "format"
	IssueMin       = "min"
	IssueMax       = "max"
)

// Issue is one validation problem; Field is the field name or nested path
// (address.city, tags[1], contacts[1].name).
type Issue struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Code    string `json:"code"`
}

// ValidationError reports the issues of a record that failed validation;
// the server answers it with VALIDATION_ERROR and the issues as details.
type ValidationError struct {
	Bucket string
	Issues []Issue
}

// Error renders the reference's message:
// Validation failed for bucket "<b>": <field>: <message>; <field>: <message>.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(`Validation failed for bucket "`)
	b.WriteString(e.Bucket)
	b.WriteString(`": `)
	for i, is := range e.Issues {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(is.Field)
		b.WriteString(": ")
		b.WriteString(is.Message)
	}
	return b.String()
}

// Validate checks a record against the schema (STORE.md §3.8): declared
// fields in schema order, undeclared fields ignored. The key field is
// required even when the schema does not say so (documented deviation,
// STORE.md §6 "Absent key"). It returns nil when the record is valid.
func (d *BucketDef) Validate(rec Record) []Issue {
	var issues []Issue
	for _, f := range d.Fields {
		v, ok := rec[f.Name]
		if f.Name == d.Key && (!ok || v == nil) {
			issues = append(issues, Issue{Field: f.Name, Message: "Field is required", Code: IssueRequired})
			continue
		}
		issues = validateField(issues, f.Name, f.Def, v, ok)
		if f.Name == d.Key && v != nil && !IsScalar(v) && (len(issues) == 0 || issues[len(issues)-1].Field != f.Name) {
			// Unreachable while key fields cannot be objects or arrays;
			// kept so no record is ever stored under a composite key.
			issues = append(issues, typeIssue(f.Name, f.Def.Type, v))
		}
	}
	return issues
}

// validateFields validates an object's own fields against a nested schema.
func validateFields(issues []Issue, prefix string, fields []Field, obj map[string]any) []Issue {
	for _, f := range fields {
		v, ok := obj[f.Name]
		issues = validateField(issues, prefix+"."+f.Name, f.Def, v, ok)
	}
	return issues
}

// validateField applies steps 1–5 of STORE.md §3.8 to one value.
func validateField(issues []Issue, path string, fd *FieldDef, v any, present bool) []Issue {
	if !present || v == nil {
		if fd.Required {
			issues = append(issues, Issue{Field: path, Message: "Field is required", Code: IssueRequired})
		}
		return issues
	}
	return validateValue(issues, path, fd, v)
}

// validateValue checks a present, non-null value: type, constraints, then
// nested properties or items.
func validateValue(issues []Issue, path string, fd *FieldDef, v any) []Issue {
	if !matchesType(v, fd.Type) {
		return append(issues, typeIssue(path, fd.Type, v))
	}
	issues = validateConstraints(issues, path, fd, v)
	switch x := v.(type) {
	case map[string]any:
		if fd.Type == TypeObject && fd.Properties != nil {
			issues = validateFields(issues, path, fd.Properties, x)
		}
	case []any:
		if fd.Type == TypeArray && fd.Items != nil {
			for i, e := range x {
				if e == nil {
					continue // null elements are skipped
				}
				issues = validateValue(issues, path+"["+strconv.Itoa(i)+"]", fd.Items, e)
			}
		}
	}
	return issues
}

// validateConstraints checks enum, then string constraints, then number
// constraints; which apply depends on the value, as in the reference.
func validateConstraints(issues []Issue, path string, fd *FieldDef, v any) []Issue {
	if fd.HasEnum && !inEnum(fd.Enum, v) {
		issues = append(issues, Issue{Field: path, Message: "Value must be one of: " + enumList(fd.Enum), Code: IssueEnum})
	}
	switch x := v.(type) {
	case string:
		if fd.MinLength != nil || fd.MaxLength != nil {
			n := UTF16Len(x)
			if fd.MinLength != nil && n < *fd.MinLength {
				issues = append(issues, Issue{Field: path, Message: "Minimum length is " + strconv.Itoa(*fd.MinLength), Code: IssueMinLength})
			}
			if fd.MaxLength != nil && n > *fd.MaxLength {
				issues = append(issues, Issue{Field: path, Message: "Maximum length is " + strconv.Itoa(*fd.MaxLength), Code: IssueMaxLength})
			}
		}
		if fd.re != nil && !fd.re.MatchString(x) {
			issues = append(issues, Issue{Field: path, Message: `Value must match pattern "` + fd.Pattern + `"`, Code: IssuePattern})
		}
		if fd.Format != "" && !matchesFormat(x, fd.Format) {
			issues = append(issues, Issue{Field: path, Message: "Invalid " + fd.Format + " format", Code: IssueFormat})
		}
	case float64:
		if fd.Min != nil && x < *fd.Min {
			issues = append(issues, Issue{Field: path, Message: "Minimum value is " + FormatNumber(*fd.Min), Code: IssueMin})
		}
		if fd.Max != nil && x > *fd.Max {
			issues = append(issues, Issue{Field: path, Message: "Maximum value is " + FormatNumber(*fd.Max), Code: IssueMax})
		}
	}
	return issues
}

// matchesType is the type check of STORE.md §3.2.
func matchesType(v any, typ string) bool {
	switch x := v.(type) {
	case string:
		return typ == TypeString || typ == TypeDate
	case float64:
		return (typ == TypeNumber || typ == TypeDate) && x == x // NaN fails
	case bool:
		return typ == TypeBoolean
	case map[string]any:
		return typ == TypeObject
	case []any:
		return typ == TypeArray
	}
	return false
}

// typeIssue is the type-mismatch issue.
func typeIssue(path, declared string, v any) Issue {
	return Issue{Field: path, Message: `Expected type "` + declared + `", got ` + TypeName(v), Code: IssueType}
}

// inEnum is Array.prototype.includes on decoded JSON (objects and arrays
// never match).
func inEnum(enum []any, v any) bool {
	for _, e := range enum {
		if StrictEqual(e, v) {
			return true
		}
	}
	return false
}

// enumList renders enum values as enum.map(String).join(", ").
func enumList(enum []any) string {
	parts := make([]string, len(enum))
	for i, e := range enum {
		parts[i] = Display(e)
	}
	return strings.Join(parts, ", ")
}
