package authstore

import (
	"context"
	"fmt"
	"time"

	"github.com/unhidra/unhidra/store"
)

// AddSetupToken stores the hash of a new setup token and deletes the ones
// created before dropBefore. Only hashes are stored: the token itself is
// in the log of the node that issued it.
func (st *Store) AddSetupToken(ctx context.Context, hash []byte, at, dropBefore time.Time) error {
	err := st.db.InTx(ctx, func(c store.Conn) error {
		if _, err := c.Exec(ctx, `DELETE FROM setup_tokens WHERE created_at < ?`, store.Micros(dropBefore)); err != nil {
			return err
		}
		_, err := c.Exec(ctx, `INSERT INTO setup_tokens (hash, created_at) VALUES (?, ?)`, hash, store.Micros(at))
		return err
	})
	if err != nil {
		return fmt.Errorf("add setup token: %w", err)
	}
	return nil
}

// SetupTokens returns the hashes of the stored setup tokens.
func (st *Store) SetupTokens(ctx context.Context) ([][]byte, error) {
	rows, err := st.db.Read().Query(ctx, `SELECT hash FROM setup_tokens`)
	if err != nil {
		return nil, fmt.Errorf("setup tokens: %w", err)
	}
	return store.Collect(rows, "setup tokens", func(sc store.Scanner) ([]byte, error) {
		var h []byte
		err := sc.Scan(&h)
		return h, err
	})
}
