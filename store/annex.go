package store

import (
	"context"
	"sync/atomic"

	"github.com/noex-go/noex/storage"
)

// An Annex is written in the same commit as a change: the server's audit
// log uses it so that an entry exists exactly when the change it
// describes does, even across a crash.
type Annex struct {
	// Build returns the meta entries to set and the names to delete. It runs
	// once, under the store's write lock, with the first commit made with
	// the annex that writes anything.
	Build func() (set []MetaEntry, del []string)
	used  atomic.Bool
}

// Used reports whether the annex was written with a change.
func (a *Annex) Used() bool { return a != nil && a.used.Load() }

// WriteOption modifies one write.
type WriteOption func(*writeOptions)

type writeOptions struct {
	annex   *Annex
	encoded *[]byte
}

// WithAnnex writes a with the change, if the annex has not been written
// yet. A nil annex is ignored.
func WithAnnex(a *Annex) WriteOption { return func(o *writeOptions) { o.annex = a } }

// Encoded makes Insert and Update also return the written record's JSON
// encoding (the bytes stored and read back by Get) in *dst, so a caller
// that sends the record on need not encode it again.
func Encoded(dst *[]byte) WriteOption { return func(o *writeOptions) { o.encoded = dst } }

func optionsOf(opts []WriteOption) writeOptions {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func annexOf(opts []WriteOption) *Annex { return optionsOf(opts).annex }

// attach adds the annex's meta operations to p (under the write lock).
func (a *Annex) attach(p *pending) {
	if a == nil || a.Build == nil || a.used.Load() {
		return
	}
	a.used.Store(true)
	set, del := a.Build()
	for _, e := range set {
		p.add(storage.Op{Kind: storage.OpSetMeta, Bucket: e.Name, Value: e.Value}, nil, nil)
	}
	for _, name := range del {
		p.add(storage.Op{Kind: storage.OpDeleteMeta, Bucket: name}, nil, nil)
	}
}

type annexKey struct{}

// ContextWithAnnex returns ctx carrying a, for code that writes on behalf
// of a request (see AnnexFrom).
func ContextWithAnnex(ctx context.Context, a *Annex) context.Context {
	return context.WithValue(ctx, annexKey{}, a)
}

// OptionsFrom returns the write options that attach ctx's annex: nil (no
// allocation) when ctx carries none.
func OptionsFrom(ctx context.Context) []WriteOption {
	a, _ := ctx.Value(annexKey{}).(*Annex)
	if a == nil {
		return nil
	}
	return []WriteOption{WithAnnex(a)}
}
