package redisbus

// The shared KV on Redis. Each group is one hash,
// <Prefix>kv:<name>:g:<group>, whose fields are the group's names and
// whose values carry their own deadline ("<unix ms>:<value>"), so List
// reads a group with one HGETALL and drops what is past its deadline (a
// field has no expiry of its own before Redis 7.4). The hash key expires
// TTL after its last Put, so a group whose nodes all died disappears.
// One sorted set per bucket, <Prefix>kv:<name>:idx, holds every entry
// (group and name, base64url, dot-separated) scored by its deadline:
// Expired takes what is due from it with ZRANGEBYSCORE and ZREM in one
// script, so each expiry goes to exactly one node and no call scans the
// keyspace. Deadlines are the Redis server's clock (TIME inside the
// scripts), so the nodes' clocks do not matter.

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/unhidra/unhidra/bus"
)

var _ bus.KVOpener = (*Bus)(nil)

// expiredBatch is how many expiries one script call takes.
const expiredBatch = 1000

const luaNow = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// KEYS: hash, index. ARGV: name, value, ttl (ms), index member.
var kvPut = redis.NewScript(luaNow + `
local ttl = tonumber(ARGV[3])
local dl = now + ttl
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.0f', dl) .. ':' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], dl, ARGV[4])
redis.call('PEXPIRE', KEYS[2], 2 * ttl + 60000)
return 1
`)

// KEYS: hashes. Returns, per hash, its live fields as name, value, ….
var kvList = redis.NewScript(luaNow + `
local out = {}
for i, k in ipairs(KEYS) do
  local f = redis.call('HGETALL', k)
  local live = {}
  for j = 1, #f, 2 do
    local v = f[j + 1]
    local c = string.find(v, ':', 1, true)
    if c and tonumber(string.sub(v, 1, c - 1)) > now then
      live[#live + 1] = f[j]
      live[#live + 1] = string.sub(v, c + 1)
    end
  end
  out[i] = live
end
return out
`)

// KEYS: index. ARGV: most to take. Removes and returns the members due.
var kvClaim = redis.NewScript(luaNow + `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due
`)

// KEYS: hashes. ARGV: one name per hash. Removes the fields still past
// their deadline (a Put since the claim made them live again).
var kvDropDue = redis.NewScript(luaNow + `
for i, k in ipairs(KEYS) do
  local v = redis.call('HGET', k, ARGV[i])
  if v then
    local c = string.find(v, ':', 1, true)
    if not c or tonumber(string.sub(v, 1, c - 1)) <= now then redis.call('HDEL', k, ARGV[i]) end
  end
end
return 1
`)

// OpenKV returns the KV of bucket opts.Name under this bus's prefix. It
// creates nothing until the first Put.
func (b *Bus) OpenKV(ctx context.Context, opts bus.KVOptions) (bus.KV, error) {
	if err := bus.CheckKVOptions(opts); err != nil {
		return nil, err
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, bus.ErrClosed
	}
	if err := b.pub.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redisbus: KV: %w", err)
	}
	base := b.opts.Prefix + "kv:" + opts.Name + ":"
	return &kv{b: b, ttl: opts.TTL, groupPre: base + "g:", idx: base + "idx"}, nil
}

type kv struct {
	b             *Bus
	ttl           time.Duration
	groupPre, idx string

	mu     sync.Mutex
	closed bool
}

func (k *kv) check() error {
	k.mu.Lock()
	closed := k.closed
	k.mu.Unlock()
	k.b.mu.Lock()
	closed = closed || k.b.closed
	k.b.mu.Unlock()
	if closed {
		return bus.ErrClosed
	}
	return nil
}

func member(key bus.Key) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key.Group)) + "." + base64.RawURLEncoding.EncodeToString([]byte(key.Name))
}

func parseMember(m string) (bus.Key, bool) {
	g, n, ok := strings.Cut(m, ".")
	gb, err1 := base64.RawURLEncoding.DecodeString(g)
	nb, err2 := base64.RawURLEncoding.DecodeString(n)
	k := bus.Key{Group: string(gb), Name: string(nb)}
	return k, ok && err1 == nil && err2 == nil && bus.CheckKey(k) == nil
}

// Put writes the entry with a deadline TTL from the server's now.
func (k *kv) Put(ctx context.Context, key bus.Key, value []byte) error {
	if err := bus.CheckKey(key); err != nil {
		return err
	}
	if err := bus.CheckValue(value); err != nil {
		return err
	}
	if err := k.check(); err != nil {
		return err
	}
	err := kvPut.Run(ctx, k.b.pub, []string{k.groupPre + key.Group, k.idx},
		key.Name, value, k.ttl.Milliseconds(), member(key)).Err()
	if err != nil {
		return fmt.Errorf("redisbus: KV put: %w", err)
	}
	return nil
}

// Delete removes the entry and its index member together.
func (k *kv) Delete(ctx context.Context, key bus.Key) error {
	if err := bus.CheckKey(key); err != nil {
		return err
	}
	if err := k.check(); err != nil {
		return err
	}
	_, err := k.b.pub.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, k.groupPre+key.Group, key.Name)
		p.ZRem(ctx, k.idx, member(key))
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisbus: KV delete: %w", err)
	}
	return nil
}

// List reads every group in one script call.
func (k *kv) List(ctx context.Context, groups ...string) (map[string]map[string][]byte, error) {
	keys := make([]string, len(groups))
	for i, g := range groups {
		if err := bus.CheckGroup(g); err != nil {
			return nil, err
		}
		keys[i] = k.groupPre + g
	}
	if err := k.check(); err != nil {
		return nil, err
	}
	out := map[string]map[string][]byte{}
	if len(groups) == 0 {
		return out, nil
	}
	res, err := kvList.Run(ctx, k.b.pub, keys).Slice()
	if err != nil {
		return nil, fmt.Errorf("redisbus: KV list: %w", err)
	}
	for i, r := range res {
		fields, _ := r.([]any)
		for j := 0; j+1 < len(fields); j += 2 {
			name, _ := fields[j].(string)
			value, _ := fields[j+1].(string)
			if out[groups[i]] == nil {
				out[groups[i]] = map[string][]byte{}
			}
			out[groups[i]][name] = []byte(value)
		}
	}
	return out, nil
}

// Expired claims the entries due from the index (each goes to one caller
// only) and removes them from their hashes.
func (k *kv) Expired(ctx context.Context) ([]bus.Key, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	var out []bus.Key
	for range 10 { // at most 10,000 per call; the next call takes the rest
		due, err := kvClaim.Run(ctx, k.b.pub, []string{k.idx}, expiredBatch).StringSlice()
		if err != nil {
			return out, fmt.Errorf("redisbus: KV expired: %w", err)
		}
		var hashes, names []string
		for _, m := range due {
			key, ok := parseMember(m)
			if !ok {
				continue
			}
			out = append(out, key)
			hashes = append(hashes, k.groupPre+key.Group)
			names = append(names, key.Name)
		}
		if len(hashes) > 0 {
			args := make([]any, len(names))
			for i, n := range names {
				args[i] = n
			}
			if err := kvDropDue.Run(ctx, k.b.pub, hashes, args...).Err(); err != nil {
				// List skips them anyway; the hash expires.
				k.b.log.Warn("KV: removing expired fields", "err", err)
			}
		}
		if len(due) < expiredBatch {
			break
		}
	}
	return out, nil
}

// TTL is the entries' lifetime.
func (k *kv) TTL() time.Duration { return k.ttl }

// Close makes further calls fail; the entries stay until they expire.
func (k *kv) Close() error {
	k.mu.Lock()
	k.closed = true
	k.mu.Unlock()
	return nil
}
