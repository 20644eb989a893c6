package token

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/unhidra/unhidra/auth/seal"
)

// DefaultRefreshEvery is how often a node reloads a shared key set when
// DBOptions.RefreshEvery is zero.
const DefaultRefreshEvery = time.Minute

// SealPurpose is the seal purpose of signing keys at rest; the kid is the
// sealed blob's id, so a blob cannot move to another row.
const SealPurpose = "token-signing-key"

// ErrKeyEncryptionKey is wrapped by OpenDB and Refresh when a stored key
// does not open with the key-encryption key they were given: the node was
// given another key-encryption key than the node that stored the keys.
var ErrKeyEncryptionKey = errors.New("token: the key-encryption key cannot open the signing keys stored in the database; every node must use the key-encryption key of the node that created them")

// KeyStore is the database table of a shared key set. store/keystore
// implements it on SQLite and PostgreSQL.
type KeyStore interface {
	// SigningKeys returns every stored key, in any order.
	SigningKeys(ctx context.Context) ([]StoredKey, error)
	// AddSigningKey stores k unless a key of generation k.Generation or
	// later exists; added is false then (another node won), with no error.
	AddSigningKey(ctx context.Context, k StoredKey) (added bool, err error)
	// DeleteSigningKeys deletes the keys with these kids; absent ones are
	// not an error.
	DeleteSigningKeys(ctx context.Context, ids []string) error
}

// StoredKey is one row of the KeyStore.
type StoredKey struct {
	ID string // the kid
	// Generation orders the keys: the first is 1, each successor the
	// generation of its predecessor plus one. It is unique, so of two nodes
	// rotating at once only one stores its key.
	Generation int64
	CreatedAt  time.Time
	// Sealed is the PKCS#8 DER private key sealed under the key-encryption
	// key with purpose SealPurpose and id ID.
	Sealed []byte
}

// DBOptions configure OpenDB.
type DBOptions struct {
	KeyOptions
	// RefreshEvery is how often a node should reload the set (Refresh), and
	// so how long it may sign with a key another node has retired
	// (default DefaultRefreshEvery).
	RefreshEvery time.Duration
	// LegacyDir, when set, is a key directory of an earlier version: if the
	// database holds no keys yet, its keys are imported, so that tokens
	// signed before the upgrade keep verifying. The files are left alone.
	LegacyDir string
}

// OpenDB opens the key set that every node of a cluster shares through st,
// sealed at rest with kek. Like LoadOrCreate it creates a first key when
// there is none, rotates a key older than RotateEvery at now and prunes
// keys past their retention. A stored key that kek cannot open is an
// error wrapping ErrKeyEncryptionKey.
func OpenDB(ctx context.Context, st KeyStore, kek *seal.Key, now time.Time, opts DBOptions) (*KeySet, error) {
	kopts, err := opts.KeyOptions.withDefaults()
	if err != nil {
		return nil, err
	}
	switch {
	case opts.RefreshEvery == 0:
		opts.RefreshEvery = DefaultRefreshEvery
	case opts.RefreshEvery < 0:
		return nil, fmt.Errorf("token: negative RefreshEvery %v", opts.RefreshEvery)
	}
	if st == nil || kek == nil {
		return nil, errors.New("token: a shared key set needs a key store and a key-encryption key")
	}
	b := &dbBackend{st: st, kek: kek}
	ks := &KeySet{backend: b, opts: kopts, staleness: opts.RefreshEvery}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	keys, err := b.load(ctx, nil)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 && opts.LegacyDir != "" {
		if keys, err = ks.importDir(ctx, opts.LegacyDir); err != nil {
			return nil, err
		}
	}
	if len(keys) == 0 || ks.due(newest(keys), now) {
		if keys, _, err = ks.addNew(ctx, keys, now); err != nil {
			return nil, err
		}
	}
	return ks, ks.install(ctx, keys, now)
}

// importDir stores the keys of a legacy key directory, oldest first, and
// returns what the database then holds (another node's keys, if it was
// quicker). A missing directory imports nothing.
func (ks *KeySet) importDir(ctx context.Context, dir string) ([]*key, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	legacy, err := loadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("token: import the key directory of an earlier version: %w", err)
	}
	slices.SortFunc(legacy, func(a, b *key) int { return a.created.Compare(b.created) })
	var prev *key
	for _, k := range legacy {
		added, err := ks.backend.add(ctx, k, prev)
		if err != nil {
			return nil, err
		}
		if !added {
			break
		}
		prev = k
	}
	return ks.backend.load(ctx, nil)
}

// dbBackend keeps sealed keys in a KeyStore (OpenDB).
type dbBackend struct {
	st  KeyStore
	kek *seal.Key
}

func (b *dbBackend) shared() bool { return true }

func (b *dbBackend) load(ctx context.Context, known map[string]*key) ([]*key, error) {
	rows, err := b.st.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("token: load signing keys: %w", err)
	}
	keys := make([]*key, 0, len(rows))
	for _, row := range rows {
		if k := known[row.ID]; k != nil && k.gen == row.Generation && k.private != nil {
			keys = append(keys, k) // decoded before; rows never change
			continue
		}
		k, err := b.open(row)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// open unseals and checks one stored key.
func (b *dbBackend) open(row StoredKey) (*key, error) {
	der, err := b.kek.Open(SealPurpose, row.ID, row.Sealed)
	if err != nil {
		return nil, fmt.Errorf("%w (kid %s)", ErrKeyEncryptionKey, row.ID)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("token: stored signing key %s: %w", row.ID, err)
	}
	priv, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("token: stored signing key %s: %T is not an RSA key", row.ID, parsed)
	}
	if bits := priv.N.BitLen(); bits < minKeyBits {
		return nil, fmt.Errorf("token: stored signing key %s: %d-bit RSA key is too small (minimum %d)", row.ID, bits, minKeyBits)
	}
	if id := thumbprint(&priv.PublicKey); id != row.ID {
		return nil, fmt.Errorf("token: stored signing key %s holds the key with kid %s", row.ID, id)
	}
	return &key{id: row.ID, public: &priv.PublicKey, private: priv, created: row.CreatedAt.UTC(), gen: row.Generation}, nil
}

func (b *dbBackend) add(ctx context.Context, k, prev *key) (bool, error) {
	k.gen = 1
	if prev != nil {
		k.gen = prev.gen + 1
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil {
		return false, fmt.Errorf("token: encode key: %w", err)
	}
	// The database keeps microseconds; the ring must hold what a reload
	// reads, or two nodes would order and retire keys differently.
	k.created = k.created.Truncate(time.Microsecond)
	if prev != nil && !k.created.After(prev.created) {
		k.created = prev.created.Add(time.Microsecond)
	}
	added, err := b.st.AddSigningKey(ctx, StoredKey{
		ID: k.id, Generation: k.gen, CreatedAt: k.created,
		Sealed: b.kek.Seal(SealPurpose, k.id, der),
	})
	if err != nil {
		return false, fmt.Errorf("token: store signing key: %w", err)
	}
	return added, nil
}

func (b *dbBackend) remove(ctx context.Context, keys []*key) error {
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.id
	}
	if err := b.st.DeleteSigningKeys(ctx, ids); err != nil {
		return fmt.Errorf("token: prune retired keys: %w", err)
	}
	return nil
}
