package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// run owns the connection lifecycle: it waits for the current connection
// to end, then reconnects or closes the client as configured.
func (c *Client) run(cn *conn) {
	defer close(c.runDone)
	for {
		<-cn.done
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return
		}
		cause := cn.cause
		if c.cfg.Reconnect.Disabled {
			c.terminate(cause)
			return
		}
		if code, ok := CloseCode(cause); ok && code == CloseSessionRevoked {
			// An operator revoked the session: logging in again would
			// undo that decision (and fail while the user is blacklisted).
			c.terminate(cause)
			return
		}
		if cn = c.reconnect(cause); cn == nil {
			return
		}
	}
}

// terminate closes the client for good because of cause; subscriptions
// receive UpdateEnded with it.
func (c *Client) terminate(cause error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.closedErr = fmt.Errorf("%w: %w", ErrClosed, cause)
	c.state = StateClosed
	c.closeGate()
	c.mu.Unlock()
	c.cancel()
	c.shutdown(cause, true)
}

// reconnect dials with backoff until a connection is restored, the client
// is closed, or Reconnect.MaxAttempts is reached. It returns the new
// connection, or nil when run should stop.
func (c *Client) reconnect(cause error) *conn {
	r := c.cfg.Reconnect
	c.mu.Lock()
	c.state = StateReconnecting
	c.mu.Unlock()
	c.emitState(StateChange{State: StateReconnecting, Err: cause})
	for attempt := 1; ; attempt++ {
		if r.MaxAttempts > 0 && attempt > r.MaxAttempts {
			c.terminate(fmt.Errorf("noex client: gave up after %d reconnect attempts: %w", r.MaxAttempts, cause))
			return nil
		}
		t := time.NewTimer(r.delay(attempt))
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return nil
		}
		cn, err := c.connect()
		if err == nil {
			return cn
		}
		if c.ctx.Err() != nil {
			return nil
		}
		cause = err
		c.cfg.Logger.Info("noex client: reconnect attempt failed", "attempt", attempt, "err", err)
		c.emitState(StateChange{State: StateReconnecting, Err: err, Attempt: attempt})
	}
}

// connect opens a connection, logs in again and restores the
// subscriptions; only then may requests use it.
func (c *Client) connect() (*conn, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.DialTimeout)
	cn, err := dialConn(ctx, c.url, &c.cfg)
	cancel()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cn.nc.Close()
		return nil, ErrClosed
	}
	c.cur = cn
	c.welcome = cn.welcome
	c.mu.Unlock()
	go c.readLoop(cn)

	loginErr, err := c.restore(cn)
	if err == nil {
		c.mu.Lock()
		if c.cur == cn && !c.closed {
			c.ready = true
			c.state = StateConnected
			c.closeGate()
			c.mu.Unlock()
			c.emitState(StateChange{State: StateConnected, Err: loginErr})
			return cn, nil
		}
		err = c.lostError(cn)
		c.mu.Unlock()
	}
	cn.nc.Close()
	<-cn.done
	return nil, err
}

// restore re-runs the last login and re-subscribes on cn. A login the
// server refuses is forgotten and reported as loginErr; a lost connection
// is err.
func (c *Client) restore(cn *conn) (loginErr, err error) {
	c.mu.Lock()
	login := c.login
	c.mu.Unlock()
	if login != nil {
		if _, err := c.restoreCall(cn, login.typ, login.params); err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				return nil, err
			}
			c.mu.Lock()
			if c.login == login {
				c.login = nil
			}
			c.mu.Unlock()
			loginErr = fmt.Errorf("noex client: login again with %s: %w", login.typ, err)
		}
	}

	c.mu.Lock()
	subs := slices.Clone(c.subs)
	c.subscribing++
	c.mu.Unlock()
	defer c.doneSubscribing()
	for _, s := range subs {
		if err := c.resubscribe(cn, s); err != nil {
			return loginErr, err
		}
	}
	return loginErr, nil
}

func (c *Client) restoreCall(cn *conn, typ string, params any) (json.RawMessage, error) {
	ctx, cancel := withDefaultTimeout(c.ctx, c.cfg.RequestTimeout)
	defer cancel()
	return c.roundTrip(ctx, cn, typ, params)
}

// resubscribe subscribes s again on cn and delivers the fresh result. If
// the server refuses (say the query was undefined meanwhile), s ends with
// that error. Like subscribe, the reader registers the new id as the
// result arrives.
func (c *Client) resubscribe(cn *conn, s *Subscription) error {
	var (
		regErr error
		stale  string // new id of a subscription dropped meanwhile
	)
	ctx, cancel := withDefaultTimeout(c.ctx, c.cfg.RequestTimeout)
	defer cancel()
	_, err := c.send(ctx, cn, s.subscribeType(), s.subscribeParams(), func(data json.RawMessage) {
		res, err := decodeSubscribeResult(data)
		if err != nil {
			regErr = err
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if !slices.Contains(c.subs, s) {
			stale = res.SubscriptionID
			return
		}
		c.registerLocked(cn, s, res, UpdateResumed)
	})
	if err != nil {
		var pe *Error
		if !errors.As(err, &pe) {
			return err
		}
		c.mu.Lock()
		removed := c.removeSubLocked(s)
		c.mu.Unlock()
		if removed {
			s.end(err)
		}
		return nil
	}
	if regErr != nil {
		return regErr
	}
	if stale != "" {
		// Unsubscribed meanwhile: cancel the new server subscription too.
		_, _ = c.restoreCall(cn, s.unsubscribeType(), map[string]any{"subscriptionId": stale})
	}
	return nil
}

// subscribeResult is the data of store.subscribe and rules.subscribe.
type subscribeResult struct {
	SubscriptionID string          `json:"subscriptionId"`
	Data           json.RawMessage `json:"data"`
}

func decodeSubscribeResult(raw json.RawMessage) (subscribeResult, error) {
	var res subscribeResult
	if err := json.Unmarshal(raw, &res); err != nil || res.SubscriptionID == "" {
		return res, fmt.Errorf("noex client: subscribe result without a subscriptionId: %s", raw)
	}
	if len(res.Data) == 0 {
		res.Data = json.RawMessage("null")
	}
	return res, nil
}

func (c *Client) doneSubscribing() {
	c.mu.Lock()
	c.subscribing--
	if c.subscribing == 0 {
		c.early = nil
	}
	c.mu.Unlock()
}
