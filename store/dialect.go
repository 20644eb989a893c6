package store

import (
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Engine names returned by (*DB).Engine.
const (
	EngineSQLite   = "sqlite"
	EnginePostgres = "postgres"
)

// dialect is everything that differs between the engines. Queries are written
// once, in the common subset of SQLite and PostgreSQL, with ? placeholders;
// the dialect rewrites the placeholders and supplies the few statements that
// have no common spelling.
type dialect struct {
	name string
	// numbered placeholders: PostgreSQL wants $1, $2, … instead of ?.
	numbered bool
	// migrationsDir is the directory of embedded migrations for the engine.
	migrationsDir string
	// createMigrationsTable creates schema_migrations if it is missing.
	createMigrationsTable string
	// hasMigrationsTable returns one row if schema_migrations exists.
	hasMigrationsTable string
	// createFloorTable creates schema_floor (the rollout rule's floor, one
	// row per contract migration applied) if it is missing;
	// hasFloorTable returns one row if it exists.
	createFloorTable, hasFloorTable string
	// migrationLock, when set, runs first in every migration transaction so
	// that two nodes starting at once against one database apply each
	// migration once. SQLite needs none: the writer's BEGIN IMMEDIATE already
	// excludes every other writer.
	migrationLock string
	// lockTable, when set, is the statement of Conn.LockTable with %s for
	// the table. Under READ COMMITTED two concurrent transactions that check
	// a table and then insert into it (two registrations that both see no
	// admin) would both insert; locking the table against writers
	// serializes the check with every other write. SQLite's single writer
	// already does, so it needs none.
	lockTable string
	// forUpdate is appended to a SELECT of one row to lock it (Conn.ForUpdate).
	forUpdate string
	// skipLocked is appended to a SELECT that picks one of several rows a
	// transaction then takes (Conn.SkipLocked).
	skipLocked string
	// matchPhrases is Conn.MatchPhrases for the engine, given at least
	// one term; countPhrases gives the FROM source and condition of
	// Conn.CountPhraseMatches, and matchPhrasesIn is Conn.MatchPhrasesIn.
	matchPhrases   func(ix TextIndex, terms []string) (join, where string, args []any)
	countPhrases   func(ix TextIndex, terms []string) (from, where string, args []any)
	matchPhrasesIn func(ix TextIndex, terms []string, rows string) (key, test string, args []any)
	// inList is Conn.InList (filterOnly false) and Conn.FilterInList.
	inList func(expr string, values []string, filterOnly bool) (cond string, arg any)
}

// The dialects are returned by functions rather than held in package
// variables so that nothing at package level can be mutated.

func sqliteDialect() *dialect {
	return &dialect{
		name:                  EngineSQLite,
		migrationsDir:         "migrations/sqlite",
		createMigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`,
		hasMigrationsTable:    `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`,
		createFloorTable:      `CREATE TABLE IF NOT EXISTS schema_floor (oldest_binary INTEGER NOT NULL, applied_at INTEGER NOT NULL) STRICT`,
		hasFloorTable:         `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_floor'`,
		matchPhrases:          fts5Phrases,
		countPhrases:          fts5Count,
		matchPhrasesIn:        fts5PhrasesIn,
		inList:                sqliteInList,
	}
}

func postgresDialect() *dialect {
	return &dialect{
		name:                  EnginePostgres,
		numbered:              true,
		migrationsDir:         "migrations/postgres",
		createMigrationsTable: `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)`,
		hasMigrationsTable:    `SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations'`,
		createFloorTable:      `CREATE TABLE IF NOT EXISTS schema_floor (oldest_binary INTEGER NOT NULL, applied_at BIGINT NOT NULL)`,
		hasFloorTable:         `SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_floor'`,
		// An arbitrary constant key ("unhidra" in ASCII) shared by every node.
		migrationLock:  `SELECT pg_advisory_xact_lock(33053966998991457)`,
		lockTable:      `LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE`,
		forUpdate:      ` FOR UPDATE`,
		skipLocked:     ` FOR UPDATE SKIP LOCKED`,
		matchPhrases:   tsqueryPhrases,
		countPhrases:   tsqueryCount,
		matchPhrasesIn: tsqueryPhrasesIn,
		inList:         postgresInList,
	}
}

// rebind rewrites the ? placeholders of query for the engine. Placeholders
// inside single-quoted literals are left alone, so `ESCAPE '\'` and the like
// survive.
func (d *dialect) rebind(query string) string {
	if !d.numbered || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n, quoted := 0, false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			// A doubled quote inside a literal toggles twice: still quoted.
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// violation is the kind of integrity constraint an error reports.
type violation int

const (
	noViolation violation = iota
	uniqueViolation
	foreignKeyViolation
)

// violationOf classifies a driver error by its error code, never by its
// message text. Each driver has its own error type, so one function serves
// both engines.
func violationOf(err error) violation {
	var se *sqlite.Error
	if errors.As(err, &se) {
		// The driver turns extended result codes on, so Code carries them.
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return uniqueViolation
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return foreignKeyViolation
		}
		return noViolation
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return uniqueViolation
		case "23503": // foreign_key_violation
			return foreignKeyViolation
		}
	}
	return noViolation
}

// IsUniqueViolation reports whether err is a unique or primary-key
// constraint violation, on either engine.
func IsUniqueViolation(err error) bool { return violationOf(err) == uniqueViolation }

// IsForeignKeyViolation reports whether err is a foreign-key constraint
// violation, on either engine.
func IsForeignKeyViolation(err error) bool { return violationOf(err) == foreignKeyViolation }
