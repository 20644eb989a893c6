// Package settingsstore keeps the admins' overrides of the server settings
// (settings.Store) in the settings table, on SQLite and PostgreSQL alike.
//
// Guarantees, beyond the core's:
//
//   - Tx is exclusive with every other Tx (the table is locked on
//     PostgreSQL; SQLite's single writer serializes anyway), so what a
//     change reads as the old values is what it replaces, and the audit
//     events written through the Tx commit with the change or not at all.
package settingsstore

import (
	"context"
	"fmt"

	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/settings"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
)

// Store is the settings table of a store.DB. It is safe for concurrent use.
type Store struct{ db *store.DB }

var _ settings.Store = (*Store)(nil)

// New returns the settings store over db. Closing db is the caller's.
func New(db *store.DB) *Store { return &Store{db: db} }

func overrides(ctx context.Context, c store.Conn) ([]settings.Override, error) {
	rows, err := c.Query(ctx, `SELECT key, value, updated_by, updated_at FROM settings ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	return store.Collect(rows, "settings", func(sc store.Scanner) (settings.Override, error) {
		var o settings.Override
		var at int64
		if err := sc.Scan(&o.Key, &o.Value, &o.UpdatedBy, &at); err != nil {
			return o, err
		}
		o.UpdatedAt = store.Time(at)
		return o, nil
	})
}

// Overrides returns every stored override, by key.
func (s *Store) Overrides(ctx context.Context) ([]settings.Override, error) {
	return overrides(ctx, s.db.Read())
}

// Tx runs fn in a write transaction that holds the settings table.
func (s *Store) Tx(ctx context.Context, fn func(tx settings.Tx) error) error {
	return s.db.InTx(ctx, func(c store.Conn) error {
		if err := c.LockTable(ctx, "settings"); err != nil {
			return err
		}
		return fn(tx{c})
	})
}

type tx struct{ c store.Conn }

func (t tx) Overrides(ctx context.Context) ([]settings.Override, error) { return overrides(ctx, t.c) }

func (t tx) Put(ctx context.Context, o settings.Override) error {
	if _, err := t.c.Exec(ctx, `INSERT INTO settings (key, value, updated_by, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		o.Key, o.Value, o.UpdatedBy, store.Micros(o.UpdatedAt)); err != nil {
		return fmt.Errorf("put setting: %w", err)
	}
	return nil
}

func (t tx) Delete(ctx context.Context, key string) error {
	if _, err := t.c.Exec(ctx, `DELETE FROM settings WHERE key = ?`, key); err != nil {
		return fmt.Errorf("delete setting: %w", err)
	}
	return nil
}

func (t tx) Audit(ctx context.Context, events ...*audit.Event) error {
	return auditstore.Append(ctx, t.c, events...)
}
