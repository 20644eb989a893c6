package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/internal/cluster"
)

// TestAdminAcrossNodes, on each networked bus: a setting an admin changes
// through node 0 is enforced by node 1 within moments (the bus
// notification, well before the 10 s reload), and back again; node 0's
// admin lists a socket held by node 1 and closes it; after node 1 is
// killed, the list names it as not answering instead of waiting for it.
func TestAdminAcrossNodes(t *testing.T) {
	for name, url := range map[string]string{"nats": natsURL, "redis": "redis://127.0.0.1:6379/0"} {
		t.Run(name, func(t *testing.T) {
			// An install of its own on the shared bus servers.
			bucket := fmt.Sprintf("admin_%s_%d", name, time.Now().UnixNano())
			c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: url, Args: []string{"--presence-bucket=" + bucket}})
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			if err := c.Ready(ctx); err != nil {
				t.Fatal(err)
			}
			alice := account(t, ctx, c.Nodes[0], "alice", c.Token())
			bob := account(t, ctx, c.Nodes[1], "bob", "")
			visitor := func(name string) error {
				v, err := client.New(c.Nodes[1].URL)
				if err != nil {
					t.Fatal(err)
				}
				_, err = v.Register(ctx, client.RegisterInput{Username: name, Password: "a long passphrase for this test"})
				return err
			}
			// enforced waits until node 1 answers a registration as want
			// says, and returns how long that took.
			enforced := func(name string, refused bool) time.Duration {
				t.Helper()
				start := time.Now()
				for i := 0; ; i++ {
					err := visitor(fmt.Sprintf("%s%d", name, i))
					if refused && client.IsCode(err, client.CodePermission) || !refused && err == nil {
						return time.Since(start)
					}
					if err != nil && !client.IsCode(err, client.CodePermission) {
						t.Fatalf("register on node 1: %v", err)
					}
					if time.Since(start) > 5*time.Second {
						t.Fatalf("node 1 did not follow node 0's change within 5s (refused: %v)", refused)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}

			if _, err := alice.UpdateSettings(ctx, map[string]any{"registration": "closed"}); err != nil {
				t.Fatal(err)
			}
			closed := enforced("carol", true)
			// A member on node 1 is refused the settings.
			if list, err := bob.Settings(ctx); !client.IsCode(err, client.CodePermission) || list != nil {
				t.Fatalf("a member read the settings: %v", err)
			}
			if _, err := alice.UpdateSettings(ctx, map[string]any{"registration": nil}); err != nil {
				t.Fatal(err)
			}
			reopened := enforced("dave", false)
			t.Logf("node 1 enforced node 0's change after %v (closed) and %v (reopened)", closed, reopened)

			// A socket on node 1, seen and closed through node 0.
			a, err := alice.Connect(ctx, client.ConnectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer a.CloseNow()
			conn, err := bob.Connect(ctx, client.ConnectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.CloseNow()
			bobConn := conn.Hello().ConnectionID
			page, err := alice.AdminConnections(ctx, "", "", 0)
			if err != nil {
				t.Fatal(err)
			}
			var onB *client.Connection
			nodes := map[string]bool{}
			for i, x := range page.Connections {
				nodes[x.NodeID] = true
				if x.ID == bobConn {
					onB = &page.Connections[i]
				}
			}
			if onB == nil || onB.Username != "bob" || len(nodes) != 2 || len(page.Unreachable) != 0 {
				t.Fatalf("node 0 lists %+v", page)
			}
			if err := alice.CloseConnection(ctx, bobConn); err != nil {
				t.Fatal(err)
			}
			for {
				_, err := conn.Read(ctx)
				if err == nil {
					continue
				}
				var ce *client.Error
				if !errors.As(err, &ce) || ce.CloseCode != 4010 {
					t.Fatalf("bob's socket on node 1 ended with %v, want close 4010", err)
				}
				break
			}
			if err := alice.CloseConnection(ctx, bobConn); !client.IsCode(err, client.CodeNotFound) {
				t.Fatalf("closing it again: %v", err)
			}

			// A page of 200 across the nodes, most of it from node 1.
			const many = 150
			for range many {
				cn, err := bob.Connect(ctx, client.ConnectOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer cn.CloseNow()
			}
			start := time.Now()
			page, err = alice.AdminConnections(ctx, "", "", 200)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Connections) != many+1 || page.NextCursor != "" {
				t.Fatalf("listed %d sockets, want %d", len(page.Connections), many+1)
			}
			t.Logf("a page of %d sockets from both nodes took %v", len(page.Connections), time.Since(start))

			// Node 1 killed: its registry entry outlives it for the
			// presence TTL, and the list says it did not answer.
			c.Nodes[1].Kill()
			start = time.Now()
			page, err = alice.AdminConnections(ctx, "", "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Unreachable) != 1 || len(page.Connections) != 1 || page.Connections[0].Username != "alice" {
				t.Fatalf("with node 1 dead: %+v", page)
			}
			t.Logf("the list with a dead node took %v", time.Since(start))
		})
	}
}
