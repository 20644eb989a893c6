// Package store is the core of Unhidra's durable storage: one SQL
// implementation that runs on SQLite (the embedded default, pure Go) and on
// PostgreSQL (production). It owns the connections, the engine dialect, the
// group committer, the statement cache and the schema; the storage of each
// service is a package of its own over this core (store/authstore for
// auth.Store, store/chatstore for chat.Store), and this package imports no
// service.
//
// What it guarantees, to every service store built on it:
//
//   - A write that returns nil has committed: on SQLite with synchronous=FULL
//     in WAL mode, so an acknowledged write survives power loss.
//   - InTx is one transaction: on any error nothing its function wrote
//     remains. Each migration is one such transaction.
//   - On SQLite every write goes through a single connection whose
//     transactions begin IMMEDIATE, so writers never deadlock or fail with
//     SQLITE_BUSY against each other; reads use a separate pool and, in WAL
//     mode, never wait for the writer. Concurrent write transactions are
//     group-committed: one COMMIT (one fsync) for everyone queued, each
//     caller isolated by a savepoint (groupcommit.go).
//   - Queries are written once with ? placeholders; the dialect rebinds them
//     and supplies what the engines spell differently (table locks, the
//     full-text match). Constraint violations are classified by error code
//     on both engines (IsUniqueViolation, IsForeignKeyViolation).
//   - Times are stored as unix microseconds UTC and come back as UTC
//     time.Time values truncated to the microsecond, on both engines alike
//     (Micros, Time).
//   - Database passwords are never logged or placed in an error message.
//
// The schema of every service is created and upgraded by embedded,
// numbered migrations, one set per engine (migrations/sqlite,
// migrations/postgres). A database whose schema is newer than this binary
// refuses to open.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
)

// busyTimeout is how long a SQLite connection waits for a lock held by
// another connection (a checkpoint, or a second process) before giving up.
const busyTimeout = 5 * time.Second

// Options configure Open. The zero value is valid.
type Options struct {
	// Logger receives migration progress; nil discards.
	Logger *slog.Logger
	// Migrate applies pending migrations at open. The server sets it; tools
	// that only inspect a database leave it off.
	Migrate bool
	// EraseDelay is how soon after a commit that erased content SQLite's
	// write-ahead log is checkpointed and truncated (DefaultEraseDelay if
	// zero); see erase.go.
	EraseDelay time.Duration
}

// DB is a handle on an Unhidra database. It is safe for concurrent use.
type DB struct {
	dialect *dialect
	// writer runs every write. On SQLite it holds exactly one connection so
	// that writes are serialized in Go rather than by SQLite's lock; on
	// PostgreSQL it is the one pool.
	writer *sql.DB
	// group batches SQLite write transactions into shared commits; nil on
	// PostgreSQL, whose concurrent transactions commit on their own.
	group *groupCommitter
	// eraser checkpoints SQLite's write-ahead log after erasing commits;
	// nil on PostgreSQL.
	eraser *eraser
	// readStmts and writeStmts cache prepared statements on SQLite's
	// reader and writer pools; nil on PostgreSQL.
	readStmts, writeStmts *stmtCache
	// reader runs reads that need no transaction. On PostgreSQL it is the
	// same pool as writer.
	reader *sql.DB
	// path is the SQLite database file; empty on PostgreSQL.
	path       string
	logger     *slog.Logger
	migrations []migration
}

// Open connects to the database at rawURL and checks its schema version.
// rawURL is sqlite:///abs/path/unhidra.db, sqlite://relative/path.db, a plain
// file path ending in .db, or a postgres:// (postgresql://) URL.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	engine, target, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}

	db := &DB{logger: logger}
	switch engine {
	case EngineSQLite:
		err = db.openSQLite(ctx, target, opts)
	case EnginePostgres:
		err = db.openPostgres(ctx, target)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}

	if db.migrations, err = loadMigrations(db.dialect.migrationsDir); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	// The version check comes first, migrating or not: a binary must not
	// write into a schema it does not know.
	version, err := db.SchemaVersion(ctx)
	if err == nil {
		err = db.checkVersion(ctx, db.Read(), version)
	}
	if err == nil && version > db.latestVersion() {
		logger.Warn("database schema is newer than this binary (a rolling upgrade under way?); running on it without migrating",
			"engine", engine, "version", version, "latest", db.latestVersion())
	} else if err == nil && opts.Migrate {
		_, err = db.Migrate(ctx)
	} else if err == nil && version < db.latestVersion() {
		logger.Warn("database schema is behind this binary; run migrations",
			"engine", engine, "version", version, "latest", db.latestVersion())
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return db, nil
}

// parseURL tells the engine from the URL and returns what that engine's
// driver wants: a file path for SQLite, the URL itself for PostgreSQL.
func parseURL(rawURL string) (engine, target string, err error) {
	switch {
	case hasPrefixFold(rawURL, "postgres://"), hasPrefixFold(rawURL, "postgresql://"):
		return EnginePostgres, rawURL, nil
	case hasPrefixFold(rawURL, "sqlite://"):
		target = rawURL[len("sqlite://"):]
	case hasPrefixFold(rawURL, "sqlite:"):
		target = rawURL[len("sqlite:"):]
	case !strings.Contains(rawURL, "://") && strings.HasSuffix(rawURL, ".db"):
		target = rawURL
	default:
		// The URL is not echoed back: it may hold a password.
		return "", "", errors.New("unsupported database URL: want sqlite:///path/unhidra.db, a path ending in .db, or postgres://…")
	}
	if target == "" || strings.ContainsAny(target, "?#") {
		return "", "", fmt.Errorf("invalid SQLite database path %q", target)
	}
	return EngineSQLite, target, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func (db *DB) openSQLite(ctx context.Context, path string, opts Options) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("sqlite path: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("sqlite directory: %w", err)
	}
	common := url.Values{
		"_busy_timeout": {fmt.Sprint(busyTimeout.Milliseconds())},
		"_foreign_keys": {"1"},
	}
	w := cloneValues(common)
	w.Set("_journal_mode", "WAL")
	// FULL syncs the WAL on every commit: an acknowledged write is durable
	// even across power loss, which NORMAL does not promise in WAL mode.
	w.Set("_synchronous", "FULL")
	// IMMEDIATE takes the write lock at BEGIN, not at the first write, so a
	// transaction that reads then writes cannot fail with SQLITE_BUSY midway.
	w.Set("_txlock", "immediate")
	// Deleted content is overwritten with zeros, not left in freed pages.
	w.Set("_pragma", "secure_delete(1)")
	r := cloneValues(common)
	// The read pool must never write, even by mistake.
	r.Set("_query_only", "1")

	db.dialect = sqliteDialect()
	db.path = path
	if db.writer, err = openSQLiteHandle(path, w); err != nil {
		return err
	}
	db.writer.SetMaxOpenConns(1)
	db.writer.SetMaxIdleConns(1)
	db.writer.SetConnMaxLifetime(0)
	db.writer.SetConnMaxIdleTime(0)
	// The writer connects first: it turns WAL on, which the readers rely on.
	if err := pingWhileBusy(ctx, db.writer); err != nil {
		db.writer.Close()
		return fmt.Errorf("sqlite %s: %w", path, err)
	}

	if db.reader, err = openSQLiteHandle(path, r); err != nil {
		db.writer.Close()
		return err
	}
	n := max(4, runtime.NumCPU())
	db.reader.SetMaxOpenConns(n)
	db.reader.SetMaxIdleConns(n)
	if err := db.reader.PingContext(ctx); err != nil {
		db.Close()
		return fmt.Errorf("sqlite %s: %w", path, err)
	}
	db.readStmts, db.writeStmts = newStmtCache(db.reader), newStmtCache(db.writer)
	db.eraser = newEraser(db.writer, opts.EraseDelay, db.logger)
	db.group = newGroupCommitter(db.writer, db.dialect, db.writeStmts, 256, db.eraser)
	db.logger.Debug("store opened", "engine", EngineSQLite, "path", path)
	return nil
}

// openSQLiteHandle opens a pool on path through a connector, which needs no
// global driver registration.
func openSQLiteHandle(path string, params url.Values) (*sql.DB, error) {
	// A file: URI percent-encodes the path, so no character in it can be
	// mistaken for the start of the parameters.
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: params.Encode()}).String()
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	return sql.OpenDB(c), nil
}

func cloneValues(v url.Values) url.Values {
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

func (db *DB) openPostgres(ctx context.Context, rawURL string) error {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		// pgx redacts passwords only on a best-effort basis; say less.
		return errors.New("invalid PostgreSQL URL")
	}
	db.dialect = postgresDialect()
	db.writer = stdlib.OpenDB(*cfg)
	db.writer.SetMaxOpenConns(max(8, 4*runtime.NumCPU()))
	db.writer.SetMaxIdleConns(max(8, 4*runtime.NumCPU()))
	db.writer.SetConnMaxIdleTime(5 * time.Minute)
	db.reader = db.writer
	if err := db.writer.PingContext(ctx); err != nil {
		db.writer.Close()
		return fmt.Errorf("postgres %s/%s: %w", cfg.Host, cfg.Database, err)
	}
	db.logger.Debug("store opened", "engine", EnginePostgres, "host", cfg.Host, "database", cfg.Database)
	return nil
}

// Close closes every connection.
func (db *DB) Close() error {
	db.eraser.close()
	if db.group != nil {
		db.group.close()
	}
	for _, c := range []*stmtCache{db.readStmts, db.writeStmts} {
		if c != nil {
			c.close()
		}
	}
	var errs []error
	if db.reader != nil && db.reader != db.writer {
		errs = append(errs, db.reader.Close())
	}
	if db.writer != nil {
		errs = append(errs, db.writer.Close())
	}
	return errors.Join(errs...)
}

// Engine returns EngineSQLite or EnginePostgres.
func (db *DB) Engine() string { return db.dialect.name }

// Ping checks that the database answers, on both pools.
func (db *DB) Ping(ctx context.Context) error {
	if db.reader != db.writer {
		if err := db.reader.PingContext(ctx); err != nil {
			return fmt.Errorf("ping store: %w", err)
		}
	}
	if err := db.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// pingWhileBusy opens the first connection, retrying while the file is
// locked: switching a fresh database to WAL takes an exclusive lock for
// which SQLite does not always call its busy handler, so a second process
// opening the same file at that moment (admin migrate beside serve) would
// fail at once instead of waiting.
func pingWhileBusy(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != 5 /* SQLITE_BUSY */ || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
