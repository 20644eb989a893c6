package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/internal/cluster"
)

const natsURL = "nats://127.0.0.1:4222"

// account registers a user on node n and returns a signed-in client.
func account(t *testing.T, ctx context.Context, n *cluster.Node, name, setup string) *client.Client {
	t.Helper()
	c, err := client.New(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	pw := "a long passphrase for this test"
	if _, err := c.Register(ctx, client.RegisterInput{Username: name, Password: pw, SetupToken: setup}); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
	if _, err := c.Login(ctx, name, pw); err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return c
}

// TestCrossNodeDelivery: users on different nodes talk as if on one, on
// each networked bus: every message sent on node 0 reaches a member
// connected to node 1, once and in order.
func TestCrossNodeDelivery(t *testing.T) {
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
			ch, err := alice.CreateChannel(ctx, client.CreateChannelInput{Name: "cross", Kind: unhidra.ChannelPublic})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bob.Join(ctx, ch.ID); err != nil {
				t.Fatal(err)
			}
			stream := bob.Stream(client.StreamOptions{})
			defer stream.Close()
			if f, err := stream.Next(ctx); err != nil || f.Type != "hello" {
				t.Fatalf("first frame %v, %v", f, err)
			}
			const n = 50
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				for i := 0; i < n; i++ {
					if _, err := alice.SendText(ctx, ch.ID, fmt.Sprintf("msg %d", i)); err != nil {
						t.Errorf("send %d: %v", i, err)
						return
					}
				}
			}()
			expectInOrder(t, ctx, stream, n, "msg %d", nil)
			<-sent // the last answer may come after its message frame
		})
	}
}

// TestKillNodeMidStream: a member's node is killed with SIGKILL while
// messages flow; the member's client reconnects through the load balancer
// to the other node and resumes: every acknowledged message arrives once
// and in order, at that member and at one on the surviving node.
func TestKillNodeMidStream(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: natsURL})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	lb := c.Balancer(t)
	alice := account(t, ctx, c.Nodes[0], "alice", c.Token())
	ch, err := alice.CreateChannel(ctx, client.CreateChannelInput{Name: "through-a-crash", Kind: unhidra.ChannelPublic})
	if err != nil {
		t.Fatal(err)
	}
	// Bob talks to the balancer, which sends him to node 1 first.
	lb.Prefer.Store(1)
	bobNode := &cluster.Node{URL: lb.URL}
	bob := account(t, ctx, bobNode, "bob", "")
	if _, err := bob.Join(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	var drops atomic.Int32
	stream := bob.Stream(client.StreamOptions{MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		OnDisconnect: func(error, time.Duration) { drops.Add(1) }})
	defer stream.Close()
	if f, err := stream.Next(ctx); err != nil || f.Type != "hello" {
		t.Fatalf("first frame %v, %v", f, err)
	}
	lb.Prefer.Store(-1)
	// Carol stays on node 0, which survives: both members get everything.
	carol := account(t, ctx, c.Nodes[0], "carol", "")
	if _, err := carol.Join(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	carolStream := carol.Stream(client.StreamOptions{})
	defer carolStream.Close()
	if f, err := carolStream.Next(ctx); err != nil || f.Type != "hello" {
		t.Fatalf("carol's first frame %v, %v", f, err)
	}

	const total = 300
	acked := make(chan string, total)
	go func() {
		defer close(acked)
		for i := 0; i < total; i++ {
			body := fmt.Sprintf("msg %03d", i)
			if _, err := alice.SendText(ctx, ch.ID, body); err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
			acked <- body
		}
	}()
	expectInOrder(t, ctx, stream, total, "msg %03d", func(got int) {
		if got == 100 {
			c.Nodes[1].Kill() // bob's node, with messages still flowing
		}
	})
	expectInOrder(t, ctx, carolStream, total, "msg %03d", nil)
	n := 0
	for range acked {
		n++
	}
	if n != total {
		t.Fatalf("%d of %d sends acknowledged", n, total)
	}
	if drops.Load() == 0 {
		t.Fatal("bob's connection never dropped: the node killed was not his")
	}
}

// TestRollingRestart: each of three nodes is restarted in turn (SIGTERM,
// start again) while a sender and a reader, both behind the load balancer, keep
// going; the sender retries a send that failed with the same client_msg_id.
// The reader receives every message once and in order.
func TestRollingRestart(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Nodes: 3, Bus: natsURL})
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	lb := c.Balancer(t)
	front := &cluster.Node{URL: lb.URL}
	// The admin claims the server on the node whose setup token we read;
	// the sender and the reader go through the balancer.
	account(t, ctx, c.Nodes[0], "ops", c.Token())
	alice := account(t, ctx, front, "alice", "")
	bob := account(t, ctx, front, "bob", "")
	ch, err := alice.CreateChannel(ctx, client.CreateChannelInput{Name: "rolling", Kind: unhidra.ChannelPublic})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Join(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	var drops atomic.Int32
	stream := bob.Stream(client.StreamOptions{MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		OnDisconnect: func(error, time.Duration) { drops.Add(1) }})
	defer stream.Close()
	if f, err := stream.Next(ctx); err != nil || f.Type != "hello" {
		t.Fatalf("first frame %v, %v", f, err)
	}

	// The operator restarts one node at a time, each once the one before
	// is back, starting while messages flow: the first after 40 sends,
	// the next no earlier than 80 sends later.
	const total, every = 300, 80
	var sent atomic.Int32
	restarted := make([]chan struct{}, len(c.Nodes))
	for k := range restarted {
		restarted[k] = make(chan struct{})
	}
	go func() {
		for k, n := range c.Nodes {
			for int(sent.Load()) < 40+every*k && ctx.Err() == nil {
				time.Sleep(5 * time.Millisecond)
			}
			n.Restart()
			close(restarted[k])
		}
	}()
	sending := make(chan struct{})
	go func() {
		defer close(sending)
		for i := 0; i < total; i++ {
			if k := i/every - 1; i%every == 40 && k >= 0 && k < len(restarted) {
				<-restarted[k] // a rolling restart: the previous node is back first
			}
			in := &unhidra.SendInput{ChannelID: ch.ID, Body: fmt.Sprintf("msg %03d", i)}
			for {
				if _, err := alice.Send(ctx, in); err == nil {
					break
				} else if ctx.Err() != nil {
					t.Errorf("send %d: %v", i, err)
					return
				}
				time.Sleep(20 * time.Millisecond) // a node going away: retry, same client_msg_id
			}
			sent.Add(1)
		}
	}()
	expectInOrder(t, ctx, stream, total, "msg %03d", nil)
	<-sending
	for _, r := range restarted {
		<-r
	}
	if drops.Load() == 0 {
		t.Fatal("the reader's connection never dropped: no restart hit its node")
	}
}

// expectInOrder reads the stream until it has n message frames, which must
// carry the bodies fmt.Sprintf(format, 0), …, (n-1) in that order: no gap, no
// repeat. each, when set, is called after each message with how many have
// arrived.
func expectInOrder(t *testing.T, ctx context.Context, stream *client.Stream, n int, format string, each func(got int)) {
	t.Helper()
	for got := 0; got < n; {
		f, err := stream.Next(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", got, err)
		}
		if f.Type != "message" {
			continue
		}
		var m struct {
			Message unhidra.Message `json:"message"`
		}
		if err := json.Unmarshal(f.Raw, &m); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(format, got); m.Message.Body != want {
			t.Fatalf("message %d: %q, want %q (a gap, a repeat or out of order)", got, m.Message.Body, want)
		}
		got++
		if each != nil {
			each(got)
		}
	}
}
