// Package audit is the audit log of PROTOCOL.md §7.1: one entry per
// answered request whose operation tier is configured, kept newest-first
// for audit.query, bounded by a retention count, and persisted through the
// store's commit log — for a request that changes data, in the same commit
// as the change (store.Annex), so after a crash an entry exists exactly
// when its change does.
package audit

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/noex-go/noex/auth"
	"github.com/noex-go/noex/store"
)

// DefaultMaxEntries is the default retention (maxEntries).
const DefaultMaxEntries = 10000

// metaPrefix names persisted entries: audit/<20-digit sequence number>.
const metaPrefix = "audit/"

// Config configures the audit log.
type Config struct {
	// Tiers are the operation tiers recorded (default: admin only).
	Tiers []auth.Tier
	// MaxEntries is the retention: older entries are dropped, in memory and
	// in the store.
	MaxEntries int
	// OnEntry, when set, is called synchronously with every new entry.
	OnEntry func(Entry)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Entry is one audit record (§7.1 "Entry shape").
type Entry struct {
	Timestamp     int64          `json:"timestamp"`
	UserID        *string        `json:"userId"`
	SessionID     string         `json:"sessionId"`
	Operation     string         `json:"operation"`
	Resource      string         `json:"resource"`
	Result        string         `json:"result"`
	Error         string         `json:"error,omitempty"`
	Details       map[string]any `json:"details,omitempty"`
	RemoteAddress string         `json:"remoteAddress"`

	seq uint64
}

// Results.
const (
	Success = "success"
	Failure = "error"
)

// Log is the audit log.
type Log struct {
	cfg   Config
	tiers [auth.TierAdmin + 1]bool
	st    *store.Store // nil: memory only

	mu      sync.Mutex
	seq     uint64
	entries []Entry // ascending seq, at most MaxEntries

	// Entries not written with a change are persisted in batches by a
	// background writer.
	queue   []Entry
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

// Open returns the audit log, restoring persisted entries from st (nil
// keeps entries in memory only).
func Open(st *store.Store, cfg Config) (*Log, error) {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tiers == nil {
		cfg.Tiers = []auth.Tier{auth.TierAdmin}
	}
	l := &Log{cfg: cfg, st: st, wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	for _, t := range cfg.Tiers {
		if t > auth.TierNone && t <= auth.TierAdmin {
			l.tiers[t] = true
		}
	}
	if st != nil {
		var stale []string
		for _, m := range st.MetaWithPrefix(metaPrefix) {
			seq, err := strconv.ParseUint(strings.TrimPrefix(m.Name, metaPrefix), 10, 64)
			var e Entry
			if err != nil || json.Unmarshal(m.Value, &e) != nil {
				stale = append(stale, m.Name)
				continue
			}
			e.seq = seq
			l.entries = append(l.entries, e)
			l.seq = max(l.seq, seq)
		}
		// Names sort by sequence (fixed width); keep the newest MaxEntries.
		if extra := len(l.entries) - cfg.MaxEntries; extra > 0 {
			for _, e := range l.entries[:extra] {
				stale = append(stale, name(e.seq))
			}
			l.entries = slices.Clone(l.entries[extra:])
		}
		if len(stale) > 0 {
			if err := st.DeleteMetas(stale); err != nil {
				return nil, err
			}
		}
	}
	go l.writer()
	return l, nil
}

func name(seq uint64) string { return fmt.Sprintf("%s%020d", metaPrefix, seq) }

// Close writes what is queued and stops the background writer.
func (l *Log) Close() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.stopped
}

// Records reports whether op is recorded: it has a tier (§6.4) and that
// tier is configured.
func (l *Log) Records(op string) bool { return l.tiers[auth.TierOf(op)] }

// Pending is the entry of one request being handled.
type Pending struct {
	l     *Log
	base  Entry
	annex *store.Annex
	built *Entry
}

// Begin starts the entry of a request (Records(base.Operation) must be
// true). With changesIdentity false, the entry is written with the first
// change the request commits (Annex), attributed to base.UserID; requests
// that bind or unbind the connection (logins, logout) are attributed
// afterwards instead, to the identity the request left behind.
func (l *Log) Begin(base Entry, changesIdentity bool) *Pending {
	p := &Pending{l: l, base: base}
	if l.st != nil && !changesIdentity {
		p.annex = &store.Annex{Build: p.buildForCommit}
	}
	return p
}

// Annex is what the request's writes carry (nil when entries are not
// persisted or the request changes the connection's identity).
func (p *Pending) Annex() *store.Annex { return p.annex }

// buildForCommit runs under the store's write lock with the request's
// first change: the request succeeded so far.
func (p *Pending) buildForCommit() ([]store.MetaEntry, []string) {
	e := p.base
	e.Result = Success
	e.Timestamp = p.l.cfg.Now().UnixMilli()
	p.l.mu.Lock()
	p.l.seq++
	e.seq = p.l.seq
	p.l.mu.Unlock()
	p.built = &e
	value, _ := json.Marshal(e)
	var del []string
	if e.seq > uint64(p.l.cfg.MaxEntries) {
		del = []string{name(e.seq - uint64(p.l.cfg.MaxEntries))}
	}
	return []store.MetaEntry{{Name: name(e.seq), Value: value}}, del
}

// Finish records the request's outcome once it has been answered: userID
// is the connection's identity now, errMsg the error message ("" on
// success).
func (p *Pending) Finish(userID *string, errMsg string) {
	l := p.l
	if p.built != nil && errMsg == "" {
		l.add(*p.built, false)
		return
	}
	if p.built != nil {
		// The change committed, then a later step failed: both are kept.
		l.add(*p.built, false)
	}
	e := p.base
	e.UserID = userID
	e.Timestamp = l.cfg.Now().UnixMilli()
	e.Result = Success
	if errMsg != "" {
		e.Result, e.Error = Failure, errMsg
	}
	l.mu.Lock()
	l.seq++
	e.seq = l.seq
	l.mu.Unlock()
	l.add(e, l.st != nil)
}

// add inserts e in sequence order, drops what exceeds the retention, and
// queues e for persistence when it was not written with a change.
func (l *Log) add(e Entry, persist bool) {
	l.mu.Lock()
	i := len(l.entries)
	for i > 0 && l.entries[i-1].seq > e.seq {
		i--
	}
	l.entries = slices.Insert(l.entries, i, e)
	if extra := len(l.entries) - l.cfg.MaxEntries; extra > 0 {
		l.entries = slices.Delete(l.entries, 0, extra)
	}
	if persist {
		l.queue = append(l.queue, e)
	}
	l.mu.Unlock()
	if persist {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	if l.cfg.OnEntry != nil {
		l.cfg.OnEntry(e)
	}
}

// writer persists queued entries, many per commit.
func (l *Log) writer() {
	defer close(l.stopped)
	for {
		select {
		case <-l.wake:
		case <-l.stop:
			l.flush()
			return
		}
		l.flush()
	}
}

func (l *Log) flush() {
	l.mu.Lock()
	batch := l.queue
	l.queue = nil
	l.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	set := make([]store.MetaEntry, 0, len(batch))
	var del []string
	for _, e := range batch {
		value, _ := json.Marshal(e)
		set = append(set, store.MetaEntry{Name: name(e.seq), Value: value})
		if e.seq > uint64(l.cfg.MaxEntries) {
			del = append(del, name(e.seq-uint64(l.cfg.MaxEntries)))
		}
	}
	// A store that fails stops every write; the entries stay in memory.
	_ = l.st.SetMetas(set, del)
}

// Filter selects entries for Query; nil fields do not filter.
type Filter struct {
	UserID    *string
	Operation *string
	Result    *string
	From, To  *int64
	Limit     int // 0: no limit
}

// Query returns the matching entries, newest first.
func (l *Log) Query(f Filter) []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := []Entry{}
	for i := len(l.entries) - 1; i >= 0; i-- {
		e := l.entries[i]
		switch {
		case f.UserID != nil && (e.UserID == nil || *e.UserID != *f.UserID),
			f.Operation != nil && e.Operation != *f.Operation,
			f.Result != nil && e.Result != *f.Result,
			f.From != nil && e.Timestamp < *f.From,
			f.To != nil && e.Timestamp > *f.To:
			continue
		}
		out = append(out, e)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out
}

// Resource is the entry's resource (§7.1): the first string of bucket,
// name, ruleId, topic, key, pattern; then "user:"+username,
// "user:"+userId, "role:"+roleId, resourceType+":"+resourceName; else "*".
func Resource(fields map[string]json.RawMessage) string {
	str := func(k string) (string, bool) {
		raw, ok := fields[k]
		if !ok || len(raw) == 0 || raw[0] != '"' {
			return "", false
		}
		var s string
		return s, json.Unmarshal(raw, &s) == nil
	}
	for _, k := range []string{"bucket", "name", "ruleId", "topic", "key", "pattern"} {
		if s, ok := str(k); ok {
			return s
		}
	}
	if s, ok := str("username"); ok {
		return "user:" + s
	}
	if s, ok := str("userId"); ok {
		return "user:" + s
	}
	if s, ok := str("roleId"); ok {
		return "role:" + s
	}
	rt, ok1 := str("resourceType")
	rn, ok2 := str("resourceName")
	if ok1 && ok2 {
		return rt + ":" + rn
	}
	return "*"
}

// detailKeys are the request fields copied into details (§7.1).
var detailKeys = map[string][]string{
	"identity.login":         {"username"},
	"identity.createUser":    {"username"},
	"identity.assignRole":    {"userId", "roleName"},
	"identity.removeRole":    {"userId", "roleName"},
	"identity.grant":         {"subjectType", "subjectId", "resourceType", "resourceName", "operations"},
	"identity.revoke":        {"subjectType", "subjectId", "resourceType", "resourceName", "operations"},
	"identity.transferOwner": {"resourceType", "resourceName", "newOwnerId"},
}

// Details copies the fields §7.1 lists for op (never a password); nil for
// other operations.
func Details(op string, fields map[string]json.RawMessage) map[string]any {
	keys := detailKeys[op]
	if keys == nil {
		return nil
	}
	d := map[string]any{}
	for _, k := range keys {
		raw, ok := fields[k]
		if !ok {
			continue
		}
		var v any
		if json.Unmarshal(raw, &v) == nil && v != nil {
			d[k] = v
		}
	}
	return d
}
