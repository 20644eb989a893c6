package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migration is one embedded SQL file, NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the engine's migrations in version order. Versions
// must start at 1 and have no gaps or duplicates, so that a typo in a file
// name fails every test rather than silently skipping a migration.
func loadMigrations(dir string) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migrations: %s: name must be NNNN_description.sql", name)
		}
		body, err := fs.ReadFile(migrationFiles, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations: %s: expected version %d", m.name, i+1)
		}
	}
	return ms, nil
}

func (db *DB) latestVersion() int {
	if len(db.migrations) == 0 {
		return 0
	}
	return db.migrations[len(db.migrations)-1].version
}

func (db *DB) checkVersion(v int) error {
	if v > db.latestVersion() {
		return fmt.Errorf("database schema version %d is newer than this binary knows (%d): upgrade unhidra", v, db.latestVersion())
	}
	return nil
}

// SchemaVersion returns the highest migration applied, 0 for an empty
// database.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, db.Read())
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

func schemaVersion(ctx context.Context, c Conn) (int, error) {
	var one int
	err := c.QueryRow(ctx, c.d.hasMigrationsTable).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	var v int
	if err := c.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, err
	}
	return v, nil
}

// Migrate applies the pending migrations in order, each in its own
// transaction together with its schema_migrations row, and returns the
// versions it applied. Running it again, or from several nodes at once,
// applies nothing twice.
func (db *DB) Migrate(ctx context.Context) (applied []int, err error) {
	for _, m := range db.migrations {
		var done bool
		err := db.InTx(ctx, func(c Conn) error {
			if c.d.migrationLock != "" {
				if _, err := c.Exec(ctx, c.d.migrationLock); err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			if _, err := c.Exec(ctx, c.d.createMigrationsTable); err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
			// Read under the lock: another node may have just applied it.
			v, err := schemaVersion(ctx, c)
			if err != nil {
				return err
			}
			if err := db.checkVersion(v); err != nil {
				return err
			}
			if v >= m.version {
				return nil
			}
			start := time.Now()
			// Straight to the driver: migration files are engine-specific
			// already and must not be rebound.
			if _, err := c.h.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			if _, err := c.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
				m.version, Micros(time.Now())); err != nil {
				return err
			}
			db.logger.Info("migration applied", "engine", db.dialect.name, "version", m.version,
				"name", m.name, "duration", time.Since(start))
			done = true
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("migrate %s: %w", m.name, err)
		}
		if done {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}
