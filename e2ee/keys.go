package e2ee

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"io"
)

// Sizes of the keys and values the protocol carries, in bytes.
const (
	KeySize           = 32                            // X25519 and Ed25519 public keys, seeds, chain keys
	SignatureSize     = ed25519.SignatureSize         // 64
	KEMPublicKeySize  = mlkem.EncapsulationKeySize768 // 1184
	KEMCiphertextSize = mlkem.CiphertextSize768       // 1088
	KEMSeedSize       = mlkem.SeedSize                // 64 (d || z of FIPS 203)
)

// SigningPublic is an Ed25519 public key (a client's signing key, a user's
// master key, a sender key's signing key).
type SigningPublic [KeySize]byte

// DHPublic is an X25519 public key (an identity key, a prekey, a ratchet key).
type DHPublic [KeySize]byte

// KEMPublic is an ML-KEM-768 encapsulation key (a PQ prekey).
type KEMPublic [KEMPublicKeySize]byte

// Signature is an Ed25519 signature.
type Signature [SignatureSize]byte

// In JSON (the key directory's bodies), every key and signature is standard
// base64 with padding. UnmarshalText checks the length and the key's
// acceptance rule, so a decoded key is one the protocol may use.

func (k SigningPublic) MarshalText() ([]byte, error) { return b64(k[:]), nil }
func (k *SigningPublic) UnmarshalText(t []byte) error {
	if err := unb64(t, k[:]); err != nil {
		return err
	}
	return CheckSigningPublic(k[:])
}

func (k DHPublic) MarshalText() ([]byte, error) { return b64(k[:]), nil }
func (k *DHPublic) UnmarshalText(t []byte) error {
	if err := unb64(t, k[:]); err != nil {
		return err
	}
	return CheckDHPublic(k[:])
}

func (k KEMPublic) MarshalText() ([]byte, error) { return b64(k[:]), nil }
func (k *KEMPublic) UnmarshalText(t []byte) error {
	if err := unb64(t, k[:]); err != nil {
		return err
	}
	return CheckKEMPublic(k[:])
}

func (s Signature) MarshalText() ([]byte, error)  { return b64(s[:]), nil }
func (s *Signature) UnmarshalText(t []byte) error { return unb64(t, s[:]) }

func b64(p []byte) []byte {
	return base64.StdEncoding.AppendEncode(nil, p)
}

func unb64(t []byte, dst []byte) error {
	if base64.StdEncoding.DecodedLen(len(t)) > len(dst)+2 {
		return errf(ErrInvalidKey, "wrong length")
	}
	p, err := base64.StdEncoding.AppendDecode(nil, t)
	if err != nil || len(p) != len(dst) {
		return errf(ErrInvalidKey, "not standard base64 of %d bytes", len(dst))
	}
	copy(dst, p)
	return nil
}

// readRand reads n bytes from r, or from crypto/rand when r is nil. Every
// key the package makes is derived from bytes read here (docs/protocol.md
// "Randomness"), so a caller that supplies a deterministic reader gets
// deterministic keys: Go's own key generators ignore their rand argument.
func readRand(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if r == nil {
		rand.Read(b)
		return b, nil
	}
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// SigningKey is an Ed25519 private key, kept as its 32-byte seed.
type SigningKey struct {
	seed [KeySize]byte
	priv ed25519.PrivateKey
	pub  SigningPublic
}

// NewSigningKey makes the Ed25519 key of a 32-byte seed (RFC 8032).
func NewSigningKey(seed []byte) (*SigningKey, error) {
	if len(seed) != KeySize {
		return nil, errf(ErrInvalidKey, "signing seed must be %d bytes", KeySize)
	}
	k := &SigningKey{priv: ed25519.NewKeyFromSeed(seed)}
	copy(k.seed[:], seed)
	copy(k.pub[:], k.priv.Public().(ed25519.PublicKey))
	return k, nil
}

// GenerateSigningKey reads a 32-byte seed from rand (nil: crypto/rand).
func GenerateSigningKey(rand io.Reader) (*SigningKey, error) {
	seed, err := readRand(rand, KeySize)
	if err != nil {
		return nil, err
	}
	return NewSigningKey(seed)
}

// Public returns the public key.
func (k *SigningKey) Public() SigningPublic { return k.pub }

// Seed returns a copy of the 32-byte seed, the whole private key.
func (k *SigningKey) Seed() []byte { return clone(k.seed[:]) }

// sign signs an already domain-separated message (see context). Signing
// is not exported: every signature the protocol makes has its own label.
func (k *SigningKey) sign(msg []byte) Signature {
	var s Signature
	copy(s[:], ed25519.Sign(k.priv, msg))
	return s
}

// DHKey is an X25519 private key.
type DHKey struct {
	priv *ecdh.PrivateKey
	pub  DHPublic
}

// NewDHKey makes the X25519 key of a 32-byte private scalar (clamped as
// RFC 7748 says, so any 32 bytes are a key).
func NewDHKey(priv []byte) (*DHKey, error) {
	p, err := ecdh.X25519().NewPrivateKey(priv)
	if err != nil {
		return nil, errf(ErrInvalidKey, "X25519 private key must be %d bytes", KeySize)
	}
	k := &DHKey{priv: p}
	copy(k.pub[:], p.PublicKey().Bytes())
	return k, nil
}

// GenerateDHKey reads a 32-byte private key from rand (nil: crypto/rand).
func GenerateDHKey(rand io.Reader) (*DHKey, error) {
	b, err := readRand(rand, KeySize)
	if err != nil {
		return nil, err
	}
	return NewDHKey(b)
}

// Public returns the public key.
func (k *DHKey) Public() DHPublic { return k.pub }

// Bytes returns a copy of the 32-byte private key.
func (k *DHKey) Bytes() []byte { return k.priv.Bytes() }

// dh is X25519(k, pub) after the acceptance rule for pub; an all-zero
// result (a low-order point that slipped through) is an error too.
func (k *DHKey) dh(pub DHPublic) ([]byte, error) {
	if err := CheckDHPublic(pub[:]); err != nil {
		return nil, err
	}
	p, err := ecdh.X25519().NewPublicKey(pub[:])
	if err != nil {
		return nil, errf(ErrInvalidKey, "X25519 public key")
	}
	out, err := k.priv.ECDH(p)
	if err != nil {
		return nil, errf(ErrInvalidKey, "X25519 low-order result")
	}
	return out, nil
}

// KEMKey is an ML-KEM-768 decapsulation key, kept as its 64-byte seed.
type KEMKey struct {
	dk  *mlkem.DecapsulationKey768
	pub KEMPublic
}

// NewKEMKey makes the ML-KEM-768 key of a 64-byte seed (d || z, FIPS 203).
func NewKEMKey(seed []byte) (*KEMKey, error) {
	dk, err := mlkem.NewDecapsulationKey768(seed)
	if err != nil {
		return nil, errf(ErrInvalidKey, "ML-KEM seed must be %d bytes", KEMSeedSize)
	}
	k := &KEMKey{dk: dk}
	copy(k.pub[:], dk.EncapsulationKey().Bytes())
	return k, nil
}

// GenerateKEMKey reads a 64-byte seed from rand (nil: crypto/rand).
func GenerateKEMKey(rand io.Reader) (*KEMKey, error) {
	seed, err := readRand(rand, KEMSeedSize)
	if err != nil {
		return nil, err
	}
	return NewKEMKey(seed)
}

// Public returns the encapsulation key.
func (k *KEMKey) Public() KEMPublic { return k.pub }

// Seed returns the 64-byte seed, the whole private key.
func (k *KEMKey) Seed() []byte { return k.dk.Bytes() }

// encapsulator makes an ML-KEM shared secret and ciphertext for a public
// key. Production code uses crypto/mlkem's own randomness; the test vectors
// substitute a derandomized one (crypto/mlkem/mlkemtest) reading from rand.
type encapsulator func(rand io.Reader, ek *mlkem.EncapsulationKey768) (shared, ciphertext []byte, err error)

func systemEncapsulate(_ io.Reader, ek *mlkem.EncapsulationKey768) ([]byte, []byte, error) {
	ss, ct := ek.Encapsulate()
	return ss, ct, nil
}

func equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
