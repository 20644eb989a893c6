package redisbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/bus/bustest"
)

// redisEnv names the environment variable holding the URL of the Redis
// server the tests use; unset, they use the local one.
const redisEnv = "UNHIDRA_TEST_REDIS"

const defaultRedisURL = "redis://127.0.0.1:6379/0"

const startHint = "run ./scripts/services.sh (it starts the local Redis) or point " + redisEnv + " at a Redis 6.2+ server"

func redisURL() string {
	if u := os.Getenv(redisEnv); u != "" {
		return u
	}
	return defaultRedisURL
}

// testPrefix returns a stream key prefix unique to this test and deletes
// every key under it when the test ends (after the buses it opened are
// closed, since cleanups run last-registered first).
func testPrefix(t *testing.T) string {
	t.Helper()
	var r [6]byte
	rand.Read(r[:])
	prefix := "unhidra:test:" + hex.EncodeToString(r[:]) + ":"
	c := rawClient(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		it := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for it.Next(ctx) {
			if err := c.Del(ctx, it.Val()).Err(); err != nil {
				t.Errorf("deleting the test's key %s: %v", it.Val(), err)
			}
		}
		if err := it.Err(); err != nil {
			t.Errorf("listing the test's keys: %v", err)
		}
	})
	return prefix
}

// rawClient is a plain client for inspecting what the bus left in Redis.
func rawClient(t *testing.T) *redis.Client {
	t.Helper()
	o, err := redis.ParseURL(redisURL())
	if err != nil {
		t.Fatalf("%s is not a redis:// URL", redisEnv)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s is unreachable: %v\n%s", o.Addr, err, startHint)
	}
	return c
}

func open(t *testing.T, opts Options) *Bus {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = testPrefix(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Open(ctx, redisURL(), opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, startHint)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestConformance runs the bus contract's suite against the real Redis.
func TestConformance(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bus.Bus { return open(t, Options{Name: "conformance"}) })
}

// TestTwoNodes: two buses on one prefix, as two nodes, each hear what the
// other publishes (fan-out, not work-sharing), and a bus on another prefix
// hears nothing.
func TestTwoNodes(t *testing.T) {
	prefix := testPrefix(t)
	a, b := open(t, Options{Name: "a", Prefix: prefix}), open(t, Options{Name: "b", Prefix: prefix})
	stranger := open(t, Options{Name: "c"})
	got := make(chan string, 16)
	for _, n := range []*Bus{a, b, stranger} {
		name := n.opts.Name
		if _, err := n.Subscribe("chan.>", func(s string, d []byte) { got <- name + " " + s + " " + string(d) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := stranger.Publish(context.Background(), "chan.1", []byte("elsewhere")); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(context.Background(), "chan.1", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	heard := map[string]bool{}
	for len(heard) < 3 {
		select {
		case m := <-got:
			heard[m] = true
		case <-time.After(30 * time.Second):
			t.Fatalf("heard only %v", heard)
		}
	}
	for _, want := range []string{"a chan.1 hi", "b chan.1 hi", "c chan.1 elsewhere"} {
		if !heard[want] {
			t.Fatalf("heard %v, want %q among them", heard, want)
		}
	}
}

// groups lists the consumer groups on stream.
func groups(t *testing.T, c *redis.Client, stream string) []string {
	t.Helper()
	gs, err := c.XInfoGroups(context.Background(), stream).Result()
	if err != nil && !strings.Contains(err.Error(), "no such key") {
		t.Fatal(err)
	}
	var names []string
	for _, g := range gs {
		names = append(names, g.Name)
	}
	return names
}

// TestCloseDestroysGroups: Subscription.Close and Bus.Close leave no
// consumer group behind; a subscription whose pattern starts with a
// wildcard has one on every stream.
func TestCloseDestroysGroups(t *testing.T) {
	c := rawClient(t)
	b := open(t, Options{Name: "n"})
	s1, err := b.Subscribe("user.*", func(string, []byte) {})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe("*.x", func(string, []byte) {}); err != nil {
		t.Fatal(err)
	}
	for _, st := range b.streams() {
		want := 1
		if st == b.opts.Prefix+"user" {
			want = 2
		}
		if g := groups(t, c, st); len(g) != want {
			t.Fatalf("%s has groups %v, want %d", st, g, want)
		}
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if g := groups(t, c, b.opts.Prefix+"user"); len(g) != 1 {
		t.Fatalf("after Subscription.Close the user stream has groups %v, want 1", g)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for _, st := range b.streams() {
		if g := groups(t, c, st); len(g) != 0 {
			t.Fatalf("after Bus.Close %s has groups %v", st, g)
		}
	}
}

// TestJanitorRemovesStaleGroups: groups left by killed nodes (no
// consumer, or consumers idle past GroupIdle) are destroyed when a bus
// opens; a live subscription's group survives and keeps hearing.
func TestJanitorRemovesStaleGroups(t *testing.T) {
	ctx := context.Background()
	c := rawClient(t)
	prefix := testPrefix(t)
	stream := prefix + "chan"
	live := open(t, Options{Name: "live", Prefix: prefix})
	got := make(chan string, 1)
	if _, err := live.Subscribe("chan.1", func(_ string, d []byte) { got <- string(d) }); err != nil {
		t.Fatal(err)
	}
	liveGroups := groups(t, c, stream)
	// A group without a consumer, as a node killed mid-subscribe by some
	// other client might leave, and one whose consumer is idle.
	if err := c.XGroupCreateMkStream(ctx, stream, "dead.noconsumer", "$").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.XGroupCreate(ctx, stream, "dead.idle", "$").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.XGroupCreateConsumer(ctx, stream, "dead.idle", "dead.idle").Err(); err != nil {
		t.Fatal(err)
	}

	// A bus opened with the default GroupIdle removes only the group
	// without a consumer.
	open(t, Options{Name: "second", Prefix: prefix})
	left := strings.Join(groups(t, c, stream), " ")
	if strings.Contains(left, "dead.noconsumer") || !strings.Contains(left, "dead.idle") || !strings.Contains(left, liveGroups[0]) {
		t.Fatalf("after the first janitor run the groups are %q", left)
	}

	// Once the idle consumer has been idle for more than a millisecond,
	// a bus with that GroupIdle removes its group. The live subscription's
	// consumer may be idle as long, so it is not checked here.
	for {
		cs, err := c.XInfoConsumers(ctx, stream, "dead.idle").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 1 && cs[0].Idle > 2*time.Millisecond {
			break
		}
		time.Sleep(time.Millisecond)
	}
	open(t, Options{Name: "third", Prefix: prefix, GroupIdle: time.Millisecond})
	if left := strings.Join(groups(t, c, stream), " "); strings.Contains(left, "dead.idle") {
		t.Fatalf("after a janitor run with GroupIdle 1ms the groups are %q", left)
	}

	// If the live group went too, its subscription recreates it; either
	// way it hears what is published now.
	for i := 0; ; i++ {
		if err := live.Publish(ctx, "chan.1", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		select {
		case <-got:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if i > 300 {
			t.Fatal("the live subscription stopped hearing after the janitor ran")
		}
	}
}

// TestRetention: streams stay bounded by length at every publish, and by
// age and expiry at every janitor run.
func TestRetention(t *testing.T) {
	ctx := context.Background()
	c := rawClient(t)
	b := open(t, Options{Name: "r", MaxLen: 10, MaxAge: time.Millisecond})
	stream := b.opts.Prefix + "eph"
	for i := range 1000 {
		if err := b.Publish(ctx, "eph.1", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	// Approximate trimming removes whole nodes of (by default) 100
	// entries.
	if n, err := c.XLen(ctx, stream).Result(); err != nil || n > 10+200 {
		t.Fatalf("XLEN after 1000 publishes with MaxLen 10: %d, %v", n, err)
	}
	last, err := c.XRevRangeN(ctx, stream, "+", "-", 1).Result()
	if err != nil || len(last) != 1 {
		t.Fatalf("last entry: %v %v", last, err)
	}
	// Wait until the server's clock is past the newest entry's time plus
	// MaxAge, then run the janitor.
	ms, _, _ := strings.Cut(last[0].ID, "-")
	newest := atoi(t, ms)
	for {
		now, err := c.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if now.UnixMilli() > newest+1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b.janitor(ctx)
	if n, err := c.XLen(ctx, stream).Result(); err != nil || n != 0 {
		t.Fatalf("XLEN after the janitor with MaxAge 1ms: %d, %v", n, err)
	}
	if ttl, err := c.PTTL(ctx, stream).Result(); err != nil || ttl <= 0 || ttl > b.opts.MaxAge+2*janitorEvery {
		t.Fatalf("PTTL of the stream: %v, %v", ttl, err)
	}
}

func atoi(t *testing.T, s string) int64 {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSlowSubscriberDropsOnlyItsOwn: a subscription whose handler does not
// return fills its own queue; the rest is dropped and counted, in
// Dropped and in the metric, while another subscription hears everything.
func TestSlowSubscriberDropsOnlyItsOwn(t *testing.T) {
	const buffer, n = 4, 50
	reg := prometheus.NewRegistry()
	b := open(t, Options{Name: "s", Buffer: buffer, Registry: reg})
	block := make(chan struct{})
	defer close(block)
	if _, err := b.Subscribe("user.1", func(string, []byte) { <-block }); err != nil {
		t.Fatal(err)
	}
	fast := make(chan string, n)
	if _, err := b.Subscribe("user.1", func(_ string, d []byte) { fast <- string(d) }); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := b.Publish(context.Background(), "user.1", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		// The fast subscriber takes each message before the next is
		// published, so its queue never fills however busy the machine.
		select {
		case got := <-fast:
			if got != fmt.Sprint(i) {
				t.Fatalf("fast subscriber got %q, want %d", got, i)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("fast subscriber never got message %d", i)
		}
	}
	// The slow one's reader queued buffer messages and one is in its
	// handler (or not yet): the rest of what it read was dropped. Its
	// reader may still be reading, so wait for the count to settle at its
	// lower bound.
	for b.Dropped() < n-buffer-1 {
		time.Sleep(time.Millisecond)
	}
	if d := b.Dropped(); d > n-buffer {
		t.Fatalf("dropped %d, want at most %d", d, n-buffer)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "bus_redis_dropped_total" {
			found = int64(mf.GetMetric()[0].GetCounter().GetValue()) == b.Dropped()
		}
	}
	if !found {
		t.Fatal("bus_redis_dropped_total does not match Dropped")
	}
}

// TestOpenErrors: a bad URL and an unreachable server fail Open.
func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Open(ctx, "nats://127.0.0.1:4222", Options{}); err == nil {
		t.Error("Open with a nats:// URL succeeded")
	}
	// Port 1 on the loopback refuses connections.
	if _, err := Open(ctx, "redis://127.0.0.1:1/0", Options{}); err == nil {
		t.Error("Open of an unreachable server succeeded")
	}
	b := open(t, Options{})
	b.Close()
	if err := b.Publish(ctx, "chan.1", nil); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Publish after Close: %v", err)
	}
}

// BenchmarkPublishDeliver: one publisher, one subscription on its kind's
// stream; each op is a Publish, and the benchmark ends when the
// subscription has heard every message.
func BenchmarkPublishDeliver(b *testing.B) {
	ctx := context.Background()
	o, err := redis.ParseURL(redisURL())
	if err != nil {
		b.Fatal(err)
	}
	var r [6]byte
	rand.Read(r[:])
	prefix := "unhidra:bench:" + hex.EncodeToString(r[:]) + ":"
	bb, err := Open(ctx, redisURL(), Options{Name: "bench", Prefix: prefix})
	if err != nil {
		b.Fatalf("%v\n%s", err, startHint)
	}
	c := redis.NewClient(o)
	defer c.Close()
	defer func() {
		bb.Close()
		c.Del(ctx, bb.streams()...)
	}()
	data := []byte(`{"type":"message_created","channel_id":"c1","seq":1,"body":"a message of some ordinary length, say a sentence"}`)
	heard := make(chan struct{}, 1)
	n := 0
	if _, err := bb.Subscribe("chan.>", func(string, []byte) {
		n++
		if n == b.N {
			heard <- struct{}{}
		}
	}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := bb.Publish(ctx, "chan.c1", data); err != nil {
			b.Fatal(err)
		}
	}
	<-heard
}
