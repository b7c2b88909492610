// Package client is the Go client of the noex server: it speaks the JSON
// protocol over WebSocket (PROTOCOL.md), correlates requests and answers,
// answers heartbeats, and survives connection losses.
//
//	c, err := client.Dial(ctx, "ws://localhost:8080/", nil)
//	if err != nil { … }
//	defer c.Close()
//
//	users := client.BucketOf[User](c, "users")
//	u, err := users.Insert(ctx, map[string]any{"name": "Ann"})
//
//	sub, err := c.Store().Subscribe(ctx, "users-by-role", map[string]any{"role": "admin"},
//		client.OnResult(func(admins []User) { … }))
//
// Operations are grouped as in the protocol: c.Store() (with bucket
// handles, queries, subscriptions and transactions), c.Rules(), c.Auth(),
// c.Identity(), c.Procedures(), c.Audit(), c.Server(); c.Request sends any
// operation and returns its raw result.
//
// # Errors
//
// A request the server refuses returns an *Error carrying the protocol
// code, message and details: use errors.As, or IsCode(err, CodeNotFound).
//
// # Reconnecting
//
// When the connection drops, requests waiting for an answer fail with an
// error matching ErrDisconnected (and wrapping the cause, e.g. a
// *CloseError with the server's close code). They are never sent again
// automatically: whether the server applied a write before the drop is
// unknown, and only the caller knows whether repeating it is safe.
//
// The client then reconnects with exponential backoff and jitter
// (Config.Reconnect). On the new connection it first re-runs the last
// successful login call (Auth().Login, Identity().Login or
// Identity().LoginWithSecret), then subscribes every live Subscription
// again, maps the new server id to it and delivers the fresh result as an
// UpdateResumed; only then are new requests sent (they wait meanwhile,
// within their context). A session revoked by the server (close code
// 4002) is not logged in again: the client closes.
package client
