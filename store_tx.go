package noex

import (
	"encoding/json"
	"fmt"

	"github.com/noex-go/noex/internal/wire"
	"github.com/noex-go/noex/store"
)

// store.transaction (PROTOCOL.md §2.17): every operation is checked before
// anything runs, then they run in order inside one store transaction,
// which commits only if all of them succeeded.

type txOp struct {
	op     string
	bucket string
	key    any
	data   store.Record
	filter *store.Filter
}

func (ss *storeService) transaction(s *Session, f map[string]json.RawMessage, wo []store.WriteOption) (any, error) {
	ops, err := parseTxOps(f["operations"])
	if err != nil {
		return nil, err
	}
	// Every element passes the check of its direct operation before
	// anything runs (COMPATIBILITY.md P§11 #24).
	for _, op := range ops {
		if err := ss.srv.Authorize(s, "store."+op.op, op.bucket); err != nil {
			return nil, err
		}
	}
	type result struct {
		Index int `json:"index"`
		Data  any `json:"data"`
	}
	results := make([]result, 0, len(ops))
	tx := ss.st.Begin(wo...)
	for i, op := range ops {
		var (
			data any
			err  error
		)
		switch op.op {
		case "get":
			data, err = tx.Get(op.bucket, op.key)
		case "insert":
			data, err = tx.Insert(op.bucket, op.data)
		case "update":
			data, err = tx.Update(op.bucket, op.key, op.data)
		case "delete":
			err = tx.Delete(op.bucket, op.key)
			data = map[string]bool{"deleted": true}
		case "where":
			var recs []store.Record
			recs, err = tx.Where(op.bucket, op.filter)
			if recs == nil {
				recs = []store.Record{}
			}
			data = recs
		case "findOne":
			data, err = tx.FindOne(op.bucket, op.filter)
		case "count":
			data, err = tx.Count(op.bucket, op.filter)
		}
		if err != nil {
			tx.Rollback()
			return nil, err
		}
		if r, ok := data.(store.Record); ok && r == nil {
			data = nil // a missing record is null, not {}
		}
		results = append(results, result{Index: i, Data: data})
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return map[string]any{"results": results}, nil
}

var txOpNames = map[string]bool{"get": true, "insert": true, "update": true, "delete": true,
	"where": true, "findOne": true, "count": true}

func txInvalid(format string, args ...any) *wire.Error {
	return wire.NewError(wire.CodeValidation, fmt.Sprintf(format, args...))
}

// parseTxOps validates every element with the messages of §2.17.
func parseTxOps(raw json.RawMessage) ([]txOp, error) {
	var elems []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &elems) != nil {
		return nil, txInvalid(`Missing or invalid "operations": expected array`)
	}
	if len(elems) == 0 {
		return nil, txInvalid(`"operations" must contain at least one operation`)
	}
	ops := make([]txOp, len(elems))
	for i, el := range elems {
		var fields map[string]json.RawMessage
		if !wire.IsObject(el) || json.Unmarshal(el, &fields) != nil {
			return nil, txInvalid("operations[%d]: expected object", i)
		}
		name, _ := wire.NonEmptyString(fields["op"])
		if !txOpNames[name] {
			return nil, txInvalid(`operations[%d]: invalid "op" — expected one of: get, insert, update, delete, where, findOne, count`, i)
		}
		bucket, ok := wire.NonEmptyString(fields["bucket"])
		if !ok {
			return nil, txInvalid(`operations[%d]: missing or invalid "bucket"`, i)
		}
		op := txOp{op: name, bucket: bucket}
		switch name {
		case "get", "update", "delete":
			if wire.IsNull(fields["key"]) || json.Unmarshal(fields["key"], &op.key) != nil {
				return nil, txInvalid(`operations[%d]: %q requires "key"`, i, name)
			}
		}
		switch name {
		case "insert", "update":
			if !wire.IsObject(fields["data"]) || json.Unmarshal(fields["data"], &op.data) != nil {
				return nil, txInvalid(`operations[%d]: %q requires "data" object`, i, name)
			}
		case "where", "findOne", "count":
			rawFilter := fields["filter"]
			if name == "count" && wire.IsNull(rawFilter) {
				break
			}
			if !wire.IsObject(rawFilter) {
				return nil, txInvalid(`operations[%d]: %q requires "filter" object`, i, name)
			}
			filter, err := store.CompileFilter(rawFilter)
			if err != nil {
				return nil, err
			}
			op.filter = filter
		}
		ops[i] = op
	}
	return ops, nil
}
