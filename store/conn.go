package store

import (
	"context"
	"database/sql"
	"fmt"
)

// handle is what *sql.DB and *sql.Tx have in common.
type handle interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Conn runs queries on one handle: a pool outside a transaction, the
// transaction inside one. Queries are written once, in the SQL that SQLite
// and PostgreSQL share, with ? placeholders, which Conn rebinds for the
// engine (placeholders inside single-quoted literals are left alone). On
// SQLite they run as cached prepared statements.
//
// A Conn comes from (*DB).Read, (*DB).Write or (*DB).InTx; the zero value
// is not usable. It is a small value, safe to copy and, outside a
// transaction, to share between goroutines.
type Conn struct {
	h     handle
	d     *dialect
	cache *stmtCache
	tx    *sql.Tx
	// erasedFlag, inside InTx on SQLite, is set by Erased.
	erasedFlag *bool
}

// stmt returns the cached prepared statement for query, bound to the
// conn's transaction if any, or nil to run it unprepared.
func (c Conn) stmt(ctx context.Context, query string) *sql.Stmt {
	if c.cache == nil {
		return nil
	}
	if c.tx == nil {
		return c.cache.get(ctx, query)
	}
	st := c.cache.lookup(query)
	if st == nil {
		return nil
	}
	// The writer pool has one connection, the transaction's, on which the
	// statement is already prepared: this binds without preparing again.
	return c.tx.StmtContext(ctx, st)
}

// Exec runs a statement that returns no rows.
func (c Conn) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query = c.d.rebind(query)
	if st := c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.h.ExecContext(ctx, query, args...)
}

// ExecN runs a statement and returns how many rows it changed.
func (c Conn) ExecN(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Query runs a query; the caller closes the rows (Collect does).
func (c Conn) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = c.d.rebind(query)
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.h.QueryContext(ctx, query, args...)
}

// QueryRow runs a query expected to return at most one row; a missing row
// is sql.ErrNoRows from Scan.
func (c Conn) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	query = c.d.rebind(query)
	if st := c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.h.QueryRowContext(ctx, query, args...)
}

// LockTable makes the rest of the transaction exclusive with every other
// writer of table, until commit: a check followed by an insert (is there an
// admin yet?) cannot then be raced under PostgreSQL's READ COMMITTED. On
// SQLite it does nothing, since the single writer already serializes every
// write transaction. Call it only on the Conn of InTx; table must be a
// constant from the code, never input.
func (c Conn) LockTable(ctx context.Context, table string) error {
	if c.d.lockTable == "" {
		return nil
	}
	if _, err := c.Exec(ctx, fmt.Sprintf(c.d.lockTable, table)); err != nil {
		return fmt.Errorf("lock %s: %w", table, err)
	}
	return nil
}

// Read returns the Conn for reads outside a transaction: on SQLite the
// read pool, which never waits for the writer.
func (db *DB) Read() Conn { return Conn{h: db.reader, d: db.dialect, cache: db.readStmts} }

// Write returns the Conn for writes of a single statement, which need no
// transaction. Never use it inside InTx: on SQLite the writer has one
// connection, which the transaction already holds.
func (db *DB) Write() Conn { return Conn{h: db.writer, d: db.dialect, cache: db.writeStmts} }

// InTx runs fn in a write transaction and commits if fn returns nil; on
// error nothing fn wrote remains, and the error is returned as it is. On
// SQLite, fn runs in the group committer's batch (see groupcommit.go):
// serialized with every other writer, inside a savepoint, durable when
// InTx returns. fn must use only the Conn it is given and must not keep it
// after returning.
func (db *DB) InTx(ctx context.Context, fn func(c Conn) error) error {
	if db.group != nil {
		return db.group.do(ctx, fn)
	}
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback()
		}
	}()
	if err := fn(Conn{h: tx, d: db.dialect, cache: db.writeStmts, tx: tx}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	return nil
}

// ForUpdate is the clause that makes a SELECT of one row lock it until
// commit (" FOR UPDATE" on PostgreSQL), so that decisions read after it
// cannot be raced by another node's writer of the row; on SQLite, whose
// single writer already serializes write transactions, it is empty.
func (c Conn) ForUpdate() string { return c.d.forUpdate }

// SkipLocked is the clause for a SELECT that picks one row of several for
// the transaction to take (a queue's next item): on PostgreSQL " FOR
// UPDATE SKIP LOCKED", so that concurrent takers each lock a different row
// instead of all waiting for the first and then finding it gone; on
// SQLite, whose single writer serializes the takers, it is empty.
func (c Conn) SkipLocked() string { return c.d.skipLocked }
