// Command alert is a rules-driven alert: it registers a rule that turns
// hot sensor readings into alert events, subscribes to the alert topic,
// emits a few readings and prints the alerts the rule raised.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/noex-go/noex/client"
)

// Reading is a sensor reading, the data of sensor.reading events.
type Reading struct {
	Sensor  string  `json:"sensor"`
	Celsius float64 `json:"celsius"`
}

func main() {
	addr := flag.String("addr", "ws://localhost:8080/", "noex server address")
	limit := flag.Float64("limit", 30, "alert above this temperature (°C)")
	flag.Parse()
	if err := run(*addr, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "alert:", err)
		os.Exit(1)
	}
}

func run(addr string, limit float64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	r := c.Rules()

	// sensor.reading with celsius > limit → alert.high-temperature.
	_ = r.UnregisterRule(ctx, "high-temperature") // from an earlier run
	_, err = r.RegisterRule(ctx, client.Rule{
		ID:      "high-temperature",
		Name:    "High temperature",
		Trigger: map[string]any{"type": "event", "topic": "sensor.reading"},
		Conditions: []any{map[string]any{
			"source":   map[string]any{"type": "event", "field": "celsius"},
			"operator": "gt", "value": limit,
		}},
		Actions: []any{map[string]any{
			"type": "emit_event", "topic": "alert.high-temperature",
			"data": map[string]any{
				"sensor":  map[string]any{"ref": "event.sensor"},
				"celsius": map[string]any{"ref": "event.celsius"},
			},
		}},
	})
	if err != nil {
		return err
	}

	alerts, err := r.Subscribe(ctx, "alert.*")
	if err != nil {
		return err
	}
	defer alerts.Unsubscribe(ctx)

	readings := []Reading{{"s1", 22}, {"s2", 35.5}, {"s1", 28}, {"s3", 41}}
	want := 0
	for _, rd := range readings {
		if _, err := r.Emit(ctx, "sensor.reading", rd); err != nil {
			return err
		}
		fmt.Printf("reading: %s %.1f°C\n", rd.Sensor, rd.Celsius)
		if rd.Celsius > limit {
			want++
		}
	}

	for got := 0; got < want; {
		select {
		case u, ok := <-alerts.Updates():
			if !ok {
				return fmt.Errorf("subscription ended: %w", alerts.Err())
			}
			if u.Kind != client.UpdateChange {
				continue // UpdateResumed after a reconnect
			}
			got++
			ev, err := u.Event()
			if err != nil {
				return err
			}
			var rd Reading
			if err := ev.Decode(&rd); err != nil {
				return err
			}
			fmt.Printf("ALERT %s: %s at %.1f°C\n", ev.Topic, rd.Sensor, rd.Celsius)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fmt.Printf("%d alerts\n", want)
	return nil
}
