package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/unhidra/unhidra"
)

// Backup writes a consistent copy of a SQLite database to path (which must
// not exist) while the server keeps running: VACUUM INTO reads one snapshot
// on a connection of its own, so writers are not held up, and the copy is
// compact and holds no free pages (no remnants of deleted content). The
// file is created owner-only. PostgreSQL is backed up with pg_dump (see
// docs/operations.md), not here.
func (db *DB) Backup(ctx context.Context, path string) error {
	if db.path == "" {
		return unhidra.Errorf(unhidra.EInvalid, "backup copies SQLite databases; for PostgreSQL use pg_dump (docs/operations.md)")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err == nil {
		return unhidra.Errorf(unhidra.EConflict, "%s exists already; choose a new file", abs)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	h, err := openSQLiteHandle(db.path, url.Values{"_busy_timeout": {fmt.Sprint(busyTimeout.Milliseconds())}})
	if err != nil {
		return err
	}
	defer h.Close()
	h.SetMaxOpenConns(1)
	// Created empty and owner-only first, so the copy is never readable by others.
	f, err := os.OpenFile(abs, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	os.Remove(abs) // VACUUM INTO wants to create the file itself
	if _, err := h.ExecContext(ctx, "VACUUM INTO ?", abs); err != nil {
		os.Remove(abs)
		return fmt.Errorf("backup to %s: %w", abs, err)
	}
	if err := os.Chmod(abs, 0o600); err != nil {
		return err
	}
	return checkSQLiteFile(ctx, abs)
}

// checkSQLiteFile opens a database file read-only and runs SQLite's
// integrity check on it.
func checkSQLiteFile(ctx context.Context, path string) error {
	h, err := openSQLiteHandle(path, url.Values{"mode": {"ro"}})
	if err != nil {
		return err
	}
	defer h.Close()
	var res string
	if err := h.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("%s is not a readable SQLite database: %w", path, err)
	}
	if res != "ok" {
		return fmt.Errorf("%s fails SQLite's integrity check: %s", path, res)
	}
	return nil
}

// RestoreSQLite replaces the SQLite database at target with the backup at
// from. The server must be stopped: restore refuses when another process
// holds the database. The backup is checked (integrity, and a schema this
// binary knows) before anything is touched, copied next to the target,
// synced, and renamed into place; the target's old write-ahead log goes
// with it.
func RestoreSQLite(ctx context.Context, from, target string) error {
	if err := checkSQLiteFile(ctx, from); err != nil {
		return err
	}
	known, err := loadMigrations(sqliteDialect().migrationsDir)
	if err != nil {
		return err
	}
	if v, err := backupVersion(ctx, from); err != nil {
		return err
	} else if v == 0 || v > len(known) {
		return fmt.Errorf("%s has schema version %d; this unhidra knows versions 1 to %d", from, v, len(known))
	}
	if _, err := os.Stat(target); err == nil {
		if err := notInUse(ctx, target); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return err
	}
	tmp := target + ".restore"
	if err := copyFile(from, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(target + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return os.Rename(tmp, target)
}

func backupVersion(ctx context.Context, path string) (int, error) {
	h, err := openSQLiteHandle(path, url.Values{"mode": {"ro"}})
	if err != nil {
		return 0, err
	}
	defer h.Close()
	var v sql.NullInt64
	if err := h.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("%s is not an unhidra database: %w", path, err)
	}
	return int(v.Int64), nil
}

// notInUse fails when another process (a running server) has the
// database open. Leaving WAL mode needs the only connection to the file,
// so a database that stays in WAL mode has someone else on it. (The file
// is about to be replaced, so changing its journal mode costs nothing.)
func notInUse(ctx context.Context, path string) error {
	h, err := openSQLiteHandle(path, url.Values{"_busy_timeout": {"0"}})
	if err != nil {
		return err
	}
	defer h.Close()
	var mode string
	err = h.QueryRowContext(ctx, "PRAGMA journal_mode=DELETE").Scan(&mode)
	if err != nil || !strings.EqualFold(mode, "delete") {
		return fmt.Errorf("the database %s is in use: stop the server before restoring", path)
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := out.ReadFrom(in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
