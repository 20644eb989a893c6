package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/internal/cluster"
)

// keyArgs turn the key directory's rate limits off: these tests fetch
// one user's keys far more often than the limits allow.
var keyArgs = []string{"--rate-keys-fetch=0", "--rate-keys-fetch-user=0", "--rate-to-device=0"}

func fill(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func registration(b byte) client.ClientRegistration {
	return client.ClientRegistration{
		IdentityKey: fill(b, 32), SigningKey: fill(b+1, 32), IdentitySig: fill(b+2, 64),
		SignedPreKey:     &unhidra.SignedPreKey{ID: 1, Key: fill(b+3, 32), Sig: fill(b+4, 64)},
		LastResortPreKey: &unhidra.SignedPreKey{ID: 2, Key: fill(b+5, 32), Sig: fill(b+6, 64)},
	}
}

// nextToDevice reads frames until a to_device one, skipping the others.
func nextToDevice(t *testing.T, ctx context.Context, cn *client.Conn) *client.ToDevice {
	t.Helper()
	for {
		f, err := cn.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if f.Type == client.FrameToDevice {
			m, err := f.ToDevice()
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
	}
}

// TestToDeviceAcrossNodes: a to-device message posted on node 0 reaches
// its client's socket on node 1 live, on each networked bus; unacknowledged
// it survives the socket and comes again on the other node; acknowledged
// there, it is gone for both.
func TestToDeviceAcrossNodes(t *testing.T) {
	for name, url := range map[string]string{"nats": natsURL, "redis": "redis://127.0.0.1:6379/0"} {
		t.Run(name, func(t *testing.T) {
			c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: url, Args: keyArgs})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if err := c.Ready(ctx); err != nil {
				t.Fatal(err)
			}
			alice := account(t, ctx, c.Nodes[0], "alice", c.Token())
			bob := account(t, ctx, c.Nodes[1], "bob", "")
			if _, created, err := alice.RegisterClient(ctx, "a1", registration(10)); err != nil || !created {
				t.Fatalf("register a1: %v %v", created, err)
			}
			if _, _, err := bob.RegisterClient(ctx, "b1", registration(20)); err != nil {
				t.Fatal(err)
			}
			bobID := meID(t, ctx, bob)

			cn, err := bob.Connect(ctx, client.ConnectOptions{}) // node 1
			if err != nil {
				t.Fatal(err)
			}
			ids, err := alice.SendToDevice(ctx, "", []client.ToDeviceOut{{UserID: bobID, ClientID: "b1", Ciphertext: []byte("session set-up")}})
			if err != nil {
				t.Fatal(err)
			}
			m := nextToDevice(t, ctx, cn)
			if m.ID != ids[0] || m.FromClient != "a1" || m.Ciphertext != "c2Vzc2lvbiBzZXQtdXA=" {
				t.Fatalf("on node 1: %+v, want %s from a1", m, ids[0])
			}
			cn.Close()

			// Not acknowledged: the same message again, from node 0.
			bob0, err := client.New(c.Nodes[0].URL, client.WithTokens(bob.Tokens()))
			if err != nil {
				t.Fatal(err)
			}
			cn0, err := bob0.Connect(ctx, client.ConnectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer cn0.Close()
			if again := nextToDevice(t, ctx, cn0); again.ID != ids[0] {
				t.Fatalf("replayed on node 0: %+v, want %s", again, ids[0])
			}
			if err := cn0.AckToDevice(ctx, ids); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				left, _, err := bob.ToDeviceMessages(ctx, "", "", 50) // node 1
				if err != nil {
					t.Fatal(err)
				}
				if len(left) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("still waiting after the ack: %+v", left)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func meID(t *testing.T, ctx context.Context, c *client.Client) string {
	t.Helper()
	u, err := c.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// TestPrekeysNeverTwiceAcrossNodes: bundle fetches racing on two nodes of
// one database hand out every one-time prekey exactly once, and the
// last-resort key after.
func TestPrekeysNeverTwiceAcrossNodes(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: natsURL, Args: keyArgs})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	alice := account(t, ctx, c.Nodes[0], "alice", c.Token())
	aliceID := meID(t, ctx, alice)
	if _, _, err := alice.RegisterClient(ctx, "a1", registration(10)); err != nil {
		t.Fatal(err)
	}
	const total = 300
	for i := 0; i < total; i += 100 {
		ks := make([]unhidra.PreKey, 100)
		for j := range ks {
			ks[j] = unhidra.PreKey{ID: uint32(i + j), Key: fill(byte(i+j), 32)}
		}
		if _, err := alice.UploadPreKeys(ctx, "a1", ks, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Four requesters, two on each node, four goroutines each.
	var requesters []*client.Client
	for i := range 4 {
		requesters = append(requesters, account(t, ctx, c.Nodes[i%2], fmt.Sprintf("fetcher%d", i), ""))
	}
	const perGoroutine = 20 // 4 × 4 × 20 = 320 fetches for 300 prekeys
	var mu sync.Mutex
	seen := map[uint32]int{}
	lastResort := 0
	var wg sync.WaitGroup
	for _, r := range requesters {
		for range 4 {
			wg.Go(func() {
				for range perGoroutine {
					k, err := r.UserKeys(ctx, aliceID)
					if err != nil {
						t.Error(err)
						return
					}
					if len(k.Clients) != 1 {
						t.Errorf("bundles = %+v", k.Clients)
						return
					}
					b := k.Clients[0]
					mu.Lock()
					switch {
					case b.OneTimePreKey != nil && b.LastResortPreKey == nil:
						seen[b.OneTimePreKey.ID]++
					case b.OneTimePreKey == nil && b.LastResortPreKey != nil && b.LastResortPreKey.ID == 2:
						lastResort++
					default:
						t.Errorf("bundle %+v: want a one-time or the last-resort prekey", b)
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("prekey %d handed out %d times", id, n)
		}
	}
	if len(seen) != total || lastResort != 4*4*perGoroutine-total {
		t.Fatalf("%d one-time prekeys handed out (want %d) and %d last-resort (want %d)", len(seen), total, lastResort, 4*4*perGoroutine-total)
	}
	if n, err := alice.PreKeyCount(ctx, "a1"); err != nil || n.OneTimePreKeys != 0 {
		t.Fatalf("left: %+v %v", n, err)
	}
}
