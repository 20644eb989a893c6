// Package keystore keeps the keys and secrets that every node of a cluster
// shares through the database: the token signing keys (it implements
// token.KeyStore) and small named server secrets such as the device-token
// HMAC key. It stores what it is given, already sealed by the caller
// (package auth/seal); it never sees a key-encryption key or plaintext.
//
// Guarantees, on SQLite and PostgreSQL alike:
//
//   - AddSigningKey stores a key only if no key of its generation or a
//     later one exists; of concurrent callers with one generation exactly
//     one succeeds (the generation is UNIQUE), the others get false.
//   - AddSecret stores a secret only if none of that name exists, so nodes
//     racing to create one all end up reading the same.
//   - Nothing stored here is logged or placed in an error message.
package keystore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/unhidra/unhidra/auth/token"
	"github.com/unhidra/unhidra/store"
)

// Store is the key tables of a store.DB. It is safe for concurrent use.
type Store struct{ db *store.DB }

var _ token.KeyStore = (*Store)(nil)

// New returns the key store over db. Closing db is the caller's.
func New(db *store.DB) *Store { return &Store{db: db} }

// SigningKeys returns every stored signing key.
func (s *Store) SigningKeys(ctx context.Context) ([]token.StoredKey, error) {
	rows, err := s.db.Read().Query(ctx, `SELECT kid, generation, created_at, sealed FROM signing_keys ORDER BY generation`)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return store.Collect(rows, "signing keys", func(sc store.Scanner) (token.StoredKey, error) {
		var k token.StoredKey
		var created int64
		if err := sc.Scan(&k.ID, &k.Generation, &created, &k.Sealed); err != nil {
			return k, err
		}
		k.CreatedAt = store.Time(created)
		return k, nil
	})
}

// errLost ends the transaction of an AddSigningKey that another node beat.
var errLost = errors.New("a signing key of this generation or a later one exists")

// AddSigningKey stores k unless a key of generation k.Generation or later
// exists; added is false then.
func (s *Store) AddSigningKey(ctx context.Context, k token.StoredKey) (added bool, err error) {
	if k.ID == "" || k.Generation < 1 || len(k.Sealed) == 0 {
		return false, errors.New("add signing key: id, a positive generation and the sealed key are required")
	}
	err = s.db.InTx(ctx, func(c store.Conn) error {
		var later int
		if err := c.QueryRow(ctx, `SELECT COUNT(*) FROM signing_keys WHERE generation >= ?`, k.Generation).Scan(&later); err != nil {
			return fmt.Errorf("add signing key: %w", err)
		}
		if later > 0 {
			return errLost
		}
		// Two nodes that both counted nothing meet at the UNIQUE
		// generation: the second insert fails, and loses.
		_, err := c.Exec(ctx, `INSERT INTO signing_keys (kid, generation, created_at, sealed) VALUES (?, ?, ?, ?)`,
			k.ID, k.Generation, store.Micros(k.CreatedAt), k.Sealed)
		if store.IsUniqueViolation(err) {
			return errLost
		} else if err != nil {
			return fmt.Errorf("add signing key: %w", err)
		}
		return nil
	})
	switch {
	case errors.Is(err, errLost), store.IsUniqueViolation(err):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// DeleteSigningKeys deletes the keys with these kids.
func (s *Store) DeleteSigningKeys(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	if _, err := s.db.Write().Exec(ctx, `DELETE FROM signing_keys WHERE kid IN (`+store.Placeholders(len(ids))+`)`, args...); err != nil {
		return fmt.Errorf("delete signing keys: %w", err)
	}
	return nil
}

// Secret returns the sealed value of the named secret; ok is false when
// there is none.
func (s *Store) Secret(ctx context.Context, name string) (sealed []byte, ok bool, err error) {
	err = s.db.Read().QueryRow(ctx, `SELECT sealed FROM server_secrets WHERE name = ?`, name).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("server secret %s: %w", name, err)
	}
	return sealed, true, nil
}

// AddSecret stores the named secret unless one of that name exists; added
// is false then, and the caller reads the stored one.
func (s *Store) AddSecret(ctx context.Context, name string, sealed []byte, at time.Time) (added bool, err error) {
	n, err := s.db.Write().ExecN(ctx, `INSERT INTO server_secrets (name, sealed, created_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, name, sealed, store.Micros(at))
	if err != nil {
		return false, fmt.Errorf("add server secret %s: %w", name, err)
	}
	return n == 1, nil
}
