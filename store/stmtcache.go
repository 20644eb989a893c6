package store

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps prepared statements by query text. SQLite (a C library
// transpiled to Go here) spends more time parsing and planning a statement
// than running the small ones the service stores issue, and database/sql
// prepares anew on every call, so reusing prepared statements roughly
// halves the CPU cost of a write. PostgreSQL needs none: pgx caches
// statements per connection itself.
//
// The cache is bounded: queries past maxStmts (built dynamically, say) run
// unprepared rather than grow it.
//
// On the writer, whose single connection a transaction holds, nothing can
// be prepared on the pool from inside the transaction (it would wait for
// itself). A miss there runs unprepared and is remembered; the group
// committer prepares what was missed between batches, when the connection
// is free.
type stmtCache struct {
	db     *sql.DB
	mu     sync.RWMutex
	m      map[string]*sql.Stmt
	wanted map[string]bool
}

const maxStmts = 512

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// lookup returns the cached statement without preparing; a miss is
// remembered for prepareWanted.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.RLock()
	st, ok := c.m[query]
	c.mu.RUnlock()
	if ok {
		return st
	}
	c.mu.Lock()
	if len(c.m)+len(c.wanted) < maxStmts {
		c.wanted[query] = true
	}
	c.mu.Unlock()
	return nil
}

// prepareWanted prepares the statements lookup missed. Call it only while
// no transaction holds the pool's connections.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.RLock()
	n := len(c.wanted)
	c.mu.RUnlock()
	if n == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q := range c.wanted {
		delete(c.wanted, q)
		if _, ok := c.m[q]; ok {
			continue
		}
		if st, err := c.db.PrepareContext(ctx, q); err == nil {
			c.m[q] = st
		}
	}
}

// get returns the prepared statement for query, or nil if it should run
// unprepared.
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.RLock()
	st, ok := c.m[query]
	c.mu.RUnlock()
	if ok {
		return st
	}
	c.mu.RLock()
	full := len(c.m) >= maxStmts
	c.mu.RUnlock()
	if full {
		return nil
	}
	// Prepared without holding the lock: on SQLite's writer the prepare
	// waits for the one connection, which a group commit may hold while
	// its jobs look statements up in this very cache (a deadlock).
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		// Let the unprepared call report the error in context.
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok {
		st.Close()
		return prev
	}
	if len(c.m) >= maxStmts {
		st.Close()
		return nil
	}
	c.m[query] = st
	return st
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.m {
		st.Close()
		delete(c.m, q)
	}
}
