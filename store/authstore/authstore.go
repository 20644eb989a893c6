// Package authstore is the accounts service's storage: it implements
// auth.Store (users, sessions, refresh tokens, invites) over the shared
// store core, on SQLite and PostgreSQL alike.
//
// Beyond the core's guarantees (a nil error means committed; contract
// errors are *unhidra.Error; times come back UTC at microsecond precision):
//
//   - Multi-step operations are one transaction: CreateUser with its invite
//     use and its admin check, CreateSession with its first refresh token.
//     On any error nothing is written.
//   - Nothing secret (password hashes, token hashes, invite codes) is
//     logged or placed in an error message.
package authstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/store"
)

// Store implements auth.Store on a store.DB. It is safe for concurrent use.
type Store struct{ db *store.DB }

var _ auth.Store = (*Store)(nil)

// New returns the accounts store over db. Closing db is the caller's.
func New(db *store.DB) *Store { return &Store{db: db} }

// Ping checks that the database answers.
func (st *Store) Ping(ctx context.Context) error { return st.db.Ping(ctx) }

// wrapInternal prefixes errors that are not already *unhidra.Error with op,
// leaving contract errors exactly as the contract describes them.
func wrapInternal(op string, err error) error {
	if err == nil {
		return nil
	}
	var ue *unhidra.Error
	if errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}
