package authstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
)

// CreateInvite stores inv (EConflict if the code exists), with the events
// attached to ctx in the same transaction. The code is an unguessable
// secret chosen by the caller.
func (st *Store) CreateInvite(ctx context.Context, inv *unhidra.Invite) error {
	return auditstore.InTx(ctx, st.db, func(c store.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO invites (code, created_by, max_uses, uses, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			inv.Code, inv.CreatedBy, inv.MaxUses, inv.Uses, store.MicrosPtr(inv.ExpiresAt), store.Micros(inv.CreatedAt))
		if store.IsUniqueViolation(err) {
			return &unhidra.Error{Code: unhidra.EConflict, Message: "invite already exists", Err: err}
		} else if err != nil {
			return fmt.Errorf("create invite: %w", err)
		}
		return nil
	})
}

// ListInvites returns every invite, used up and expired ones included,
// newest first.
func (st *Store) ListInvites(ctx context.Context) ([]*unhidra.Invite, error) {
	rows, err := st.db.Read().Query(ctx, `SELECT code, created_by, max_uses, uses, expires_at, created_at FROM invites
		ORDER BY created_at DESC, code DESC`)
	if err != nil {
		return nil, fmt.Errorf("list invites: %w", err)
	}
	defer rows.Close()
	var invites []*unhidra.Invite
	for rows.Next() {
		var inv unhidra.Invite
		var expires sql.NullInt64
		var created int64
		if err := rows.Scan(&inv.Code, &inv.CreatedBy, &inv.MaxUses, &inv.Uses, &expires, &created); err != nil {
			return nil, fmt.Errorf("list invites: %w", err)
		}
		inv.ExpiresAt, inv.CreatedAt = store.TimePtr(expires), store.Time(created)
		invites = append(invites, &inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list invites: %w", err)
	}
	return invites, nil
}

// DeleteInvite deletes the invite (ENotFound if absent), with the events
// attached to ctx in the same transaction. Accounts created with it are
// unaffected.
func (st *Store) DeleteInvite(ctx context.Context, code string) error {
	return auditstore.InTx(ctx, st.db, func(c store.Conn) error {
		n, err := c.ExecN(ctx, `DELETE FROM invites WHERE code = ?`, code)
		if err != nil {
			return fmt.Errorf("delete invite: %w", err)
		}
		if n == 0 {
			return unhidra.Errorf(unhidra.ENotFound, "invite not found")
		}
		return nil
	})
}
