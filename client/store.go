package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
)

// Filter is a store filter (PROTOCOL.md §2.1, STORE.md): field → value
// for equality, or field → {"$gt": …} operator object, plus "$or"/"$and"
// with lists of filters.
type Filter map[string]any

// Meta is the metadata the store keeps on every record; embed it in record
// types to read it. Zero fields are not sent.
type Meta struct {
	Version   int64 `json:"_version,omitempty"`
	CreatedAt int64 `json:"_createdAt,omitempty"`
	UpdatedAt int64 `json:"_updatedAt,omitempty"`
	ExpiresAt int64 `json:"_expiresAt,omitempty"`
}

// Store holds the store.* operations that are not about one bucket's
// records (PROTOCOL.md §2.15–§4).
type Store struct{ c *Client }

// Store returns the store.* operations.
func (c *Client) Store() Store { return Store{c} }

// Bucket returns a handle on a bucket's records, as raw JSON.
func (s Store) Bucket(name string) *Bucket { return BucketOf[json.RawMessage](s.c, name) }

// BucketConfig is a bucket definition (PROTOCOL.md §4.1, STORE.md).
type BucketConfig struct {
	Key     string              `json:"key"`
	Schema  map[string]FieldDef `json:"schema"`
	Indexes []string            `json:"indexes,omitempty"`
	// EtsType is "set", "ordered_set", "bag" or "duplicate_bag".
	EtsType    string `json:"etsType,omitempty"`
	Persistent *bool  `json:"persistent,omitempty"`
	// TTL is a number of milliseconds or a string like "30s", "7d".
	TTL     any `json:"ttl,omitempty"`
	MaxSize int `json:"maxSize,omitempty"`
}

// FieldDef is a schema field definition (PROTOCOL.md §4.1).
type FieldDef struct {
	// Type is "string", "number", "boolean", "object", "array" or "date".
	Type     string `json:"type,omitempty"`
	Required bool   `json:"required,omitempty"`
	Default  any    `json:"default,omitempty"`
	// Generated is "uuid", "cuid", "autoincrement" or "timestamp".
	Generated string   `json:"generated,omitempty"`
	Enum      []any    `json:"enum,omitempty"`
	Format    string   `json:"format,omitempty"`
	Min       *float64 `json:"min,omitempty"`
	Max       *float64 `json:"max,omitempty"`
	MinLength *int     `json:"minLength,omitempty"`
	MaxLength *int     `json:"maxLength,omitempty"`
	Pattern   string   `json:"pattern,omitempty"`
	Unique    bool     `json:"unique,omitempty"`
	Ref       string   `json:"ref,omitempty"`
	// OnDelete is "restrict", "cascade" or "set_null".
	OnDelete   string              `json:"onDelete,omitempty"`
	Properties map[string]FieldDef `json:"properties,omitempty"`
	Items      *FieldDef           `json:"items,omitempty"`
}

// BucketUpdate is the updates object of store.updateBucket (§4.4).
type BucketUpdate struct {
	AddFields  map[string]FieldDef
	AddIndexes []string
	// TTL sets a new TTL (milliseconds or a string like "1h"); nil keeps
	// the current one.
	TTL any
	// RemoveTTL removes the TTL.
	RemoveTTL bool
}

// MarshalJSON writes only the changes asked for.
func (u BucketUpdate) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if u.AddFields != nil {
		m["addFields"] = u.AddFields
	}
	if u.AddIndexes != nil {
		m["addIndexes"] = u.AddIndexes
	}
	switch {
	case u.RemoveTTL:
		m["ttl"] = nil
	case u.TTL != nil:
		m["ttl"] = u.TTL
	}
	return json.Marshal(m)
}

// DefineBucket creates a bucket. config is a BucketConfig or any value
// that encodes to a definition object.
func (s Store) DefineBucket(ctx context.Context, name string, config any) error {
	return s.c.call(ctx, "store.defineBucket", map[string]any{"name": name, "config": config}, nil)
}

// UpdateBucket adds fields and indexes or changes the TTL of a bucket.
// updates is a BucketUpdate or any value that encodes to an updates object.
func (s Store) UpdateBucket(ctx context.Context, name string, updates any) error {
	return s.c.call(ctx, "store.updateBucket", map[string]any{"name": name, "updates": updates}, nil)
}

// DropBucket removes a bucket and its records.
func (s Store) DropBucket(ctx context.Context, name string) error {
	return s.c.call(ctx, "store.dropBucket", map[string]any{"name": name}, nil)
}

// BucketSchema returns a bucket's definition as last defined and updated.
func (s Store) BucketSchema(ctx context.Context, name string) (BucketConfig, error) {
	var out struct {
		Config BucketConfig `json:"config"`
	}
	err := s.c.call(ctx, "store.getBucketSchema", map[string]any{"name": name}, &out)
	return out.Config, err
}

// Buckets returns the bucket names in definition order.
func (s Store) Buckets(ctx context.Context) ([]string, error) {
	var out struct {
		Names []string `json:"names"`
	}
	err := s.c.call(ctx, "store.buckets", nil, &out)
	return out.Names, err
}

// StoreStats is the store statistics object (PROTOCOL.md §2.16).
type StoreStats struct {
	Name    string       `json:"name"`
	Buckets BucketList   `json:"buckets"`
	Records BucketCounts `json:"records"`
	Indexes BucketCounts `json:"indexes"`
	Queries struct {
		Defined             int `json:"defined"`
		ActiveSubscriptions int `json:"activeSubscriptions"`
	} `json:"queries"`
	Persistence struct {
		Enabled bool `json:"enabled"`
	} `json:"persistence"`
	TTL struct {
		Enabled         bool  `json:"enabled"`
		CheckIntervalMs int64 `json:"checkIntervalMs"`
	} `json:"ttl"`
}

// BucketList is a list of bucket names with its length.
type BucketList struct {
	Count int      `json:"count"`
	Names []string `json:"names"`
}

// BucketCounts is a total and its split per bucket.
type BucketCounts struct {
	Total     int            `json:"total"`
	PerBucket map[string]int `json:"perBucket"`
}

// Stats returns the store statistics.
func (s Store) Stats(ctx context.Context) (StoreStats, error) {
	var out StoreStats
	err := s.c.call(ctx, "store.stats", nil, &out)
	return out, err
}

// QueryConfig is a declarative query (PROTOCOL.md §4.6.2). Filter values
// may be "{{ params.<name> }}" placeholders, filled from the subscriber's
// params.
type QueryConfig struct {
	Bucket    string     `json:"bucket"`
	Filter    Filter     `json:"filter,omitempty"`
	Sort      Sort       `json:"sort,omitempty"`
	Offset    int        `json:"offset,omitempty"`
	Limit     *int       `json:"limit,omitempty"`
	Fields    []string   `json:"fields,omitempty"`
	Aggregate *Aggregate `json:"aggregate,omitempty"`
}

// Aggregate makes a query return a number (or groups) instead of records.
type Aggregate struct {
	// Function is "count", "sum", "avg", "min" or "max".
	Function string `json:"function"`
	// Field is required except for "count".
	Field string `json:"field,omitempty"`
	// GroupBy is a field name or a list of them.
	GroupBy any `json:"groupBy,omitempty"`
}

// Sort is an ordered list of sort keys; it encodes as the JSON object the
// protocol expects, keys in order (the first is primary).
type Sort []SortKey

// SortKey sorts by one field.
type SortKey struct {
	Field string
	Desc  bool
}

// MarshalJSON writes {"field":"asc"|"desc",…} in order.
func (s Sort) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		f, err := json.Marshal(k.Field)
		if err != nil {
			return nil, err
		}
		b.Write(f)
		if k.Desc {
			b.WriteString(`:"desc"`)
		} else {
			b.WriteString(`:"asc"`)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads the object keeping the key order.
func (s *Sort) UnmarshalJSON(p []byte) error {
	d := json.NewDecoder(bytes.NewReader(p))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("noex client: sort is not an object: %s", p)
	}
	*s = (*s)[:0]
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return err
		}
		var dir string
		if err := d.Decode(&dir); err != nil {
			return err
		}
		*s = append(*s, SortKey{Field: t.(string), Desc: dir == "desc"})
	}
	return nil
}

// DefineQuery registers a declarative query for Subscribe. config is a
// QueryConfig or any value that encodes to a query configuration.
func (s Store) DefineQuery(ctx context.Context, name string, config any) error {
	return s.c.call(ctx, "store.defineQuery", map[string]any{"name": name, "config": config}, nil)
}

// UndefineQuery removes a query; its subscriptions end with
// QUERY_NOT_DEFINED.
func (s Store) UndefineQuery(ctx context.Context, name string) error {
	return s.c.call(ctx, "store.undefineQuery", map[string]any{"name": name}, nil)
}

// QueryInfo describes a defined query (PROTOCOL.md §4.6.5).
type QueryInfo struct {
	Name string `json:"name"`
	// Type is "declarative" or "programmatic".
	Type                string `json:"type"`
	ActiveSubscriptions int    `json:"activeSubscriptions"`
	// Config is the declarative configuration as supplied (nil for
	// programmatic queries).
	Config json.RawMessage `json:"config,omitempty"`
}

// ListQueries returns the defined queries in definition order.
func (s Store) ListQueries(ctx context.Context) ([]QueryInfo, error) {
	var out struct {
		Queries []QueryInfo `json:"queries"`
	}
	err := s.c.call(ctx, "store.listQueries", nil, &out)
	return out.Queries, err
}

// Subscribe subscribes to a defined query with optional params (nil for
// none). The first update is the initial result (UpdateInitial), then a
// complete new result whenever it changes; after a reconnect the
// subscription is renewed and delivers UpdateResumed.
func (s Store) Subscribe(ctx context.Context, query string, params any, opts ...SubscribeOption) (*Subscription, error) {
	sub := newSubscription(s.c, storeSub, opts)
	sub.query, sub.params = query, params
	return s.c.subscribe(ctx, sub)
}

// TypedBucket is a handle on one bucket whose records decode as T. It is
// cheap; make one where you need it.
type TypedBucket[T any] struct {
	c    *Client
	name string
}

// Bucket is a bucket handle that returns records as raw JSON.
type Bucket = TypedBucket[json.RawMessage]

// BucketOf returns a handle on bucket name whose records decode as T.
func BucketOf[T any](c *Client, name string) *TypedBucket[T] {
	return &TypedBucket[T]{c: c, name: name}
}

// Typed returns the same bucket with records decoded as T.
func Typed[T any, U any](b *TypedBucket[U]) *TypedBucket[T] {
	return &TypedBucket[T]{c: b.c, name: b.name}
}

// Name returns the bucket name.
func (b *TypedBucket[T]) Name() string { return b.name }

func (b *TypedBucket[T]) params(kv ...any) map[string]any {
	m := map[string]any{"bucket": b.name}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// Insert stores a new record (a struct or map of field values) and returns
// it as stored, with generated fields, defaults and metadata.
func (b *TypedBucket[T]) Insert(ctx context.Context, data any) (T, error) {
	var out T
	err := b.c.call(ctx, "store.insert", b.params("data", data), &out)
	return out, err
}

// Get returns the record with key; ok is false if there is none.
func (b *TypedBucket[T]) Get(ctx context.Context, key any) (rec T, ok bool, err error) {
	raw, err := b.c.Request(ctx, "store.get", b.params("key", key))
	return decodeOptional[T]("store.get", raw, err)
}

// Update merges data (the fields to change) into the record with key and
// returns the record after the update.
func (b *TypedBucket[T]) Update(ctx context.Context, key, data any) (T, error) {
	var out T
	err := b.c.call(ctx, "store.update", b.params("key", key, "data", data), &out)
	return out, err
}

// Delete removes the record with key; a missing record is not an error.
func (b *TypedBucket[T]) Delete(ctx context.Context, key any) error {
	return b.c.call(ctx, "store.delete", b.params("key", key), nil)
}

// All returns every record in natural order.
func (b *TypedBucket[T]) All(ctx context.Context) ([]T, error) {
	var out []T
	err := b.c.call(ctx, "store.all", b.params(), &out)
	return out, err
}

// Where returns the records matching filter (nil matches all).
func (b *TypedBucket[T]) Where(ctx context.Context, filter Filter) ([]T, error) {
	var out []T
	err := b.c.call(ctx, "store.where", b.params("filter", orEmpty(filter)), &out)
	return out, err
}

// FindOne returns the first record matching filter; ok is false if none.
func (b *TypedBucket[T]) FindOne(ctx context.Context, filter Filter) (rec T, ok bool, err error) {
	raw, err := b.c.Request(ctx, "store.findOne", b.params("filter", orEmpty(filter)))
	return decodeOptional[T]("store.findOne", raw, err)
}

// Count returns the number of records matching filter (nil: all).
func (b *TypedBucket[T]) Count(ctx context.Context, filter Filter) (int, error) {
	var n int
	err := b.c.call(ctx, "store.count", b.withFilter(filter), &n)
	return n, err
}

// First returns the first n records in natural order.
func (b *TypedBucket[T]) First(ctx context.Context, n int) ([]T, error) {
	var out []T
	err := b.c.call(ctx, "store.first", b.params("n", n), &out)
	return out, err
}

// Last returns the last n records, oldest first.
func (b *TypedBucket[T]) Last(ctx context.Context, n int) ([]T, error) {
	var out []T
	err := b.c.call(ctx, "store.last", b.params("n", n), &out)
	return out, err
}

// Page is one page of Paginate.
type Page[T any] struct {
	Records []T  `json:"records"`
	HasMore bool `json:"hasMore"`
	// NextCursor is the key of the last record (nil on an empty page);
	// pass it as after to get the next page.
	NextCursor json.RawMessage `json:"nextCursor,omitempty"`
}

// Paginate returns up to limit records after the record whose key is
// after (nil: from the start).
func (b *TypedBucket[T]) Paginate(ctx context.Context, limit int, after any) (Page[T], error) {
	p := b.params("limit", limit)
	if after != nil {
		if raw, ok := after.(json.RawMessage); !ok || len(raw) > 0 {
			p["after"] = after
		}
	}
	var out Page[T]
	err := b.c.call(ctx, "store.paginate", p, &out)
	return out, err
}

// Clear removes every record; the bucket stays defined.
func (b *TypedBucket[T]) Clear(ctx context.Context) error {
	return b.c.call(ctx, "store.clear", b.params(), nil)
}

// Sum adds up the numeric values of field over the records matching
// filter (nil: all).
func (b *TypedBucket[T]) Sum(ctx context.Context, field string, filter Filter) (float64, error) {
	var v float64
	err := b.c.call(ctx, "store.sum", b.withFilter(filter, "field", field), &v)
	return v, err
}

// Avg averages the numeric values of field (0 when there are none).
func (b *TypedBucket[T]) Avg(ctx context.Context, field string, filter Filter) (float64, error) {
	var v float64
	err := b.c.call(ctx, "store.avg", b.withFilter(filter, "field", field), &v)
	return v, err
}

// Min returns the smallest numeric value of field; ok is false when no
// record has one.
func (b *TypedBucket[T]) Min(ctx context.Context, field string, filter Filter) (v float64, ok bool, err error) {
	raw, err := b.c.Request(ctx, "store.min", b.withFilter(filter, "field", field))
	return decodeOptional[float64]("store.min", raw, err)
}

// Max returns the largest numeric value of field; ok is false when no
// record has one.
func (b *TypedBucket[T]) Max(ctx context.Context, field string, filter Filter) (v float64, ok bool, err error) {
	raw, err := b.c.Request(ctx, "store.max", b.withFilter(filter, "field", field))
	return decodeOptional[float64]("store.max", raw, err)
}

func (b *TypedBucket[T]) withFilter(filter Filter, kv ...any) map[string]any {
	p := b.params(kv...)
	if filter != nil {
		p["filter"] = filter
	}
	return p
}

func orEmpty(f Filter) Filter {
	if f == nil {
		return Filter{}
	}
	return f
}

// decodeOptional decodes a result that may be null.
func decodeOptional[T any](typ string, raw json.RawMessage, err error) (T, bool, error) {
	var v T
	if err != nil {
		return v, false, err
	}
	if string(raw) == "null" {
		return v, false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, false, fmt.Errorf("noex client: %s: decode result: %w", typ, err)
	}
	return v, true, nil
}

// As decodes the result of a call that returns raw JSON:
//
//	v, err := client.As[int](c.Rules().GetFact(ctx, "counter"))
func As[T any](raw json.RawMessage, err error) (T, error) {
	var v T
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("noex client: decode result: %w", err)
	}
	return v, nil
}

// Call sends any operation and decodes its result as T.
func Call[T any](ctx context.Context, c *Client, typ string, params any) (T, error) {
	return As[T](c.Request(ctx, typ, params))
}
