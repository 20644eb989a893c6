package natsbus

// The shared KV on NATS: a JetStream key-value bucket. NATS 2.9 has no
// per-message TTL, so the bucket's MaxAge is the TTL (a Put writes the
// entry again, which is its heartbeat), and since the server removes aged
// entries without telling watchers, every KV keeps a mirror of the bucket
// fed by one watch and ages the mirror's entries itself: List reads the
// mirror (no round trip), and Expired reports what aged out of it.

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/unhidra/unhidra/bus"
)

var _ bus.KVOpener = (*Bus)(nil)

// OpenKV opens the JetStream key-value bucket opts.Name (in memory
// storage, one revision per key, MaxAge opts.TTL), creating it or updating
// its TTL, and loads its entries.
//
// Keys are escaped: each part is base64url with a letter in front, so a
// key is always two plain tokens ("k<group>.k<name>") whatever bytes the
// parts hold, and never a wildcard.
//
// Expiry is judged on this node's clock: an entry is alive until TTL after
// this node last heard it written (an entry loaded at open, from the
// time the server stored it). Expired reports each expiry on every node
// that heard the entry, so each node reports it once. While the
// connection is down, and for a TTL after it was seen down, Expired
// reports nothing: the entries not heard meanwhile may be alive.
func (b *Bus) OpenKV(ctx context.Context, opts bus.KVOptions) (bus.KV, error) {
	if err := bus.CheckKVOptions(opts); err != nil {
		return nil, err
	}
	js, err := jetstream.New(b.nc)
	if err != nil {
		return nil, fmt.Errorf("bus: JetStream: %w", err)
	}
	h, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:       opts.Name,
		Description:  "unhidra: ephemeral state kept alive by heartbeats (ids and counts, no content)",
		MaxValueSize: bus.MaxValue,
		History:      1,
		TTL:          opts.TTL,
		Storage:      jetstream.MemoryStorage,
	})
	if err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return nil, bus.ErrClosed
		}
		return nil, fmt.Errorf("bus: KV bucket %s (is JetStream enabled on the NATS server?): %w", opts.Name, err)
	}
	// The watch lives as long as the KV, not as ctx.
	w, err := h.WatchAll(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("bus: watch KV bucket %s: %w", opts.Name, err)
	}
	k := &kv{
		b: b, h: h, w: w, ttl: opts.TTL,
		entries: map[bus.Key]*kvEntry{}, byGroup: map[string]map[string]*kvEntry{},
		tomb: map[bus.Key]uint64{}, ready: make(chan struct{}), done: make(chan struct{}),
	}
	go k.follow()
	select {
	case <-k.ready:
		return k, nil
	case <-k.done:
		return nil, fmt.Errorf("bus: watch KV bucket %s ended while loading", opts.Name)
	case <-ctx.Done():
		w.Stop()
		<-k.done
		return nil, fmt.Errorf("bus: load KV bucket %s: %w", opts.Name, ctx.Err())
	}
}

type kv struct {
	b   *Bus
	h   jetstream.KeyValue
	w   jetstream.KeyWatcher
	ttl time.Duration

	mu         sync.Mutex
	entries    map[bus.Key]*kvEntry
	byGroup    map[string]map[string]*kvEntry
	tomb       map[bus.Key]uint64 // revision known when this node deleted the key
	quietUntil time.Time
	loaded     bool
	closed     bool

	ready, done chan struct{}
	once        sync.Once
}

type kvEntry struct {
	value    []byte
	rev      uint64
	deadline time.Time
}

// encodeKey turns a key into a NATS KV key of two plain tokens.
func encodeKey(k bus.Key) string {
	return "k" + base64.RawURLEncoding.EncodeToString([]byte(k.Group)) + ".k" + base64.RawURLEncoding.EncodeToString([]byte(k.Name))
}

// decodeKey reverses encodeKey; keys not made by it are not ours.
func decodeKey(s string) (bus.Key, bool) {
	g, n, ok := strings.Cut(s, ".")
	if !ok || !strings.HasPrefix(g, "k") || !strings.HasPrefix(n, "k") {
		return bus.Key{}, false
	}
	gb, err1 := base64.RawURLEncoding.DecodeString(g[1:])
	nb, err2 := base64.RawURLEncoding.DecodeString(n[1:])
	k := bus.Key{Group: string(gb), Name: string(nb)}
	if err1 != nil || err2 != nil || bus.CheckKey(k) != nil {
		return bus.Key{}, false
	}
	return k, true
}

// follow applies the watch's updates to the mirror until the watch ends.
func (k *kv) follow() {
	defer close(k.done)
	for e := range k.w.Updates() {
		if e == nil { // every entry there was at the start has been delivered
			k.mu.Lock()
			k.loaded = true
			k.mu.Unlock()
			k.once.Do(func() { close(k.ready) })
			continue
		}
		key, ok := decodeKey(e.Key())
		if !ok {
			continue
		}
		k.mu.Lock()
		if e.Operation() == jetstream.KeyValuePut {
			now := time.Now()
			heard := now
			if !k.loaded && e.Created().Before(now) {
				heard = e.Created() // stored before this node looked
			}
			k.putLocked(key, e.Value(), e.Revision(), heard.Add(k.ttl))
		} else {
			if cur := k.entries[key]; cur != nil && cur.rev < e.Revision() {
				k.removeLocked(key)
			}
			if k.tomb[key] < e.Revision() {
				delete(k.tomb, key)
			}
		}
		k.mu.Unlock()
	}
}

// putLocked records a write unless the mirror already knows a later one.
func (k *kv) putLocked(key bus.Key, value []byte, rev uint64, deadline time.Time) {
	if cur := k.entries[key]; cur != nil && cur.rev >= rev || k.tomb[key] >= rev {
		return
	}
	e := &kvEntry{value: value, rev: rev, deadline: deadline}
	k.entries[key] = e
	g := k.byGroup[key.Group]
	if g == nil {
		g = map[string]*kvEntry{}
		k.byGroup[key.Group] = g
	}
	g[key.Name] = e
}

func (k *kv) removeLocked(key bus.Key) {
	delete(k.entries, key)
	if g := k.byGroup[key.Group]; g != nil {
		delete(g, key.Name)
		if len(g) == 0 {
			delete(k.byGroup, key.Group)
		}
	}
}

func (k *kv) isClosed() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.closed
}

func kvErr(what string, err error) error {
	if errors.Is(err, nats.ErrConnectionClosed) {
		return bus.ErrClosed
	}
	return fmt.Errorf("bus: KV %s: %w", what, err)
}

// Put writes the entry to the bucket and, once the server has it, to this
// node's mirror.
func (k *kv) Put(ctx context.Context, key bus.Key, value []byte) error {
	if err := bus.CheckKey(key); err != nil {
		return err
	}
	if err := bus.CheckValue(value); err != nil {
		return err
	}
	if k.isClosed() {
		return bus.ErrClosed
	}
	value = append([]byte{}, value...)
	rev, err := k.h.Put(ctx, encodeKey(key), value)
	if err != nil {
		return kvErr("put", err)
	}
	k.mu.Lock()
	k.putLocked(key, value, rev, time.Now().Add(k.ttl))
	k.mu.Unlock()
	return nil
}

// Delete writes a delete marker and forgets the entry here at once.
func (k *kv) Delete(ctx context.Context, key bus.Key) error {
	if err := bus.CheckKey(key); err != nil {
		return err
	}
	if k.isClosed() {
		return bus.ErrClosed
	}
	if err := k.h.Delete(ctx, encodeKey(key)); err != nil {
		return kvErr("delete", err)
	}
	k.mu.Lock()
	if cur := k.entries[key]; cur != nil {
		k.tomb[key] = max(k.tomb[key], cur.rev)
		k.removeLocked(key)
	}
	k.mu.Unlock()
	return nil
}

// List reads the mirror.
func (k *kv) List(ctx context.Context, groups ...string) (map[string]map[string][]byte, error) {
	for _, g := range groups {
		if err := bus.CheckGroup(g); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, bus.ErrClosed
	}
	now := time.Now()
	out := map[string]map[string][]byte{}
	for _, g := range groups {
		for name, e := range k.byGroup[g] {
			if !now.Before(e.deadline) {
				continue // Expired removes and reports it
			}
			if out[g] == nil {
				out[g] = map[string][]byte{}
			}
			out[g][name] = e.value // never modified: a Put replaces the entry
		}
	}
	return out, nil
}

// Expired removes the mirror's entries past their deadline and returns
// them, unless the connection is or was recently down.
func (k *kv) Expired(ctx context.Context) ([]bus.Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	connected := k.b.nc.Status() == nats.CONNECTED
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, bus.ErrClosed
	}
	now := time.Now()
	if !connected {
		k.quietUntil = now.Add(k.ttl)
	}
	if now.Before(k.quietUntil) {
		return nil, nil
	}
	var out []bus.Key
	for key, e := range k.entries {
		if !now.Before(e.deadline) {
			k.removeLocked(key)
			out = append(out, key)
		}
	}
	return out, nil
}

// TTL is the bucket's MaxAge.
func (k *kv) TTL() time.Duration { return k.ttl }

// Close stops the watch. The bucket and its entries stay.
func (k *kv) Close() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	k.mu.Unlock()
	err := k.w.Stop()
	select {
	case <-k.done:
	case <-time.After(5 * time.Second): // the connection went first
	}
	if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrBadSubscription) {
		err = nil
	}
	return err
}
