package ratestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/unhidra/unhidra/ratelimit"
	"github.com/unhidra/unhidra/store"
)

// Limiter is a token bucket per key, shared by every node on the database:
// the decisions of a ratelimit.Limiter with the same Spec and burst, for
// events from all nodes together. It is safe for concurrent use.
type Limiter struct {
	s    *Store
	ns   string
	spec ratelimit.Spec
	rate ratelimit.Rate
}

// Limiter returns the shared limiter of namespace (a constant naming the
// limit: "login", "register", "device-register") at spec, admitting burst
// events at once (spec.N if burst ≤ 0). Limiters of different namespaces
// never share a key; two of one namespace share every key and must use the
// same spec. A disabled spec admits everything and touches no row.
func (s *Store) Limiter(namespace string, spec ratelimit.Spec, burst int) *Limiter {
	checkNamespace(namespace)
	return &Limiter{s: s, ns: namespace, spec: spec, rate: ratelimit.NewRate(spec, burst)}
}

// Spec returns the rate the Limiter enforces.
func (l *Limiter) Spec() ratelimit.Spec { return l.spec }

// admit is the whole decision in one statement. A fresh key gets the
// bucket of one admitted event; an existing one is updated only if it
// admits the event (full_at ≤ Rate.Ceiling), to Rate.Next. RETURNING yields
// a row exactly when the event was admitted: on both engines an upsert
// whose DO UPDATE … WHERE is false returns nothing. Under PostgreSQL's READ
// COMMITTED a conflicting upsert waits for the row's lock and then
// re-evaluates the WHERE on the newest row, so parallel events on one key
// are decided one after another.
const admit = `INSERT INTO rate_limits (key, full_at) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET full_at = CASE WHEN rate_limits.full_at > ? THEN rate_limits.full_at ELSE ? END + ?
WHERE rate_limits.full_at <= ?
RETURNING full_at`

// Allow reports whether an event for key may happen now and, if so, counts
// it, like ratelimit.Limiter.Allow; retryAfter is how long until the next
// event for key will be admitted when it may not (always > 0). An error
// means nothing was decided and nothing counted: the caller should refuse.
func (l *Limiter) Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error) {
	return l.allow(ctx, l.s.db.Write(), l.s.db.Read(), key)
}

// AllowIn is Allow inside the caller's transaction c (from store.DB.InTx):
// the count commits, or rolls back, with the caller's own writes, so an
// event whose work fails or is undone is not counted, and an admitted one
// costs no commit of its own. On PostgreSQL the key's row stays locked
// until c commits: decide last, just before the commit, to keep the lock
// short.
func (l *Limiter) AllowIn(ctx context.Context, c store.Conn, key string) (ok bool, retryAfter time.Duration, err error) {
	return l.allow(ctx, c, c, key)
}

func (l *Limiter) allow(ctx context.Context, w, r store.Conn, key string) (ok bool, retryAfter time.Duration, err error) {
	if l.rate.Disabled() {
		return true, 0, nil
	}
	k := storedKey(l.ns, key)
	// A refusal is followed by a read for its retry-after. If the row went
	// in between (a sweep removes rows whose bucket is full, which would
	// admit), the decision is taken again; twice is plenty.
	for range 2 {
		now := l.s.nanos()
		var fullAt int64
		err := w.QueryRow(ctx, admit,
			k, l.rate.Next(now, now), now, now, l.rate.Interval(), l.rate.Ceiling(now)).Scan(&fullAt)
		if err == nil {
			return true, 0, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, 0, fmt.Errorf("rate limit %s: %w", l.ns, err)
		}
		err = r.QueryRow(ctx, `SELECT full_at FROM rate_limits WHERE key = ?`, k).Scan(&fullAt)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		} else if err != nil {
			return false, 0, fmt.Errorf("rate limit %s: %w", l.ns, err)
		}
		if over := fullAt - l.rate.Ceiling(now); over > 0 {
			return false, time.Duration(over), nil
		}
	}
	// Refused, but the row no longer says by how much: the smallest wait.
	return false, time.Nanosecond, nil
}
