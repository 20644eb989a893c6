package bus_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/bus/bustest"
)

// TestMemoryKVConformance runs the KV suite on the in-process KV; handles
// of one name share one MemoryKV, as the nodes of one process would.
func TestMemoryKVConformance(t *testing.T) {
	var mu sync.Mutex
	kvs := map[string]*bus.MemoryKV{}
	bustest.RunKV(t, func(t *testing.T, o bus.KVOptions) bus.KV {
		if err := bus.CheckKVOptions(o); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		kv := kvs[o.Name]
		if kv == nil {
			kv = bus.NewMemoryKV(o.TTL, nil)
			kvs[o.Name] = kv
		}
		return &sharedHandle{MemoryKV: kv}
	})
}

// sharedHandle is one node's handle on a MemoryKV that several share:
// closing it ends only this handle.
type sharedHandle struct {
	*bus.MemoryKV
	closed atomic.Bool
}

func (h *sharedHandle) Put(ctx context.Context, k bus.Key, v []byte) error {
	if h.closed.Load() {
		return bus.ErrClosed
	}
	return h.MemoryKV.Put(ctx, k, v)
}

func (h *sharedHandle) Close() error { h.closed.Store(true); return nil }

// TestMemoryKVClock: the injected clock decides expiry, to the tick.
func TestMemoryKVClock(t *testing.T) {
	now := time.Unix(1000, 0)
	kv := bus.NewMemoryKV(10*time.Second, func() time.Time { return now })
	ctx := context.Background()
	k := bus.Key{Group: "u", Name: "n"}
	if err := kv.Put(ctx, k, []byte("v")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(9 * time.Second)
	if m, _ := kv.List(ctx, "u"); len(m["u"]) != 1 {
		t.Fatalf("entry gone before its TTL: %v", m)
	}
	if err := kv.Put(ctx, k, []byte("v2")); err != nil { // heartbeat
		t.Fatal(err)
	}
	now = now.Add(9 * time.Second)
	if ks, _ := kv.Expired(ctx); len(ks) != 0 {
		t.Fatalf("refreshed entry expired: %v", ks)
	}
	now = now.Add(time.Second)
	if m, _ := kv.List(ctx, "u"); len(m) != 0 {
		t.Fatalf("entry listed at its deadline: %v", m)
	}
	ks, _ := kv.Expired(ctx)
	if len(ks) != 1 || ks[0] != k {
		t.Fatalf("Expired = %v, want [%v]", ks, k)
	}
	if ks, _ := kv.Expired(ctx); len(ks) != 0 {
		t.Fatalf("reported twice: %v", ks)
	}
}

func TestCheckKVOptions(t *testing.T) {
	for _, c := range []struct {
		o  bus.KVOptions
		ok bool
	}{
		{bus.KVOptions{Name: "unhidra_presence", TTL: 30 * time.Second}, true},
		{bus.KVOptions{Name: "a-b_C9", TTL: time.Second}, true},
		{bus.KVOptions{Name: "", TTL: time.Second}, false},
		{bus.KVOptions{Name: "a.b", TTL: time.Second}, false},
		{bus.KVOptions{Name: "a*", TTL: time.Second}, false},
		{bus.KVOptions{Name: "ok", TTL: 0}, false},
	} {
		if err := bus.CheckKVOptions(c.o); (err == nil) != c.ok {
			t.Errorf("CheckKVOptions(%+v) = %v, want ok %v", c.o, err, c.ok)
		}
	}
}
