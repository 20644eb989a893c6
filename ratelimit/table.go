package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

const (
	// DefaultMaxKeys bounds a Limiter's or Backoff's memory when Options
	// leave MaxKeys zero: roughly 100 bytes a key, so about 10 MB.
	DefaultMaxKeys = 100_000

	// maxShards is enough to keep lock contention negligible on the machines
	// a chat server runs on; more shards would only shrink each shard's share
	// of MaxKeys and make eviction start earlier under a skewed key set.
	maxShards = 32

	// trimPerCall is how many idle keys each call may drop from the cold end
	// of its shard. More than one, so that a shard sheds idle keys faster
	// than one call can add a new one.
	trimPerCall = 2
)

// table is a bounded map from key to V, split into shards that each keep
// their keys in least-recently-used order. It holds at most maxKeys keys in
// total: each shard holds at most maxKeys/len(shards) and, when full, forgets
// its least recently used key to make room.
type table[V any] struct {
	seed   maphash.Seed
	shards []shard[V]
	mask   uint64
	// idle reports whether v carries no information at time now, so that its
	// key may be dropped as if it had never been seen.
	idle func(v *V, now int64) bool
}

type shard[V any] struct {
	mu sync.Mutex
	m  map[string]*entry[V]
	// root is the sentinel of a circular list: root.next is the most
	// recently used entry, root.prev the least.
	root entry[V]
	max  int
	// Shards sit next to each other in one slice; the padding keeps one
	// shard's lock off the cache line of its neighbour's.
	_ [64]byte
}

type entry[V any] struct {
	key        string
	val        V
	prev, next *entry[V]
}

// newTable returns a table for at most maxKeys keys (maxKeys ≥ 1) in at most
// shards shards.
func newTable[V any](maxKeys, shards int, idle func(*V, int64) bool) *table[V] {
	// A power of two no larger than maxKeys, so that every shard can hold at
	// least one key and the shards' caps sum to no more than maxKeys.
	n := 1
	for n*2 <= shards && n*2 <= maxKeys {
		n *= 2
	}
	t := &table[V]{
		seed:   maphash.MakeSeed(),
		shards: make([]shard[V], n),
		mask:   uint64(n - 1),
		idle:   idle,
	}
	for i := range t.shards {
		s := &t.shards[i]
		s.m = make(map[string]*entry[V])
		s.root.next, s.root.prev = &s.root, &s.root
		s.max = maxKeys / n
	}
	return t
}

// shard returns the shard that holds key. The hash is seeded per table: with
// a fixed hash a client could pick keys (IPv6 networks are plentiful) that
// all fall into the shard of a victim and flush the victim's state with a
// thirty-second of the keys MaxKeys would otherwise require.
func (t *table[V]) shard(key string) *shard[V] {
	return &t.shards[maphash.String(t.seed, key)&t.mask]
}

// len returns the number of keys held.
func (t *table[V]) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// sweep drops every idle key and returns how many it dropped. It locks one
// shard at a time, so callers of other shards are never held up.
func (t *table[V]) sweep(now int64) int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for e := s.root.next; e != &s.root; {
			next := e.next
			if t.idle(&e.val, now) {
				s.remove(e)
				n++
			}
			e = next
		}
		s.mu.Unlock()
	}
	return n
}

// The shard methods below require s.mu to be held.

// get returns key's entry, marking it most recently used, or nil.
func (s *shard[V]) get(key string) *entry[V] {
	e := s.m[key]
	if e != nil && s.root.next != e {
		s.unlink(e)
		s.pushFront(e)
	}
	return e
}

// add inserts key, which must be absent, as the most recently used entry,
// first forgetting the least recently used one if the shard is full.
func (s *shard[V]) add(key string, v V) *entry[V] {
	if len(s.m) >= s.max {
		s.remove(s.root.prev)
	}
	e := &entry[V]{key: key, val: v}
	s.m[key] = e
	s.pushFront(e)
	return e
}

func (s *shard[V]) remove(e *entry[V]) {
	delete(s.m, e.key)
	s.unlink(e)
}

// trim drops up to max idle entries from the cold end. It stops at the first
// entry that is not idle rather than searching the whole shard: that keeps
// every call O(1), and the cold end is where idle entries collect.
func (s *shard[V]) trim(idle func(*V, int64) bool, now int64, max int) {
	for range max {
		e := s.root.prev
		if e == &s.root || !idle(&e.val, now) {
			return
		}
		s.remove(e)
	}
}

func (s *shard[V]) pushFront(e *entry[V]) {
	e.prev = &s.root
	e.next = s.root.next
	e.next.prev = e
	s.root.next = e
}

func (s *shard[V]) unlink(e *entry[V]) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

// clock reads an injected time source as nanoseconds since construction.
// Differences of time.Now values use the monotonic clock, so limits are
// immune to wall-clock steps; int64 nanoseconds keep per-key state small and
// the arithmetic exact.
type clock struct {
	now   func() time.Time
	epoch time.Time
}

func newClock(now func() time.Time) clock {
	if now == nil {
		now = time.Now
	}
	return clock{now: now, epoch: now()}
}

func (c clock) read() int64          { return c.at(c.now()) }
func (c clock) at(t time.Time) int64 { return int64(t.Sub(c.epoch)) }
