package ratelimit

import (
	"math"
	"time"
)

// BackoffOptions tunes a Backoff. The zero value gives the defaults.
type BackoffOptions struct {
	// Free is how many failures a key may have without any delay (5 if
	// zero; negative means none: the first failure already imposes Base).
	Free int
	// Base is the wait after the first failure beyond Free (1 s if zero);
	// each further failure doubles it.
	Base time.Duration
	// Max caps the wait (5 min if zero).
	Max time.Duration
	// Forget is how long after its last failure a key's failures are
	// forgotten (15 min if zero). A Forget shorter than Max is raised to
	// Max, or the cap would never be reached.
	Forget time.Duration
	// Hold is how long a try admitted by Reserve counts as in flight when
	// neither Fail, Succeed nor Release follows (30 s if zero). It only
	// needs to outlast one login attempt.
	Hold time.Duration
	// Now is the clock; time.Now if nil.
	Now func() time.Time
	// MaxKeys bounds how many keys are remembered (DefaultMaxKeys if zero
	// or negative); past it the least recently used key is forgotten.
	MaxKeys int
}

// Backoff delays tries on a key after repeated failures: after Free
// failures, the next try must wait Base, then 2×Base after the next failure,
// and so on up to Max, counted from the latest failure. See the package
// documentation for how the auth service combines two of them.
type Backoff struct {
	free         int
	base, max    int64
	forget, hold int64
	clk          clock
	t            *table[backoffState]
}

// backoffState is one key's record. Tries that Reserve admitted and that
// have not yet been reported count like failures, so that parallel tries
// cannot all slip through the moment a wait ends.
type backoffState struct {
	fails    int   // failures since the last one was forgotten
	lastFail int64 // when the latest failure was recorded
	held     int   // tries admitted by Reserve and not yet reported
	heldAt   int64 // when the latest of them was admitted
}

// NewBackoff returns a Backoff with opts, defaults filled in.
func NewBackoff(opts BackoffOptions) *Backoff {
	return newBackoff(opts, maxShards)
}

func newBackoff(opts BackoffOptions, shards int) *Backoff {
	b := &Backoff{
		free:   opts.Free,
		base:   int64(opts.Base),
		max:    int64(opts.Max),
		forget: int64(opts.Forget),
		hold:   int64(opts.Hold),
		clk:    newClock(opts.Now),
	}
	switch {
	case b.free == 0:
		b.free = 5
	case b.free < 0:
		b.free = 0
	}
	if b.base <= 0 {
		b.base = int64(time.Second)
	}
	if b.max <= 0 {
		b.max = int64(5 * time.Minute)
	}
	b.base = min(b.base, b.max)
	if b.forget <= 0 {
		b.forget = int64(15 * time.Minute)
	}
	b.forget = max(b.forget, b.max)
	if b.hold <= 0 {
		b.hold = int64(30 * time.Second)
	}
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	b.t = newTable(maxKeys, shards, b.empty)
	return b
}

// expire drops what has aged out of st at now.
func (b *Backoff) expire(st *backoffState, now int64) {
	if st.fails > 0 && now-st.lastFail >= b.forget {
		st.fails = 0
	}
	if st.held > 0 && now-st.heldAt >= b.hold {
		st.held = 0
	}
}

// empty reports whether st, once aged, says nothing: its key can be dropped.
func (b *Backoff) empty(st *backoffState, now int64) bool {
	a := *st
	b.expire(&a, now)
	return a.fails == 0 && a.held == 0
}

// wait returns how long from now the next try on st must wait.
func (b *Backoff) wait(st *backoffState, now int64) time.Duration {
	n := st.fails + st.held
	if n <= b.free {
		return 0
	}
	var since int64 = math.MinInt64
	if st.fails > 0 {
		since = st.lastFail
	}
	if st.held > 0 {
		since = max(since, st.heldAt)
	}
	return time.Duration(max(since+b.delay(n-b.free)-now, 0))
}

// delay returns the wait after the k-th failure beyond the free ones (k ≥ 1):
// Base × 2^(k-1), capped at Max.
func (b *Backoff) delay(k int) int64 {
	d := b.base // ≤ max, see newBackoff
	for ; k > 1; k-- {
		if d > b.max/2 {
			return b.max
		}
		d *= 2
	}
	return d
}

// Check returns how long the caller must wait before a try on key (0: it may
// try now). It only looks: tries that pass Check and have not failed yet are
// not counted, so parallel tries can all pass at the moment a wait ends. Use
// Reserve where that matters.
func (b *Backoff) Check(key string) (retryAfter time.Duration) {
	now := b.clk.read()
	s := b.t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()

	e := s.get(key)
	if e == nil {
		return 0
	}
	b.expire(&e.val, now)
	return b.wait(&e.val, now)
}

// Reserve is Check that also reserves the try it admits: until Fail, Succeed
// or Release reports on it (or Hold passes), the try counts as a failure for
// every other Check and Reserve on key. A burst of parallel tries then gets
// no more through than the same tries made one after another.
//
// Every Reserve that returns 0 should be followed by exactly one Fail,
// Succeed or Release on the same key; one that is not costs its key an
// extra counted failure until Hold passes.
func (b *Backoff) Reserve(key string) (retryAfter time.Duration) {
	return b.reserve(key, false)
}

// Admit reserves a try on key like Reserve, but always: it returns the wait
// Reserve would have imposed (0 if none) and reserves the try all the same.
// It is for a caller that will make the try wait (a bounded delay) rather
// than refuse it. As after Reserve, exactly one Fail, Succeed or Release
// must follow.
func (b *Backoff) Admit(key string) (wait time.Duration) {
	return b.reserve(key, true)
}

// reserve returns the wait due on key and reserves a try when there is
// none, or with always set whatever the wait.
func (b *Backoff) reserve(key string, always bool) time.Duration {
	now := b.clk.read()
	s := b.t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()

	e := s.get(key)
	var st backoffState
	if e != nil {
		st = e.val
		b.expire(&st, now)
	}
	wait := b.wait(&st, now)
	if wait > 0 && !always {
		if e != nil {
			e.val = st
		}
		return wait
	}
	st.held++
	st.heldAt = now
	if e == nil {
		s.add(key, st)
	} else {
		e.val = st
	}
	s.trim(b.empty, now, trimPerCall)
	return wait
}

// Failures returns how many failures on key are remembered (not yet
// forgotten) now; reservations do not count.
func (b *Backoff) Failures(key string) int {
	now := b.clk.read()
	s := b.t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[key]
	if e == nil {
		return 0
	}
	st := e.val
	b.expire(&st, now)
	return st.fails
}

// Fail records a failed try on key, and ends the reservation of one try
// admitted by Reserve if there is one.
func (b *Backoff) Fail(key string) {
	now := b.clk.read()
	s := b.t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()

	e := s.get(key)
	var st backoffState
	if e != nil {
		st = e.val
		b.expire(&st, now)
	}
	if st.fails < math.MaxInt32 { // the wait is capped; only the count could overflow
		st.fails++
	}
	st.lastFail = now
	if st.held > 0 {
		st.held--
	}
	if e == nil {
		s.add(key, st)
	} else {
		e.val = st
	}
	s.trim(b.empty, now, trimPerCall)
}

// Succeed forgets key's failures and reservations: the caller proved it
// knows the secret.
func (b *Backoff) Succeed(key string) {
	s := b.t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[key]; e != nil {
		s.remove(e)
	}
}

// Release ends the reservation of one try admitted by Reserve without
// recording a failure: the try never happened (another check refused it), or
// it succeeded but key's failures should still stand.
func (b *Backoff) Release(key string) {
	now := b.clk.read()
	s := b.t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()

	e := s.m[key]
	if e == nil {
		return
	}
	b.expire(&e.val, now)
	if e.val.held > 0 {
		e.val.held--
	}
	if e.val.fails == 0 && e.val.held == 0 {
		s.remove(e)
	}
}

// Sweep forgets every key with no unexpired failure or reservation at now
// and returns how many it forgot.
func (b *Backoff) Sweep(now time.Time) int { return b.t.sweep(b.clk.at(now)) }

// Len returns how many keys the Backoff remembers; never more than MaxKeys.
func (b *Backoff) Len() int { return b.t.len() }
