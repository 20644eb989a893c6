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

// Backoff is a failed-login backoff per key, shared by every node on the
// database: the methods and decisions of ratelimit.Backoff (Check aside),
// for tries on all nodes together, with the same rules applied by the same
// code (ratelimit.BackoffRules). It is safe for concurrent use.
//
// The one difference is what a database brings: each call is a
// transaction, and it can fail. A failed Reserve or Admit reserved
// nothing; a failed Fail leaves the try's reservation standing, so it still
// counts as a failure until Hold passes; a failed Release or Succeed leaves
// the reservation or the failures standing likewise (until Hold or Forget).
// Every failure of the store thus errs towards slowing tries down.
type Backoff struct {
	s     *Store
	ns    string
	rules ratelimit.BackoffRules
}

// Backoff returns the shared backoff of namespace with opts (Now and
// MaxKeys are ignored: the Store's clock counts, and rows are bounded by
// Sweep rather than by a count). Two Backoffs of one namespace share every
// key and must use the same opts.
func (s *Store) Backoff(namespace string, opts ratelimit.BackoffOptions) *Backoff {
	checkNamespace(namespace)
	return &Backoff{s: s, ns: namespace, rules: ratelimit.NewBackoffRules(opts)}
}

const selectBackoff = `SELECT fails, last_fail, held, held_at FROM backoffs WHERE key = ?`

func scanBackoff(row interface{ Scan(...any) error }) (ratelimit.BackoffState, bool, error) {
	var st ratelimit.BackoffState
	err := row.Scan(&st.Fails, &st.LastFail, &st.Held, &st.HeldAt)
	if errors.Is(err, sql.ErrNoRows) {
		return ratelimit.BackoffState{}, false, nil
	}
	return st, err == nil, err
}

// Failures returns how many failures on key are remembered now;
// reservations do not count.
func (b *Backoff) Failures(ctx context.Context, key string) (int, error) {
	st, _, err := scanBackoff(b.s.db.Read().QueryRow(ctx, selectBackoff, storedKey(b.ns, key)))
	if err != nil {
		return 0, b.wrap(err)
	}
	return b.rules.Failures(&st, b.s.nanos()), nil
}

// Reserve returns how long the caller must wait before a try on key (0: it
// may try now) and, when it may, reserves the try until Fail, Succeed or
// Release reports on it, like ratelimit.Backoff.Reserve.
func (b *Backoff) Reserve(ctx context.Context, key string) (time.Duration, error) {
	return b.reserve(ctx, key, false)
}

// Admit reserves a try on key whatever the wait, and returns the wait, like
// ratelimit.Backoff.Admit.
func (b *Backoff) Admit(ctx context.Context, key string) (time.Duration, error) {
	return b.reserve(ctx, key, true)
}

func (b *Backoff) reserve(ctx context.Context, key string, always bool) (wait time.Duration, err error) {
	err = b.update(ctx, key, true, func(st *ratelimit.BackoffState, now int64) bool {
		var reserved bool
		wait, reserved = b.rules.Reserve(st, now, always)
		return reserved
	})
	return wait, err
}

// Fail records a failed try on key and ends the reservation of one try if
// there is one, like ratelimit.Backoff.Fail.
func (b *Backoff) Fail(ctx context.Context, key string) error {
	return b.update(ctx, key, true, func(st *ratelimit.BackoffState, now int64) bool {
		b.rules.Fail(st, now)
		return true
	})
}

// Release ends the reservation of one try without recording a failure, like
// ratelimit.Backoff.Release.
func (b *Backoff) Release(ctx context.Context, key string) error {
	return b.update(ctx, key, false, func(st *ratelimit.BackoffState, now int64) bool {
		b.rules.Release(st, now)
		return true
	})
}

// Succeed forgets key's failures and reservations.
func (b *Backoff) Succeed(ctx context.Context, key string) error {
	_, err := b.s.db.Write().Exec(ctx, `DELETE FROM backoffs WHERE key = ?`, storedKey(b.ns, key))
	return b.wrap(err)
}

// update runs change on key's state in one transaction, holding the row's
// lock from the read to the write, and writes the result back when change
// returns true (deleting the row if the state is empty). With create set a
// missing row is created first, so that there is a row to lock: two
// transactions that both found no row would otherwise both decide on the
// zero state. Without it a missing row means there is nothing to change.
func (b *Backoff) update(ctx context.Context, key string, create bool, change func(st *ratelimit.BackoffState, now int64) bool) error {
	k := storedKey(b.ns, key)
	err := b.s.db.InTx(ctx, func(c store.Conn) error {
		now := b.s.nanos()
		if create {
			// Empty at once: if the transaction keeps it that way, it is
			// deleted below; a sweep would take it anyway.
			if _, err := c.Exec(ctx, `INSERT INTO backoffs (key, fails, last_fail, held, held_at, empty_at) VALUES (?, 0, 0, 0, 0, ?) ON CONFLICT (key) DO NOTHING`, k, now); err != nil {
				return err
			}
		}
		st, found, err := scanBackoff(c.QueryRow(ctx, selectBackoff+c.ForUpdate(), k))
		if err != nil || !found {
			return err
		}
		if !change(&st, now) {
			if b.rules.Empty(&st, now) {
				_, err = c.Exec(ctx, `DELETE FROM backoffs WHERE key = ?`, k)
			}
			return err
		}
		if b.rules.Empty(&st, now) {
			_, err = c.Exec(ctx, `DELETE FROM backoffs WHERE key = ?`, k)
			return err
		}
		_, err = c.Exec(ctx, `UPDATE backoffs SET fails = ?, last_fail = ?, held = ?, held_at = ?, empty_at = ? WHERE key = ?`,
			st.Fails, st.LastFail, st.Held, st.HeldAt, b.rules.EmptyAt(&st), k)
		return err
	})
	return b.wrap(err)
}

func (b *Backoff) wrap(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("login backoff %s: %w", b.ns, err)
}
