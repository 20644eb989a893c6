package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformed is wrapped by every error Decode returns, so a caller can tell a
// corrupt stored hash (errors.Is(err, ErrMalformed)) from a cancelled context.
// The error text never contains the encoded hash itself.
var ErrMalformed = errors.New("password: malformed argon2id hash")

// Params are the Argon2id cost parameters, plus the salt and key sizes.
type Params struct {
	Memory      uint32 // KiB of memory each hash fills
	Iterations  uint32 // passes over that memory
	Parallelism uint8  // lanes, each computed by its own goroutine
	SaltLen     uint32 // bytes of random salt
	KeyLen      uint32 // bytes of derived key stored in the hash
}

// OWASP's Password Storage Cheat Sheet recommends Argon2id with at least
// m=19456 KiB, t=2, p=1; RFC 9106 recommends a 128-bit salt. These are the
// floor for hashes this package creates.
const (
	minMemory     = 19456
	minIterations = 2
	minSaltLen    = 16
	minKeyLen     = 16
	defaultKeyLen = 32
)

// Ceilings apply to every hash, created or decoded. They are far above any
// sane tuning; their job is to turn a corrupt stored hash (m=4294967295) into
// an error rather than an allocation that kills the process.
const (
	maxMemory     = 4 << 20 // KiB: 4 GiB, twice RFC 9106's first recommended option
	maxIterations = 256
	maxSaltLen    = 64
	maxKeyLen     = 64
	// maxEncodedLen is longer than any string the ceilings above allow, so
	// Decode can refuse a huge input before looking at it.
	maxEncodedLen = 256
)

// DefaultParams returns OWASP's recommended Argon2id configuration
// (m=19456 KiB, t=2, p=1) with a 16-byte salt and a 32-byte key. It costs
// about 19 MiB and, on current server cores, a few tens of milliseconds.
func DefaultParams() Params {
	return Params{
		Memory:      minMemory,
		Iterations:  minIterations,
		Parallelism: 1,
		SaltLen:     minSaltLen,
		KeyLen:      defaultKeyLen,
	}
}

// Validate reports whether p may be used to create new hashes: every cost is
// at least DefaultParams' (OWASP's minimum), the key is at least 16 bytes and
// nothing exceeds the ceilings that Decode also enforces.
func (p Params) Validate() error {
	if err := p.check(owaspFloor()); err != nil {
		return fmt.Errorf("password: invalid params: %w", err)
	}
	return nil
}

// owaspFloor is the least New accepts.
func owaspFloor() Params {
	return Params{Memory: minMemory, Iterations: minIterations, Parallelism: 1, SaltLen: minSaltLen, KeyLen: minKeyLen}
}

// specFloor is the least Decode accepts: Argon2's own minimums (RFC 9106
// section 3.1: 8-byte salt, t >= 1, m >= 8p KiB), except for the key, where
// anything shorter than 128 bits would let a wrong password match by chance.
// Weak but well-formed legacy hashes still verify; Verify then asks for a
// rehash because their params differ from the hasher's.
func specFloor() Params {
	return Params{Memory: 8, Iterations: 1, Parallelism: 1, SaltLen: 8, KeyLen: minKeyLen}
}

// check reports the first field of p below floor or above the ceilings.
func (p Params) check(floor Params) error {
	switch {
	case p.Parallelism < floor.Parallelism:
		return fmt.Errorf("parallelism %d is below the minimum %d", p.Parallelism, floor.Parallelism)
	case p.Memory < floor.Memory:
		return fmt.Errorf("memory %d KiB is below the minimum %d KiB", p.Memory, floor.Memory)
	case p.Memory < 8*uint32(p.Parallelism):
		return fmt.Errorf("memory %d KiB is below 8 KiB per lane", p.Memory)
	case p.Memory > maxMemory:
		return fmt.Errorf("memory %d KiB is above the maximum %d KiB", p.Memory, maxMemory)
	case p.Iterations < floor.Iterations:
		return fmt.Errorf("iterations %d is below the minimum %d", p.Iterations, floor.Iterations)
	case p.Iterations > maxIterations:
		return fmt.Errorf("iterations %d is above the maximum %d", p.Iterations, maxIterations)
	case p.SaltLen < floor.SaltLen:
		return fmt.Errorf("salt length %d is below the minimum %d", p.SaltLen, floor.SaltLen)
	case p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d is above the maximum %d", p.SaltLen, maxSaltLen)
	case p.KeyLen < floor.KeyLen:
		return fmt.Errorf("key length %d is below the minimum %d", p.KeyLen, floor.KeyLen)
	case p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d is above the maximum %d", p.KeyLen, maxKeyLen)
	}
	return nil
}

// Encode formats an Argon2id hash as a PHC string,
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// with salt and key in unpadded standard base64, the format of the reference
// implementation, libsodium and passlib. p.SaltLen and p.KeyLen are ignored:
// the lengths are those of salt and key.
func Encode(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Decode parses a PHC string written by Encode or by another Argon2id
// implementation using the same format. It accepts exactly the canonical form
// (fields in the order m, t, p; decimal numbers without leading zeros; base64
// without padding, line breaks or stray bits), so Encode(Decode(s)) == s for
// every s it accepts. The returned Params carry len(salt) and len(key).
//
// Params below Validate's floor are accepted, down to Argon2's own minimums,
// so that legacy hashes still verify; a key under 16 bytes is not, since a
// wrong password could then match by chance. Ceilings (m <= 4 GiB, t <= 256,
// salt and key <= 64 bytes) keep a corrupt stored hash from exhausting
// memory. Every error wraps ErrMalformed.
func Decode(encoded string) (p Params, salt, key []byte, err error) {
	if len(encoded) > maxEncodedLen {
		return Params{}, nil, nil, malformed("longer than %d bytes", maxEncodedLen)
	}
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" {
		return Params{}, nil, nil, malformed("want $argon2id$v=19$m=,t=,p=$salt$key")
	}
	if fields[1] != "argon2id" {
		return Params{}, nil, nil, malformed("algorithm is not argon2id")
	}
	// x/crypto/argon2 implements only version 0x13 (19); hashes of the older
	// 0x10 differ, so they cannot be verified here.
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, malformed("version is not v=%d", argon2.Version)
	}
	costs := strings.Split(fields[3], ",")
	if len(costs) != 3 {
		return Params{}, nil, nil, malformed("want exactly m=, t= and p=")
	}
	m, err := parseField(costs[0], "m=", 32)
	if err != nil {
		return Params{}, nil, nil, err
	}
	t, err := parseField(costs[1], "t=", 32)
	if err != nil {
		return Params{}, nil, nil, err
	}
	par, err := parseField(costs[2], "p=", 8)
	if err != nil {
		return Params{}, nil, nil, err
	}
	if salt, err = parseBase64(fields[4], "salt"); err != nil {
		return Params{}, nil, nil, err
	}
	if key, err = parseBase64(fields[5], "key"); err != nil {
		return Params{}, nil, nil, err
	}
	p = Params{
		Memory:      uint32(m),
		Iterations:  uint32(t),
		Parallelism: uint8(par),
		SaltLen:     uint32(len(salt)),
		KeyLen:      uint32(len(key)),
	}
	if err := p.check(specFloor()); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return p, salt, key, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// parseField parses "name=123". Leading zeros and signs are refused because
// they would not survive Encode unchanged.
func parseField(s, name string, bits int) (uint64, error) {
	digits, ok := strings.CutPrefix(s, name)
	if !ok {
		return 0, malformed("want %s", name)
	}
	if digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, malformed("%s is not a canonical decimal number", name)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, malformed("%s is not a canonical decimal number", name)
		}
	}
	n, err := strconv.ParseUint(digits, 10, bits)
	if err != nil {
		return 0, malformed("%s is out of range", name)
	}
	return n, nil
}

// parseBase64 decodes unpadded standard base64. The alphabet is checked by
// hand because Go's decoder silently skips '\r' and '\n'; Strict refuses
// non-zero trailing bits. Both would otherwise let two strings decode alike.
func parseBase64(s, what string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, malformed("%s is not unpadded standard base64", what)
		}
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, malformed("%s is not unpadded standard base64", what)
	}
	return b, nil
}
