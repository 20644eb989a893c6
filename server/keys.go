package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/unhidra/unhidra/auth/seal"
	"github.com/unhidra/unhidra/auth/token"
	"github.com/unhidra/unhidra/config"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/keystore"
)

// Keys are the secrets of a node: the token signing keys and the HMAC key
// of login device tokens. Both live in the database, sealed under the
// key-encryption key, so every node of a cluster shares them; only
// --jwt-key-files keeps signing keys in operator files.
type Keys struct {
	Signing   *token.KeySet
	DeviceKey []byte
	// KEK is the key-encryption key, which also seals the TOTP secrets; nil
	// with operator-managed signing keys and no key-encryption key given
	// (two-factor enrolment is then unavailable).
	KEK *seal.Key
}

// kekFile is the key-encryption key a node generates in its key dir when
// none is given: enough for one node, and what a second node needs.
const kekFile = "kek"

// kekHint is the end of every error about a key-encryption key that does
// not open what the database holds.
const kekHint = "give every node the same key-encryption key, in " + config.KeyEncryptionKeyEnv +
	" or a file named by --key-encryption-key-file (a node given neither generated its own as " + kekFile + " in its key dir, DATA/keys by default: give the others that one)"

// loadKEK returns the key-encryption key: UNHIDRA_KEY_ENCRYPTION_KEY, the
// --key-encryption-key-file, or else (generate true) the kek file of the
// key dir, created on first start. given reports whether the operator
// named one; with generate false and none given, k is nil.
func loadKEK(cfg config.Config, generate bool, log *slog.Logger) (k *seal.Key, given bool, err error) {
	switch {
	case cfg.KeyEncryptionKey != "":
		k, err := seal.ParseKey(string(cfg.KeyEncryptionKey))
		if err != nil {
			return nil, true, fmt.Errorf("%s: %w", config.KeyEncryptionKeyEnv, err)
		}
		return k, true, nil
	case cfg.KeyEncryptionKeyFile != "":
		k, err := seal.ReadKeyFile(cfg.KeyEncryptionKeyFile)
		return k, true, err
	case !generate:
		return nil, false, nil
	}
	path := filepath.Join(cfg.KeyDir(), kekFile)
	k, created, err := seal.LoadOrCreateKeyFile(path)
	if err != nil {
		return nil, false, err
	}
	if created {
		log.Info("generated a key-encryption key for the keys kept in the database; other nodes need the same one",
			slog.String("file", path), slog.String("env", config.KeyEncryptionKeyEnv))
	}
	return k, false, nil
}

// LoadKeys loads the node's keys from db: signing keys shared through the
// database (created, and imported once from a key dir of an earlier
// version, as needed), or operator-managed files with --jwt-key-files.
func LoadKeys(ctx context.Context, cfg config.Config, db *store.DB, log *slog.Logger) (*Keys, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	operator := len(cfg.JWTKeyFiles) > 0
	// With operator-managed signing keys and no key-encryption key given,
	// the device-token key stays a file of each node, as before: such
	// deployments keep working unchanged.
	kek, _, err := loadKEK(cfg, !operator, log)
	if err != nil {
		return nil, fmt.Errorf("key-encryption key: %w", err)
	}
	ks := keystore.New(db)
	out := Keys{KEK: kek}
	if operator {
		if out.Signing, err = token.LoadFiles(cfg.JWTKeyFiles); err != nil {
			return nil, fmt.Errorf("signing keys: %w", err)
		}
	} else {
		out.Signing, err = token.OpenDB(ctx, ks, kek, time.Now(), token.DBOptions{
			KeyOptions: token.KeyOptions{RetainFor: cfg.AccessTTL + time.Hour},
			LegacyDir:  cfg.KeyDir(),
		})
		if errors.Is(err, token.ErrKeyEncryptionKey) {
			return nil, fmt.Errorf("signing keys: %w: %s", err, kekHint)
		} else if err != nil {
			return nil, fmt.Errorf("signing keys: %w", err)
		}
	}
	if kek == nil {
		out.DeviceKey, err = loadDeviceKeyFile(cfg.KeyDir())
	} else {
		out.DeviceKey, err = loadDeviceKey(ctx, ks, kek, cfg.KeyDir())
	}
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// deviceKeySecret is the server_secrets name (and seal id) of the
// device-token key.
const deviceKeySecret = "device-token-key"

// loadDeviceKey returns the device-token key from the database, storing
// one on first use: the legacy file of the key dir if there is one (so
// device tokens issued before the upgrade stay good), else 32 random
// bytes. Nodes racing to store it all end with the first one stored.
func loadDeviceKey(ctx context.Context, ks *keystore.Store, kek *seal.Key, legacyDir string) ([]byte, error) {
	for range 2 {
		sealed, ok, err := ks.Secret(ctx, deviceKeySecret)
		if err != nil {
			return nil, fmt.Errorf("device token key: %w", err)
		}
		if ok {
			key, err := kek.Open(deviceKeySecret, deviceKeySecret, sealed)
			if err != nil {
				return nil, fmt.Errorf("device token key: %w: %s", err, kekHint)
			}
			return key, nil
		}
		key, err := readDeviceKeyFile(legacyDir)
		if err != nil {
			return nil, err
		}
		if key == nil {
			key = make([]byte, 32)
			rand.Read(key) // never fails since Go 1.24
		}
		if added, err := ks.AddSecret(ctx, deviceKeySecret, kek.Seal(deviceKeySecret, deviceKeySecret, key), time.Now()); err != nil {
			return nil, fmt.Errorf("device token key: %w", err)
		} else if added {
			return key, nil
		}
		// Another node stored one first: read that.
	}
	return nil, errors.New("device token key: stored and gone again")
}

// deviceKeyFile is the HMAC key of login device tokens in the key dir of a
// node without a key-encryption key (operator-managed signing keys), and
// what earlier versions used everywhere.
const deviceKeyFile = "device-token.key"

// readDeviceKeyFile returns the device-token key file of dir, or nil when
// there is none.
func readDeviceKeyFile(dir string) ([]byte, error) {
	path := filepath.Join(dir, deviceKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("device token key: %w", err)
	}
	if len(b) < 32 {
		return nil, fmt.Errorf("device token key %s: %d bytes, want at least 32 (delete it to make a new one)", path, len(b))
	}
	return b, nil
}

// loadDeviceKeyFile reads the device-token key from dir, creating it (32
// random bytes, owner-only) on first use.
func loadDeviceKeyFile(dir string) ([]byte, error) {
	if b, err := readDeviceKeyFile(dir); b != nil || err != nil {
		return b, err
	}
	path := filepath.Join(dir, deviceKeyFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("device token key: %w", err)
	}
	key := make([]byte, 32)
	rand.Read(key) // never fails since Go 1.24
	// Written aside and linked into place, so that a racing process sees
	// either no file or the whole key.
	tmp, err := os.CreateTemp(dir, ".device-token-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("device token key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("device token key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("device token key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return loadDeviceKeyFile(dir) // another process made it first
	} else if err != nil {
		return nil, fmt.Errorf("device token key: %w", err)
	}
	return key, nil
}
