package procedures

import (
	"encoding/json"
	"strconv"
	"time"
)

// Definition is a parsed, validated procedure. It is immutable: an update
// builds a new one, so a call holds one definition from start to end and
// never sees a mix of old and new.
type Definition struct {
	Name        string
	Description string
	// HasDescription tells an empty description from none.
	HasDescription bool
	// Input is the input schema in declaration order; nil without one.
	Input []InputField
	// HasInput is set when the definition declares "input" (even {}).
	HasInput    bool
	Steps       []*Step
	Transaction bool
	// TimeoutMs is the definition's timeoutMs; 0 means the server default.
	TimeoutMs float64

	raw json.RawMessage
	seq uint64
}

// Raw is the definition exactly as it was registered (or as an update
// merged it): procedures.get returns it verbatim, extra keys included.
func (d *Definition) Raw() json.RawMessage { return d.raw }

// timeout is the call's timeout and its millisecond figure for messages.
func (d *Definition) timeout(def time.Duration) (time.Duration, float64) {
	if d.TimeoutMs <= 0 {
		return def, float64(def) / float64(time.Millisecond)
	}
	ms := d.TimeoutMs
	if ms >= float64(1<<62)/float64(time.Millisecond) {
		return 1 << 62, ms // longer than anyone waits
	}
	return time.Duration(ms * float64(time.Millisecond)), ms
}

// InputField is one declared input (§7.2.1).
type InputField struct {
	Name string
	Type string // string, number, boolean, object, array
	// Required is false only when the field says "required": false.
	Required   bool
	Default    any
	HasDefault bool
}

// Step is one parsed step. Which fields are set depends on Action; values
// that may hold `{{ … }}` placeholders are templates.
type Step struct {
	// Path names the step in messages: "steps[2]", "steps[1].then[0]".
	Path   string
	Action string

	Bucket    string // store.*
	As        string // where the value is stored; "" for none
	Source    string // aggregate, transform
	Field     string // aggregate (not for count)
	Op        string // aggregate: sum, avg, min, max, count
	Operation string // transform: map, filter, pick, pluck

	Key    *template // store.get/update/delete, rules.setFact/getFact
	Filter *template // store.where/findOne/count (nil: count all)
	Data   *template // store.insert/update, rules.emit (nil: {})
	Topic  *template // rules.emit
	Value  *template // rules.setFact, return
	Args   *template // transform

	Cond *Condition // if
	Then []*Step
	Else []*Step
}

// Condition is the test of an if step.
type Condition struct {
	// Ref is a bare path ("total", "input.limit", "order.items.length").
	Ref      string
	ref      []string
	Operator string
	// Value is nil when the condition has no value (absent).
	Value *template
}

func childPath(prefix string, i int) string {
	return prefix + "[" + strconv.Itoa(i) + "]"
}
