// Package auditstore is the audit log's storage over the shared store
// core, on SQLite and PostgreSQL alike: the outbox that services write in
// their own transactions (Append, Flush), the chainer that one node at a
// time moves outbox rows into the hash-chained log with (chainer.go), and
// the reads that verify and export it.
//
// Guarantees, beyond the core's:
//
//   - Append writes into the caller's transaction: an event commits with
//     the action it records or not at all.
//   - Every committed outbox row becomes exactly one log entry: only the
//     lease holder, serialized by a row lock on the lease, moves rows, and
//     it deletes what it moved in the same transaction; seq is the log's
//     primary key, so two writers can never fork the chain.
//   - audit_log, audit_checkpoints and audit_prunes refuse UPDATE and
//     DELETE (and, on PostgreSQL, TRUNCATE) by trigger; the one DELETE let
//     through is a prune's, of the entries up to the anchor it records
//     (prune.go).
package auditstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/store"
)

// Store is the audit log of one database. It is safe for concurrent use.
type Store struct {
	db  *store.DB
	now func() time.Time
}

// New returns the audit store over db. Closing db is the caller's.
func New(db *store.DB) *Store { return &Store{db: db, now: time.Now} }

var _ audit.Recorder = (*Store)(nil)
var _ audit.Store = (*Store)(nil)

// Append validates events and writes them into the outbox through c, the
// Conn of the caller's transaction (store.DB.InTx): they commit or roll
// back with it. An event with a zero Time gets the current time.
func Append(ctx context.Context, c store.Conn, events ...*audit.Event) error {
	for _, e := range events {
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		if err := e.Validate(); err != nil {
			return err
		}
		meta := "{}"
		if len(e.Metadata) > 0 {
			b, err := json.Marshal(e.Metadata)
			if err != nil {
				return fmt.Errorf("audit metadata: %w", err)
			}
			meta = string(b)
		}
		if _, err := c.Exec(ctx, `INSERT INTO audit_outbox (at, action, actor_type, actor_id, target_type, target_id, ip, result, reason, metadata)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			store.Micros(e.Time), e.Action, e.ActorType, e.ActorID, e.TargetType, e.TargetID, e.IP, e.Result, e.Reason, meta); err != nil {
			return fmt.Errorf("audit outbox: %w", err)
		}
	}
	return nil
}

// Flush appends the events attached to ctx (audit.With) through c, the
// Conn of the caller's transaction, and returns the function to call with
// the transaction's outcome. Store methods that carry audited actions call
// it inside their transaction:
//
//	err := db.InTx(ctx, func(c store.Conn) error { …; return auditstore.Flush(ctx, c, &done) })
//	done(err == nil)
func Flush(ctx context.Context, c store.Conn, done *func(bool)) error {
	events, d := audit.Take(ctx)
	*done = d
	return Append(ctx, c, events...)
}

// InTx runs fn in a transaction of db that also writes the events attached
// to ctx, if any: the helper for store methods that, unaudited, would run a
// single statement outside a transaction. With no events attached it runs
// fn on db.Write() as before.
func InTx(ctx context.Context, db *store.DB, fn func(c store.Conn) error) error {
	if !audit.Pending(ctx) {
		return fn(db.Write())
	}
	done := func(bool) {}
	err := db.InTx(ctx, func(c store.Conn) error {
		if err := fn(c); err != nil {
			return err
		}
		return Flush(ctx, c, &done)
	})
	done(err == nil)
	return err
}

// Tx runs fn in a transaction of db that also writes the events attached
// to ctx, if any: the helper for store methods that run a transaction
// anyway.
func Tx(ctx context.Context, db *store.DB, fn func(c store.Conn) error) error {
	done := func(bool) {}
	err := db.InTx(ctx, func(c store.Conn) error {
		if err := fn(c); err != nil {
			return err
		}
		return Flush(ctx, c, &done)
	})
	done(err == nil)
	return err
}

// Record appends events in a transaction of their own (audit.Recorder).
func (s *Store) Record(ctx context.Context, events ...*audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(c store.Conn) error { return Append(ctx, c, events...) })
}

const logColumns = `seq, at, action, actor_type, actor_id, target_type, target_id, ip, result, reason, metadata, prev_hash, hash`

func scanEntry(sc store.Scanner) (*audit.Entry, error) {
	var e audit.Entry
	var at int64
	var meta string
	if err := sc.Scan(&e.Seq, &at, &e.Action, &e.ActorType, &e.ActorID, &e.TargetType, &e.TargetID, &e.IP,
		&e.Result, &e.Reason, &meta, &e.PrevHash, &e.Hash); err != nil {
		return nil, err
	}
	e.Time = store.Time(at)
	if err := decodeMeta(meta, &e.Metadata); err != nil {
		return nil, fmt.Errorf("audit entry %d: %w", e.Seq, err)
	}
	return &e, nil
}

func decodeMeta(s string, m *map[string]string) error {
	if s == "" || s == "{}" {
		*m = nil
		return nil
	}
	if err := json.Unmarshal([]byte(s), m); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	return nil
}

// pageSize is how many rows one query of a streaming read fetches: the
// walk holds one page at a time, so its memory does not grow with the log.
const pageSize = 1000

// Entries streams the log from seq after+1 on, in ascending seq, a page
// per query (audit.Source).
func (s *Store) Entries(ctx context.Context, after int64) iter.Seq2[*audit.Entry, error] {
	return func(yield func(*audit.Entry, error) bool) {
		for {
			page, err := s.Page(ctx, audit.Query{After: after, Limit: pageSize})
			if err != nil {
				yield(nil, err)
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
				after = e.Seq
			}
			if len(page) < pageSize {
				return
			}
		}
	}
}

// Page returns the entries q selects.
func (s *Store) Page(ctx context.Context, q audit.Query) ([]*audit.Entry, error) {
	where, args := `seq > ?`, []any{q.After}
	if q.ActorID != "" {
		where += ` AND actor_id = ?`
		args = append(args, q.ActorID)
	}
	if q.Action != "" {
		where += ` AND action = ?`
		args = append(args, q.Action)
	}
	if !q.Since.IsZero() {
		where += ` AND at >= ?`
		args = append(args, store.Micros(q.Since))
	}
	if !q.Until.IsZero() {
		where += ` AND at < ?`
		args = append(args, store.Micros(q.Until))
	}
	if q.Limit <= 0 {
		q.Limit = pageSize
	}
	args = append(args, q.Limit)
	rows, err := s.db.Read().Query(ctx, `SELECT `+logColumns+` FROM audit_log WHERE `+where+` ORDER BY seq LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return store.Collect(rows, "audit log", scanEntry)
}

// Checkpoints streams the stored checkpoints in ascending seq
// (audit.Source).
func (s *Store) Checkpoints(ctx context.Context) iter.Seq2[*audit.Checkpoint, error] {
	return func(yield func(*audit.Checkpoint, error) bool) {
		var after int64 = 0
		for {
			page, err := s.CheckpointPage(ctx, after, pageSize)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, c := range page {
				if !yield(c, nil) {
					return
				}
				after = c.Seq
			}
			if len(page) < pageSize {
				return
			}
		}
	}
}

// CheckpointPage returns up to limit checkpoints with seq > after.
func (s *Store) CheckpointPage(ctx context.Context, after int64, limit int) ([]*audit.Checkpoint, error) {
	rows, err := s.db.Read().Query(ctx, `SELECT seq, hash, at, key_id, signature FROM audit_checkpoints WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	return store.Collect(rows, "audit checkpoints", func(sc store.Scanner) (*audit.Checkpoint, error) {
		var c audit.Checkpoint
		var at int64
		if err := sc.Scan(&c.Seq, &c.Hash, &at, &c.KeyID, &c.Signature); err != nil {
			return nil, err
		}
		c.Time = store.Time(at)
		return &c, nil
	})
}

// Anchors streams the prune anchors in ascending seq (audit.Source). They
// are few (one per prune transaction), read in one query.
func (s *Store) Anchors(ctx context.Context) iter.Seq2[*audit.PruneAnchor, error] {
	return func(yield func(*audit.PruneAnchor, error) bool) {
		rows, err := s.db.Read().Query(ctx, `SELECT through_seq, hash, at, key_id, signature FROM audit_prunes ORDER BY through_seq`)
		if err != nil {
			yield(nil, fmt.Errorf("audit prunes: %w", err))
			return
		}
		as, err := store.Collect(rows, "audit prunes", scanAnchor)
		if err != nil {
			yield(nil, err)
			return
		}
		for _, a := range as {
			if !yield(a, nil) {
				return
			}
		}
	}
}

func scanAnchor(sc store.Scanner) (*audit.PruneAnchor, error) {
	var a audit.PruneAnchor
	var at int64
	if err := sc.Scan(&a.Seq, &a.Hash, &at, &a.KeyID, &a.Signature); err != nil {
		return nil, err
	}
	a.Time = store.Time(at)
	return &a, nil
}

// Pending counts the outbox rows not yet chained.
func (s *Store) Pending(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM audit_outbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("audit outbox: %w", err)
	}
	return n, nil
}

// head returns the last entry's seq and hash: for a log that a prune
// emptied, the newest anchor's; for a log never written, 0 and the zero
// hash.
func head(ctx context.Context, c store.Conn) (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := c.QueryRow(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return anchorHead(ctx, c)
	} else if err != nil {
		return 0, nil, fmt.Errorf("audit log head: %w", err)
	}
	return seq, hash, nil
}

// anchorHead returns the newest prune anchor's seq and hash, or 0 and the
// zero hash.
func anchorHead(ctx context.Context, c store.Conn) (int64, []byte, error) {
	var seq int64
	var hash []byte
	err := c.QueryRow(ctx, `SELECT through_seq, hash FROM audit_prunes ORDER BY through_seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, audit.ZeroHash(), nil
	} else if err != nil {
		return 0, nil, fmt.Errorf("audit prunes: %w", err)
	}
	return seq, hash, nil
}

// Forward sends the entries after the position of job (an audit_lease
// row, such as "syslog") to send, in seq order, and moves the position
// past each page that was sent: delivery is at least once (a node that
// dies between a send and the position's update sends that page again).
// Only the chain lease holder calls it, so one node forwards at a time. It
// returns how many entries it sent.
func (s *Store) Forward(ctx context.Context, job string, send func(*audit.Entry) error) (int, error) {
	if err := ensureJob(ctx, s.db, job); err != nil {
		return 0, err
	}
	var pos int64
	if err := s.db.Read().QueryRow(ctx, `SELECT position FROM audit_lease WHERE name = ?`, job).Scan(&pos); err != nil {
		return 0, fmt.Errorf("audit %s position: %w", job, err)
	}
	sent := 0
	for {
		page, err := s.Page(ctx, audit.Query{After: pos, Limit: 100})
		if err != nil || len(page) == 0 {
			return sent, err
		}
		for _, e := range page {
			if err := send(e); err != nil {
				return sent, err
			}
			pos = e.Seq
			sent++
			if _, err := s.db.Write().Exec(ctx, `UPDATE audit_lease SET position = ? WHERE name = ? AND position < ?`, pos, job, pos); err != nil {
				return sent, fmt.Errorf("audit %s position: %w", job, err)
			}
		}
	}
}
