package cluster_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/internal/cluster"
)

// presenceTTL is the nodes' --presence-ttl in these tests: short, so a
// killed node's users go offline soon.
const presenceTTL = 3 * time.Second

// TestSharedPresence, on each networked bus: presence and the per-user
// socket cap span the nodes, and the users of a node killed with SIGKILL
// are shown offline by the survivor within the TTL and one sweep.
func TestSharedPresence(t *testing.T) {
	for name, url := range map[string]string{"nats": natsURL, "redis": "redis://127.0.0.1:6379/0"} {
		t.Run(name, func(t *testing.T) {
			var r [6]byte
			rand.Read(r[:])
			bucket := "unhidra_test_presence_" + hex.EncodeToString(r[:])
			if name == "nats" {
				deleteBucketAtEnd(t, bucket) // after the nodes stop
			}
			c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: url, Args: []string{
				"--presence-ttl=" + presenceTTL.String(), "--presence-bucket=" + bucket, "--ws-max-per-user=2",
			}})
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			if err := c.Ready(ctx); err != nil {
				t.Fatal(err)
			}
			n0, n1 := c.Nodes[0], c.Nodes[1]
			alice := account(t, ctx, n0, "alice", c.Token())
			bob := account(t, ctx, n1, "bob", "")
			ch, err := alice.CreateChannel(ctx, client.CreateChannelInput{Name: "here", Kind: unhidra.ChannelPublic})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bob.Join(ctx, ch.ID); err != nil {
				t.Fatal(err)
			}
			me, err := alice.Me(ctx)
			if err != nil {
				t.Fatal(err)
			}
			aliceTok, _ := alice.AccessToken(ctx)
			bobTok, _ := bob.AccessToken(ctx)

			// Bob's socket on node 1 hears presence frames.
			bobWS := openSocket(t, ctx, n1, bobTok)
			// Alice connects to node 0: node 1 answers her presence.
			openSocket(t, ctx, n0, aliceTok)
			waitPresence(t, ctx, n1, bobTok, ch.ID, me.ID, "online")

			// The cap of 2 counts both nodes: one socket on node 1 too,
			// then a third is refused on either node.
			second := openSocket(t, ctx, n1, aliceTok)
			for _, n := range []*cluster.Node{n0, n1} {
				deadline := time.Now().Add(10 * time.Second)
				for {
					status := dialStatus(ctx, n, aliceTok)
					if status == http.StatusTooManyRequests {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("node %d: a third socket of alice got %d, want 429", n.Index, status)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			second.Close(websocket.StatusNormalClosure, "")
			// Node 0 still holds her first socket.
			time.Sleep(time.Second)
			waitPresence(t, ctx, n1, bobTok, ch.ID, me.ID, "online")

			// Node 0 dies without a goodbye: within the TTL and a sweep
			// (TTL/3), node 1 shows her offline and tells bob's socket.
			killed := time.Now()
			n0.Kill()
			waitPresence(t, ctx, n1, bobTok, ch.ID, me.ID, "")
			if d := time.Since(killed); d > presenceTTL*4/3+5*time.Second {
				t.Fatalf("offline after %s, the TTL is %s", d, presenceTTL)
			}
			bobWS.waitOffline(t, ctx, me.ID)
		})
	}
}

// socket is a raw WebSocket whose frames are read in the background.
type socket struct {
	*websocket.Conn
	frames chan []byte
}

func openSocket(t *testing.T, ctx context.Context, n *cluster.Node, token string) *socket {
	t.Helper()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n.URL, "http")+"/api/v1/ws",
		&websocket.DialOptions{Subprotocols: []string{"unhidra.v1", "bearer." + token}})
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial node %d: %d %v", n.Index, status, err)
	}
	s := &socket{Conn: conn, frames: make(chan []byte, 1024)}
	go func() {
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				close(s.frames)
				return
			}
			select {
			case s.frames <- b:
			default:
			}
		}
	}()
	t.Cleanup(func() { conn.Close(websocket.StatusNormalClosure, "") })
	return s
}

// dialStatus is the HTTP status of a WebSocket handshake (101 if it
// succeeded, in which case the socket is closed again).
func dialStatus(ctx context.Context, n *cluster.Node, token string) int {
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(n.URL, "http")+"/api/v1/ws",
		&websocket.DialOptions{Subprotocols: []string{"unhidra.v1", "bearer." + token}})
	if err == nil {
		conn.Close(websocket.StatusNormalClosure, "")
		return http.StatusSwitchingProtocols
	}
	if res != nil {
		return res.StatusCode
	}
	return 0
}

// waitOffline waits for a presence frame that says user is offline.
func (s *socket) waitOffline(t *testing.T, ctx context.Context, user string) {
	t.Helper()
	for {
		select {
		case b, ok := <-s.frames:
			if !ok {
				t.Fatal("bob's socket closed before alice went offline")
			}
			var p struct {
				Type    string   `json:"type"`
				Offline []string `json:"offline"`
			}
			if json.Unmarshal(b, &p) == nil && p.Type == "presence" {
				for _, id := range p.Offline {
					if id == user {
						return
					}
				}
			}
		case <-ctx.Done():
			t.Fatal("bob's socket never heard alice go offline")
		}
	}
}

// waitPresence polls GET /channels/{id}/presence on n until user has
// status want ("" for offline, i.e. not listed).
func waitPresence(t *testing.T, ctx context.Context, n *cluster.Node, token, channel, user, want string) {
	t.Helper()
	deadline := time.Now().Add(presenceTTL*4/3 + 10*time.Second)
	var got map[string]string
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.URL+"/api/v1/channels/"+channel+"/presence", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Presence map[string]string `json:"presence"`
		}
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("presence on node %d: %d %v", n.Index, res.StatusCode, err)
		}
		got = body.Presence
		if got[user] == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("node %d: presence of %s is %q, want %q (all: %v)", n.Index, user, got[user], want, got)
}

// deleteBucketAtEnd removes the test's NATS KV bucket once the nodes have
// stopped.
func deleteBucketAtEnd(t *testing.T, bucket string) {
	t.Cleanup(func() {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			t.Errorf("delete bucket %s: %v", bucket, err)
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteKeyValue(ctx, bucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			t.Errorf("delete bucket %s: %v", bucket, err)
		}
	})
}
