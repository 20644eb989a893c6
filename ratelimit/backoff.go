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
	rules BackoffRules
	clk   clock
	t     *table[BackoffState]
}

// BackoffState is one key's record. Tries that Reserve admitted and that
// have not yet been reported count like failures, so that parallel tries
// cannot all slip through the moment a wait ends. Instants are nanoseconds
// on any one scale; the zero state is a key never seen.
//
// The in-memory Backoff keeps one per key in a table; store/ratestore keeps
// one per database row, so that several nodes share it. Both change it only
// through BackoffRules, which is where the arithmetic lives.
type BackoffState struct {
	Fails    int   // failures since the last one was forgotten
	LastFail int64 // when the latest failure was recorded
	Held     int   // tries admitted by Reserve and not yet reported
	HeldAt   int64 // when the latest of them was admitted
}

// BackoffRules are the parameters of a Backoff, defaults filled in, and the
// transitions of a BackoffState under them. The methods take the instant
// now and leave locking, storage and clocks to the caller.
type BackoffRules struct {
	free         int
	base, max    int64
	forget, hold int64
}

// NewBackoff returns a Backoff with opts, defaults filled in.
func NewBackoff(opts BackoffOptions) *Backoff {
	return newBackoff(opts, maxShards)
}

func newBackoff(opts BackoffOptions, shards int) *Backoff {
	b := &Backoff{rules: NewBackoffRules(opts), clk: newClock(opts.Now)}
	maxKeys := opts.MaxKeys
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	b.t = newTable(maxKeys, shards, b.rules.Empty)
	return b
}

// NewBackoffRules returns the rules of opts, defaults filled in (Now and
// MaxKeys play no part).
func NewBackoffRules(opts BackoffOptions) BackoffRules {
	r := BackoffRules{
		free:   opts.Free,
		base:   int64(opts.Base),
		max:    int64(opts.Max),
		forget: int64(opts.Forget),
		hold:   int64(opts.Hold),
	}
	switch {
	case r.free == 0:
		r.free = 5
	case r.free < 0:
		r.free = 0
	}
	if r.base <= 0 {
		r.base = int64(time.Second)
	}
	if r.max <= 0 {
		r.max = int64(5 * time.Minute)
	}
	r.base = min(r.base, r.max)
	if r.forget <= 0 {
		r.forget = int64(15 * time.Minute)
	}
	r.forget = max(r.forget, r.max)
	if r.hold <= 0 {
		r.hold = int64(30 * time.Second)
	}
	return r
}

// expire drops what has aged out of st at now.
func (r BackoffRules) expire(st *BackoffState, now int64) {
	if st.Fails > 0 && now-st.LastFail >= r.forget {
		st.Fails = 0
	}
	if st.Held > 0 && now-st.HeldAt >= r.hold {
		st.Held = 0
	}
}

// Empty reports whether st, once aged, says nothing at now: its key can be
// dropped as if never seen.
func (r BackoffRules) Empty(st *BackoffState, now int64) bool {
	a := *st
	r.expire(&a, now)
	return a.Fails == 0 && a.Held == 0
}

// EmptyAt is the instant from which st, left alone, is Empty: when its
// latest failure is forgotten and its latest reservation has lapsed. A
// store deletes the rows whose EmptyAt has passed.
func (r BackoffRules) EmptyAt(st *BackoffState) int64 {
	var at int64 = math.MinInt64
	if st.Fails > 0 {
		at = st.LastFail + r.forget
	}
	if st.Held > 0 {
		at = max(at, st.HeldAt+r.hold)
	}
	return at
}

// wait returns how long from now the next try on st must wait; st must be
// expired at now.
func (r BackoffRules) wait(st *BackoffState, now int64) time.Duration {
	n := st.Fails + st.Held
	if n <= r.free {
		return 0
	}
	var since int64 = math.MinInt64
	if st.Fails > 0 {
		since = st.LastFail
	}
	if st.Held > 0 {
		since = max(since, st.HeldAt)
	}
	return time.Duration(max(since+r.delay(n-r.free)-now, 0))
}

// delay returns the wait after the k-th failure beyond the free ones (k ≥ 1):
// Base × 2^(k-1), capped at Max.
func (r BackoffRules) delay(k int) int64 {
	d := r.base // ≤ max, see NewBackoffRules
	for ; k > 1; k-- {
		if d > r.max/2 {
			return r.max
		}
		d *= 2
	}
	return d
}

// Check ages st to now and returns the wait due before a try (Backoff.Check).
func (r BackoffRules) Check(st *BackoffState, now int64) time.Duration {
	r.expire(st, now)
	return r.wait(st, now)
}

// Failures ages st to now and returns its failures (Backoff.Failures).
func (r BackoffRules) Failures(st *BackoffState, now int64) int {
	r.expire(st, now)
	return st.Fails
}

// Reserve ages st to now and returns the wait due; when there is none, or
// with always set whatever it is, it reserves a try (Backoff.Reserve and
// Admit). It reports whether it reserved.
func (r BackoffRules) Reserve(st *BackoffState, now int64, always bool) (wait time.Duration, reserved bool) {
	r.expire(st, now)
	wait = r.wait(st, now)
	if wait > 0 && !always {
		return wait, false
	}
	st.Held++
	st.HeldAt = now
	return wait, true
}

// Fail ages st to now, records a failure and ends one reservation if there
// is one (Backoff.Fail).
func (r BackoffRules) Fail(st *BackoffState, now int64) {
	r.expire(st, now)
	if st.Fails < math.MaxInt32 { // the wait is capped; only the count could overflow
		st.Fails++
	}
	st.LastFail = now
	if st.Held > 0 {
		st.Held--
	}
}

// Release ages st to now and ends one reservation without a failure
// (Backoff.Release).
func (r BackoffRules) Release(st *BackoffState, now int64) {
	r.expire(st, now)
	if st.Held > 0 {
		st.Held--
	}
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
	return b.rules.Check(&e.val, now)
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
	var st BackoffState
	if e != nil {
		st = e.val
	}
	wait, reserved := b.rules.Reserve(&st, now, always)
	if !reserved {
		if e != nil {
			e.val = st
		}
		return wait
	}
	if e == nil {
		s.add(key, st)
	} else {
		e.val = st
	}
	s.trim(b.rules.Empty, now, trimPerCall)
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
	return b.rules.Failures(&st, now)
}

// Fail records a failed try on key, and ends the reservation of one try
// admitted by Reserve if there is one.
func (b *Backoff) Fail(key string) {
	now := b.clk.read()
	s := b.t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()

	e := s.get(key)
	var st BackoffState
	if e != nil {
		st = e.val
	}
	b.rules.Fail(&st, now)
	if e == nil {
		s.add(key, st)
	} else {
		e.val = st
	}
	s.trim(b.rules.Empty, now, trimPerCall)
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
	b.rules.Release(&e.val, now)
	if e.val.Fails == 0 && e.val.Held == 0 {
		s.remove(e)
	}
}

// Sweep forgets every key with no unexpired failure or reservation at now
// and returns how many it forgot.
func (b *Backoff) Sweep(now time.Time) int { return b.t.sweep(b.clk.at(now)) }

// Len returns how many keys the Backoff remembers; never more than MaxKeys.
func (b *Backoff) Len() int { return b.t.len() }
