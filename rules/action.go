package rules

import (
	"fmt"
	"log/slog"
)

// Actions (RULES.md §9), compiled once per rule and run in order. A
// failing action is logged and counted and the next one runs.

type actionKind uint8

const (
	actSetFact actionKind = iota
	actDeleteFact
	actEmitEvent
	actSetTimer
	actCancelTimer
	actCallService
	actLog
	actConditional
	actForEach
	actTryCatch
)

// actionNames lists the action types in the validator's order.
var actionNames = []string{
	"set_fact", "delete_fact", "emit_event", "set_timer", "cancel_timer",
	"call_service", "log", "conditional", "for_each", "try_catch",
}

var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug, "info": slog.LevelInfo,
	"warn": slog.LevelWarn, "error": slog.LevelError,
}

type action struct {
	kind actionKind
	typ  string

	key     *template   // set_fact, delete_fact
	value   valueExpr   // set_fact
	topic   *template   // emit_event
	data    []dataField // emit_event
	timer   *timerAction
	name    *template // cancel_timer
	service string    // call_service
	method  string
	args    []valueExpr
	level   slog.Level // log
	message *template

	conds     []*condition // conditional
	then, els []*action

	collection valueExpr // for_each
	as         string
	body       []*action
	maxIter    int

	try, catch, finally []*action // try_catch
	hasCatch            bool
	catchAs             string
}

type dataField struct {
	key string
	val valueExpr
}

type timerAction struct {
	name     *template
	duration any
	topic    *template
	data     []dataField
	repeat   bool
	interval any
	maxCount int
}

func compileActions(v any) ([]*action, error) {
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("actions must be an array")
	}
	out := make([]*action, 0, len(list))
	for i, a := range list {
		ca, err := compileAction(a)
		if err != nil {
			return nil, fmt.Errorf("actions[%d]: %w", i, err)
		}
		out = append(out, ca)
	}
	return out, nil
}

func compileData(v any) []dataField {
	m, _ := v.(map[string]any)
	out := make([]dataField, 0, len(m))
	for k, e := range m {
		out = append(out, dataField{key: k, val: compileValue(e)})
	}
	return out
}

func compileAction(v any) (*action, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("action must be an object")
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	a := &action{typ: str("type")}
	var err error
	switch a.typ {
	case "set_fact":
		a.kind, a.key, a.value = actSetFact, compileTemplate(str("key")), compileValue(m["value"])
	case "delete_fact":
		a.kind, a.key = actDeleteFact, compileTemplate(str("key"))
	case "emit_event":
		a.kind, a.topic, a.data = actEmitEvent, compileTemplate(str("topic")), compileData(m["data"])
	case "set_timer":
		a.kind = actSetTimer
		t, _ := m["timer"].(map[string]any)
		name, _ := t["name"].(string)
		on, _ := t["onExpire"].(map[string]any)
		topic, _ := on["topic"].(string)
		a.timer = &timerAction{name: compileTemplate(name), duration: t["duration"],
			topic: compileTemplate(topic), data: compileData(on["data"])}
		if rep, ok := t["repeat"].(map[string]any); ok {
			a.timer.repeat, a.timer.interval = true, rep["interval"]
			if n, ok := toNumber(rep["maxCount"]); ok && n > 0 {
				a.timer.maxCount = int(n)
			}
		}
	case "cancel_timer":
		a.kind, a.name = actCancelTimer, compileTemplate(str("name"))
	case "call_service":
		a.kind, a.service, a.method = actCallService, str("service"), str("method")
		args, _ := m["args"].([]any)
		for _, x := range args {
			a.args = append(a.args, compileValue(x))
		}
	case "log":
		a.kind, a.message = actLog, compileTemplate(str("message"))
		a.level = logLevels[str("level")]
	case "conditional":
		a.kind = actConditional
		if a.conds, err = compileConditions(m["conditions"]); err != nil {
			return nil, err
		}
		if a.then, err = compileActions(m["then"]); err != nil {
			return nil, err
		}
		if a.els, err = compileActions(m["else"]); err != nil {
			return nil, err
		}
	case "for_each":
		a.kind, a.collection, a.as = actForEach, compileValue(m["collection"]), str("as")
		a.maxIter = DefaultMaxIterations
		if n, ok := toNumber(m["maxIterations"]); ok && n >= 0 {
			a.maxIter = int(n)
		}
		if a.body, err = compileActions(m["actions"]); err != nil {
			return nil, err
		}
	case "try_catch":
		a.kind = actTryCatch
		if a.try, err = compileActions(m["try"]); err != nil {
			return nil, err
		}
		if c, ok := m["catch"].(map[string]any); ok {
			a.hasCatch = true
			a.catchAs, _ = c["as"].(string)
			if a.catch, err = compileActions(c["actions"]); err != nil {
				return nil, err
			}
		}
		if a.finally, err = compileActions(m["finally"]); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown action type %q", a.typ)
	}
	return a, nil
}

// runActions runs a list; a failure is reported and the next action runs.
func (x *execCtx) runActions(list []*action) {
	for _, a := range list {
		if err := x.runAction(a); err != nil {
			x.e.actionFailed(x, a, err)
		}
	}
}

func (x *execCtx) runAction(a *action) error {
	switch a.kind {
	case actSetFact:
		key, err := a.key.render(x)
		if err != nil {
			return err
		}
		v, err := a.value.eval(x)
		if err != nil {
			return err
		}
		_, err = x.e.putFact(ruleCtx, key, orNull(v), sourceRule)
		return err
	case actDeleteFact:
		key, err := a.key.render(x)
		if err != nil {
			return err
		}
		_, err = x.e.removeFact(ruleCtx, key)
		return err
	case actEmitEvent:
		topic, err := a.topic.render(x)
		if err != nil {
			return err
		}
		data, err := x.evalData(a.data)
		if err != nil {
			return err
		}
		ev := x.e.newEvent(topic, data, x.correlationID, "", sourceRule)
		x.e.handleEvent(x.ctx, ev, x.depth+1)
		return nil
	case actSetTimer:
		return x.setTimer(a.timer)
	case actCancelTimer:
		name, err := a.name.render(x)
		if err != nil {
			return err
		}
		_, err = x.e.removeTimer(ruleCtx, name)
		return err
	case actCallService:
		args := make([]any, len(a.args))
		for i, ae := range a.args {
			v, err := ae.eval(x)
			if err != nil {
				return err
			}
			args[i] = orNull(v)
		}
		_, err := x.e.callService(x.ctx, x.depth, a.service, a.method, args)
		return err
	case actLog:
		msg, err := a.message.render(x)
		if err != nil {
			return err
		}
		x.e.log.Log(x.ctx, a.level, msg, "rule", x.rule.id)
		return nil
	case actConditional:
		ok, err := x.evalConditions(a.conds)
		if err != nil {
			return err
		}
		if ok {
			x.runActions(a.then)
		} else {
			x.runActions(a.els)
		}
		return nil
	case actForEach:
		return x.forEach(a)
	case actTryCatch:
		x.tryCatch(a)
		return nil
	}
	return fmt.Errorf("unknown action type %q", a.typ)
}

// evalData resolves the top-level values of emit_event.data and
// onExpire.data; a value that resolves to absent is left out, as
// JSON.stringify would.
func (x *execCtx) evalData(fields []dataField) (map[string]any, error) {
	data := make(map[string]any, len(fields))
	for _, f := range fields {
		v, err := f.val.eval(x)
		if err != nil {
			return nil, err
		}
		if !isAbsent(v) {
			data[f.key] = v
		}
	}
	return data, nil
}

func (x *execCtx) setTimer(t *timerAction) error {
	name, err := t.name.render(x)
	if err != nil {
		return err
	}
	topic, err := t.topic.render(x)
	if err != nil {
		return err
	}
	data, err := x.evalData(t.data)
	if err != nil {
		return err
	}
	d, err := ParseDuration(t.duration)
	if err != nil {
		return err
	}
	spec := timerSpec{name: name, delay: d, topic: topic, data: data, correlationID: x.correlationID}
	if t.repeat {
		iv, err := ParseDuration(t.interval)
		if err != nil {
			return err
		}
		spec.repeat, spec.interval, spec.maxCount = true, iv, t.maxCount
	}
	_, err = x.e.armTimer(ruleCtx, spec)
	return err
}

func (x *execCtx) forEach(a *action) error {
	v, err := a.collection.eval(x)
	if err != nil {
		return err
	}
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("for_each collection must be an array, got %s", jsTypeOf(v))
	}
	n := min(len(list), a.maxIter)
	idx := a.as + "_index"
	for i := 0; i < n; i++ {
		x.setVar(a.as, list[i])
		x.setVar(idx, float64(i))
		x.runActions(a.body)
	}
	delete(x.vars, a.as)
	delete(x.vars, idx)
	return nil
}

// tryCatch runs try until its first failure, then catch with the error
// as {"message": ...}, then finally; it never fails itself.
func (x *execCtx) tryCatch(a *action) {
	var failed error
	for _, t := range a.try {
		if err := x.runAction(t); err != nil {
			failed = err
			break
		}
	}
	if failed != nil {
		x.e.log.Debug("rules: try_catch caught an action failure", "rule", x.rule.id, "error", failed.Error())
		if a.hasCatch {
			if a.catchAs != "" {
				x.setVar(a.catchAs, map[string]any{"message": failed.Error()})
			}
			x.runActions(a.catch)
			if a.catchAs != "" {
				delete(x.vars, a.catchAs)
			}
		}
	}
	x.runActions(a.finally)
}

func (x *execCtx) setVar(name string, v any) {
	if x.vars == nil {
		x.vars = make(map[string]any)
	}
	x.vars[name] = v
}

// jsTypeOf names a value's JavaScript type for messages.
func jsTypeOf(v any) string {
	switch v.(type) {
	case absentT:
		return "undefined"
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	if isNumber(v) {
		return "number"
	}
	return "object"
}
