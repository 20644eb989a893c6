// Package password hashes and verifies passwords with Argon2id and decides
// which new passwords are acceptable.
//
// Guarantees:
//
//   - Hashes are PHC strings ($argon2id$v=19$m=…,t=…,p=…$salt$key) with a
//     fresh salt from crypto/rand (16 bytes by default), at or above OWASP's
//     recommended Argon2id cost (m=19456 KiB, t=2, p=1). New refuses
//     anything weaker.
//   - Verify accepts any well-formed Argon2id PHC string, compares keys in
//     constant time, and says when the stored hash was made with other params
//     than the hasher's, so the caller can re-hash on a successful login.
//     A malformed hash is an error wrapping ErrMalformed, never a panic and
//     never a match.
//   - At most Config.MaxConcurrent derivations run at once per Hasher, so a
//     flood of logins holds at most MaxConcurrent × Params.Memory of argon2
//     memory live (a stored hash with a larger m costs its own m while it is
//     verified; the garbage collector may keep freed blocks a while longer).
//     Callers beyond that wait for a slot until their context is done; there
//     is no separate "busy" error.
//   - DummyVerify does the work of a Verify, so a login for an unknown user
//     takes as long as a wrong password for a known one.
//   - Passwords are normalised to Unicode NFKC before hashing and checking,
//     as NIST SP 800-63B asks, so the same password typed on two keyboards
//     that compose "é" differently still matches.
//
// Policy checks a new password against NIST SP 800-63B's rules: a length
// range, no username, no single repeated character and no password from a
// list of the most common ones. It has no composition rules (digits,
// symbols): NIST advises against them.
//
// Nothing in this package logs, and no error carries a password or a hash.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// Config configures a Hasher. Zero values take defaults.
type Config struct {
	// Params are the cost of new hashes. Zero fields take DefaultParams'.
	Params Params
	// MaxConcurrent bounds the derivations running at once; 0 means
	// runtime.GOMAXPROCS(0), since Argon2 is CPU-bound and more would only
	// hold more memory without finishing sooner.
	MaxConcurrent int
}

// Hasher hashes and verifies passwords. It is safe for concurrent use.
type Hasher struct {
	params Params
	// slots holds one token per derivation in progress.
	slots chan struct{}
	// dummy is what DummyVerify verifies against: current params, and a key
	// of zeros that no password derives to in practice.
	dummy string
	// derive is argon2id; tests swap it to watch and pace the work.
	derive func(password, salt []byte, p Params) []byte
}

// New returns a Hasher, or an error if cfg.Params (after defaults) fail
// Validate or cfg.MaxConcurrent is negative.
func New(cfg Config) (*Hasher, error) {
	return newHasher(cfg, owaspFloor())
}

// newHasher lets tests build a Hasher with cheap params: floor is the least
// it accepts.
func newHasher(cfg Config, floor Params) (*Hasher, error) {
	p := cfg.Params.withDefaults()
	if err := p.check(floor); err != nil {
		return nil, fmt.Errorf("password: invalid params: %w", err)
	}
	n := cfg.MaxConcurrent
	if n < 0 {
		return nil, fmt.Errorf("password: MaxConcurrent %d is negative", n)
	}
	if n == 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Hasher{
		params: p,
		slots:  make(chan struct{}, n),
		dummy:  Encode(p, make([]byte, p.SaltLen), make([]byte, p.KeyLen)),
		derive: argon2id,
	}, nil
}

func argon2id(password, salt []byte, p Params) []byte {
	return argon2.IDKey(password, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLen)
}

func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Iterations == 0 {
		p.Iterations = d.Iterations
	}
	if p.Parallelism == 0 {
		p.Parallelism = d.Parallelism
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	return p
}

// Params returns the params new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC string of plain under the hasher's params and a fresh
// random salt. It fails only if ctx is done before a derivation slot frees
// up; once started, a derivation runs to completion.
func (h *Hasher) Hash(ctx context.Context, plain string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	// Since Go 1.24 rand.Read never returns an error: it crashes the program
	// rather than hand out a predictable salt.
	rand.Read(salt)
	key, err := h.compute(ctx, plain, salt, h.params)
	if err != nil {
		return "", err
	}
	return Encode(h.params, salt, key), nil
}

// Verify reports whether plain matches encoded, a PHC string from Hash or any
// other Argon2id implementation. It recomputes the key with the params stored
// in encoded, whatever they are, and compares in constant time.
//
// needsRehash is true only when ok is true and encoded's params (including
// salt and key length) differ from h.Params(): the caller should then store
// a fresh Hash of plain, which it holds only at this moment.
//
// err is non-nil, and ok false, when encoded is malformed (wrapping
// ErrMalformed) or ctx is done before a derivation slot frees up. A wrong
// password is ok == false with a nil error.
func (h *Hasher) Verify(ctx context.Context, plain, encoded string) (ok, needsRehash bool, err error) {
	p, salt, key, err := Decode(encoded)
	if err != nil {
		return false, false, err
	}
	got, err := h.compute(ctx, plain, salt, p)
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

// DummyVerify does the work of Verify(ctx, plain, hash) for a hash made with
// the hasher's current params, and discards the result. Call it when a login
// names no known user, so that the answer takes as long as a wrong password
// and does not tell an attacker which usernames exist. It waits for a slot
// like Verify, so it also costs the same under load. Its only error is ctx's.
//
// Timing still differs for users whose stored hash uses older params, until
// their next login re-hashes it.
func (h *Hasher) DummyVerify(ctx context.Context, plain string) error {
	_, _, err := h.Verify(ctx, plain, h.dummy)
	return err
}

// compute derives the key once a slot is free.
func (h *Hasher) compute(ctx context.Context, plain string, salt []byte, p Params) ([]byte, error) {
	// A select with both cases ready picks at random: check first, so a done
	// context never starts ~20 MiB of work.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("password: waiting for a hashing slot: %w", ctx.Err())
	}
	defer func() { <-h.slots }()
	return h.derive([]byte(norm.NFKC.String(plain)), salt, p), nil
}
