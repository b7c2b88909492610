// Command dashboard shows a live counter: it subscribes to a query that
// counts page views, then records views one by one and prints the counter
// each time the server pushes its new value.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/noex-go/noex/client"
)

func main() {
	addr := flag.String("addr", "ws://localhost:8080/", "noex server address")
	views := flag.Int("views", 5, "page views to record")
	flag.Parse()
	if err := run(*addr, *views); err != nil {
		fmt.Fprintln(os.Stderr, "dashboard:", err)
		os.Exit(1)
	}
}

func run(addr string, views int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr, nil)
	if err != nil {
		return err
	}
	defer c.Close()

	st := c.Store()
	err = st.DefineBucket(ctx, "pageviews", client.BucketConfig{Key: "id", Schema: map[string]client.FieldDef{
		"id":   {Type: "string", Generated: "uuid"},
		"path": {Type: "string", Required: true},
	}})
	if err != nil && !client.IsCode(err, client.CodeAlreadyExists) {
		return err
	}
	err = st.DefineQuery(ctx, "pageview-count", client.QueryConfig{
		Bucket: "pageviews", Aggregate: &client.Aggregate{Function: "count"}})
	if err != nil && !client.IsCode(err, client.CodeAlreadyExists) {
		return err
	}

	sub, err := st.Subscribe(ctx, "pageview-count", nil)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe(ctx)
	count := func() (int, error) {
		select {
		case u, ok := <-sub.Updates():
			if !ok {
				return 0, fmt.Errorf("subscription ended: %w", sub.Err())
			}
			var n int
			return n, u.Decode(&n)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}

	n, err := count() // the initial value
	if err != nil {
		return err
	}
	fmt.Printf("page views: %d\n", n)
	pages := st.Bucket("pageviews")
	for i := range views {
		want := n + 1
		if _, err := pages.Insert(ctx, map[string]any{"path": fmt.Sprintf("/page/%d", i%3)}); err != nil {
			return err
		}
		// The server pushes the new count. Pushes are states: a reader
		// that falls behind may skip values, never the latest one.
		for n < want {
			if n, err = count(); err != nil {
				return err
			}
			fmt.Printf("page views: %d\n", n)
		}
	}
	fmt.Println("done")
	return nil
}
