package identity

import (
	"context"
	"errors"

	"github.com/noex-go/noex/store"
)

// Reading and writing the system buckets.

// userInfo is the stored user without passwordHash and _version (§6.9.1).
func userInfo(rec store.Record) store.Record {
	out := make(store.Record, len(rec))
	for k, v := range rec {
		if k != "passwordHash" && k != store.FieldVersion {
			out[k] = v
		}
	}
	return out
}

// roleInfo is the stored role without _version.
func roleInfo(rec store.Record) store.Record {
	out := make(store.Record, len(rec))
	for k, v := range rec {
		if k != store.FieldVersion {
			out[k] = v
		}
	}
	return out
}

func (id *Identity) user(userID string) (store.Record, error) {
	doc, err := id.st.Get(BucketUsers, userID)
	if err != nil {
		return nil, err
	}
	return doc.Record(), nil
}

func (id *Identity) userByName(username string) (store.Record, error) {
	doc, err := id.st.FindOne(BucketUsers, eqFilter("username", username))
	if err != nil {
		return nil, err
	}
	return doc.Record(), nil
}

func (id *Identity) roleByName(name string) (store.Record, error) {
	doc, err := id.st.FindOne(BucketRoles, eqFilter("name", name))
	if err != nil {
		return nil, err
	}
	return doc.Record(), nil
}

func (id *Identity) where(bucket string, filter map[string]any) ([]store.Record, error) {
	f, err := store.CompileFilterValue(filter)
	if err != nil {
		return nil, err
	}
	docs, err := id.st.Where(bucket, f)
	if err != nil {
		return nil, err
	}
	return docs.Records(), nil
}

func (id *Identity) all(bucket string) ([]store.Record, error) {
	docs, err := id.st.All(bucket)
	if err != nil {
		return nil, err
	}
	return docs.Records(), nil
}

// transaction runs fn in a store transaction, retried when a concurrent
// write to the same records made it conflict.
func (id *Identity) transaction(ctx context.Context, fn func(tx *store.Tx) error) error {
	var err error
	for range 5 {
		err = id.st.Transaction(fn, store.OptionsFrom(ctx)...)
		var conflict *store.ErrConflict
		if !errors.As(err, &conflict) {
			break
		}
	}
	if err == nil {
		id.changed()
	}
	return err
}

// deleteWhere deletes, inside tx, every record of bucket matching filter.
func deleteWhere(tx *store.Tx, bucket string, filter map[string]any) error {
	f, err := store.CompileFilterValue(filter)
	if err != nil {
		return err
	}
	recs, err := tx.Where(bucket, f)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if err := tx.Delete(bucket, r["id"]); err != nil {
			return err
		}
	}
	return nil
}

func txWhere(tx *store.Tx, bucket string, filter map[string]any) ([]store.Record, error) {
	f, err := store.CompileFilterValue(filter)
	if err != nil {
		return nil, err
	}
	return tx.Where(bucket, f)
}

// usernameOf is the display name of a subject for ACL listings: the
// username, "__superadmin__", or the raw id when the user is gone.
func (id *Identity) usernameOf(userID string) string {
	if userID == SuperadminID {
		return SuperadminID
	}
	if u, err := id.user(userID); err == nil && u != nil {
		if name, ok := u["username"].(string); ok {
			return name
		}
	}
	return userID
}

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }
