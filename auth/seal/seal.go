// Package seal encrypts small secrets at rest (token signing keys, the
// device-token HMAC key) under a key-encryption key (KEK) that lives
// outside the database: in the environment, a file, or a file the server
// generated in its key directory.
//
// Guarantees:
//
//   - A sealed blob is AES-256-GCM (the standard library's) with a fresh
//     random 96-bit nonce per seal. Every secret is sealed a handful of
//     times in its life, far below GCM's random-nonce limit.
//   - The associated data binds the blob to a purpose and an id (a key's
//     kid, a secret's name): a blob copied into another row, or given to
//     another use, does not open.
//   - Open fails with ErrOpen for a wrong KEK, any altered byte, a swapped
//     purpose or id, and malformed input alike; it never panics on any
//     input (see the fuzz test).
//   - Nothing here logs, and no error carries key material or plaintext.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KeySize is the size of a key-encryption key: 32 bytes, AES-256.
const KeySize = 32

// version is the first byte of every sealed blob, so that a later format
// can be told apart.
const version = 1

const nonceSize = 12

// Overhead is how many bytes sealing adds to a plaintext.
const Overhead = 1 + nonceSize + 16

// maxKeyFileSize bounds what is read from a KEK file: the base64 text of
// 32 bytes is 44 characters.
const maxKeyFileSize = 4 << 10

// ErrOpen is returned by Open for every blob it cannot open. The reasons
// (another KEK, tampering, a blob from another row) are indistinguishable
// by design of authenticated encryption.
var ErrOpen = errors.New("seal: cannot open sealed data: it was sealed with another key-encryption key, or altered")

// Key is a key-encryption key. Its bytes are not exported and it has no
// String method worth printing: fmt shows only the pointer.
type Key struct {
	aead cipher.AEAD
}

// NewKey returns the Key of raw, which must be KeySize bytes.
func NewKey(raw []byte) (*Key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("seal: a key-encryption key is %d bytes, not %d", KeySize, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Key{aead: aead}, nil
}

// ParseKey decodes a key-encryption key written as standard base64 (with
// or without padding; surrounding white space is ignored). The error never
// echoes the input.
func ParseKey(s string) (*Key, error) {
	s = strings.TrimSpace(s)
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		raw, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, errors.New("seal: the key-encryption key is not base64")
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("seal: the key-encryption key decodes to %d bytes, want %d (make one with `openssl rand -base64 32`)", len(raw), KeySize)
	}
	return NewKey(raw)
}

// Generate returns a new random key and its base64 text.
func Generate() (*Key, string) {
	raw := make([]byte, KeySize)
	rand.Read(raw) // never fails since Go 1.24
	k, _ := NewKey(raw)
	return k, base64.StdEncoding.EncodeToString(raw)
}

// ReadKeyFile reads a key-encryption key file: base64 text (as
// LoadOrCreateKeyFile writes) or exactly KeySize raw bytes. Like the
// signing key files, it must be a regular file that group and others can
// neither read nor write.
func ReadKeyFile(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: key-encryption key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("seal: key-encryption key file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("seal: key-encryption key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("seal: key-encryption key file %s has mode %04o: it must not be readable or writable by group or others (chmod 600)", path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("seal: read key-encryption key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("seal: key-encryption key file %s is too large to be a key", path)
	}
	if len(data) == KeySize {
		return NewKey(data)
	}
	k, err := ParseKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return k, nil
}

// LoadOrCreateKeyFile reads the key file at path, first creating it (a
// random key as base64, mode 0600, in a 0700 directory) if it does not
// exist. created reports whether this call made it. Two processes racing
// to create it end with the same key: the file is written aside and linked
// into place, so the loser reads the winner's.
func LoadOrCreateKeyFile(path string) (k *Key, created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		k, err := ReadKeyFile(path)
		return k, false, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("seal: key-encryption key file: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("seal: create key directory: %w", err)
	}
	k, text := Generate()
	tmp, err := os.CreateTemp(dir, ".kek-*") // mode 0600
	if err != nil {
		return nil, false, fmt.Errorf("seal: write key-encryption key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(text + "\n"); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("seal: write key-encryption key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("seal: write key-encryption key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, fmt.Errorf("seal: write key-encryption key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		k, err := ReadKeyFile(path) // another process made it first
		return k, false, err
	} else if err != nil {
		return nil, false, fmt.Errorf("seal: write key-encryption key: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return k, true, nil
}

// additionalData binds a blob to its purpose and id. Both are length
// prefixed, so no two (purpose, id) pairs give the same bytes.
func additionalData(purpose, id string) []byte {
	ad := make([]byte, 0, 1+4+len(purpose)+4+len(id))
	ad = append(ad, version)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(purpose)))
	ad = append(ad, purpose...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(id)))
	ad = append(ad, id...)
	return ad
}

// Seal encrypts plaintext for the given purpose and id. The result is
// version (1 byte) || nonce (12) || ciphertext and tag.
func (k *Key) Seal(purpose, id string, plaintext []byte) []byte {
	out := make([]byte, 1+nonceSize, Overhead+len(plaintext))
	out[0] = version
	rand.Read(out[1:]) // never fails since Go 1.24
	return k.aead.Seal(out, out[1:1+nonceSize], plaintext, additionalData(purpose, id))
}

// Open decrypts a blob of Seal made with the same key, purpose and id.
// Any other blob gives ErrOpen.
func (k *Key) Open(purpose, id string, blob []byte) ([]byte, error) {
	if len(blob) < Overhead || blob[0] != version {
		return nil, ErrOpen
	}
	pt, err := k.aead.Open(nil, blob[1:1+nonceSize], blob[1+nonceSize:], additionalData(purpose, id))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
