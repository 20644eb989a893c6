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
	// contractAfter is 0 for an expand migration, which binaries that
	// predate it can run on, and K for a contract migration, which needs
	// every node to run a binary that knows migration K (see rollout).
	contractAfter int
}

// The rollout rule. Nodes are upgraded one at a time, so for a while
// binaries of two versions share one database, and the first new node has
// already migrated it. Every migration file therefore says, on a line of
// its own, which kind it is:
//
//	-- rollout: expand
//	-- rollout: contract after NNNN
//
// An expand migration only adds (tables, nullable or defaulted columns,
// indexes, triggers that keep added things in step, backfills): the code
// of the version before it keeps working on the new schema. The migration
// tests refuse in an expand migration anything that breaks an older
// binary: DROP of a table, column, view, trigger or function, RENAME,
// ALTER COLUMN, SET NOT NULL, a NOT NULL column without a DEFAULT and
// TRUNCATE. (Deleting rows is allowed: erasing what the delete rule says
// is gone breaks no older query.) A contract migration removes what an earlier
// expand replaced once no binary uses it: "after NNNN" names the oldest
// migration a binary must know to run on the result, which is recorded in
// schema_floor when the contract is applied. A binary that finds a schema
// newer than it knows runs on it, without migrating, unless the floor is
// above what it knows; then it refuses to start.
const rolloutPrefix = "-- rollout:"

// parseRollout reads the rollout line of a migration file.
func parseRollout(name, body string) (contractAfter int, err error) {
	for line := range strings.Lines(body) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), rolloutPrefix)
		if !ok {
			continue
		}
		switch f := strings.Fields(rest); {
		case len(f) == 1 && f[0] == "expand":
			return 0, nil
		case len(f) == 3 && f[0] == "contract" && f[1] == "after":
			k, err := strconv.Atoi(f[2])
			if err != nil || k <= 0 {
				break
			}
			return k, nil
		}
		return 0, fmt.Errorf("migrations: %s: %q: want %q or %q", name, strings.TrimSpace(line),
			rolloutPrefix+" expand", rolloutPrefix+" contract after NNNN")
	}
	return 0, fmt.Errorf("migrations: %s: no %q line (see the rollout rule in store/migrate.go)", name, rolloutPrefix)
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
		after, err := parseRollout(name, string(body))
		if err != nil {
			return nil, err
		}
		if after >= v {
			return nil, fmt.Errorf("migrations: %s: a contract must come after the migration it names (%d)", name, after)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body), contractAfter: after})
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

// checkVersion decides whether this binary may use a database at schema
// version v (read through c): yes when it knows v, and, during a rolling
// upgrade, when v is newer but no contract migration applied since needs
// more than this binary knows.
func (db *DB) checkVersion(ctx context.Context, c Conn, v int) error {
	latest := db.latestVersion()
	if v <= latest {
		return nil
	}
	floor, err := schemaFloor(ctx, c)
	if err != nil {
		return fmt.Errorf("schema floor: %w", err)
	}
	if floor > latest {
		return fmt.Errorf("database schema version %d needs a binary that knows migration %d, and this one knows %d: upgrade unhidra", v, floor, latest)
	}
	return nil
}

// schemaFloor returns the oldest migration a binary must know to use the
// database (0 when no contract migration was ever applied).
func schemaFloor(ctx context.Context, c Conn) (int, error) {
	var one int
	err := c.QueryRow(ctx, c.d.hasFloorTable).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	var v int
	if err := c.QueryRow(ctx, `SELECT COALESCE(MAX(oldest_binary), 0) FROM schema_floor`).Scan(&v); err != nil {
		return 0, err
	}
	return v, nil
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
			if err := db.checkVersion(ctx, c, v); err != nil {
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
			if m.contractAfter > 0 {
				if _, err := c.Exec(ctx, c.d.createFloorTable); err != nil {
					return fmt.Errorf("create schema_floor: %w", err)
				}
				if _, err := c.Exec(ctx, `INSERT INTO schema_floor (oldest_binary, applied_at) VALUES (?, ?)`,
					m.contractAfter, Micros(time.Now())); err != nil {
					return err
				}
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
