package client

import (
	"context"
	"encoding/json"
	"fmt"
)

// Tx builds a store.transaction (PROTOCOL.md §2.17): operations that run
// atomically, later ones seeing the writes of earlier ones. Add operations,
// then Commit. The result of operation i (counting from 0, in the order
// added) is TxResults[i].
//
//	res, err := c.Store().Tx().
//		Get("accounts", "acc-1").
//		Update("accounts", "acc-1", map[string]any{"credits": 400}).
//		Insert("ledger", map[string]any{"account": "acc-1", "delta": 100}).
//		Commit(ctx)
type Tx struct {
	c   *Client
	ops []map[string]any
}

// Tx starts a transaction builder.
func (s Store) Tx() *Tx { return &Tx{c: s.c} }

func (t *Tx) add(op, bucket string, kv ...any) *Tx {
	m := map[string]any{"op": op, "bucket": bucket}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	t.ops = append(t.ops, m)
	return t
}

// Get reads the record with key (result: record or null).
func (t *Tx) Get(bucket string, key any) *Tx { return t.add("get", bucket, "key", key) }

// Insert inserts a record (result: the record as it will be stored).
func (t *Tx) Insert(bucket string, data any) *Tx { return t.add("insert", bucket, "data", data) }

// Update merges data into the record with key (result: the record after).
func (t *Tx) Update(bucket string, key, data any) *Tx {
	return t.add("update", bucket, "key", key, "data", data)
}

// Delete removes the record with key (result: {"deleted":true}).
func (t *Tx) Delete(bucket string, key any) *Tx { return t.add("delete", bucket, "key", key) }

// Where selects records (result: array of records).
func (t *Tx) Where(bucket string, filter Filter) *Tx {
	return t.add("where", bucket, "filter", orEmpty(filter))
}

// FindOne selects the first matching record (result: record or null).
func (t *Tx) FindOne(bucket string, filter Filter) *Tx {
	return t.add("findOne", bucket, "filter", orEmpty(filter))
}

// Count counts matching records, all with a nil filter (result: number).
func (t *Tx) Count(bucket string, filter Filter) *Tx {
	if filter == nil {
		return t.add("count", bucket)
	}
	return t.add("count", bucket, "filter", filter)
}

// Len returns the number of operations added.
func (t *Tx) Len() int { return len(t.ops) }

// TxResults are the per-operation results of a committed transaction.
type TxResults []json.RawMessage

// Decode unmarshals the result of operation i into v.
func (r TxResults) Decode(i int, v any) error {
	if i < 0 || i >= len(r) {
		return fmt.Errorf("noex client: transaction has no result %d", i)
	}
	return json.Unmarshal(r[i], v)
}

// Commit runs the transaction. Either every operation took effect, or none
// did and the error says which failed (CONFLICT when another client changed
// a record the transaction read). The builder can be committed again.
func (t *Tx) Commit(ctx context.Context) (TxResults, error) {
	var out struct {
		Results []struct {
			Index int             `json:"index"`
			Data  json.RawMessage `json:"data"`
		} `json:"results"`
	}
	ops := t.ops
	if ops == nil {
		ops = []map[string]any{} // the server explains that it is empty
	}
	if err := t.c.call(ctx, "store.transaction", map[string]any{"operations": ops}, &out); err != nil {
		return nil, err
	}
	res := make(TxResults, len(t.ops))
	for _, r := range out.Results {
		if r.Index >= 0 && r.Index < len(res) {
			res[r.Index] = r.Data
		}
	}
	for i, d := range res {
		if len(d) == 0 {
			res[i] = json.RawMessage("null")
		}
	}
	return res, nil
}
