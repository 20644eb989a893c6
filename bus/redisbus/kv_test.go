package redisbus

import (
	"context"
	"testing"
	"time"

	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/bus/bustest"
)

// TestKVConformance runs the KV suite on Redis: each handle is a bus of
// its own (a node) on the test's prefix, whose keys are deleted at the end.
func TestKVConformance(t *testing.T) {
	bustest.RunKV(t, func(t *testing.T, o bus.KVOptions) bus.KV {
		return openKV(t, o)
	})
}

func openKV(t *testing.T, o bus.KVOptions) bus.KV {
	t.Helper()
	// Buckets are named per test, so the bucket name is the test's own
	// part of the prefix; the cleanup deletes what the test wrote.
	b := open(t, Options{Name: "kv", Prefix: "unhidra:test:" + o.Name + ":"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := b.OpenKV(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	deleteKeysAtEnd(t, "unhidra:test:"+o.Name+":")
	return kv
}

// deleteKeysAtEnd deletes every key under prefix when the test ends.
func deleteKeysAtEnd(t *testing.T, prefix string) {
	c := rawClient(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		it := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for it.Next(ctx) {
			c.Del(ctx, it.Val())
		}
	})
}

// TestKVLeavesNothing: the keys of a bucket expire with their entries,
// so a bucket whose nodes all died leaves nothing in Redis.
func TestKVLeavesNothing(t *testing.T) {
	t.Parallel()
	o := bus.KVOptions{Name: bustest.KVName(t), TTL: 500 * time.Millisecond}
	kv := openKV(t, o)
	ctx := context.Background()
	if err := kv.Put(ctx, bus.Key{Group: "u", Name: "n"}, []byte("1")); err != nil {
		t.Fatal(err)
	}
	c := rawClient(t)
	base := "unhidra:test:" + o.Name + ":kv:" + o.Name + ":"
	for _, key := range []string{base + "g:u", base + "idx"} {
		ttl, err := c.PTTL(ctx, key).Result()
		if err != nil || ttl <= 0 || ttl > 2*o.TTL+time.Minute {
			t.Fatalf("PTTL %s = %v, %v: want an expiry", key, ttl, err)
		}
	}
	time.Sleep(o.TTL + 200*time.Millisecond)
	if n, _ := c.Exists(ctx, base+"g:u").Result(); n != 0 {
		t.Fatal("the group's hash outlived its entries")
	}
	// Expired takes the entry from the index, once.
	ks, err := kv.Expired(ctx)
	if err != nil || len(ks) != 1 {
		t.Fatalf("Expired = %v, %v", ks, err)
	}
	if n, _ := c.ZCard(ctx, base+"idx").Result(); n != 0 {
		t.Fatalf("index still holds %d members", n)
	}
}
