package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// SigningKeyEnv is the environment variable holding the base64 Ed25519
// seed that signs checkpoints.
const SigningKeyEnv = "UNHIDRA_AUDIT_SIGNING_KEY"

// Checkpoint is a signed statement that the log's entry Seq has hash Hash.
// Exported outside the database (a file, a SIEM, the API), it makes
// truncation of the log's tail detectable: the log must still hold that
// entry with that hash.
type Checkpoint struct {
	Seq       int64     `json:"seq"`
	Hash      Hex       `json:"hash"`
	Time      time.Time `json:"time"`
	KeyID     string    `json:"key_id"`
	Signature []byte    `json:"signature"`
}

// SignedBytes returns what the checkpoint's signature covers: the fields
// "unhidra.audit.checkpoint.v1", seq (decimal), the 32-byte hash, time
// (unix microseconds, decimal) and key id, each a 4-byte big-endian length
// followed by its bytes.
func (c *Checkpoint) SignedBytes() []byte {
	return signedStatement(checkpointText, c.Seq, c.Hash, c.Time, c.KeyID)
}

// signedStatement is what a signature covers: the label, seq (decimal),
// the hash (a 4-byte big-endian length, then its bytes), time (unix
// microseconds, decimal) and key id, each a field.
func signedStatement(label string, seq int64, hash []byte, t time.Time, keyID string) []byte {
	b := make([]byte, 0, 128)
	b = appendField(b, label)
	b = appendField(b, strconv.FormatInt(seq, 10))
	b = binary.BigEndian.AppendUint32(b, uint32(len(hash)))
	b = append(b, hash...)
	b = appendField(b, strconv.FormatInt(t.UnixMicro(), 10))
	b = appendField(b, keyID)
	return b
}

// SigningKey signs checkpoints.
type SigningKey struct {
	ID   string
	priv ed25519.PrivateKey
}

// KeyID is the id of a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// NewSigningKey returns the key of a 32-byte Ed25519 seed.
func NewSigningKey(seed []byte) (*SigningKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("audit signing key: want a %d-byte Ed25519 seed, got %d bytes", ed25519.SeedSize, len(seed))
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return &SigningKey{ID: KeyID(priv.Public().(ed25519.PublicKey)), priv: priv}, nil
}

// ParseSigningKey decodes a standard base64 seed (the format of
// UNHIDRA_AUDIT_SIGNING_KEY and of key files). The error never holds the
// key.
func ParseSigningKey(s string) (*SigningKey, error) {
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("audit signing key: not standard base64")
	}
	return NewSigningKey(seed)
}

// Public returns the verifying key.
func (k *SigningKey) Public() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// PublicBase64 is the public key in standard base64, for logs and for
// auditors' scripts.
func (k *SigningKey) PublicBase64() string { return base64.StdEncoding.EncodeToString(k.Public()) }

// Sign fills c.KeyID and c.Signature.
func (k *SigningKey) Sign(c *Checkpoint) {
	c.KeyID = k.ID
	c.Signature = k.sign(c.SignedBytes())
}

func (k *SigningKey) sign(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }

// ReadSigningKeyFile reads a key file: the base64 seed on one line. A file
// readable by others is refused.
func ReadSigningKeyFile(path string) (*SigningKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("audit signing key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("audit signing key file %s: mode %o lets others read it; chmod 600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit signing key file: %w", err)
	}
	k, err := ParseSigningKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadOrCreateSigningKeyFile reads the key file at path, creating it (0600,
// in a 0700 directory) with a fresh key if it does not exist.
func LoadOrCreateSigningKeyFile(path string) (k *SigningKey, created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		k, err := ReadSigningKeyFile(path)
		return k, false, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("audit signing key file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("audit signing key dir: %w", err)
	}
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		// Another process created it first: use theirs.
		k, err := ReadSigningKeyFile(path)
		return k, false, err
	} else if err != nil {
		return nil, false, fmt.Errorf("audit signing key file: %w", err)
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(seed) + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("audit signing key file: %w", err)
	}
	k, err = NewSigningKey(seed)
	return k, true, err
}

// Keyring is the set of public keys a verifier trusts, by key id.
type Keyring map[string]ed25519.PublicKey

// Add trusts pub.
func (r Keyring) Add(pub ed25519.PublicKey) { r[KeyID(pub)] = pub }

// ParsePublicKey decodes a standard base64 Ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("audit public key: want a base64 32-byte Ed25519 key")
	}
	return ed25519.PublicKey(b), nil
}

// Check verifies c's signature against the keyring.
func (r Keyring) Check(c *Checkpoint) error { return r.check(c.KeyID, c.SignedBytes(), c.Signature) }

func (r Keyring) check(keyID string, msg, sig []byte) error {
	pub, ok := r[keyID]
	if !ok {
		return fmt.Errorf("signed by key %s, which this verifier does not trust", keyID)
	}
	if !ed25519.Verify(pub, msg, sig) {
		return errors.New("bad signature")
	}
	return nil
}
