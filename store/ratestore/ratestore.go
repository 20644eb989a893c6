// Package ratestore keeps rate limits and login backoffs in the database,
// so that every node behind a load balancer enforces them together: a
// Limiter makes the decisions of ratelimit.Limiter (the same GCRA, through
// ratelimit.Rate) and a Backoff those of ratelimit.Backoff (through
// ratelimit.BackoffRules), on rows of the rate_limits and backoffs tables
// instead of in one process's memory.
//
// # Why the database
//
// Several `unhidra serve` nodes on one PostgreSQL would otherwise each
// allow a limit once: three nodes, three times the logins per minute. The
// state has to live in something every node shares, and the database is
// the one thing every node always has, whichever bus it runs (in-process,
// NATS or Redis). It is one code path for one node (SQLite) and many
// (PostgreSQL), it survives restarts (a rolling restart does not hand out
// fresh buckets), and the limits it serves guard logins and registrations,
// which already cost an Argon2 hash: a row written beside that is cheap.
//
// # Guarantees
//
//   - Every Limiter decision is one SQL statement (an upsert whose update
//     only happens when the event is admitted), so concurrent decisions on
//     one key, from any node, admit exactly what one node in sequence
//     would: a burst of N parallel events on a fresh key admits Burst.
//   - Every Backoff change is one transaction on the key's row, locked
//     (FOR UPDATE on PostgreSQL; SQLite has one writer), so reservations
//     from parallel tries on several nodes are counted like those of one.
//   - Keys are bounded: a key from client input that is longer than
//     MaxRawKey bytes, not valid UTF-8, or holds a NUL is stored as its
//     SHA-256 instead, so neither engine sees an arbitrary string and a
//     row never grows with the input.
//   - The tables do not grow without bound: Sweep (run by the server every
//     minute, see Run) deletes every row whose bucket is full again or
//     whose failures are forgotten, exactly the rows that say nothing.
//   - An error from the database is returned, never taken for a decision:
//     the consumers refuse the request with unavailable (fail closed).
//
// # Time
//
// Instants are unix nanoseconds of the deciding node's clock (Options.Now),
// since nodes share no monotonic clock. Nodes must keep their clocks in
// step (NTP); a node whose clock runs δ ahead can admit about δ/interval
// events early, and a wall-clock step on one node moves that node's view of
// every bucket by the step, never by more.
package ratestore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/unhidra/unhidra/store"
)

// MaxRawKey is the longest key stored as it is; longer keys, and keys
// that are not valid UTF-8 or hold a NUL, are stored as their SHA-256.
const MaxRawKey = 128

// maxNamespace bounds a namespace (a constant from the code).
const maxNamespace = 32

// Options tune a Store. The zero value gives the defaults.
type Options struct {
	// Now is the clock; time.Now if nil. Its wall time is what is stored.
	Now func() time.Time
	// Logger hears of failed sweeps; nil discards.
	Logger *slog.Logger
}

// Store is the rate-limit storage over one database. It is safe for
// concurrent use. Limiters and Backoffs come from it, each with a key
// namespace of its own.
type Store struct {
	db  *store.DB
	now func() time.Time
	log *slog.Logger
}

// New returns the rate-limit storage over db. Closing db is the caller's.
func New(db *store.DB, opts Options) *Store {
	s := &Store{db: db, now: opts.Now, log: opts.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

func (s *Store) nanos() int64 { return s.now().UnixNano() }

// checkNamespace panics on a namespace that is not a short run of [a-z0-9_.-]:
// namespaces are constants of the code, and a ':' or '#' in one could make
// two namespaces' keys collide.
func checkNamespace(ns string) {
	if ns == "" || len(ns) > maxNamespace {
		panic(fmt.Sprintf("ratestore: namespace %q: want 1 to %d characters", ns, maxNamespace))
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			panic(fmt.Sprintf("ratestore: namespace %q: want only a-z, 0-9, '_', '.' and '-'", ns))
		}
	}
}

// storedKey is the primary key of key in namespace ns: "ns:key" for a key
// that is short, valid UTF-8 and free of NULs (readable by an operator),
// "ns#<base64url SHA-256>" for any other. The character after the namespace
// tells the forms apart, so a raw key can never equal a hashed one.
func storedKey(ns, key string) string {
	if len(key) <= MaxRawKey && utf8.ValidString(key) && !strings.ContainsRune(key, 0) {
		return ns + ":" + key
	}
	sum := sha256.Sum256([]byte(key))
	return ns + "#" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// Sweep deletes every row that says nothing at now: buckets full again,
// backoffs whose failures are forgotten and reservations lapsed. It returns
// how many rows it deleted. Several nodes may sweep at once.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int64, error) {
	t := now.UnixNano()
	n, err := s.db.Write().ExecN(ctx, `DELETE FROM rate_limits WHERE full_at <= ?`, t)
	if err != nil {
		return 0, fmt.Errorf("sweep rate limits: %w", err)
	}
	m, err := s.db.Write().ExecN(ctx, `DELETE FROM backoffs WHERE empty_at <= ?`, t)
	if err != nil {
		return n, fmt.Errorf("sweep backoffs: %w", err)
	}
	return n + m, nil
}

// SweepEvery is how often Run sweeps.
const SweepEvery = time.Minute

// Run sweeps every SweepEvery until ctx ends. A failed sweep is logged and
// tried again next time: rows that stay only take room, they decide nothing
// wrongly (an old row is as good as none).
func (s *Store) Run(ctx context.Context) {
	t := time.NewTicker(SweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Sweep(ctx, s.now()); err != nil && ctx.Err() == nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "rate limit sweep failed", slog.Any("err", err))
		}
	}
}
