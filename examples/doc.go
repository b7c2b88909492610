// Package examples holds runnable programs that use the Go client
// (package client) against a noex server:
//
//   - dashboard: a live counter fed by a store subscription;
//   - chat: a chat room made of a bucket of messages and a subscription;
//   - alert: a rule that turns sensor readings into alert events.
//
// Each takes -addr ws://host:port/, does its thing, prints what it saw and
// exits. examples_test.go builds and runs them against a real server.
package examples
