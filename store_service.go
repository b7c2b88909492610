package noex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/noex-go/noex/identity"
	"github.com/noex-go/noex/internal/wire"
	"github.com/noex-go/noex/store"
	"github.com/noex-go/noex/store/live"
)

// storeService serves the store.* data and bucket-administration
// operations (PROTOCOL.md §2 and §4.1–§4.5) over a *store.Store.
type storeService struct {
	srv   *Server
	st    *store.Store
	live  *live.Engine
	conns sync.Map // *Session → *connSubs
}

// storeOperations are the operation names the store service answers.
var storeOperations = []string{
	"store.insert", "store.get", "store.update", "store.delete", "store.all", "store.where",
	"store.findOne", "store.count", "store.first", "store.last", "store.paginate", "store.clear",
	"store.sum", "store.avg", "store.min", "store.max", "store.buckets", "store.stats",
	"store.transaction", "store.defineBucket", "store.dropBucket", "store.updateBucket",
	"store.getBucketSchema",
}

var knownStoreOp = operationSet(storeOperations, liveOperations)

var deletedResult = wire.Compact(`{"deleted":true}`)

// Stats contributes the store object of server.stats.
func (ss *storeService) Stats() any { return ss.stats() }

func (ss *storeService) stats() store.Stats { return ss.statsWithout(nil) }

// statsWithout leaves out the buckets hide reports true for.
func (ss *storeService) statsWithout(hide func(bucket string) bool) store.Stats {
	var include func(string) bool
	if hide != nil {
		include = func(b string) bool { return !hide(b) }
	}
	st := ss.st.Stats(include)
	st.Queries.Defined, st.Queries.ActiveSubscriptions = ss.live.Counts()
	return st
}

func (ss *storeService) Handle(ctx context.Context, s *Session, req *Request) (any, error) {
	data, err := ss.handle(ctx, s, req)
	if err != nil {
		return nil, storeError(err)
	}
	return data, nil
}

func (ss *storeService) handle(ctx context.Context, s *Session, req *Request) (any, error) {
	// Writes carry the request's audit entry, if any (store.OptionsFrom).
	wo := store.OptionsFrom(ctx)
	f := req.Fields
	if !knownStoreOp[req.Type] {
		return nil, UnknownOperation(NamespaceStore, req.Type)
	}
	switch req.Type {
	case "store.buckets":
		names := ss.st.BucketNames()
		if ss.srv.hideSystemBuckets(s, false) {
			names = slices.DeleteFunc(names, identity.IsSystemBucket)
		}
		if names == nil {
			names = []string{}
		}
		return map[string]any{"count": len(names), "names": names}, nil
	case "store.stats":
		if ss.srv.hideSystemBuckets(s, true) {
			return ss.statsWithout(identity.IsSystemBucket), nil
		}
		return ss.stats(), nil
	case "store.subscribe", "store.unsubscribe", "store.defineQuery", "store.undefineQuery", "store.listQueries":
		return ss.handleLive(s, req, wo)
	case "store.transaction":
		return ss.transaction(s, f, wo)
	case "store.defineBucket", "store.dropBucket", "store.updateBucket", "store.getBucketSchema":
		return ss.admin(s, req, wo)
	}
	bucket, werr := wire.RequireString(f, "bucket")
	if werr != nil {
		return nil, werr
	}
	switch req.Type {
	case "store.insert":
		data, err := requireRecord(f, "data")
		if err != nil {
			return nil, err
		}
		var enc []byte
		rec, err := ss.st.Insert(bucket, data, append(wo, store.Encoded(&enc))...)
		if err != nil {
			return nil, err
		}
		return written(rec, enc), nil
	case "store.get":
		key, err := requireKey(f)
		if err != nil {
			return nil, err
		}
		return ss.st.Get(bucket, key)
	case "store.update":
		key, err := requireKey(f)
		if err != nil {
			return nil, err
		}
		data, err := requireRecord(f, "data")
		if err != nil {
			return nil, err
		}
		var enc []byte
		rec, err := ss.st.Update(bucket, key, data, append(wo, store.Encoded(&enc))...)
		if err != nil {
			return nil, err
		}
		return written(rec, enc), nil
	case "store.delete":
		key, err := requireKey(f)
		if err != nil {
			return nil, err
		}
		if err := ss.st.Delete(bucket, key, wo...); err != nil {
			return nil, err
		}
		return deletedResult, nil
	case "store.all":
		return ss.st.All(bucket)
	case "store.where", "store.findOne":
		raw, werr := wire.RequireObject(f, "filter")
		if werr != nil {
			return nil, werr
		}
		filter, err := store.CompileFilter(raw)
		if err != nil {
			return nil, err
		}
		if req.Type == "store.where" {
			return ss.st.Where(bucket, filter)
		}
		return ss.st.FindOne(bucket, filter)
	case "store.count":
		filter, err := optionalFilter(f)
		if err != nil {
			return nil, err
		}
		return ss.st.Count(bucket, filter)
	case "store.first", "store.last":
		n, werr := wire.RequirePositiveInt(f, "n")
		if werr != nil {
			return nil, werr
		}
		if req.Type == "store.first" {
			return ss.st.First(bucket, n)
		}
		return ss.st.Last(bucket, n)
	case "store.paginate":
		limit, werr := wire.RequirePositiveInt(f, "limit")
		if werr != nil {
			return nil, werr
		}
		var after any
		// "after": null means the first page (COMPATIBILITY.md P§11 #7).
		hasAfter := !wire.IsNull(f["after"])
		if hasAfter {
			if err := json.Unmarshal(f["after"], &after); err != nil {
				return nil, wire.NewError(wire.CodeValidation, `Invalid "after": expected a key`)
			}
		}
		return ss.st.Paginate(bucket, after, hasAfter, limit)
	case "store.clear":
		if err := ss.st.Clear(bucket, wo...); err != nil {
			return nil, err
		}
		return map[string]bool{"cleared": true}, nil
	case "store.sum", "store.avg", "store.min", "store.max":
		field, werr := wire.RequireString(f, "field")
		if werr != nil {
			return nil, werr
		}
		filter, err := optionalFilter(f)
		if err != nil {
			return nil, err
		}
		fn := req.Type[len("store."):]
		v, ok, err := ss.st.Aggregate(bucket, fn, field, filter)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, nil // min/max over nothing numeric: null
		}
		return v, nil
	}
	return nil, UnknownOperation(NamespaceStore, req.Type)
}

func (ss *storeService) admin(s *Session, req *Request, wo []store.WriteOption) (any, error) {
	f := req.Fields
	name, werr := wire.RequireString(f, "name")
	if werr != nil {
		return nil, werr
	}
	switch req.Type {
	case "store.defineBucket":
		config, werr := wire.RequireObject(f, "config")
		if werr != nil {
			return nil, werr
		}
		if err := ss.st.DefineBucket(name, config, wo...); err != nil {
			return nil, err
		}
		if err := ss.srv.trackOwnership(s, "bucket", name, true); err != nil {
			return nil, err
		}
		return map[string]any{"name": name, "created": true}, nil
	case "store.dropBucket":
		found, err := ss.st.DropBucket(name, wo...)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, bucketDoesNotExist(name)
		}
		if err := ss.srv.trackOwnership(s, "bucket", name, false); err != nil {
			return nil, err
		}
		return map[string]any{"name": name, "dropped": true}, nil
	case "store.updateBucket":
		updates, werr := wire.RequireObject(f, "updates")
		if werr != nil {
			return nil, werr
		}
		if err := ss.st.UpdateBucket(name, updates, wo...); err != nil {
			return nil, err
		}
		return map[string]any{"name": name, "updated": true}, nil
	default: // store.getBucketSchema
		config, err := ss.st.BucketConfig(name)
		if err != nil {
			var nd *store.ErrBucketNotDefined
			if errors.As(err, &nd) {
				return nil, bucketDoesNotExist(name)
			}
			return nil, err
		}
		return map[string]any{"name": name, "config": config}, nil
	}
}

func bucketDoesNotExist(name string) *wire.Error {
	return wire.Errorf(wire.CodeBucketNotDefined, "Bucket %q does not exist", name)
}

func requireRecord(f map[string]json.RawMessage, name string) (store.Record, error) {
	raw, werr := wire.RequireObject(f, name)
	if werr != nil {
		return nil, werr
	}
	// The frame was validated as a whole: the fast decoder is enough.
	v, err := store.DecodeJSONFast(raw)
	rec, ok := v.(map[string]any)
	if err != nil || !ok {
		return nil, wire.Errorf(wire.CodeValidation, "Missing or invalid %q: expected object", name)
	}
	return rec, nil
}

func requireKey(f map[string]json.RawMessage) (any, error) {
	raw, werr := wire.RequireKey(f)
	if werr != nil {
		return nil, werr
	}
	key, err := store.DecodeJSONFast(raw)
	if err != nil {
		return nil, wire.NewError(wire.CodeValidation, `Missing "key": expected non-null value`)
	}
	return key, nil
}

// written is the answer of an insert or update: the record's stored
// encoding when the store gave it, else the record encoded now.
func written(rec store.Record, enc []byte) any {
	if enc != nil {
		return wire.Compact(enc)
	}
	return store.JSON{V: rec}
}

func optionalFilter(f map[string]json.RawMessage) (*store.Filter, error) {
	raw, werr := wire.OptionalObject(f, "filter")
	if werr != nil {
		return nil, werr
	}
	if raw == nil {
		return nil, nil
	}
	return store.CompileFilter(raw)
}

// storeError maps a store failure to its protocol error, in one place
// (PROTOCOL.md §2.1 with COMPATIBILITY.md).
func storeError(err error) error {
	var (
		we  *wire.Error
		nd  *store.ErrBucketNotDefined
		ex  *store.ErrBucketExists
		val *store.ValidationError
		def *store.DefinitionError
		fe  *store.FilterError
		uq  *store.ErrUniqueConstraint
		ke  *store.ErrKeyExists
		nf  *store.ErrRecordNotFound
		cf  *store.ErrConflict
		ri  *store.ErrReferentialIntegrity
		qnd *store.ErrQueryNotDefined
		qex *store.ErrQueryExists
	)
	switch {
	case errors.As(err, &we):
		return we
	case errors.As(err, &nd):
		return wire.NewError(wire.CodeBucketNotDefined, nd.Error())
	case errors.As(err, &ex):
		return wire.NewError(wire.CodeAlreadyExists, ex.Error())
	case errors.As(err, &val):
		issues := val.Issues
		if issues == nil {
			issues = []store.Issue{}
		}
		return &wire.Error{Code: wire.CodeValidation, Message: val.Error(), Details: issues}
	case errors.As(err, &def):
		return wire.NewError(wire.CodeValidation, def.Error())
	case errors.As(err, &fe):
		return wire.NewError(wire.CodeValidation, fe.Error())
	case errors.As(err, &uq):
		return &wire.Error{Code: wire.CodeAlreadyExists, Message: uq.Error(),
			Details: map[string]any{"bucket": uq.Bucket, "field": uq.Field, "value": uq.Value}}
	case errors.As(err, &ke):
		return &wire.Error{Code: wire.CodeAlreadyExists, Message: ke.Error(),
			Details: map[string]any{"bucket": ke.Bucket, "key": ke.Key}}
	case errors.As(err, &nf):
		return wire.NewError(wire.CodeNotFound, nf.Error())
	case errors.As(err, &cf):
		return &wire.Error{Code: wire.CodeConflict, Message: cf.Error(),
			Details: map[string]any{"bucket": cf.Bucket, "key": cf.Key}}
	case errors.As(err, &qnd):
		return wire.NewError(wire.CodeQueryNotDefined, qnd.Error())
	case errors.As(err, &qex):
		return wire.NewError(wire.CodeAlreadyExists, qex.Error())
	case errors.As(err, &ri):
		details := map[string]any{"sourceBucket": ri.SourceBucket, "sourceField": ri.SourceField,
			"targetBucket": ri.TargetBucket, "targetKey": ri.TargetKey}
		if ri.OnDelete {
			details["sourceKey"] = ri.SourceKey
			return &wire.Error{Code: wire.CodeConflict, Message: ri.Error(), Details: details}
		}
		return &wire.Error{Code: wire.CodeValidation, Message: ri.Error(), Details: details}
	}
	return fmt.Errorf("store: %w", err) // INTERNAL_ERROR, details logged only
}
