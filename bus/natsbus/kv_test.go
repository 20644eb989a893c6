package natsbus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/bus/bustest"
	"github.com/unhidra/unhidra/bus/natsbus"
)

// TestKVConformance runs the KV suite on JetStream key-value buckets,
// each handle on a connection of its own (a node), each test in a bucket
// of its own that is deleted afterwards.
func TestKVConformance(t *testing.T) {
	bustest.RunKV(t, func(t *testing.T, o bus.KVOptions) bus.KV {
		return openKV(t, o)
	})
}

func openKV(t *testing.T, o bus.KVOptions) bus.KV {
	t.Helper()
	b := open(t, natsbus.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := b.OpenKV(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	deleteBucketAtEnd(t, o.Name)
	t.Cleanup(func() { kv.Close() })
	return kv
}

// deleteBucketAtEnd removes the bucket when the test ends.
func deleteBucketAtEnd(t *testing.T, name string) {
	t.Cleanup(func() {
		nc, err := nats.Connect(natsURL())
		if err != nil {
			t.Errorf("delete bucket %s: %v", name, err)
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteKeyValue(ctx, name); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			t.Errorf("delete bucket %s: %v", name, err)
		}
	})
}

// TestKVRestartedNodeSeesAge: a node that opens the bucket after an entry
// was written counts the entry's age from when the server stored it, so a
// dead node's entry does not live a second TTL on a node started later.
func TestKVRestartedNodeSeesAge(t *testing.T) {
	t.Parallel()
	o := bus.KVOptions{Name: bustest.KVName(t), TTL: 2 * time.Second}
	a := openKV(t, o)
	k := bus.Key{Group: "u", Name: "n"}
	if err := a.Put(context.Background(), k, []byte("1")); err != nil {
		t.Fatal(err)
	}
	written := time.Now()
	time.Sleep(time.Second)
	b := openKV(t, o)
	for {
		m, err := b.List(context.Background(), "u")
		if err != nil {
			t.Fatal(err)
		}
		if len(m) == 0 {
			break
		}
		if time.Since(written) > o.TTL+time.Second {
			t.Fatalf("entry still listed %s after its last write (TTL %s)", time.Since(written), o.TTL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKVBadName: a bucket name NATS would not accept is refused by name.
func TestKVBadName(t *testing.T) {
	b := open(t, natsbus.Options{})
	if _, err := b.OpenKV(context.Background(), bus.KVOptions{Name: "a.b", TTL: time.Second}); err == nil {
		t.Fatal("OpenKV accepted a bucket name with a dot")
	}
}
