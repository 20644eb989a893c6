package ratelimit

import (
	"time"
)

// Options tunes a Limiter. The zero value gives the defaults.
type Options struct {
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// MaxKeys bounds how many keys are remembered (DefaultMaxKeys if zero or
	// negative). Past it the least recently used key is forgotten, which
	// gives that key a full bucket again: under a flood of distinct keys the
	// limit per key weakens, memory does not grow.
	MaxKeys int
	// Burst is how many events a fresh key may have at once (Spec.N if zero
	// or negative, i.e. N events per window).
	Burst int
}

// Limiter is a token bucket per key. The bucket of a key holds Burst tokens
// and refills at N per Per; an event takes one token, and an event that
// finds none is refused without taking anything.
//
// A bucket is stored as the single instant at which it will be full again
// (the "theoretical arrival time" of GCRA): the same decisions as counting
// tokens, in one int64 per key and integer arithmetic, so that tests on an
// injected clock can state exact retry times.
type Limiter struct {
	spec Spec
	clk  clock
	rate Rate
	t    *table[int64] // nil when disabled
}

// New returns a Limiter for spec. A disabled spec gives a Limiter that admits
// every event and keeps no state.
func New(spec Spec, opts Options) *Limiter {
	return newLimiter(spec, opts, maxShards)
}

func newLimiter(spec Spec, opts Options, shards int) *Limiter {
	l := &Limiter{spec: spec, clk: newClock(opts.Now)}
	if spec.Disabled() {
		return l
	}
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	l.rate = NewRate(spec, opts.Burst)
	l.t = newTable(maxKeys, shards, bucketFull)
	return l
}

// bucketFull reports whether a key's bucket is full at now, which makes the
// key indistinguishable from one never seen.
func bucketFull(fullAt *int64, now int64) bool { return *fullAt <= now }

// Spec returns the rate the Limiter enforces.
func (l *Limiter) Spec() Spec { return l.spec }

// Allow reports whether an event for key may happen now and, if so, counts
// it. When it may not, retryAfter is how long until the next event for key
// will be admitted (always > 0); when it may, retryAfter is 0.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l.t == nil {
		return true, 0
	}
	now := l.clk.read()
	s := l.t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()

	e := s.get(key)
	var fullAt int64
	if e != nil {
		fullAt = e.val
	}
	if ok, wait := l.rate.Allow(&fullAt, now); !ok {
		return false, wait
	}
	if e == nil {
		s.add(key, fullAt)
	} else {
		e.val = fullAt
	}
	// The entry just written is at the hot end and not idle, so trim cannot
	// take it.
	s.trim(bucketFull, now, trimPerCall)
	return true, 0
}

// Sweep forgets every key whose bucket is full at now and returns how many
// it forgot. Allow already drops idle keys a few at a time; Sweep is for a
// periodic janitor that wants memory back after a burst of distinct keys.
func (l *Limiter) Sweep(now time.Time) int {
	if l.t == nil {
		return 0
	}
	return l.t.sweep(l.clk.at(now))
}

// Len returns how many keys the Limiter remembers; never more than MaxKeys.
func (l *Limiter) Len() int {
	if l.t == nil {
		return 0
	}
	return l.t.len()
}

// RetryAfterSeconds rounds d up to whole seconds for a Retry-After header.
// It never returns less than 1: "Retry-After: 0" invites a client to retry
// in a tight loop, and a refused caller always has something to wait for.
func RetryAfterSeconds(d time.Duration) int {
	if d <= time.Second {
		return 1
	}
	s := d / time.Second
	if d%time.Second != 0 {
		s++
	}
	return int(s)
}
