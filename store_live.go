package noex

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/noex-go/noex/internal/wire"
	"github.com/noex-go/noex/store"
	"github.com/noex-go/noex/store/live"
)

// Store subscriptions and declarative queries over the wire (PROTOCOL.md
// §3 and §4.6, COMPATIBILITY.md P§11 #8 and #12). The live engine shares
// one evaluation and one encoded result among every subscriber of the same
// (query, params); here each subscriber only adds its own frame head.

var liveOperations = []string{"store.subscribe", "store.unsubscribe", "store.defineQuery",
	"store.undefineQuery", "store.listQueries"}

// connSubs are one connection's store subscriptions.
type connSubs struct {
	mu     sync.Mutex
	byID   map[string]*storeSub
	closed bool
}

// storeSub is one store subscription of one connection. It is the sink of
// its live subscription and the state source of its coalesced pushes.
type storeSub struct {
	id  string
	s   *Session
	svc *storeService
	sub *live.Subscription
	// head is {"type":"push","channel":"subscription","subscriptionId":"<id>",
	// built at the first push and kept for the next ones: many
	// subscriptions never get a push, and then cost nothing for it.
	head atomic.Pointer[[]byte]
}

// frameHead returns the subscription's push frame head.
func (ss *storeSub) frameHead() []byte {
	if h := ss.head.Load(); h != nil {
		return *h
	}
	h := wire.PushHead(wire.ChannelSubscription, ss.id)
	if !ss.head.CompareAndSwap(nil, &h) {
		return *ss.head.Load() // built meanwhile: the same bytes
	}
	return h
}

// Deliver queues a new result for this subscriber: its own head, then the
// tail shared by every subscriber of the result.
func (ss *storeSub) Deliver(_ *live.Subscription, r *live.Result) {
	ss.s.PushState(ss.id, ss, ss.frameHead(), r.PushTail())
}

// End removes the subscription and tells the client why, with a final push
// (COMPATIBILITY.md P§11 #12).
func (ss *storeSub) End(_ *live.Subscription, code, message string) {
	if !ss.svc.forget(ss.s, ss.id) {
		return
	}
	ss.s.ForgetSubscription(ss.id)
	frame, _ := json.Marshal(map[string]any{
		"type": "push", "channel": wire.ChannelSubscription, "subscriptionId": ss.id, "data": nil,
		"error": map[string]string{"code": code, "message": message},
	})
	ss.s.send(frame)
	ss.s.ReleaseSubscription(StoreSubscription)
}

// LatestPush is the subscription's latest result as a push frame.
func (ss *storeSub) LatestPush() (head, tail []byte) {
	if ss.sub == nil {
		return nil, nil
	}
	r := ss.sub.Latest()
	if r == nil {
		return nil, nil
	}
	return ss.frameHead(), r.PushTail()
}

func (svc *storeService) conn(s *Session) *connSubs {
	if v, ok := svc.conns.Load(s); ok {
		return v.(*connSubs)
	}
	cs := &connSubs{byID: make(map[string]*storeSub)}
	if v, loaded := svc.conns.LoadOrStore(s, cs); loaded {
		return v.(*connSubs)
	}
	s.OnClose(func() { svc.closeConn(s, cs) })
	return cs
}

// closeConn cancels every subscription of a connection that ended.
func (svc *storeService) closeConn(s *Session, cs *connSubs) {
	cs.mu.Lock()
	cs.closed = true
	subs := cs.byID
	cs.byID = nil
	cs.mu.Unlock()
	svc.conns.Delete(s)
	for _, ss := range subs {
		if svc.live.Cancel(ss.sub) {
			s.ReleaseSubscription(StoreSubscription)
		}
	}
}

// forget removes a subscription from its connection; it reports whether
// it was there.
func (svc *storeService) forget(s *Session, id string) bool {
	v, ok := svc.conns.Load(s)
	if !ok {
		return false
	}
	cs := v.(*connSubs)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if _, ok := cs.byID[id]; !ok {
		return false
	}
	delete(cs.byID, id)
	return true
}

func (svc *storeService) handleLive(s *Session, req *Request, wo []store.WriteOption) (any, error) {
	f := req.Fields
	switch req.Type {
	case "store.subscribe":
		return svc.subscribe(s, req)
	case "store.unsubscribe":
		id, werr := wire.RequireString(f, "subscriptionId")
		if werr != nil {
			return nil, werr
		}
		v, _ := svc.conns.Load(s)
		var ss *storeSub
		if cs, ok := v.(*connSubs); ok {
			cs.mu.Lock()
			ss = cs.byID[id]
			delete(cs.byID, id)
			cs.mu.Unlock()
		}
		if ss == nil {
			return nil, wire.Errorf(wire.CodeNotFound, "Subscription %q not found", id)
		}
		s.ForgetSubscription(id)
		if svc.live.Cancel(ss.sub) {
			s.ReleaseSubscription(StoreSubscription)
		}
		return map[string]bool{"unsubscribed": true}, nil
	case "store.listQueries":
		return map[string]any{"queries": svc.live.List()}, nil
	}
	name, werr := wire.RequireString(f, "name")
	if werr != nil {
		return nil, werr
	}
	if req.Type == "store.defineQuery" {
		config, werr := wire.RequireObject(f, "config")
		if werr != nil {
			return nil, werr
		}
		if err := svc.live.DefineDeclarative(name, config, wo...); err != nil {
			return nil, err
		}
		if err := svc.srv.trackOwnership(s, "query", name, true); err != nil {
			return nil, err
		}
		return map[string]any{"name": name, "defined": true}, nil
	}
	// store.undefineQuery
	found, err := svc.live.Undefine(name, wo...)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, &store.ErrQueryNotDefined{Query: name}
	}
	if err := svc.srv.trackOwnership(s, "query", name, false); err != nil {
		return nil, err
	}
	return map[string]any{"name": name, "undefined": true}, nil
}

// subscribe follows PROTOCOL.md §3.2: limits first, then the query name,
// then registration and the initial result. The subscription starts
// delivering only after the result is queued (Request.AfterReply).
func (svc *storeService) subscribe(s *Session, req *Request) (any, error) {
	if werr := s.ReserveSubscription(StoreSubscription); werr != nil {
		return nil, werr
	}
	reserved := true
	defer func() {
		if reserved {
			s.ReleaseSubscription(StoreSubscription)
		}
	}()
	name, werr := wire.RequireString(req.Fields, "query")
	if werr != nil {
		return nil, werr
	}
	if buckets, known := svc.live.Buckets(name); known {
		if err := s.srv.authorizeQuery(s, name, buckets); err != nil {
			return nil, err
		}
	}
	var params any
	if raw := req.Fields["params"]; !wire.IsNull(raw) {
		if err := json.Unmarshal(raw, &params); err != nil {
			return nil, wire.NewError(wire.CodeValidation, `Invalid "params"`)
		}
	}
	id := s.srv.NextSubscriptionID()
	ss := &storeSub{id: id, s: s, svc: svc}
	sub, initial, err := svc.live.Subscribe(name, params, ss)
	if err != nil {
		return nil, err
	}
	ss.sub = sub
	cs := svc.conn(s)
	cs.mu.Lock()
	if cs.closed {
		cs.mu.Unlock()
		svc.live.Cancel(sub)
		return nil, errors.New("connection closed")
	}
	cs.byID[id] = ss
	cs.mu.Unlock()
	reserved = false
	req.AfterReply(func() { svc.live.Activate(sub) })

	out := make([]byte, 0, 48+len(initial.Data))
	out = append(out, `{"subscriptionId":`...)
	idJSON, _ := json.Marshal(id)
	out = append(out, idJSON...)
	if initial.HasValue {
		out = append(out, `,"data":`...)
		out = append(out, initial.Data...)
	}
	return json.RawMessage(append(out, '}')), nil
}
