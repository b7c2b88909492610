package client

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

type item struct {
	ID    string  `json:"id,omitempty"`
	Name  string  `json:"name"`
	Qty   float64 `json:"qty"`
	Color string  `json:"color,omitempty"`
	Meta
}

func defineItems(t *testing.T, c *Client) *TypedBucket[item] {
	t.Helper()
	check(t, c.Store().DefineBucket(testCtx(t), "items", BucketConfig{
		Key: "id",
		Schema: map[string]FieldDef{
			"id":    {Type: "string", Generated: "uuid"},
			"name":  {Type: "string", Required: true},
			"qty":   {Type: "number", Default: 0},
			"color": {Type: "string"},
		},
		Indexes: []string{"name"},
	}))
	return BucketOf[item](c, "items")
}

func TestBucketOperations(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := dial(t, ts.url, nil)
	ctx := testCtx(t)
	items := defineItems(t, c)
	if items.Name() != "items" {
		t.Fatal(items.Name())
	}

	a := must[item](t)(items.Insert(ctx, item{Name: "a", Qty: 1, Color: "red"}))
	if a.ID == "" || a.Version != 1 || a.CreatedAt == 0 || a.Name != "a" {
		t.Fatalf("inserted %+v", a)
	}
	b := must[item](t)(items.Insert(ctx, map[string]any{"name": "b", "qty": 5}))
	must[item](t)(items.Insert(ctx, map[string]any{"name": "c", "qty": 3, "color": "red"}))

	got, ok, err := items.Get(ctx, a.ID)
	if err != nil || !ok || got.Name != "a" {
		t.Fatalf("Get = %+v %v %v", got, ok, err)
	}
	if _, ok, err := items.Get(ctx, "missing"); ok || err != nil {
		t.Fatalf("Get missing = %v %v", ok, err)
	}
	upd := must[item](t)(items.Update(ctx, a.ID, map[string]any{"qty": 2}))
	if upd.Qty != 2 || upd.Version != 2 {
		t.Fatalf("Update = %+v", upd)
	}
	_, err = items.Update(ctx, "missing", map[string]any{"qty": 2})
	wantCode(t, err, CodeNotFound)

	all := must[[]item](t)(items.All(ctx))
	if names(all) != "abc" {
		t.Fatalf("All = %v", names(all))
	}
	red := must[[]item](t)(items.Where(ctx, Filter{"color": "red"}))
	if names(red) != "ac" {
		t.Fatalf("Where = %v", names(red))
	}
	big := must[[]item](t)(items.Where(ctx, Filter{"qty": map[string]any{"$gte": 3}}))
	if names(big) != "bc" {
		t.Fatalf("Where $gte = %v", names(big))
	}
	if everything := must[[]item](t)(items.Where(ctx, nil)); len(everything) != 3 {
		t.Fatalf("Where(nil) = %d records", len(everything))
	}
	one, ok, err := items.FindOne(ctx, Filter{"name": "b"})
	if err != nil || !ok || one.ID != b.ID {
		t.Fatalf("FindOne = %+v %v %v", one, ok, err)
	}
	if _, ok, err := items.FindOne(ctx, Filter{"name": "zz"}); ok || err != nil {
		t.Fatalf("FindOne none = %v %v", ok, err)
	}
	if n := must[int](t)(items.Count(ctx, nil)); n != 3 {
		t.Fatalf("Count = %d", n)
	}
	if n := must[int](t)(items.Count(ctx, Filter{"color": "red"})); n != 2 {
		t.Fatalf("Count red = %d", n)
	}
	if f := must[[]item](t)(items.First(ctx, 2)); names(f) != "ab" {
		t.Fatalf("First = %v", names(f))
	}
	if l := must[[]item](t)(items.Last(ctx, 2)); names(l) != "bc" {
		t.Fatalf("Last = %v", names(l))
	}

	// Paginate through everything with the cursor.
	var seen []item
	var after any
	for range 5 {
		p := must[Page[item]](t)(items.Paginate(ctx, 2, after))
		seen = append(seen, p.Records...)
		if !p.HasMore {
			break
		}
		after = p.NextCursor
	}
	if names(seen) != "abc" {
		t.Fatalf("pages = %v", names(seen))
	}

	if s := must[float64](t)(items.Sum(ctx, "qty", nil)); s != 10 {
		t.Fatalf("Sum = %v", s)
	}
	if s := must[float64](t)(items.Sum(ctx, "qty", Filter{"color": "red"})); s != 5 {
		t.Fatalf("Sum red = %v", s)
	}
	if avg := must[float64](t)(items.Avg(ctx, "qty", nil)); avg < 3.33 || avg > 3.34 {
		t.Fatalf("Avg = %v", avg)
	}
	if v, ok, err := items.Min(ctx, "qty", nil); v != 2 || !ok || err != nil {
		t.Fatalf("Min = %v %v %v", v, ok, err)
	}
	if v, ok, err := items.Max(ctx, "qty", nil); v != 5 || !ok || err != nil {
		t.Fatalf("Max = %v %v %v", v, ok, err)
	}
	if _, ok, err := items.Max(ctx, "color", nil); ok || err != nil {
		t.Fatalf("Max of no numbers = %v %v", ok, err)
	}

	check(t, items.Delete(ctx, b.ID))
	check(t, items.Delete(ctx, b.ID)) // deleting again is fine
	if n := must[int](t)(items.Count(ctx, nil)); n != 2 {
		t.Fatalf("Count after delete = %d", n)
	}

	// The raw handle sees the same records as JSON.
	raw := c.Store().Bucket("items")
	rec, ok, err := raw.Get(ctx, a.ID)
	if err != nil || !ok || !json.Valid(rec) {
		t.Fatalf("raw Get = %s %v %v", rec, ok, err)
	}
	var m map[string]any
	check(t, json.Unmarshal(rec, &m))
	if m["name"] != "a" || m["_version"] != float64(2) {
		t.Fatalf("raw record %v", m)
	}
	if typed := Typed[item](raw); typed.Name() != "items" {
		t.Fatal("Typed")
	}

	check(t, items.Clear(ctx))
	if n := must[int](t)(items.Count(ctx, nil)); n != 0 {
		t.Fatalf("Count after Clear = %d", n)
	}
	_, err = BucketOf[item](c, "nope").All(ctx)
	wantCode(t, err, CodeBucketNotDefined)
}

func names(items []item) string {
	s := ""
	for _, it := range items {
		s += it.Name
	}
	return s
}

func TestBucketAdministration(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := dial(t, ts.url, nil)
	ctx := testCtx(t)
	st := c.Store()
	defineItems(t, c)
	err := st.DefineBucket(ctx, "items", BucketConfig{Key: "id", Schema: map[string]FieldDef{"id": {Type: "string"}}})
	wantCode(t, err, CodeAlreadyExists)

	if b := must[[]string](t)(st.Buckets(ctx)); !slices.Equal(b, []string{"items"}) {
		t.Fatalf("Buckets = %v", b)
	}
	schema := must[BucketConfig](t)(st.BucketSchema(ctx, "items"))
	if schema.Key != "id" || schema.Schema["name"].Required != true || !slices.Equal(schema.Indexes, []string{"name"}) {
		t.Fatalf("schema %+v", schema)
	}
	check(t, st.UpdateBucket(ctx, "items", BucketUpdate{
		AddFields:  map[string]FieldDef{"note": {Type: "string", MaxLength: new(20)}},
		AddIndexes: []string{"color"},
		TTL:        "1h",
	}))
	schema = must[BucketConfig](t)(st.BucketSchema(ctx, "items"))
	if schema.Schema["note"].Type != "string" || *schema.Schema["note"].MaxLength != 20 || schema.TTL == nil ||
		!slices.Contains(schema.Indexes, "color") {
		t.Fatalf("updated schema %+v", schema)
	}
	check(t, st.UpdateBucket(ctx, "items", BucketUpdate{RemoveTTL: true}))
	if schema = must[BucketConfig](t)(st.BucketSchema(ctx, "items")); schema.TTL != nil {
		t.Fatalf("TTL kept: %v", schema.TTL)
	}

	must[item](t)(BucketOf[item](c, "items").Insert(ctx, map[string]any{"name": "x"}))
	stats := must[StoreStats](t)(st.Stats(ctx))
	if stats.Name != "t" || stats.Buckets.Count != 1 || stats.Records.Total != 1 || stats.Records.PerBucket["items"] != 1 ||
		stats.Indexes.PerBucket["items"] != 2 {
		t.Fatalf("stats %+v", stats)
	}

	check(t, st.DropBucket(ctx, "items"))
	wantCode(t, st.DropBucket(ctx, "items"), CodeBucketNotDefined)
	_, err = st.BucketSchema(ctx, "items")
	wantCode(t, err, CodeBucketNotDefined)
	if b := must[[]string](t)(st.Buckets(ctx)); len(b) != 0 {
		t.Fatalf("Buckets after drop = %v", b)
	}
}

func TestQueriesAndSubscriptions(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := dial(t, ts.url, nil)
	ctx := testCtx(t)
	items := defineItems(t, c)
	st := c.Store()
	check(t, st.DefineQuery(ctx, "by-color", QueryConfig{
		Bucket: "items",
		Filter: Filter{"color": "{{ params.color }}"},
		Sort:   Sort{{Field: "qty", Desc: true}, {Field: "name"}},
		Fields: []string{"name", "qty"},
	}))
	check(t, st.DefineQuery(ctx, "count", QueryConfig{Bucket: "items", Aggregate: &Aggregate{Function: "count"}}))
	wantCode(t, st.DefineQuery(ctx, "count", QueryConfig{Bucket: "items"}), CodeAlreadyExists)
	qs := must[[]QueryInfo](t)(st.ListQueries(ctx))
	if len(qs) != 2 || qs[0].Name != "by-color" || qs[0].Type != "declarative" {
		t.Fatalf("ListQueries %+v", qs)
	}
	var back QueryConfig
	check(t, json.Unmarshal(qs[0].Config, &back))
	if len(back.Sort) != 2 || back.Sort[0] != (SortKey{Field: "qty", Desc: true}) || back.Sort[1].Field != "name" {
		t.Fatalf("sort round trip %+v from %s", back.Sort, qs[0].Config)
	}

	// Channel delivery: initial, then a complete new result per change.
	red := must[*Subscription](t)(st.Subscribe(ctx, "by-color", map[string]any{"color": "red"}))
	if red.Query() != "by-color" || red.ID() == "" {
		t.Fatalf("subscription %q %q", red.Query(), red.ID())
	}
	if u := next(t, red); u.Kind != UpdateInitial || string(u.Data) != "[]" {
		t.Fatalf("initial %+v", u)
	}
	// Typed handler delivery.
	counts := make(chan int, 16)
	cnt := must[*Subscription](t)(st.Subscribe(ctx, "count", nil, OnResult(func(n int) { counts <- n })))
	if cnt.Updates() != nil {
		t.Fatal("handler subscription has a channel")
	}
	waitCount := func(want int) {
		t.Helper()
		for {
			select {
			case n := <-counts:
				if n == want {
					return
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("count never reached %d", want)
			}
		}
	}
	waitCount(0)

	must[item](t)(items.Insert(ctx, map[string]any{"name": "a", "qty": 1, "color": "red"}))
	u := next(t, red)
	var rows []map[string]any
	check(t, u.Decode(&rows))
	if u.Kind != UpdateChange || len(rows) != 1 || rows[0]["name"] != "a" || rows[0]["id"] != nil {
		t.Fatalf("change %+v", u)
	}
	waitCount(1)
	must[item](t)(items.Insert(ctx, map[string]any{"name": "b", "qty": 9, "color": "red"}))
	must[item](t)(items.Insert(ctx, map[string]any{"name": "c", "qty": 9, "color": "blue"}))
	waitCount(3)
	// Keep reading until the red result has both records, highest qty first.
	for {
		u = next(t, red)
		check(t, u.Decode(&rows))
		if len(rows) == 2 {
			break
		}
	}
	if rows[0]["name"] != "b" || rows[1]["name"] != "a" {
		t.Fatalf("sorted result %v", rows)
	}

	// Unsubscribe: the channel closes, nothing more arrives.
	check(t, red.Unsubscribe(ctx))
	check(t, red.Unsubscribe(ctx))
	if _, ok := <-red.Updates(); ok {
		t.Fatal("update after Unsubscribe")
	}
	<-red.Done()
	if red.Err() != nil {
		t.Fatalf("Err after Unsubscribe = %v", red.Err())
	}

	// Undefining the query ends its subscriptions with the server's error.
	ended := make(chan Update, 1)
	viaUpdate := must[*Subscription](t)(st.Subscribe(ctx, "count", nil, OnUpdate(func(u Update) {
		if u.Kind == UpdateEnded {
			ended <- u
		}
	})))
	check(t, st.UndefineQuery(ctx, "count"))
	select {
	case u := <-ended:
		if !IsCode(u.Err, CodeQueryNotDefined) {
			t.Fatalf("ended with %v", u.Err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no UpdateEnded after undefineQuery")
	}
	<-cnt.Done()
	<-viaUpdate.Done()
	if !IsCode(cnt.Err(), CodeQueryNotDefined) {
		t.Fatalf("cnt.Err = %v", cnt.Err())
	}
	wantCode(t, st.UndefineQuery(ctx, "count"), CodeQueryNotDefined)
	_, err := st.Subscribe(ctx, "count", nil)
	wantCode(t, err, CodeQueryNotDefined)
}

func TestSortJSON(t *testing.T) {
	s := Sort{{Field: "b", Desc: true}, {Field: "a"}}
	p, err := json.Marshal(QueryConfig{Bucket: "x", Sort: s, Limit: new(0)})
	if err != nil || string(p) != `{"bucket":"x","sort":{"b":"desc","a":"asc"},"limit":0}` {
		t.Fatalf("%s %v", p, err)
	}
	var back Sort
	if err := json.Unmarshal([]byte(`{"z":"desc","y":"up","x":"asc"}`), &back); err != nil ||
		!slices.Equal(back, Sort{{"z", true}, {"y", false}, {"x", false}}) {
		t.Fatalf("%v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`[1]`), &back); err == nil {
		t.Fatal("array accepted as sort")
	}
}

func TestTransaction(t *testing.T) {
	t.Parallel()
	ts := startServer(t, nil)
	c := dial(t, ts.url, nil)
	ctx := testCtx(t)
	st := c.Store()
	check(t, st.DefineBucket(ctx, "accounts", BucketConfig{Key: "id", Schema: map[string]FieldDef{
		"id": {Type: "string"}, "credits": {Type: "number"}}}))
	check(t, st.DefineBucket(ctx, "ledger", BucketConfig{Key: "id", Schema: map[string]FieldDef{
		"id": {Type: "string", Generated: "uuid"}, "account": {Type: "string"}, "delta": {Type: "number"}}}))
	must[json.RawMessage](t)(st.Bucket("accounts").Insert(ctx, map[string]any{"id": "acc-1", "credits": 300}))

	tx := st.Tx().
		Get("accounts", "acc-1").
		Update("accounts", "acc-1", map[string]any{"credits": 400}).
		Insert("ledger", map[string]any{"account": "acc-1", "delta": 100}).
		Count("ledger", Filter{"account": "acc-1"}).
		Count("ledger", nil).
		Where("ledger", nil).
		FindOne("ledger", Filter{"delta": 100}).
		Delete("accounts", "nobody")
	if tx.Len() != 8 {
		t.Fatal(tx.Len())
	}
	res := must[TxResults](t)(tx.Commit(ctx))
	var before, after struct{ Credits int }
	var n int
	check(t, res.Decode(0, &before))
	check(t, res.Decode(1, &after))
	check(t, res.Decode(3, &n))
	if before.Credits != 300 || after.Credits != 400 || n != 1 || len(res) != 8 {
		t.Fatalf("results %s", res)
	}
	if err := res.Decode(8, &n); err == nil {
		t.Fatal("result 8 exists")
	}

	// A failing operation: nothing is written.
	_, err := st.Tx().
		Insert("ledger", map[string]any{"account": "acc-1", "delta": 1}).
		Update("accounts", "nobody", map[string]any{"credits": 1}).
		Commit(ctx)
	wantCode(t, err, CodeNotFound)
	if n := must[int](t)(st.Bucket("ledger").Count(ctx, nil)); n != 1 {
		t.Fatalf("ledger has %d records after a failed transaction", n)
	}
	_, err = st.Tx().Commit(ctx)
	wantCode(t, err, CodeValidation)
	_, err = st.Tx().Get("nope", "k").Commit(ctx)
	if !IsCode(err, CodeBucketNotDefined) && !IsCode(err, CodeInternal) {
		t.Fatalf("unknown bucket in a transaction: %v", err)
	}
}
