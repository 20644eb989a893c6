package store

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Erasing content on SQLite. A service store that deletes or overwrites
// user content in a transaction says so with Conn.Erased. Three things then
// make sure the content leaves the disk, not only the tables:
//
//   - the writer runs with secure_delete, so the cells and pages SQLite
//     frees are overwritten with zeros rather than left in the file;
//   - the FTS5 index runs with its secure-delete option (migration 0003),
//     so a deleted row's tokens leave the index segments at once instead of
//     at the next merge;
//   - the write-ahead log still holds the old page images until a
//     checkpoint copies the new pages into the database and the log is
//     truncated: the eraser runs wal_checkpoint(TRUNCATE) EraseDelay after
//     the first erasing commit, and again every EraseDelay while readers
//     keep it from completing. A checkpoint needs no reader to hold an older
//     snapshot, and the server's reads are short, so in practice the log is
//     truncated within EraseDelay; a checkpoint still blocked after
//     EraseBound is logged as a warning until it succeeds.
//
// PostgreSQL keeps a row's old version in the table until VACUUM marks its
// space reusable (autovacuum does so within minutes under the default
// settings) and in WAL segments until they are recycled; see
// docs/architecture.md "Deletion".
type eraser struct {
	db    *sql.DB // SQLite's single-connection writer pool
	delay time.Duration
	log   *slog.Logger

	mu     sync.Mutex
	timer  *time.Timer
	since  time.Time // first erasing commit not yet checkpointed
	closed bool

	// checkpoints counts completed truncating checkpoints (tests read it).
	checkpoints atomic.Int64
}

// EraseBound is how long after a deletion its content may still be found
// in SQLite's files: a checkpoint still blocked this long is logged.
const EraseBound = 60 * time.Second

// DefaultEraseDelay is how soon after an erasing commit the eraser first
// checkpoints.
const DefaultEraseDelay = 5 * time.Second

func newEraser(db *sql.DB, delay time.Duration, log *slog.Logger) *eraser {
	if delay <= 0 {
		delay = DefaultEraseDelay
	}
	return &eraser{db: db, delay: delay, log: log}
}

// erased records that a commit erased content.
func (e *eraser) erased() {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	if e.since.IsZero() {
		e.since = time.Now()
	}
	if e.timer == nil {
		e.timer = time.AfterFunc(e.delay, e.run)
	}
}

func (e *eraser) run() {
	e.mu.Lock()
	e.timer = nil
	since, closed := e.since, e.closed
	e.since = time.Time{}
	e.mu.Unlock()
	if closed || since.IsZero() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), busyTimeout+time.Second)
	defer cancel()
	var busy, logFrames, moved int
	err := e.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &moved)
	if err == nil && busy == 0 {
		e.checkpoints.Add(1)
		return
	}
	if late := time.Since(since); late > EraseBound {
		e.log.Warn("store: erased content is still in the SQLite write-ahead log: a checkpoint keeps being blocked",
			slog.Duration("since", late), slog.Any("err", err))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.since.IsZero() || since.Before(e.since) {
		e.since = since
	}
	if e.timer == nil && !e.closed {
		e.timer = time.AfterFunc(e.delay, e.run)
	}
}

func (e *eraser) close() {
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
}

// Erased marks the transaction of c as erasing user content (a delete, an
// edit that replaces a body): once it commits, SQLite's write-ahead log is
// checkpointed and truncated within the erase delay (see eraser). It does
// nothing on PostgreSQL and outside InTx.
func (c Conn) Erased() {
	if c.erasedFlag != nil {
		*c.erasedFlag = true
	}
}
