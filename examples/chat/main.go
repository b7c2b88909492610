// Command chat is a chat room: messages are records of a bucket, the room
// is a subscription to a query over that bucket, and sending a message is
// an insert. Two users talk over two connections; the program prints the
// room as alice sees it and exits once every message has arrived.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/noex-go/noex/client"
)

// Message is one chat message.
type Message struct {
	ID     string `json:"id,omitempty"`
	Room   string `json:"room"`
	Author string `json:"author"`
	Text   string `json:"text"`
}

func main() {
	addr := flag.String("addr", "ws://localhost:8080/", "noex server address")
	room := flag.String("room", "lobby", "chat room")
	flag.Parse()
	if err := run(*addr, *room); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

func run(addr, room string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, err := client.Dial(ctx, addr, nil)
	if err != nil {
		return err
	}
	defer alice.Close()
	bob, err := client.Dial(ctx, addr, nil)
	if err != nil {
		return err
	}
	defer bob.Close()

	st := alice.Store()
	err = st.DefineBucket(ctx, "messages", client.BucketConfig{Key: "id", Schema: map[string]client.FieldDef{
		"id":     {Type: "string", Generated: "uuid"},
		"room":   {Type: "string", Required: true},
		"author": {Type: "string", Required: true},
		"text":   {Type: "string", Required: true},
	}, Indexes: []string{"room"}})
	if err != nil && !client.IsCode(err, client.CodeAlreadyExists) {
		return err
	}
	err = st.DefineQuery(ctx, "room-messages", client.QueryConfig{
		Bucket: "messages", Filter: client.Filter{"room": "{{ params.room }}"}})
	if err != nil && !client.IsCode(err, client.CodeAlreadyExists) {
		return err
	}

	sub, err := st.Subscribe(ctx, "room-messages", map[string]any{"room": room})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe(ctx)

	script := []struct {
		from *client.Client
		name string
		text string
	}{
		{alice, "alice", "hi bob!"},
		{bob, "bob", "hi alice, how are you?"},
		{alice, "alice", "great, bye!"},
	}
	sent := map[string]bool{}
	for _, line := range script {
		msgs := client.BucketOf[Message](line.from, "messages")
		m, err := msgs.Insert(ctx, Message{Room: room, Author: line.name, Text: line.text})
		if err != nil {
			return err
		}
		sent[m.ID] = true
	}

	// Print each message once, as the room's result grows.
	seen := map[string]bool{}
	for len(sent) > 0 {
		var msgs []Message
		select {
		case u, ok := <-sub.Updates():
			if !ok {
				return fmt.Errorf("subscription ended: %w", sub.Err())
			}
			if err := u.Decode(&msgs); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		for _, m := range msgs {
			if !seen[m.ID] {
				seen[m.ID] = true
				delete(sent, m.ID)
				fmt.Printf("[%s] %s: %s\n", m.Room, m.Author, m.Text)
			}
		}
	}
	fmt.Println("all messages delivered")
	return nil
}
