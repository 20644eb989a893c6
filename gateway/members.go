package gateway

import (
	"container/list"
	"hash/maphash"
	"sync"
	"time"
)

// memberCache remembers which channels a user belongs to, so that a
// presence update reaches the sockets of the users who share a channel with
// them without a store query per update. An entry is filled when one of
// the user's sockets opens here (its channel list comes with it) or on a
// miss, is kept current by the membership control messages that every node
// hears, and is dropped after MemberCacheTTL in case one of those was lost
// (presence is ephemeral: an error costs a stale dot, never a message).
// Memory is bounded: past MemberCacheSize users the least recently used
// entry goes.
type memberCache struct {
	seed   maphash.Seed
	ttl    time.Duration
	max    int // per shard
	now    func() time.Time
	shards [memberShards]memberShard
}

const memberShards = 16

type memberShard struct {
	mu  sync.Mutex
	m   map[string]*list.Element // of *memberEntry
	lru list.List                // front: most recently used
}

type memberEntry struct {
	userID   string
	channels map[string]struct{}
	at       time.Time
}

func (mc *memberCache) init(size int, ttl time.Duration) {
	mc.seed = maphash.MakeSeed()
	mc.ttl = ttl
	mc.max = max(1, size/memberShards)
	mc.now = time.Now
	for i := range mc.shards {
		mc.shards[i].m = map[string]*list.Element{}
	}
}

func (mc *memberCache) shard(userID string) *memberShard {
	return &mc.shards[maphash.String(mc.seed, userID)%memberShards]
}

// get returns the user's channels if they are cached and fresh.
func (mc *memberCache) get(userID string) ([]string, bool) {
	sh := mc.shard(userID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	el := sh.m[userID]
	if el == nil {
		return nil, false
	}
	e := el.Value.(*memberEntry)
	if mc.now().Sub(e.at) > mc.ttl {
		sh.lru.Remove(el)
		delete(sh.m, userID)
		return nil, false
	}
	sh.lru.MoveToFront(el)
	out := make([]string, 0, len(e.channels))
	for ch := range e.channels {
		out = append(out, ch)
	}
	return out, true
}

// put replaces the user's entry with channels.
func (mc *memberCache) put(userID string, channels []string) {
	set := make(map[string]struct{}, len(channels))
	for _, ch := range channels {
		set[ch] = struct{}{}
	}
	sh := mc.shard(userID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if el := sh.m[userID]; el != nil {
		e := el.Value.(*memberEntry)
		e.channels, e.at = set, mc.now()
		sh.lru.MoveToFront(el)
		return
	}
	sh.m[userID] = sh.lru.PushFront(&memberEntry{userID: userID, channels: set, at: mc.now()})
	for sh.lru.Len() > mc.max {
		old := sh.lru.Back()
		sh.lru.Remove(old)
		delete(sh.m, old.Value.(*memberEntry).userID)
	}
}

// joined and left follow a membership change of a cached user; an uncached
// user is loaded on demand anyway.
func (mc *memberCache) joined(userID, channelID string) { mc.update(userID, channelID, true) }
func (mc *memberCache) left(userID, channelID string)   { mc.update(userID, channelID, false) }

func (mc *memberCache) update(userID, channelID string, in bool) {
	sh := mc.shard(userID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	el := sh.m[userID]
	if el == nil {
		return
	}
	e := el.Value.(*memberEntry)
	if in {
		e.channels[channelID] = struct{}{}
	} else {
		delete(e.channels, channelID)
	}
}
