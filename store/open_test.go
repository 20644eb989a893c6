package store

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/unhidra/unhidra/internal/testenv"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		in, engine, target string
		wantErr            bool
	}{
		{in: "sqlite:///var/lib/unhidra/unhidra.db", engine: EngineSQLite, target: "/var/lib/unhidra/unhidra.db"},
		{in: "sqlite://data/unhidra.db", engine: EngineSQLite, target: "data/unhidra.db"},
		{in: "SQLite:///x.db", engine: EngineSQLite, target: "/x.db"},
		{in: "sqlite:x.db", engine: EngineSQLite, target: "x.db"},
		{in: "./data/unhidra.db", engine: EngineSQLite, target: "./data/unhidra.db"},
		{in: "/abs/unhidra.db", engine: EngineSQLite, target: "/abs/unhidra.db"},
		{in: "postgres://u:p@h:5432/db?sslmode=disable", engine: EnginePostgres, target: "postgres://u:p@h:5432/db?sslmode=disable"},
		{in: "postgresql://h/db", engine: EnginePostgres, target: "postgresql://h/db"},
		{in: "mysql://h/db", wantErr: true},
		{in: "data/unhidra.sqlite", wantErr: true},
		{in: "sqlite://", wantErr: true},
		{in: "sqlite:///x.db?_pragma=foo", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			engine, target, err := parseURL(c.in)
			if c.wantErr {
				if err == nil {
					t.Fatalf("parseURL(%q) = %q, %q; want an error", c.in, engine, target)
				}
				return
			}
			if err != nil || engine != c.engine || target != c.target {
				t.Fatalf("parseURL(%q) = %q, %q, %v; want %q, %q", c.in, engine, target, err, c.engine, c.target)
			}
		})
	}
}

func TestOpenErrorHidesPassword(t *testing.T) {
	for _, u := range []string{"mysql://root:s3cret@h/db", "postgres://root:s3cret@h:notaport/db"} {
		_, err := Open(t.Context(), u, Options{})
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("Open(%q) error = %v", u, err)
		}
	}
}

func TestRebind(t *testing.T) {
	cases := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{`x LIKE ? ESCAPE '\' AND y = ?`, `x LIKE $1 ESCAPE '\' AND y = $2`},
		{"x = '?' AND y = ?", "x = '?' AND y = $1"},
		{"x = 'it''s ?' AND y = ?", "x = 'it''s ?' AND y = $1"},
	}
	for _, c := range cases {
		if got := postgresDialect().rebind(c.in); got != c.want {
			t.Errorf("rebind(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := sqliteDialect().rebind(c.in); got != c.in {
			t.Errorf("sqlite rebind(%q) = %q, want it unchanged", c.in, got)
		}
	}
}

func FuzzRebind(f *testing.F) {
	for _, s := range []string{"a = ? AND b = ?", `x LIKE ? ESCAPE '\'`, "'?'?", "'", "??"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got := postgresDialect().rebind(q)
		// Undoing the numbering must give the query back.
		var b strings.Builder
		quoted := false
		for i := 0; i < len(got); i++ {
			c := got[i]
			if c == '\'' {
				quoted = !quoted
			}
			if c == '$' && !quoted {
				j := i + 1
				for j < len(got) && got[j] >= '0' && got[j] <= '9' {
					j++
				}
				if j > i+1 {
					b.WriteByte('?')
					i = j - 1
					continue
				}
			}
			b.WriteByte(c)
		}
		if !strings.Contains(q, "$") && b.String() != q {
			t.Fatalf("rebind(%q) = %q, which does not map back", q, got)
		}
	})
}

func TestSQLiteSettings(t *testing.T) {
	db, err := Open(t.Context(), testenv.SQLiteURL(t), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	pragma := func(h *sql.DB, name string) string {
		t.Helper()
		var v string
		if err := h.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		return v
	}
	for _, c := range []struct {
		handle string
		h      *sql.DB
		name   string
		want   string
	}{
		{"writer", db.writer, "journal_mode", "wal"},
		{"writer", db.writer, "synchronous", "2"}, // FULL
		{"writer", db.writer, "foreign_keys", "1"},
		{"writer", db.writer, "busy_timeout", "5000"},
		{"writer", db.writer, "query_only", "0"},
		{"writer", db.writer, "secure_delete", "1"},
		{"reader", db.reader, "journal_mode", "wal"},
		{"reader", db.reader, "foreign_keys", "1"},
		{"reader", db.reader, "busy_timeout", "5000"},
		{"reader", db.reader, "query_only", "1"},
	} {
		if got := pragma(c.h, c.name); got != c.want {
			t.Errorf("%s: PRAGMA %s = %s, want %s", c.handle, c.name, got, c.want)
		}
	}
	if n := db.writer.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("writer MaxOpenConnections = %d, want 1", n)
	}
	if _, err := db.reader.ExecContext(ctx, "DELETE FROM invites"); err == nil {
		t.Error("the read pool accepted a write")
	}
}

// TestSQLiteBeginImmediate checks that a write transaction holds the write
// lock from BEGIN, before it has written anything.
func TestSQLiteBeginImmediate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := Open(t.Context(), path, Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A second writer that does not wait for locks.
	other, err := openSQLiteHandle(path, url.Values{"_busy_timeout": {"0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	err = db.InTx(t.Context(), func(c Conn) error {
		_, err := other.ExecContext(t.Context(), "DELETE FROM invites")
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY {
			t.Errorf("write from another connection during an empty transaction: %v, want SQLITE_BUSY", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// engines opens a fresh, unmigrated database URL per engine.
func engines() map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		EngineSQLite:   func(t *testing.T) string { return testenv.SQLiteURL(t) },
		EnginePostgres: func(t *testing.T) string { return testenv.PostgresURL(t) },
	}
}

func TestMigrations(t *testing.T) {
	for engine, newURL := range engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			u := newURL(t)

			t.Run("without Migrate the schema is left alone", func(t *testing.T) {
				db, err := Open(ctx, u, Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if db.Engine() != engine {
					t.Fatalf("Engine() = %q, want %q", db.Engine(), engine)
				}
				if v, err := db.SchemaVersion(ctx); err != nil || v != 0 {
					t.Fatalf("SchemaVersion = %d, %v; want 0", v, err)
				}
				applied, err := db.Migrate(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(applied) != len(db.migrations) || applied[0] != 1 {
					t.Fatalf("Migrate applied %v, want every migration", applied)
				}
				if v, err := db.SchemaVersion(ctx); err != nil || v != db.latestVersion() {
					t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, db.latestVersion())
				}
			})

			t.Run("a newer schema opens unless contracted past this binary", func(t *testing.T) {
				db, err := Open(ctx, u, Options{Migrate: true})
				if err != nil {
					t.Fatal(err)
				}
				next := db.latestVersion() + 1
				_, err = db.Write().Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, next)
				db.Close()
				if err != nil {
					t.Fatal(err)
				}
				// Only expand migrations since: a rolling upgrade, run on it.
				for _, migrate := range []bool{false, true} {
					db, err := Open(ctx, u, Options{Migrate: migrate})
					if err != nil {
						t.Fatalf("Open(Migrate: %v) of a newer, expanded schema: %v", migrate, err)
					}
					db.Close()
				}
				// A contract that needs code this binary does not have.
				db, err = Open(ctx, u, Options{})
				if err != nil {
					t.Fatal(err)
				}
				w := db.Write()
				if _, err = w.Exec(ctx, w.d.createFloorTable); err == nil {
					_, err = w.Exec(ctx, `INSERT INTO schema_floor (oldest_binary, applied_at) VALUES (?, 0)`, next)
				}
				db.Close()
				if err != nil {
					t.Fatal(err)
				}
				for _, migrate := range []bool{false, true} {
					db, err := Open(ctx, u, Options{Migrate: migrate})
					if err == nil {
						db.Close()
						t.Fatalf("Open(Migrate: %v) of a schema contracted past this binary succeeded", migrate)
					}
					if !strings.Contains(err.Error(), "needs a binary that knows migration") {
						t.Fatalf("Open(Migrate: %v) = %v, want a schema-too-new error", migrate, err)
					}
				}
			})
		})
	}
}

// TestMigrateConcurrently starts several nodes at once on one empty database:
// each migration must be applied exactly once and every node must open.
func TestMigrateConcurrently(t *testing.T) {
	for engine, newURL := range engines() {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			u := newURL(t)
			const nodes = 4
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				applied []int
			)
			for range nodes {
				wg.Go(func() {
					db, err := Open(context.Background(), u, Options{})
					if err != nil {
						t.Error(err)
						return
					}
					defer db.Close()
					a, err := db.Migrate(t.Context())
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					applied = append(applied, a...)
					mu.Unlock()
				})
			}
			wg.Wait()
			if len(applied) != len(sqliteDialectMigrations(t)) {
				t.Fatalf("migrations applied %v across %d nodes, want each once", applied, nodes)
			}
		})
	}
}

func sqliteDialectMigrations(t *testing.T) []migration {
	t.Helper()
	ms, err := loadMigrations(sqliteDialect().migrationsDir)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// TestMigrationsMatch keeps the two engines' migration sets in step.
func TestMigrationsMatch(t *testing.T) {
	lite := sqliteDialectMigrations(t)
	pg, err := loadMigrations(postgresDialect().migrationsDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) != len(pg) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL migrations", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].name != pg[i].name {
			t.Errorf("migration %d: %s on SQLite, %s on PostgreSQL", i+1, lite[i].name, pg[i].name)
		}
	}
}
