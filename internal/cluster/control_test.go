package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/internal/cluster"
)

// TestControlAcrossNodes: what one node decides about a user holds on the
// node that has the user's socket, on each networked bus. A member removed
// through node 0 stops hearing the channel on node 1 right after their
// member_left; a session revoked through node 0 has its socket on node 1
// closed with 4001.
func TestControlAcrossNodes(t *testing.T) {
	for name, url := range map[string]string{"nats": natsURL, "redis": "redis://127.0.0.1:6379/0"} {
		t.Run(name, func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: url})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := c.Ready(ctx); err != nil {
				t.Fatal(err)
			}
			alice := account(t, ctx, c.Nodes[0], "alice", c.Token())
			bob := account(t, ctx, c.Nodes[1], "bob", "")
			me, err := bob.Me(ctx)
			if err != nil {
				t.Fatal(err)
			}
			secret, err := alice.CreateChannel(ctx, client.CreateChannelInput{Name: "secret", Kind: unhidra.ChannelPrivate})
			if err != nil {
				t.Fatal(err)
			}
			open, err := alice.CreateChannel(ctx, client.CreateChannelInput{Name: "open", Kind: unhidra.ChannelPublic})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := alice.AddMember(ctx, secret.ID, me.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := bob.Join(ctx, open.ID); err != nil {
				t.Fatal(err)
			}
			conn, err := bob.Connect(ctx, client.ConnectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.CloseNow()

			// Removed on node 0: bob's socket on node 1 gets his member_left
			// and then nothing more of the channel, while the channel he is
			// still in goes on reaching him.
			if err := alice.RemoveMember(ctx, secret.ID, me.ID); err != nil {
				t.Fatal(err)
			}
			waitFrame(t, ctx, conn, func(f *client.Frame) bool {
				return f.Type == "member_left" && channelOf(f) == secret.ID
			}, "bob's member_left")
			if _, err := alice.SendText(ctx, secret.ID, "not for bob"); err != nil {
				t.Fatal(err)
			}
			if _, err := alice.SendText(ctx, open.ID, "for everyone"); err != nil {
				t.Fatal(err)
			}
			waitFrame(t, ctx, conn, func(f *client.Frame) bool {
				if f.Type == "message" && channelOf(f) == secret.ID {
					t.Fatalf("bob heard the channel he was removed from: %s", f.Raw)
				}
				return f.Type == "message" && channelOf(f) == open.ID
			}, "the message in the channel bob is still in")

			// Revoked on node 0: bob's other session is closed on node 1.
			bob2, err := client.New(c.Nodes[0].URL)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bob2.Login(ctx, "bob", "a long passphrase for this test"); err != nil {
				t.Fatal(err)
			}
			if n, err := bob2.RevokeOtherSessions(ctx); err != nil || n != 1 {
				t.Fatalf("revoke other sessions: %d, %v", n, err)
			}
			for {
				_, err := conn.Read(ctx)
				if err == nil {
					continue
				}
				var ce *client.Error
				if !errors.As(err, &ce) || ce.CloseCode != 4001 {
					t.Fatalf("bob's socket on node 1 ended with %v, want close 4001", err)
				}
				break
			}
		})
	}
}

// waitFrame reads conn until match accepts a frame.
func waitFrame(t *testing.T, ctx context.Context, conn *client.Conn, match func(*client.Frame) bool, what string) {
	t.Helper()
	for {
		f, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(f) {
			return
		}
	}
}

func channelOf(f *client.Frame) string {
	var v struct {
		ChannelID string `json:"channel_id"`
	}
	json.Unmarshal(f.Raw, &v)
	return v.ChannelID
}
