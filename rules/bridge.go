package rules

import (
	"context"
	"sync"
	"sync/atomic"
)

// The store → rules bridge (RULES.md §19). The rules package imports
// nothing of the store: the server hands Bridge a function that registers
// a handler for the store's change events, e.g.
//
//	off := engine.Bridge(func(h func(topic string, data map[string]any)) func() {
//		return st.On("bucket.*", func(ev store.Event) {
//			h(ev.Topic(), rules.StoreEventData(ev.Type, ev.Bucket, ev.Key, ev.Record, ev.OldRecord, ev.NewRecord))
//		})
//	}, rules.BridgeOptions{})
//
// Bridged events are emitted with source "api" and no correlation, like
// the reference's bridgeStoreToRules. Delivery is fire-and-forget and never
// blocks the store: events are queued (bounded, see Options.BridgeQueue)
// and processed in order by the engine's own goroutine, each as a
// top-level trigger.
//
// Loops through the store (a rule writes a bucket whose events trigger the
// same rule, RULES.md §19) are cut off too: an event bridged while a
// call_service action is running is processed one level deeper than that
// action's rule, so the chain stops at the forward-depth limit.
//
// Rules → store has no dedicated channel: register a Service whose methods
// write the store and call it with call_service.

// BridgeOptions are the optional hooks of bridgeStoreToRules, applied in
// this order: Filter (drop when false), MapTopic, MapData.
type BridgeOptions struct {
	Filter   func(topic string, data map[string]any) bool
	MapTopic func(topic string, data map[string]any) string
	MapData  func(data map[string]any) map[string]any
}

// Bridge subscribes to a source of store events and forwards them to the
// engine; it returns the teardown (the source's own off function).
func (e *Engine) Bridge(subscribe func(handler func(topic string, data map[string]any)) (off func()), opts BridgeOptions) (off func()) {
	return subscribe(func(topic string, data map[string]any) {
		if opts.Filter != nil && !opts.Filter(topic, data) {
			return
		}
		if opts.MapTopic != nil {
			topic = opts.MapTopic(topic, data)
		}
		if opts.MapData != nil {
			data = opts.MapData(data)
		}
		e.EmitAsync(topic, data)
	})
}

// StoreEventData is the default data of a bridged store event: the whole
// store event, {type, bucket, key, record} for inserted and deleted,
// {type, bucket, key, oldRecord, newRecord} for updated.
func StoreEventData(typ, bucket string, key any, record, oldRecord, newRecord map[string]any) map[string]any {
	m := map[string]any{"type": typ, "bucket": bucket, "key": key}
	if typ == "updated" {
		m["oldRecord"], m["newRecord"] = oldRecord, newRecord
	} else {
		m["record"] = record
	}
	return m
}

// EmitAsync queues an event (source "api") for processing by the engine's
// goroutine and returns at once; it reports false when the event was
// dropped (engine stopped, or queue full: counted in Stats.BridgeDropped
// and logged). It is safe to call from anywhere, subscription handlers
// included.
func (e *Engine) EmitAsync(topic string, data map[string]any) bool {
	if e.stopped.Load() {
		return false
	}
	q := &e.bridge
	depth := int(q.serviceDepth.Load())
	q.mu.Lock()
	if len(q.items) >= q.max {
		q.mu.Unlock()
		if e.stats.bridgeDropped.Add(1)&(1<<10-1) == 1 { // log the 1st, 1025th, ...
			e.log.Warn("rules: event queue full, events dropped", "engine", e.name, "topic", topic,
				"dropped", e.stats.bridgeDropped.Load())
		}
		return false
	}
	q.items = append(q.items, queued{topic: topic, data: data, depth: depth})
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
	return true
}

type queued struct {
	topic string
	data  map[string]any
	depth int
}

type bridgeQueue struct {
	mu     sync.Mutex
	items  []queued
	spare  []queued
	max    int
	signal chan struct{}
	// serviceDepth is depth+1 of the rule whose call_service action is
	// running, 0 when none: the depth a bridged event inherits.
	serviceDepth atomic.Int32
}

func (q *bridgeQueue) init(max int) {
	q.max = max
	q.signal = make(chan struct{}, 1)
}

func (q *bridgeQueue) take() []queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items, q.spare = q.spare[:0], nil
	return items
}

func (q *bridgeQueue) recycle(items []queued) {
	clear(items)
	q.mu.Lock()
	if q.spare == nil && cap(items) <= 4096 {
		q.spare = items[:0]
	}
	q.mu.Unlock()
}

// drainBridge processes queued events until Stop.
func (e *Engine) drainBridge() {
	defer e.wg.Done()
	ctx := context.Background()
	for {
		select {
		case <-e.done:
			return
		case <-e.bridge.signal:
		}
		for {
			items := e.bridge.take()
			if len(items) == 0 {
				break
			}
			for _, it := range items {
				if e.acquire(ctx) != nil {
					return
				}
				ev := e.newEvent(it.topic, it.data, "", "", sourceAPI)
				e.handleEvent(ctx, ev, it.depth)
				e.release()
			}
			e.bridge.recycle(items)
		}
	}
}
