package rules

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const validBase = `{"id":"r1","name":"R","trigger":{"type":"event","topic":"a"},"actions":[{"type":"log","level":"info","message":"m"}]}`

// withField returns validBase with key set to raw JSON (or removed when
// raw is "").
func withField(t *testing.T, key, raw string) map[string]any {
	m := obj(t, validBase)
	if raw == "" {
		delete(m, key)
	} else {
		m[key] = val(t, raw)
	}
	return m
}

func TestValidateExamplesFromProtocol(t *testing.T) {
	t.Parallel()
	got := Validate(obj(t, `{"id":"q"}`))
	want := ValidationResult{Valid: false, Errors: []Issue{
		{Path: "name", Message: `Required field "name" is missing`, Severity: "error"},
		{Path: "trigger", Message: `Required field "trigger" is missing`, Severity: "error"},
	}, Warnings: []Issue{}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	b, _ := json.Marshal(Validate(obj(t, validBase)))
	if string(b) != `{"valid":true,"errors":[],"warnings":[]}` {
		t.Fatalf("valid rule JSON = %s", b)
	}
	got = Validate(obj(t, `{"id":"r2","name":"x"}`))
	if len(got.Errors) != 1 || got.Errors[0].Path != "trigger" {
		t.Fatalf("got %+v", got)
	}
	got = Validate([]any{})
	if got.Valid || got.Errors[0] != (Issue{Path: "(root)", Message: "Rule must be an object", Severity: "error"}) {
		t.Fatalf("non-object: %+v", got)
	}
}

func TestValidateMessages(t *testing.T) {
	t.Parallel()
	type issue struct{ path, msg string }
	cases := []struct {
		name  string
		key   string // top-level key to set ("" = whole input in raw)
		raw   string
		err   *issue
		warn  *issue
		valid bool
	}{
		{name: "id missing", key: "id", raw: "", err: &issue{"id", `Required field "id" is missing`}},
		{name: "id type", key: "id", raw: "1", err: &issue{"id", `Field "id" must be a string`}},
		{name: "id blank", key: "id", raw: `"  "`, err: &issue{"id", `Field "id" cannot be empty`}},
		{name: "name type", key: "name", raw: "null", err: &issue{"name", `Field "name" must be a string`}},
		{name: "name blank", key: "name", raw: `""`, err: &issue{"name", `Field "name" cannot be empty`}},
		{name: "description", key: "description", raw: "5", err: &issue{"description", `Field "description" must be a string`}},
		{name: "priority type", key: "priority", raw: `"1"`, err: &issue{"priority", `Field "priority" must be a number`}},
		{name: "priority int", key: "priority", raw: "1.5", warn: &issue{"priority", `Field "priority" should be an integer`}, valid: true},
		{name: "enabled", key: "enabled", raw: `"yes"`, err: &issue{"enabled", `Field "enabled" must be a boolean`}},
		{name: "tags type", key: "tags", raw: `"a"`, err: &issue{"tags", `Field "tags" must be an array`}},
		{name: "tag type", key: "tags", raw: `["a",1]`, err: &issue{"tags[1]", "Tag must be a string"}},
		{name: "group type", key: "group", raw: `1`, err: &issue{"group", `Field "group" must be a string`}},
		{name: "group blank", key: "group", raw: `" "`, err: &issue{"group", `Field "group" cannot be empty`}},
		// Trigger.
		{name: "trigger obj", key: "trigger", raw: `"x"`, err: &issue{"trigger", "Trigger must be an object"}},
		{name: "trigger type missing", key: "trigger", raw: `{}`, err: &issue{"trigger.type", `Trigger must have a "type" field`}},
		{name: "trigger type type", key: "trigger", raw: `{"type":1}`, err: &issue{"trigger.type", "Trigger type must be a string"}},
		{name: "trigger type bad", key: "trigger", raw: `{"type":"cron"}`, err: &issue{"trigger.type", "Invalid trigger type: cron. Valid types: event, fact, timer, temporal"}},
		{name: "event topic", key: "trigger", raw: `{"type":"event"}`, err: &issue{"trigger.topic", `Event trigger must have a "topic" field`}},
		{name: "event topic type", key: "trigger", raw: `{"type":"event","topic":1}`, err: &issue{"trigger.topic", "Event trigger topic must be a string"}},
		{name: "event topic blank", key: "trigger", raw: `{"type":"event","topic":" "}`, err: &issue{"trigger.topic", "Event trigger topic cannot be empty"}},
		{name: "fact pattern", key: "trigger", raw: `{"type":"fact"}`, err: &issue{"trigger.pattern", `Fact trigger must have a "pattern" field`}},
		{name: "fact pattern type", key: "trigger", raw: `{"type":"fact","pattern":[]}`, err: &issue{"trigger.pattern", "Fact trigger pattern must be a string"}},
		{name: "fact pattern blank", key: "trigger", raw: `{"type":"fact","pattern":""}`, err: &issue{"trigger.pattern", "Fact trigger pattern cannot be empty"}},
		{name: "timer name", key: "trigger", raw: `{"type":"timer"}`, err: &issue{"trigger.name", `Timer trigger must have a "name" field`}},
		{name: "timer name type", key: "trigger", raw: `{"type":"timer","name":2}`, err: &issue{"trigger.name", "Timer trigger name must be a string"}},
		{name: "timer name blank", key: "trigger", raw: `{"type":"timer","name":""}`, err: &issue{"trigger.name", "Timer trigger name cannot be empty"}},
		{name: "temporal pattern", key: "trigger", raw: `{"type":"temporal"}`, err: &issue{"trigger.pattern", `Temporal trigger must have a "pattern" field`}},
		// Conditions.
		{name: "conditions type", key: "conditions", raw: `{}`, err: &issue{"conditions", "Conditions must be an array"}},
		{name: "condition obj", key: "conditions", raw: `[1]`, err: &issue{"conditions[0]", "Condition must be an object"}},
		{name: "condition source", key: "conditions", raw: `[{"operator":"exists"}]`, err: &issue{"conditions[0].source", `Condition must have a "source" field`}},
		{name: "source obj", key: "conditions", raw: `[{"source":1,"operator":"exists"}]`, err: &issue{"conditions[0].source", "Condition source must be an object"}},
		{name: "source type", key: "conditions", raw: `[{"source":{},"operator":"exists"}]`, err: &issue{"conditions[0].source.type", `Condition source must have a "type" field`}},
		{name: "source type type", key: "conditions", raw: `[{"source":{"type":1},"operator":"exists"}]`, err: &issue{"conditions[0].source.type", "Condition source type must be a string"}},
		{name: "source type bad", key: "conditions", raw: `[{"source":{"type":"x"},"operator":"exists"}]`, err: &issue{"conditions[0].source.type", "Invalid source type: x. Valid types: event, fact, context, lookup, baseline"}},
		{name: "fact source", key: "conditions", raw: `[{"source":{"type":"fact"},"operator":"exists"}]`, err: &issue{"conditions[0].source.pattern", `Fact source must have a "pattern" field`}},
		{name: "fact source type", key: "conditions", raw: `[{"source":{"type":"fact","pattern":1},"operator":"exists"}]`, err: &issue{"conditions[0].source.pattern", "Fact source pattern must be a string"}},
		{name: "event source", key: "conditions", raw: `[{"source":{"type":"event"},"operator":"exists"}]`, err: &issue{"conditions[0].source.field", `Event source must have a "field" field`}},
		{name: "event source type", key: "conditions", raw: `[{"source":{"type":"event","field":1},"operator":"exists"}]`, err: &issue{"conditions[0].source.field", "Event source field must be a string"}},
		{name: "context source", key: "conditions", raw: `[{"source":{"type":"context"},"operator":"exists"}]`, err: &issue{"conditions[0].source.key", `Context source must have a "key" field`}},
		{name: "context source type", key: "conditions", raw: `[{"source":{"type":"context","key":1},"operator":"exists"}]`, err: &issue{"conditions[0].source.key", "Context source key must be a string"}},
		{name: "lookup source", key: "conditions", raw: `[{"source":{"type":"lookup"},"operator":"exists"}]`, err: &issue{"conditions[0].source.name", `Lookup source must have a "name" field`}},
		{name: "lookup source type", key: "conditions", raw: `[{"source":{"type":"lookup","name":1},"operator":"exists"}]`, err: &issue{"conditions[0].source.name", "Lookup source name must be a string"}},
		{name: "lookup source field", key: "conditions", raw: `[{"source":{"type":"lookup","name":"a","field":1},"operator":"exists"}]`, err: &issue{"conditions[0].source.field", "Lookup source field must be a string"}},
		{name: "baseline metric", key: "conditions", raw: `[{"source":{"type":"baseline","comparison":"above"},"operator":"exists"}]`, err: &issue{"conditions[0].source.metric", `Baseline source must have a "metric" field`}},
		{name: "baseline metric type", key: "conditions", raw: `[{"source":{"type":"baseline","metric":1,"comparison":"above"},"operator":"exists"}]`, err: &issue{"conditions[0].source.metric", "Baseline source metric must be a string"}},
		{name: "baseline metric blank", key: "conditions", raw: `[{"source":{"type":"baseline","metric":" ","comparison":"above"},"operator":"exists"}]`, err: &issue{"conditions[0].source.metric", "Baseline source metric cannot be empty"}},
		{name: "baseline comparison", key: "conditions", raw: `[{"source":{"type":"baseline","metric":"m"},"operator":"exists"}]`, err: &issue{"conditions[0].source.comparison", `Baseline source must have a "comparison" field`}},
		{name: "baseline comparison type", key: "conditions", raw: `[{"source":{"type":"baseline","metric":"m","comparison":1},"operator":"exists"}]`, err: &issue{"conditions[0].source.comparison", "Baseline source comparison must be a string"}},
		{name: "baseline comparison bad", key: "conditions", raw: `[{"source":{"type":"baseline","metric":"m","comparison":"up"},"operator":"exists"}]`, err: &issue{"conditions[0].source.comparison", "Invalid baseline comparison: up. Valid comparisons: above, below, outside, above_percentile, below_percentile"}},
		{name: "baseline sensitivity", key: "conditions", raw: `[{"source":{"type":"baseline","metric":"m","comparison":"above","sensitivity":0},"operator":"exists"}]`, err: &issue{"conditions[0].source.sensitivity", "Baseline source sensitivity must be a positive number"}},
		{name: "operator", key: "conditions", raw: `[{"source":{"type":"event","field":"a"}}]`, err: &issue{"conditions[0].operator", `Condition must have an "operator" field`}},
		{name: "operator type", key: "conditions", raw: `[{"source":{"type":"event","field":"a"},"operator":1}]`, err: &issue{"conditions[0].operator", "Condition operator must be a string"}},
		{name: "operator bad", key: "conditions", raw: `[{"source":{"type":"event","field":"a"},"operator":"like","value":1}]`, err: &issue{"conditions[0].operator", "Invalid operator: like. Valid operators: eq, neq, gt, gte, lt, lte, in, not_in, contains, not_contains, matches, exists, not_exists"}},
		{name: "value", key: "conditions", raw: `[{"source":{"type":"event","field":"a"},"operator":"eq"}]`, err: &issue{"conditions[0].value", `Condition must have a "value" field`}},
		{name: "unary no value", key: "conditions", raw: `[{"source":{"type":"event","field":"a"},"operator":"not_exists"}]`, valid: true},
		// Actions.
		{name: "actions type", key: "actions", raw: `{}`, err: &issue{"actions", "Actions must be an array"}},
		{name: "actions empty", key: "actions", raw: `[]`, warn: &issue{"actions", "Rule has no actions"}, valid: true},
		{name: "action obj", key: "actions", raw: `[null]`, err: &issue{"actions[0]", "Action must be an object"}},
		{name: "action type", key: "actions", raw: `[{}]`, err: &issue{"actions[0].type", `Action must have a "type" field`}},
		{name: "action type type", key: "actions", raw: `[{"type":1}]`, err: &issue{"actions[0].type", "Action type must be a string"}},
		{name: "action type bad", key: "actions", raw: `[{"type":"send"}]`, err: &issue{"actions[0].type", "Invalid action type: send. Valid types: set_fact, delete_fact, emit_event, set_timer, cancel_timer, call_service, log, conditional, for_each, try_catch"}},
		{name: "set_fact key", key: "actions", raw: `[{"type":"set_fact","value":1}]`, err: &issue{"actions[0].key", `set_fact action must have a "key" field`}},
		{name: "set_fact key type", key: "actions", raw: `[{"type":"set_fact","key":1,"value":1}]`, err: &issue{"actions[0].key", "set_fact action key must be a string"}},
		{name: "set_fact value", key: "actions", raw: `[{"type":"set_fact","key":"k"}]`, err: &issue{"actions[0].value", `set_fact action must have a "value" field`}},
		{name: "set_fact null value", key: "actions", raw: `[{"type":"set_fact","key":"k","value":null}]`, valid: true},
		{name: "delete_fact key", key: "actions", raw: `[{"type":"delete_fact"}]`, err: &issue{"actions[0].key", `delete_fact action must have a "key" field`}},
		{name: "delete_fact key type", key: "actions", raw: `[{"type":"delete_fact","key":true}]`, err: &issue{"actions[0].key", "delete_fact action key must be a string"}},
		{name: "emit topic", key: "actions", raw: `[{"type":"emit_event","data":{}}]`, err: &issue{"actions[0].topic", `emit_event action must have a "topic" field`}},
		{name: "emit topic type", key: "actions", raw: `[{"type":"emit_event","topic":1,"data":{}}]`, err: &issue{"actions[0].topic", "emit_event action topic must be a string"}},
		{name: "emit data", key: "actions", raw: `[{"type":"emit_event","topic":"t"}]`, err: &issue{"actions[0].data", `emit_event action must have a "data" field`}},
		{name: "emit data type", key: "actions", raw: `[{"type":"emit_event","topic":"t","data":[]}]`, err: &issue{"actions[0].data", "emit_event action data must be an object"}},
		{name: "set_timer timer", key: "actions", raw: `[{"type":"set_timer"}]`, err: &issue{"actions[0].timer", `set_timer action must have a "timer" field`}},
		{name: "set_timer timer type", key: "actions", raw: `[{"type":"set_timer","timer":1}]`, err: &issue{"actions[0].timer", "set_timer action timer must be an object"}},
		{name: "timer name", key: "actions", raw: `[{"type":"set_timer","timer":{"duration":"1s","onExpire":{"topic":"t","data":{}}}}]`, err: &issue{"actions[0].timer.name", `Timer must have a "name" field`}},
		{name: "timer name type", key: "actions", raw: `[{"type":"set_timer","timer":{"name":1,"duration":"1s","onExpire":{"topic":"t","data":{}}}}]`, err: &issue{"actions[0].timer.name", "Timer name must be a string"}},
		{name: "timer duration", key: "actions", raw: `[{"type":"set_timer","timer":{"name":"n","onExpire":{"topic":"t","data":{}}}}]`, err: &issue{"actions[0].timer.duration", `Timer must have a "duration" field`}},
		{name: "timer duration format", key: "actions", raw: `[{"type":"set_timer","timer":{"name":"n","duration":"5 m","onExpire":{"topic":"t","data":{}}}}]`, err: &issue{"actions[0].timer.duration", "Invalid duration format: 5 m"}},
		{name: "timer duration digits", key: "actions", raw: `[{"type":"set_timer","timer":{"name":"n","duration":"500","onExpire":{"topic":"t","data":{}}}}]`, valid: true},
		{name: "timer duration positive", key: "actions", raw: `[{"type":"set_timer","timer":{"name":"n","duration":0,"onExpire":{"topic":"t","data":{}}}}]`, err: &issue{"actions[0].timer.duration", "Timer duration must be positive"}},
		{name: "timer duration kind", key: "actions", raw: `[{"type":"set_timer","timer":{"name":"n","duration":true,"onExpire":{"topic":"t","data":{}}}}]`, err: &issue{"actions[0].timer.duration", "Timer duration must be a string or number"}},
		{name: "timer onExpire", key: "actions", raw: `[{"type":"set_timer","timer":{"name":"n","duration":"1s"}}]`, err: &issue{"actions[0].timer.onExpire", `Timer must have an "onExpire" field`}},
		{name: "timer onExpire type", key: "actions", raw: `[{"type":"set_timer","timer":{"name":"n","duration":"1s","onExpire":[]}}]`, err: &issue{"actions[0].timer.onExpire", "Timer onExpire must be an object"}},
		{name: "timer onExpire topic", key: "actions", raw: `[{"type":"set_timer","timer":{"name":"n","duration":"1s","onExpire":{"data":{}}}}]`, err: &issue{"actions[0].timer.onExpire.topic", `Timer onExpire must have a "topic" field`}},
		{name: "timer onExpire data", key: "actions", raw: `[{"type":"set_timer","timer":{"name":"n","duration":"1s","onExpire":{"topic":"t"}}}]`, err: &issue{"actions[0].timer.onExpire.data", `Timer onExpire must have a "data" field`}},
		{name: "cancel name", key: "actions", raw: `[{"type":"cancel_timer"}]`, err: &issue{"actions[0].name", `cancel_timer action must have a "name" field`}},
		{name: "cancel name type", key: "actions", raw: `[{"type":"cancel_timer","name":1}]`, err: &issue{"actions[0].name", "cancel_timer action name must be a string"}},
		{name: "service", key: "actions", raw: `[{"type":"call_service","method":"m"}]`, err: &issue{"actions[0].service", `call_service action must have a "service" field`}},
		{name: "service type", key: "actions", raw: `[{"type":"call_service","service":1,"method":"m"}]`, err: &issue{"actions[0].service", "call_service action service must be a string"}},
		{name: "method", key: "actions", raw: `[{"type":"call_service","service":"s"}]`, err: &issue{"actions[0].method", `call_service action must have a "method" field`}},
		{name: "method type", key: "actions", raw: `[{"type":"call_service","service":"s","method":[]}]`, err: &issue{"actions[0].method", "call_service action method must be a string"}},
		{name: "args", key: "actions", raw: `[{"type":"call_service","service":"s","method":"m","args":{}}]`, err: &issue{"actions[0].args", "call_service action args must be an array"}},
		{name: "log level", key: "actions", raw: `[{"type":"log","message":"m"}]`, err: &issue{"actions[0].level", `log action must have a "level" field`}},
		{name: "log level bad", key: "actions", raw: `[{"type":"log","level":"trace","message":"m"}]`, err: &issue{"actions[0].level", "Invalid log level: trace. Valid levels: debug, info, warn, error"}},
		{name: "log level type", key: "actions", raw: `[{"type":"log","level":3,"message":"m"}]`, err: &issue{"actions[0].level", "Invalid log level: 3. Valid levels: debug, info, warn, error"}},
		{name: "log message", key: "actions", raw: `[{"type":"log","level":"info"}]`, err: &issue{"actions[0].message", `log action must have a "message" field`}},
		{name: "log message type", key: "actions", raw: `[{"type":"log","level":"info","message":1}]`, err: &issue{"actions[0].message", "log action message must be a string"}},
		{name: "cond conditions", key: "actions", raw: `[{"type":"conditional","then":[{"type":"log","level":"info","message":"m"}]}]`, err: &issue{"actions[0].conditions", `conditional action must have a "conditions" field`}},
		{name: "cond conditions type", key: "actions", raw: `[{"type":"conditional","conditions":{},"then":[{"type":"log","level":"info","message":"m"}]}]`, err: &issue{"actions[0].conditions", "conditional action conditions must be an array"}},
		{name: "cond conditions empty", key: "actions", raw: `[{"type":"conditional","conditions":[],"then":[{"type":"log","level":"info","message":"m"}]}]`, err: &issue{"actions[0].conditions", "conditional action conditions must not be empty"}},
		{name: "cond conditions nested", key: "actions", raw: `[{"type":"conditional","conditions":[{"source":{"type":"event","field":"a"},"operator":"eq"}],"then":[{"type":"log","level":"info","message":"m"}]}]`, err: &issue{"actions[0].conditions[0].value", `Condition must have a "value" field`}},
		{name: "cond then", key: "actions", raw: `[{"type":"conditional","conditions":[{"source":{"type":"event","field":"a"},"operator":"exists"}]}]`, err: &issue{"actions[0].then", `conditional action must have a "then" field`}},
		{name: "cond then type", key: "actions", raw: `[{"type":"conditional","conditions":[{"source":{"type":"event","field":"a"},"operator":"exists"}],"then":{}}]`, err: &issue{"actions[0].then", "conditional action then must be an array"}},
		{name: "cond then empty", key: "actions", raw: `[{"type":"conditional","conditions":[{"source":{"type":"event","field":"a"},"operator":"exists"}],"then":[]}]`, err: &issue{"actions[0].then", "conditional action then must not be empty"}},
		{name: "cond then nested", key: "actions", raw: `[{"type":"conditional","conditions":[{"source":{"type":"event","field":"a"},"operator":"exists"}],"then":[{"type":"nope"}]}]`, err: &issue{"actions[0].then[0].type", "Invalid action type: nope. Valid types: set_fact, delete_fact, emit_event, set_timer, cancel_timer, call_service, log, conditional, for_each, try_catch"}},
		{name: "cond else type", key: "actions", raw: `[{"type":"conditional","conditions":[{"source":{"type":"event","field":"a"},"operator":"exists"}],"then":[{"type":"log","level":"info","message":"m"}],"else":1}]`, err: &issue{"actions[0].else", "conditional action else must be an array"}},
		{name: "cond else empty", key: "actions", raw: `[{"type":"conditional","conditions":[{"source":{"type":"event","field":"a"},"operator":"exists"}],"then":[{"type":"log","level":"info","message":"m"}],"else":[]}]`, warn: &issue{"actions[0].else", "conditional action else is empty"}, valid: true},
		{name: "cond else nested", key: "actions", raw: `[{"type":"conditional","conditions":[{"source":{"type":"event","field":"a"},"operator":"exists"}],"then":[{"type":"log","level":"info","message":"m"}],"else":[{"type":"log","level":"info"}]}]`, err: &issue{"actions[0].else[0].message", `log action must have a "message" field`}},
		{name: "try", key: "actions", raw: `[{"type":"try_catch","finally":[{"type":"log","level":"info","message":"m"}]}]`, err: &issue{"actions[0].try", `try_catch action must have a "try" field`}},
		{name: "try type", key: "actions", raw: `[{"type":"try_catch","try":{},"finally":[{"type":"log","level":"info","message":"m"}]}]`, err: &issue{"actions[0].try", "try_catch action try must be an array"}},
		{name: "try empty", key: "actions", raw: `[{"type":"try_catch","try":[],"finally":[{"type":"log","level":"info","message":"m"}]}]`, err: &issue{"actions[0].try", "try_catch action try must not be empty"}},
		{name: "try nested", key: "actions", raw: `[{"type":"try_catch","try":[{"type":"x"}],"finally":[{"type":"log","level":"info","message":"m"}]}]`, err: &issue{"actions[0].try[0].type", "Invalid action type: x. Valid types: set_fact, delete_fact, emit_event, set_timer, cancel_timer, call_service, log, conditional, for_each, try_catch"}},
		{name: "try neither", key: "actions", raw: `[{"type":"try_catch","try":[{"type":"log","level":"info","message":"m"}]}]`, err: &issue{"actions[0]", `try_catch action must have at least "catch" or "finally"`}},
		{name: "catch type", key: "actions", raw: `[{"type":"try_catch","try":[{"type":"log","level":"info","message":"m"}],"catch":[]}]`, err: &issue{"actions[0].catch", "try_catch action catch must be an object"}},
		{name: "catch actions", key: "actions", raw: `[{"type":"try_catch","try":[{"type":"log","level":"info","message":"m"}],"catch":{}}]`, err: &issue{"actions[0].catch.actions", `try_catch catch must have an "actions" field`}},
		{name: "catch actions type", key: "actions", raw: `[{"type":"try_catch","try":[{"type":"log","level":"info","message":"m"}],"catch":{"actions":1}}]`, err: &issue{"actions[0].catch.actions", "try_catch catch actions must be an array"}},
		{name: "catch actions empty", key: "actions", raw: `[{"type":"try_catch","try":[{"type":"log","level":"info","message":"m"}],"catch":{"actions":[]}}]`, err: &issue{"actions[0].catch.actions", "try_catch catch actions must not be empty"}},
		{name: "catch actions nested", key: "actions", raw: `[{"type":"try_catch","try":[{"type":"log","level":"info","message":"m"}],"catch":{"actions":[{}]}}]`, err: &issue{"actions[0].catch.actions[0].type", `Action must have a "type" field`}},
		{name: "catch as", key: "actions", raw: `[{"type":"try_catch","try":[{"type":"log","level":"info","message":"m"}],"catch":{"as":1,"actions":[{"type":"log","level":"info","message":"m"}]}}]`, err: &issue{"actions[0].catch.as", "try_catch catch as must be a string"}},
		{name: "finally type", key: "actions", raw: `[{"type":"try_catch","try":[{"type":"log","level":"info","message":"m"}],"finally":{}}]`, err: &issue{"actions[0].finally", "try_catch action finally must be an array"}},
		{name: "finally empty", key: "actions", raw: `[{"type":"try_catch","try":[{"type":"log","level":"info","message":"m"}],"finally":[]}]`, warn: &issue{"actions[0].finally", "try_catch action finally is empty"}, valid: true},
		// for_each (Go addition, RULES.md §22 #14).
		{name: "for_each ok", key: "actions", raw: `[{"type":"for_each","collection":{"ref":"event.items"},"as":"item","actions":[{"type":"log","level":"info","message":"m"}]}]`, valid: true},
		{name: "for_each collection", key: "actions", raw: `[{"type":"for_each","as":"i","actions":[{"type":"log","level":"info","message":"m"}]}]`, err: &issue{"actions[0].collection", `for_each action must have a "collection" field`}},
		{name: "for_each collection type", key: "actions", raw: `[{"type":"for_each","collection":"x","as":"i","actions":[{"type":"log","level":"info","message":"m"}]}]`, err: &issue{"actions[0].collection", "for_each action collection must be an array or a reference"}},
		{name: "for_each as", key: "actions", raw: `[{"type":"for_each","collection":[],"actions":[{"type":"log","level":"info","message":"m"}]}]`, err: &issue{"actions[0].as", `for_each action must have a "as" field`}},
		{name: "for_each as type", key: "actions", raw: `[{"type":"for_each","collection":[],"as":1,"actions":[{"type":"log","level":"info","message":"m"}]}]`, err: &issue{"actions[0].as", "for_each action as must be a string"}},
		{name: "for_each as blank", key: "actions", raw: `[{"type":"for_each","collection":[],"as":"","actions":[{"type":"log","level":"info","message":"m"}]}]`, err: &issue{"actions[0].as", "for_each action as cannot be empty"}},
		{name: "for_each actions", key: "actions", raw: `[{"type":"for_each","collection":[],"as":"i"}]`, err: &issue{"actions[0].actions", `for_each action must have an "actions" field`}},
		{name: "for_each actions type", key: "actions", raw: `[{"type":"for_each","collection":[],"as":"i","actions":{}}]`, err: &issue{"actions[0].actions", "for_each action actions must be an array"}},
		{name: "for_each actions empty", key: "actions", raw: `[{"type":"for_each","collection":[],"as":"i","actions":[]}]`, warn: &issue{"actions[0].actions", "for_each action actions is empty"}, valid: true},
		{name: "for_each maxIterations", key: "actions", raw: `[{"type":"for_each","collection":[],"as":"i","actions":[{"type":"log","level":"info","message":"m"}],"maxIterations":0}]`, err: &issue{"actions[0].maxIterations", "for_each action maxIterations must be a positive integer"}},
		// Lookups.
		{name: "lookups type", key: "lookups", raw: `{}`, err: &issue{"lookups", "Lookups must be an array"}},
		{name: "lookup obj", key: "lookups", raw: `[1]`, err: &issue{"lookups[0]", "Lookup must be an object"}},
		{name: "lookup name", key: "lookups", raw: `[{"service":"s","method":"m"}]`, err: &issue{"lookups[0].name", `Lookup must have a "name" field`}},
		{name: "lookup name type", key: "lookups", raw: `[{"name":1,"service":"s","method":"m"}]`, err: &issue{"lookups[0].name", "Lookup name must be a string"}},
		{name: "lookup name blank", key: "lookups", raw: `[{"name":" ","service":"s","method":"m"}]`, err: &issue{"lookups[0].name", "Lookup name cannot be empty"}},
		{name: "lookup name dup", key: "lookups", raw: `[{"name":"a","service":"s","method":"m"},{"name":"a","service":"s","method":"m"}]`, err: &issue{"lookups[1].name", "Duplicate lookup name: a"}},
		{name: "lookup service", key: "lookups", raw: `[{"name":"a","method":"m"}]`, err: &issue{"lookups[0].service", `Lookup must have a "service" field`}},
		{name: "lookup service type", key: "lookups", raw: `[{"name":"a","service":1,"method":"m"}]`, err: &issue{"lookups[0].service", "Lookup service must be a string"}},
		{name: "lookup service blank", key: "lookups", raw: `[{"name":"a","service":"","method":"m"}]`, err: &issue{"lookups[0].service", "Lookup service cannot be empty"}},
		{name: "lookup method", key: "lookups", raw: `[{"name":"a","service":"s"}]`, err: &issue{"lookups[0].method", `Lookup must have a "method" field`}},
		{name: "lookup method type", key: "lookups", raw: `[{"name":"a","service":"s","method":1}]`, err: &issue{"lookups[0].method", "Lookup method must be a string"}},
		{name: "lookup method blank", key: "lookups", raw: `[{"name":"a","service":"s","method":" "}]`, err: &issue{"lookups[0].method", "Lookup method cannot be empty"}},
		{name: "lookup args", key: "lookups", raw: `[{"name":"a","service":"s","method":"m","args":1}]`, err: &issue{"lookups[0].args", "Lookup args must be an array"}},
		{name: "lookup cache", key: "lookups", raw: `[{"name":"a","service":"s","method":"m","cache":1}]`, err: &issue{"lookups[0].cache", "Lookup cache must be an object"}},
		{name: "lookup ttl", key: "lookups", raw: `[{"name":"a","service":"s","method":"m","cache":{}}]`, err: &issue{"lookups[0].cache.ttl", `Lookup cache must have a "ttl" field`}},
		{name: "lookup ttl number", key: "lookups", raw: `[{"name":"a","service":"s","method":"m","cache":{"ttl":-1}}]`, err: &issue{"lookups[0].cache.ttl", "Lookup cache ttl must be a positive number"}},
		{name: "lookup ttl string", key: "lookups", raw: `[{"name":"a","service":"s","method":"m","cache":{"ttl":"5 m"}}]`, err: &issue{"lookups[0].cache.ttl", `Invalid cache ttl duration: 5 m. Use a duration like "5m", "1h", "30s" or milliseconds`}},
		{name: "lookup ttl type", key: "lookups", raw: `[{"name":"a","service":"s","method":"m","cache":{"ttl":true}}]`, err: &issue{"lookups[0].cache.ttl", "Lookup cache ttl must be a string or number"}},
		{name: "lookup onError type", key: "lookups", raw: `[{"name":"a","service":"s","method":"m","onError":1}]`, err: &issue{"lookups[0].onError", "Lookup onError must be a string"}},
		{name: "lookup onError bad", key: "lookups", raw: `[{"name":"a","service":"s","method":"m","onError":"retry"}]`, err: &issue{"lookups[0].onError", "Invalid onError strategy: retry. Valid strategies: skip, fail"}},
		{name: "lookup ok", key: "lookups", raw: `[{"name":"a","service":"s","method":"m","args":[{"ref":"event.x"}],"cache":{"ttl":"5m"},"onError":"fail"}]`, valid: true},
	}
	for _, c := range cases {
		res := Validate(withField(t, c.key, c.raw))
		if res.Valid != c.valid {
			t.Errorf("%s: valid = %v, want %v (%+v)", c.name, res.Valid, c.valid, res)
		}
		if c.err != nil && !hasIssue(res.Errors, c.err.path, c.err.msg, "error") {
			t.Errorf("%s: missing error %s: %q; got %+v", c.name, c.err.path, c.err.msg, res.Errors)
		}
		if c.warn != nil && !hasIssue(res.Warnings, c.warn.path, c.warn.msg, "warning") {
			t.Errorf("%s: missing warning %s: %q; got %+v", c.name, c.warn.path, c.warn.msg, res.Warnings)
		}
		if c.valid && c.warn == nil && len(res.Warnings) > 0 {
			t.Errorf("%s: unexpected warnings %+v", c.name, res.Warnings)
		}
	}
}

func TestValidateTemporalMessages(t *testing.T) {
	t.Parallel()
	type issue struct{ path, msg string }
	p := "trigger.pattern"
	cases := []struct {
		pattern string
		err     *issue
	}{
		{`1`, &issue{p, "Temporal pattern must be an object"}},
		{`{}`, &issue{p + ".type", `Temporal pattern must have a "type" field`}},
		{`{"type":1}`, &issue{p + ".type", "Temporal pattern type must be a string"}},
		{`{"type":"window"}`, &issue{p + ".type", "Invalid temporal pattern type: window. Valid types: sequence, absence, count, aggregate"}},
		{`{"type":"sequence","within":"5m"}`, &issue{p + ".events", `Sequence pattern must have an "events" field`}},
		{`{"type":"sequence","events":{},"within":"5m"}`, &issue{p + ".events", "Sequence pattern events must be an array"}},
		{`{"type":"sequence","events":[{"topic":"a"}],"within":"5m"}`, &issue{p + ".events", "Sequence pattern must have at least 2 events"}},
		{`{"type":"sequence","events":[{"topic":"a"},1],"within":"5m"}`, &issue{p + ".events[1]", "Event matcher must be an object"}},
		{`{"type":"sequence","events":[{"topic":"a"},{}],"within":"5m"}`, &issue{p + ".events[1].topic", `Event matcher must have a "topic" field`}},
		{`{"type":"sequence","events":[{"topic":"a"},{"topic":2}],"within":"5m"}`, &issue{p + ".events[1].topic", "Event matcher topic must be a string"}},
		{`{"type":"sequence","events":[{"topic":"a","as":1},{"topic":"b"}],"within":"5m"}`, &issue{p + ".events[0].as", "Event matcher alias must be a string"}},
		{`{"type":"sequence","events":[{"topic":"a"},{"topic":"b"}]}`, &issue{p + ".within", `Field "within" is required`}},
		{`{"type":"sequence","events":[{"topic":"a"},{"topic":"b"}],"within":true}`, &issue{p + ".within", `Field "within" must be a string (e.g., "5m") or number (milliseconds)`}},
		{`{"type":"sequence","events":[{"topic":"a"},{"topic":"b"}],"within":"5 min"}`, &issue{p + ".within", `Invalid duration format: 5 min. Use formats like "5m", "1h", "7d"`}},
		{`{"type":"sequence","events":[{"topic":"a"},{"topic":"b"}],"within":0}`, &issue{p + ".within", "Duration must be positive"}},
		{`{"type":"absence","expected":{"topic":"b"},"within":"5m"}`, &issue{p + ".after", `Absence pattern must have an "after" field`}},
		{`{"type":"absence","after":{"topic":"a"},"within":"5m"}`, &issue{p + ".expected", `Absence pattern must have an "expected" field`}},
		{`{"type":"count","threshold":1,"window":"1m"}`, &issue{p + ".event", `Count pattern must have an "event" field`}},
		{`{"type":"count","event":{"topic":"a"},"window":"1m"}`, &issue{p + ".threshold", `Count pattern must have a "threshold" field`}},
		{`{"type":"count","event":{"topic":"a"},"threshold":0,"window":"1m"}`, &issue{p + ".threshold", "Count pattern threshold must be a positive number"}},
		{`{"type":"count","event":{"topic":"a"},"threshold":2,"comparison":"gt","window":"1m"}`, &issue{p + ".comparison", "Invalid comparison: gt. Valid values: gte, lte, eq"}},
		{`{"type":"count","event":{"topic":"a"},"threshold":2}`, &issue{p + ".window", `Field "window" is required`}},
		{`{"type":"aggregate","field":"x","function":"sum","threshold":1,"window":"1m"}`, &issue{p + ".event", `Aggregate pattern must have an "event" field`}},
		{`{"type":"aggregate","event":{"topic":"a"},"function":"sum","threshold":1,"window":"1m"}`, &issue{p + ".field", `Aggregate pattern must have a "field" field`}},
		{`{"type":"aggregate","event":{"topic":"a"},"field":1,"function":"sum","threshold":1,"window":"1m"}`, &issue{p + ".field", "Aggregate pattern field must be a string"}},
		{`{"type":"aggregate","event":{"topic":"a"},"field":"x","threshold":1,"window":"1m"}`, &issue{p + ".function", `Aggregate pattern must have a "function" field`}},
		{`{"type":"aggregate","event":{"topic":"a"},"field":"x","function":"median","threshold":1,"window":"1m"}`, &issue{p + ".function", "Invalid aggregate function: median. Valid values: sum, avg, min, max, count"}},
		{`{"type":"aggregate","event":{"topic":"a"},"field":"x","function":"sum","window":"1m"}`, &issue{p + ".threshold", `Aggregate pattern must have a "threshold" field`}},
		{`{"type":"aggregate","event":{"topic":"a"},"field":"x","function":"sum","threshold":"1","window":"1m"}`, &issue{p + ".threshold", "Aggregate pattern threshold must be a number"}},
		{`{"type":"aggregate","event":{"topic":"a"},"field":"x","function":"sum","threshold":1,"comparison":"ne","window":"1m"}`, &issue{p + ".comparison", "Invalid comparison: ne. Valid values: gte, lte, eq"}},
		{`{"type":"aggregate","event":{"topic":"a"},"field":"x","function":"sum","threshold":-5,"comparison":"lte","window":60000}`, nil},
		{`{"type":"count","event":{"topic":"a","filter":{"x":1}},"threshold":3,"window":"1m","groupBy":"id"}`, nil},
	}
	for _, c := range cases {
		m := withField(t, "trigger", `{"type":"temporal","pattern":`+c.pattern+`}`)
		res := Validate(m)
		if c.err == nil {
			if !res.Valid {
				t.Errorf("%s: want valid, got %+v", c.pattern, res.Errors)
			}
			continue
		}
		if !hasIssue(res.Errors, c.err.path, c.err.msg, "error") {
			t.Errorf("%s: missing %s: %q; got %+v", c.pattern, c.err.path, c.err.msg, res.Errors)
		}
	}
}

func TestValidateReportsAllIssues(t *testing.T) {
	t.Parallel()
	res := Validate(obj(t, `{"id":1,"name":"","priority":"x","tags":[1,2],
		"trigger":{"type":"event"},
		"conditions":[{"source":{"type":"event"},"operator":"eq"}],
		"actions":[{"type":"set_fact"},{"type":"log","level":"x","message":"m"}]}`))
	paths := []string{}
	for _, i := range res.Errors {
		paths = append(paths, i.Path)
	}
	want := "id name priority tags[0] tags[1] trigger.topic conditions[0].source.field conditions[0].value actions[0].key actions[0].value actions[1].level"
	if strings.Join(paths, " ") != want {
		t.Fatalf("paths:\n got %s\nwant %s", strings.Join(paths, " "), want)
	}
}

func hasIssue(list []Issue, path, msg, sev string) bool {
	for _, i := range list {
		if i.Path == path && i.Message == msg && i.Severity == sev {
			return true
		}
	}
	return false
}
