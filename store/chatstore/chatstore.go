// Package chatstore is the chat service's storage: it implements chat.Store
// (channels, memberships, messages, the per-channel event log, reactions,
// threads, read state and full-text search) over the shared store core, on
// SQLite and PostgreSQL alike.
//
// Every read is written once, on reader, over a store.Conn: Store embeds a
// reader on the read pool and a transaction embeds one on the
// transaction's Conn, so the same methods serve chat.Store and chat.Tx and
// reads inside a transaction see its own writes.
package chatstore

import (
	"context"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
)

// Store implements chat.Store on a store.DB. It is safe for concurrent use.
type Store struct {
	reader
	db *store.DB
}

var _ chat.Store = (*Store)(nil)

// reader implements chat.Reader on one Conn.
type reader struct {
	c    store.Conn
	tune SearchTuning
}

// tx is a chat write transaction: the reads on the transaction's Conn, and
// the writes (chat.go).
type tx struct{ reader }

var _ chat.Tx = tx{}

// New returns the chat store over db. Closing db is the caller's.
func New(db *store.DB) *Store { return NewWithSearchTuning(db, SearchTuning{}) }

// NewWithSearchTuning returns the chat store over db with Search's plan
// thresholds set by t (see SearchTuning).
func NewWithSearchTuning(db *store.DB, t SearchTuning) *Store {
	return &Store{reader: reader{c: db.Read(), tune: t}, db: db}
}

// Tx runs fn in one write transaction (see chat.Store).
func (s *Store) Tx(ctx context.Context, fn func(chat.Tx) error) error {
	return s.db.InTx(ctx, func(c store.Conn) error { return fn(tx{reader{c: c, tune: s.tune}}) })
}

// Audit appends audit events in the transaction (chat.Tx).
func (t tx) Audit(ctx context.Context, events ...*audit.Event) error {
	return auditstore.Append(ctx, t.c, events...)
}

// UserByID returns the user or ENotFound.
func (s *Store) UserByID(ctx context.Context, id string) (*unhidra.User, error) {
	return store.UserByID(ctx, s.c, id)
}
