package cluster_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/internal/cluster"
)

// TestRetentionAcrossNodes: two nodes both sweep every second; a message
// made old (in the shared database) is deleted once, a member connected to
// the other node hears its message_deleted, and a message of a user on
// legal hold survives both sweepers.
func TestRetentionAcrossNodes(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: natsURL, Args: []string{"--retention-days=30", "--retention-every=1s"}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	alice := account(t, ctx, c.Nodes[0], "alice", c.Token())
	bob := account(t, ctx, c.Nodes[1], "bob", "")
	ch, err := alice.CreateChannel(ctx, client.CreateChannelInput{Name: "ageing", Kind: unhidra.ChannelPublic})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	old, err := alice.SendText(ctx, ch.ID, "from long ago")
	if err != nil {
		t.Fatal(err)
	}
	held, err := bob.SendText(ctx, ch.ID, "bob is on hold")
	if err != nil {
		t.Fatal(err)
	}
	me, err := bob.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.PlaceHold(ctx, "user", me.ID, "case 7"); err != nil {
		t.Fatal(err)
	}
	conn, err := bob.Connect(ctx, client.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()

	// Age both messages by two months, behind the nodes' backs.
	db, err := pgx.Connect(ctx, c.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if _, err := db.Exec(ctx, `UPDATE messages SET created_at = created_at - $1 WHERE id = ANY($2)`,
		(60 * 24 * time.Hour).Microseconds(), []string{old.ID, held.ID}); err != nil {
		t.Fatal(err)
	}
	waitFrame(t, ctx, conn, func(f *client.Frame) bool {
		var v struct {
			MessageID string `json:"message_id"`
		}
		json.Unmarshal(f.Raw, &v)
		return f.Type == "message_deleted" && v.MessageID == old.ID
	}, "the expired message's message_deleted on node 1")
	m, err := bob.Message(ctx, old.ID)
	if err != nil || !m.Deleted || m.Body != "" {
		t.Fatalf("the expired message: %+v, %v", m, err)
	}
	time.Sleep(2500 * time.Millisecond) // two more sweeps of each node
	if m, err := alice.Message(ctx, held.ID); err != nil || m.Deleted {
		t.Fatalf("the held user's message: %+v, %v", m, err)
	}
	events, err := alice.Events(ctx, ch.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	deletes := 0
	for _, e := range events {
		if e.Type == "message_deleted" {
			deletes++
		}
	}
	if deletes != 1 {
		t.Fatalf("%d message_deleted events, want 1: two sweeping nodes deleted once", deletes)
	}
}
