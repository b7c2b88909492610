package noex

import (
	"fmt"
	"strconv"

	"github.com/noex-go/noex/internal/wire"
)

// Subscription bookkeeping shared by the store and rules namespaces:
// server-wide ids (PROTOCOL.md §3.1) and the limits of §3.6.

// SubscriptionKind says which registry count a subscription belongs to.
type SubscriptionKind uint8

const (
	// StoreSubscription is a store query subscription.
	StoreSubscription SubscriptionKind = iota
	// RulesSubscription is a rules event subscription.
	RulesSubscription
)

// NextSubscriptionID returns "sub-<n>" from the single server-wide counter
// shared by both kinds and all connections.
func (srv *Server) NextSubscriptionID() string {
	return "sub-" + strconv.FormatUint(srv.nextSubID.Add(1), 10)
}

// ReserveSubscription takes a subscription slot for this connection, or
// returns the RATE_LIMITED error of §3.6 when the per-connection or the
// global limit is reached. Call ReleaseSubscription when it ends.
func (s *Session) ReserveSubscription(kind SubscriptionKind) *wire.Error {
	limits := s.srv.cfg.ConnectionLimits
	if int(s.storeSubs.Load()+s.rulesSubs.Load()) >= limits.MaxSubscriptionsPerConnection {
		return wire.NewError(wire.CodeRateLimited,
			fmt.Sprintf("Subscription limit reached (max %d per connection)", limits.MaxSubscriptionsPerConnection))
	}
	for {
		total := s.srv.totalSubs.Load()
		if int(total) >= limits.MaxTotalSubscriptions {
			return wire.NewError(wire.CodeRateLimited,
				fmt.Sprintf("Global subscription limit reached (max %d)", limits.MaxTotalSubscriptions))
		}
		if s.srv.totalSubs.CompareAndSwap(total, total+1) {
			break
		}
	}
	s.countSub(kind, 1)
	return nil
}

// ReleaseSubscription gives a slot back.
func (s *Session) ReleaseSubscription(kind SubscriptionKind) {
	s.srv.totalSubs.Add(-1)
	s.countSub(kind, -1)
}

func (s *Session) countSub(kind SubscriptionKind, d int32) {
	if kind == RulesSubscription {
		s.rulesSubs.Add(d)
	} else {
		s.storeSubs.Add(d)
	}
}

// TotalSubscriptions is the number of subscriptions held by all
// connections.
func (srv *Server) TotalSubscriptions() int { return int(srv.totalSubs.Load()) }
