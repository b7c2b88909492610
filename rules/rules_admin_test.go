package rules

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestRegisterRuleResultAndDefaults(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	r := te.register(`{"id":"big-order","name":"Big order alert","trigger":{"type":"event","topic":"order.created"}}`)
	if r.Version != 1 || r.CreatedAt != te.clock.Now().UnixMilli() || r.UpdatedAt != r.CreatedAt {
		t.Fatalf("version/timestamps: %+v", r)
	}
	if r.Priority != 0 || !r.Enabled || len(r.Tags) != 0 || r.Tags == nil {
		t.Fatalf("defaults not applied: %+v", r)
	}
	def := r.Definition()
	for k, want := range map[string]string{"priority": "0", "enabled": "true", "tags": "[]", "conditions": "[]", "actions": "[]"} {
		if got := jsonString(def[k]); got != want {
			t.Errorf("default %s = %s, want %s", k, got, want)
		}
	}
	b, _ := json.Marshal(r)
	var full map[string]any
	_ = json.Unmarshal(b, &full)
	for _, k := range []string{"id", "name", "priority", "enabled", "tags", "trigger", "conditions", "actions", "version", "createdAt", "updatedAt"} {
		if _, ok := full[k]; !ok {
			t.Errorf("full rule JSON lacks %q: %s", k, b)
		}
	}
	sb, _ := json.Marshal(r.Summary())
	if string(sb) != `{"id":"big-order","name":"Big order alert","enabled":true,"priority":0,"version":1,"tags":[]}` {
		t.Fatalf("summary = %s", sb)
	}
}

func TestRegisterRuleErrors(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	te.register(rule("r1", eventTrigger("a"), "", ""))
	_, err := te.RegisterRule(context.Background(), obj(t, rule("r1", eventTrigger("b"), "", "")))
	var exists *AlreadyExistsError
	if !errors.As(err, &exists) || err.Error() != `Rule "r1" already exists` {
		t.Fatalf("duplicate: %v", err)
	}
	_, err = te.RegisterRule(context.Background(), obj(t, `{"id":"r2","name":"x"}`))
	var verr *ValidationError
	if !errors.As(err, &verr) || verr.Message != "Rule validation failed" || len(verr.Issues) != 1 ||
		verr.Issues[0] != (Issue{Path: "trigger", Message: `Required field "trigger" is missing`, Severity: "error"}) {
		t.Fatalf("invalid: %#v", err)
	}
	_, err = te.RegisterRule(context.Background(), obj(t, `{"id":"r3","name":"x","group":"nope","trigger":{"type":"event","topic":"a"}}`))
	if !errors.As(err, &verr) || verr.Message != `Rule references non-existent group: "nope"` || verr.Issues[0].Path != "group" {
		t.Fatalf("group: %#v", err)
	}
	if len(te.GetRules()) != 1 {
		t.Fatal("failed registrations must not register anything")
	}
	// The duplicate did not disturb the original trigger (RULES.md §12.1 quirk).
	rec := &recorder{}
	te.Subscribe("hit", rec.add)
	te.register(rule("r4", eventTrigger("b"), "", `[{"type":"emit_event","topic":"hit","data":{}}]`))
	te.emit("b", "")
	if rec.len() != 1 {
		t.Fatalf("want 1 hit, got %d", rec.len())
	}
}

func TestVersionsAreEngineWide(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	a := te.register(rule("a", eventTrigger("x"), "", ""))
	b := te.register(rule("b", eventTrigger("x"), "", ""))
	te.clock.Advance(time.Second)
	u, err := te.UpdateRule(context.Background(), "a", obj(t, `{"priority":5}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != 1 || b.Version != 2 || u.Version != 3 {
		t.Fatalf("versions %d %d %d", a.Version, b.Version, u.Version)
	}
	if u.CreatedAt != a.CreatedAt || u.UpdatedAt != a.CreatedAt+1000 {
		t.Fatalf("update must keep createdAt and bump updatedAt: %+v vs %+v", u, a)
	}
	if u.Priority != 5 || u.Name != "a" {
		t.Fatalf("merge: %+v", u)
	}
	// Registration order: an update moves the rule to the end.
	var ids []string
	for _, r := range te.GetRules() {
		ids = append(ids, r.ID)
	}
	if !reflect.DeepEqual(ids, []string{"b", "a"}) {
		t.Fatalf("order %v", ids)
	}
	c := te.register(rule("c", eventTrigger("x"), "", ""))
	if c.Version != 4 {
		t.Fatalf("next version %d", c.Version)
	}
}

func TestUpdateRule(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	rec := &recorder{}
	te.Subscribe("out.*", rec.add)
	te.register(rule("r", eventTrigger("old"), "", `[{"type":"emit_event","topic":"out.old","data":{}}]`))
	// The trigger is replaced wholesale; id cannot change.
	u, err := te.UpdateRule(context.Background(), "r", obj(t, `{"id":"other","trigger":{"type":"event","topic":"new"},
		"actions":[{"type":"emit_event","topic":"out.new","data":{}}]}`))
	if err != nil || u.ID != "r" {
		t.Fatalf("update: %v %+v", err, u)
	}
	te.emit("old", "")
	te.emit("new", "")
	if got := rec.topics(); !reflect.DeepEqual(got, []string{"out.new"}) {
		t.Fatalf("after update the old trigger must not fire: %v", got)
	}
	// Unknown id: not found with the single-quoted message.
	_, err = te.UpdateRule(context.Background(), "zz", obj(t, `{}`))
	var nf *NotFoundError
	if !errors.As(err, &nf) || err.Error() != "Rule 'zz' not found" {
		t.Fatalf("unknown: %v", err)
	}
	// Invalid result: validation error, rule unchanged.
	before, _ := te.GetRule("r")
	_, err = te.UpdateRule(context.Background(), "r", obj(t, `{"trigger":{"type":"event"}}`))
	var verr *ValidationError
	if !errors.As(err, &verr) || verr.Issues[0].Path != "trigger.topic" {
		t.Fatalf("invalid update: %v", err)
	}
	if after, _ := te.GetRule("r"); after != before {
		t.Fatal("a failed update must leave the rule alone")
	}
	// Meta keys in updates are ignored.
	u, _ = te.UpdateRule(context.Background(), "r", obj(t, `{"version":99,"createdAt":1}`))
	if u.Version == 99 || u.CreatedAt == 1 {
		t.Fatalf("meta keys leaked: %+v", u)
	}
}

func TestEnableDisableUnregister(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	rec := &recorder{}
	te.Subscribe("hit", rec.add)
	r := te.register(rule("r", eventTrigger("go"), "", `[{"type":"emit_event","topic":"hit","data":{}}]`))
	te.clock.Advance(time.Second)
	d, err := te.DisableRule(context.Background(), "r")
	if err != nil || d.Enabled || d.Version != r.Version || d.UpdatedAt == r.UpdatedAt {
		t.Fatalf("disable: %v %+v", err, d)
	}
	if _, err := te.DisableRule(context.Background(), "r"); err != nil {
		t.Fatal("disabling a disabled rule succeeds")
	}
	te.emit("go", "")
	if rec.len() != 0 {
		t.Fatal("a disabled rule must not fire")
	}
	if g, _ := te.GetRule("r"); g.Enabled || g.Definition()["enabled"] != false {
		t.Fatal("GetRule must show the rule disabled")
	}
	if _, err := te.EnableRule(context.Background(), "r"); err != nil {
		t.Fatal(err)
	}
	te.emit("go", "")
	if rec.len() != 1 {
		t.Fatal("an enabled rule fires")
	}
	// Update keeps the enabled state of the stored rule.
	_, _ = te.DisableRule(context.Background(), "r")
	u, _ := te.UpdateRule(context.Background(), "r", obj(t, `{"priority":1}`))
	if u.Enabled {
		t.Fatal("update must keep enabled=false")
	}
	if err := te.UnregisterRule(context.Background(), "r"); err != nil {
		t.Fatal(err)
	}
	var nf *NotFoundError
	for _, f := range []func() error{
		func() error { return te.UnregisterRule(context.Background(), "r") },
		func() error { _, err := te.EnableRule(context.Background(), "r"); return err },
		func() error { _, err := te.DisableRule(context.Background(), "r"); return err },
	} {
		if err := f(); !errors.As(err, &nf) || err.Error() != `Rule "r" not found` {
			t.Fatalf("unknown id: %v", err)
		}
	}
	if _, ok := te.GetRule("r"); ok || len(te.GetRules()) != 0 {
		t.Fatal("rule still there")
	}
}

func TestPriorityOrder(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	for _, r := range []struct {
		id, topic string
		prio      int
	}{{"low", "a.b", 1}, {"wild-high", "a.*", 10}, {"exact-mid", "a.b", 5}, {"wild-mid", "*.b", 5}, {"exact-mid2", "a.b", 5}} {
		te.register(`{"id":"` + r.id + `","name":"n","priority":` + jsonString(r.prio) + `,"trigger":{"type":"event","topic":"` + r.topic + `"},
			"actions":[{"type":"emit_event","topic":"ran.` + r.id + `","data":{}}]}`)
	}
	rec := &recorder{}
	te.Subscribe("ran.*", rec.add)
	te.emit("a.b", "")
	want := []string{"ran.wild-high", "ran.exact-mid", "ran.exact-mid2", "ran.wild-mid", "ran.low"}
	if got := rec.topics(); !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func TestGroups(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	ctx := context.Background()
	g, err := te.CreateGroup(ctx, GroupInput{ID: "promo"})
	if err != nil || !g.Enabled || g.Name != "promo" {
		t.Fatalf("create: %v %+v", err, g)
	}
	var verr *ValidationError
	if _, err := te.CreateGroup(ctx, GroupInput{ID: "promo"}); !errors.As(err, &verr) {
		t.Fatalf("duplicate group: %v", err)
	}
	rec := &recorder{}
	te.Subscribe("hit", rec.add)
	te.register(`{"id":"r","name":"r","group":"promo","trigger":{"type":"event","topic":"go"},"actions":[{"type":"emit_event","topic":"hit","data":{}}]}`)
	if _, err := te.DisableGroup(ctx, "promo"); err != nil {
		t.Fatal(err)
	}
	te.emit("go", "")
	if rec.len() != 0 {
		t.Fatal("a rule of a disabled group must not fire")
	}
	if _, err := te.EnableGroup(ctx, "promo"); err != nil {
		t.Fatal(err)
	}
	te.emit("go", "")
	if rec.len() != 1 || len(te.GroupRules("promo")) != 1 {
		t.Fatal("enabled group")
	}
	_, _ = te.DisableGroup(ctx, "promo")
	if err := te.DeleteGroup(ctx, "promo"); err != nil {
		t.Fatal(err)
	}
	r, _ := te.GetRule("r")
	if r.Group != "" {
		t.Fatal("rules of a deleted group become ungrouped")
	}
	te.emit("go", "")
	if rec.len() != 2 {
		t.Fatal("ungrouped rule fires")
	}
	var nf *NotFoundError
	if err := te.DeleteGroup(ctx, "promo"); !errors.As(err, &nf) {
		t.Fatalf("unknown group: %v", err)
	}
}

func TestStoppedEngine(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{Name: "eng"})
	ctx := context.Background()
	te.register(rule("r", eventTrigger("a"), "", ""))
	te.setFact("k", 1.0)
	if err := te.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := te.Stop(ctx); err != nil {
		t.Fatal("Stop is idempotent")
	}
	var nr *NotRunningError
	checks := map[string]error{}
	_, checks["emit"] = te.Emit(ctx, "a", nil)
	_, checks["setFact"] = te.SetFact(ctx, "k", 2)
	_, checks["deleteFact"] = te.DeleteFact(ctx, "k")
	_, checks["register"] = te.RegisterRule(ctx, obj(t, rule("x", eventTrigger("a"), "", "")))
	_, checks["update"] = te.UpdateRule(ctx, "r", obj(t, `{}`))
	checks["unregister"] = te.UnregisterRule(ctx, "r")
	_, checks["enable"] = te.EnableRule(ctx, "r")
	_, checks["setTimer"] = te.SetTimer(ctx, TimerConfig{Name: "t", Duration: "1s"})
	for name, err := range checks {
		if !errors.As(err, &nr) || err.Error() != `RuleEngine "eng" is not running` {
			t.Errorf("%s: %v", name, err)
		}
	}
	if v, ok := te.GetFact("k"); !ok || v != 1.0 {
		t.Fatal("reads keep working")
	}
	if len(te.QueryFacts("*")) != 1 || len(te.GetRules()) != 1 || te.Stats().RulesCount != 1 {
		t.Fatal("reads keep working")
	}
	if te.EmitAsync("a", nil) {
		t.Fatal("EmitAsync on a stopped engine must report false")
	}
	if te.Running() {
		t.Fatal("Running")
	}
}

func TestValidateRuleNeverRegisters(t *testing.T) {
	t.Parallel()
	te := newTestEngine(t, Options{})
	res := te.ValidateRule(obj(t, `{"id":"x","name":"x","group":"missing","trigger":{"type":"event","topic":"a"},"actions":[]}`))
	if !res.Valid || len(res.Warnings) != 1 {
		t.Fatalf("validateRule does not check groups: %+v", res)
	}
	if len(te.GetRules()) != 0 {
		t.Fatal("validateRule registered a rule")
	}
}
