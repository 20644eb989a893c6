package ratelimit

import "time"

// Rate is the arithmetic of a token bucket (GCRA) for one Spec and burst,
// without keys or locks: the Limiter applies it to a table of keys, and
// state that already has a single owner (one connection's frame budget)
// applies it to a field of its own. The zero Rate admits everything.
type Rate struct {
	// interval is the time one token takes to refill.
	interval int64
	// tolerance is burst × interval: how far past now a bucket's
	// full-again instant may lie after admitting an event.
	tolerance int64
}

// maxTolerance keeps full-again instants far from int64 overflow whatever
// burst a caller picks; 2^62 ns is about 146 years.
const maxTolerance = 1 << 62

// NewRate returns the Rate of spec with room for burst events at once
// (spec.N if burst ≤ 0). A disabled spec gives the zero Rate.
func NewRate(spec Spec, burst int) Rate {
	if spec.Disabled() {
		return Rate{}
	}
	b := int64(burst)
	if b <= 0 {
		b = int64(spec.N)
	}
	// Above one event per nanosecond the rate is unlimited in all but
	// name; a zero interval would break the arithmetic, so round up.
	r := Rate{interval: max(int64(spec.Per)/int64(spec.N), 1)}
	if b > maxTolerance/r.interval {
		r.tolerance = maxTolerance
	} else {
		r.tolerance = b * r.interval
	}
	return r
}

// Disabled reports whether r admits everything.
func (r Rate) Disabled() bool { return r.interval == 0 }

// Allow admits an event at now (nanoseconds on any monotonic scale) against
// the bucket stored as *fullAt, the instant it will be full again (zero for
// a fresh bucket), and counts it. A refused event leaves the bucket alone
// and says how long until one would be admitted.
//
// It is Ceiling and Next applied to a variable; a bucket kept elsewhere (a
// database row, store/ratestore) applies the same two to its column, so
// that both make the same decisions.
func (r Rate) Allow(fullAt *int64, now int64) (ok bool, retryAfter time.Duration) {
	if r.interval == 0 {
		return true, 0
	}
	if over := *fullAt - r.Ceiling(now); over > 0 {
		// A client hammering a limit is not pushed further out, and one
		// that waits retryAfter gets in.
		return false, time.Duration(over)
	}
	*fullAt = r.Next(*fullAt, now)
	return true, 0
}

// Ceiling is the latest full-again instant of a bucket that still admits an
// event at now: now + burst×interval − interval, never less than now. A
// bucket full again later than that refuses the event, and the difference
// is its retry-after. Only for an enabled Rate.
//
// (Admitting moves the instant to max(fullAt, now) + interval, which must
// stay within tolerance of now; for fullAt ≤ now that always holds, since
// the burst is at least one.)
func (r Rate) Ceiling(now int64) int64 { return now + r.tolerance - r.interval }

// Next is the full-again instant after an admitted event at now on a bucket
// full again at fullAt.
func (r Rate) Next(fullAt, now int64) int64 { return max(fullAt, now) + r.interval }

// Interval is the time one token takes to refill, in nanoseconds (0 for a
// disabled Rate).
func (r Rate) Interval() int64 { return r.interval }
