package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/unhidra/unhidra"
)

// TableCount is how many rows CopyTo copied into one table.
type TableCount struct {
	Table string
	Rows  int64
}

// sqliteOnlyColumns are the columns of the SQLite schema that PostgreSQL
// does without, as table.column: messages.pk is the rowid alias the FTS5
// index refers to. Every other column must exist on both engines.
var sqliteOnlyColumns = map[string]bool{"messages.pk": true}

// copyProgressEvery is how many rows of one table pass between two
// progress reports.
const copyProgressEvery = 10000

// CopyTo copies every row of db, a SQLite database at this binary's latest
// schema version, into dst, an empty PostgreSQL database. dst gets its full
// schema from its own migrations, and the rows are copied table by table in
// foreign-key order with COPY, converting what the engines store
// differently (0/1 integers become booleans); derived data is not copied
// (the FTS5 tables: PostgreSQL computes each message's tsvector itself).
// Everything happens in one PostgreSQL transaction, so on any error dst is
// left as empty as it was. The rows are read in one SQLite read
// transaction, a consistent snapshot even while a server writes; writes
// after the snapshot are not copied. progress, if not nil, is called
// before each table (rows 0) and as rows go by.
func (db *DB) CopyTo(ctx context.Context, dst *DB, progress func(table string, rows int64)) ([]TableCount, error) {
	if progress == nil {
		progress = func(string, int64) {}
	}
	if db.dialect.name != EngineSQLite {
		return nil, unhidra.Errorf(unhidra.EInvalid, "the source of a data migration must be a SQLite database")
	}
	if dst.dialect.name != EnginePostgres {
		return nil, unhidra.Errorf(unhidra.EInvalid, "the target of a data migration must be a PostgreSQL database")
	}
	if v, err := db.SchemaVersion(ctx); err != nil {
		return nil, err
	} else if v != db.latestVersion() {
		return nil, unhidra.Errorf(unhidra.EInvalid,
			"the SQLite database has schema version %d, not %d: run `unhidra admin migrate` on it first", v, db.latestVersion())
	}

	src, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	defer src.Rollback()
	srcTables, err := sqliteTables(ctx, src)
	if err != nil {
		return nil, err
	}

	conn, err := dst.writer.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to the target: %w", err)
	}
	defer conn.Close()
	var counts []TableCount
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer tx.Rollback(ctx)
		if counts, err = dst.copyInto(ctx, tx, src, srcTables, progress); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
	return counts, err
}

// copyInto runs in the target's transaction: it checks that the target is
// empty, creates the schema and copies every table.
func (dst *DB) copyInto(ctx context.Context, tx pgx.Tx, src *sql.Tx, srcTables map[string]bool, progress func(string, int64)) ([]TableCount, error) {
	// Taken by every node's migrations too: no node can set the schema
	// up beside the copy.
	if _, err := tx.Exec(ctx, dst.dialect.migrationLock); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema()`).Scan(&n); err != nil {
		return nil, fmt.Errorf("inspect the target: %w", err)
	}
	if n > 0 {
		return nil, unhidra.Errorf(unhidra.EConflict,
			"the target PostgreSQL database is not empty (%d tables): migrate into a new, empty database", n)
	}
	if _, err := tx.Exec(ctx, dst.dialect.createMigrationsTable); err != nil {
		return nil, fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range dst.migrations {
		// The simple protocol runs a file of several statements.
		if _, err := tx.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			return nil, fmt.Errorf("migrate %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
			m.version, Micros(time.Now())); err != nil {
			return nil, fmt.Errorf("migrate %s: %w", m.name, err)
		}
	}

	tables, err := postgresTablesInOrder(ctx, tx)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		if !srcTables[t] {
			return nil, fmt.Errorf("table %s is missing from the SQLite database", t)
		}
		delete(srcTables, t)
	}
	if len(srcTables) > 0 {
		var extra []string
		for t := range srcTables {
			extra = append(extra, t)
		}
		sort.Strings(extra)
		return nil, fmt.Errorf("the SQLite database has tables PostgreSQL lacks: %s", strings.Join(extra, ", "))
	}

	var counts []TableCount
	for _, t := range tables {
		progress(t, 0)
		rows, err := copyTable(ctx, tx, src, t, progress)
		if err != nil {
			return nil, fmt.Errorf("copy %s: %w", t, err)
		}
		counts = append(counts, TableCount{Table: t, Rows: rows})
	}
	if err := advanceSequences(ctx, tx); err != nil {
		return nil, err
	}
	return counts, nil
}

// sqliteTables lists the SQLite database's data tables: not SQLite's own,
// not schema_migrations (the target has its own), and not the full-text
// index (a virtual table and its shadow tables), which is derived data.
func sqliteTables(ctx context.Context, src *sql.Tx) (map[string]bool, error) {
	rows, err := src.QueryContext(ctx, `SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	if err != nil {
		return nil, fmt.Errorf("list SQLite tables: %w", err)
	}
	defer rows.Close()
	all := map[string]bool{}
	var virtual []string
	for rows.Next() {
		var name, ddl string
		if err := rows.Scan(&name, &ddl); err != nil {
			return nil, err
		}
		all[name] = true
		if strings.HasPrefix(strings.ToUpper(ddl), "CREATE VIRTUAL TABLE") {
			virtual = append(virtual, name)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	delete(all, "schema_migrations")
	for _, v := range virtual {
		for name := range all {
			if name == v || strings.HasPrefix(name, v+"_") {
				delete(all, name)
			}
		}
	}
	return all, nil
}

// postgresTablesInOrder lists the tables of the target's schema (but
// schema_migrations) so that every table comes after those its foreign keys
// refer to, alphabetically otherwise.
func postgresTablesInOrder(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT tablename FROM pg_catalog.pg_tables
		WHERE schemaname = current_schema() AND tablename <> 'schema_migrations' ORDER BY tablename`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	rows, err = tx.Query(ctx, `SELECT c.conrelid::regclass::text, c.confrelid::regclass::text
		FROM pg_catalog.pg_constraint c JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace
		WHERE c.contype = 'f' AND n.nspname = current_schema()`)
	if err != nil {
		return nil, fmt.Errorf("list foreign keys: %w", err)
	}
	deps := map[string][]string{}
	var from, to string
	_, err = pgx.ForEachRow(rows, []any{&from, &to}, func() error {
		if from != to {
			deps[from] = append(deps[from], to)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list foreign keys: %w", err)
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string) error
	visit = func(t string) error {
		switch state[t] {
		case 1:
			return fmt.Errorf("foreign keys form a cycle through %s", t)
		case 2:
			return nil
		}
		state[t] = 1
		for _, d := range deps[t] {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[t] = 2
		order = append(order, t)
		return nil
	}
	for _, t := range names {
		if err := visit(t); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// pgColumn is a column of the target that COPY fills.
type pgColumn struct {
	name, dataType string
}

// copyTable copies one table's rows from the SQLite snapshot with COPY and
// checks that the target holds as many rows as the source.
func copyTable(ctx context.Context, tx pgx.Tx, src *sql.Tx, table string, progress func(string, int64)) (int64, error) {
	rows, err := tx.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER'
		ORDER BY ordinal_position`, table)
	if err != nil {
		return 0, err
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgColumn, error) {
		var c pgColumn
		err := r.Scan(&c.name, &c.dataType)
		return c, err
	})
	if err != nil {
		return 0, err
	}

	srcCols := map[string]bool{}
	// The table name comes from the target's catalog, never from input.
	srows, err := src.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return 0, err
	}
	for srows.Next() {
		var name string
		if err := srows.Scan(&name); err != nil {
			srows.Close()
			return 0, err
		}
		srcCols[name] = true
	}
	srows.Close()
	if err := srows.Err(); err != nil {
		return 0, err
	}
	names := make([]string, len(cols))
	quoted := make([]string, len(cols))
	for i, c := range cols {
		if !srcCols[c.name] {
			return 0, fmt.Errorf("column %s is missing from the SQLite table", c.name)
		}
		delete(srcCols, c.name)
		names[i], quoted[i] = c.name, pgx.Identifier{c.name}.Sanitize()
	}
	for c := range srcCols {
		if !sqliteOnlyColumns[table+"."+c] {
			return 0, fmt.Errorf("the SQLite table has column %s, which PostgreSQL lacks", c)
		}
	}

	var want int64
	if err := src.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&want); err != nil {
		return 0, err
	}
	srows, err = src.QueryContext(ctx, `SELECT `+strings.Join(quoted, ", ")+` FROM `+pgx.Identifier{table}.Sanitize())
	if err != nil {
		return 0, err
	}
	defer srows.Close()
	source := &sqliteRows{rows: srows, cols: cols, table: table, progress: progress,
		vals: make([]any, len(cols)), ptrs: make([]any, len(cols))}
	for i := range source.vals {
		source.ptrs[i] = &source.vals[i]
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, names, source)
	if err != nil {
		return 0, err
	}
	if n != want {
		return 0, fmt.Errorf("copied %d rows of %d", n, want)
	}
	var got int64
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&got); err != nil {
		return 0, err
	}
	if got != want {
		return 0, fmt.Errorf("the target holds %d rows of %d", got, want)
	}
	return n, nil
}

// sqliteRows is a pgx.CopyFromSource over a SQLite query, converting each
// value to the type of its PostgreSQL column.
type sqliteRows struct {
	rows       *sql.Rows
	cols       []pgColumn
	table      string
	progress   func(string, int64)
	vals, ptrs []any
	out        []any
	n          int64
	err        error
}

func (s *sqliteRows) Next() bool {
	if !s.rows.Next() {
		return false
	}
	if err := s.rows.Scan(s.ptrs...); err != nil {
		s.err = err
		return false
	}
	out := make([]any, len(s.cols))
	for i, c := range s.cols {
		v, err := convertValue(s.vals[i], c.dataType)
		if err != nil {
			s.err = fmt.Errorf("column %s: %w", c.name, err)
			return false
		}
		out[i] = v
	}
	s.out = out
	s.n++
	if s.n%copyProgressEvery == 0 {
		s.progress(s.table, s.n)
	}
	return true
}

func (s *sqliteRows) Values() ([]any, error) { return s.out, nil }

func (s *sqliteRows) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}

// convertValue turns a value as SQLite's STRICT tables hold it (int64,
// float64, string, []byte or nil) into one for a PostgreSQL column of
// dataType (information_schema's name for it). Every type the PostgreSQL
// schema uses is listed: a new one fails the copy (and its test) until it
// is added here.
func convertValue(v any, dataType string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch dataType {
	case "boolean":
		if i, ok := v.(int64); ok && (i == 0 || i == 1) {
			return i == 1, nil
		}
	case "bigint", "integer", "smallint":
		if i, ok := v.(int64); ok {
			return i, nil
		}
	case "text", "character varying":
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	case "bytea":
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	default:
		return nil, fmt.Errorf("no conversion to PostgreSQL type %s", dataType)
	}
	return nil, fmt.Errorf("a %T value does not fit PostgreSQL type %s", v, dataType)
}

// advanceSequences moves every sequence that fills a column of the target
// past the largest value copied into it, so that the next row the server
// inserts gets a fresh number.
func advanceSequences(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')`)
	if err != nil {
		return fmt.Errorf("list sequences: %w", err)
	}
	type col struct{ table, column string }
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (col, error) {
		var c col
		err := r.Scan(&c.table, &c.column)
		return c, err
	})
	if err != nil {
		return fmt.Errorf("list sequences: %w", err)
	}
	for _, c := range cols {
		t, cn := pgx.Identifier{c.table}.Sanitize(), pgx.Identifier{c.column}.Sanitize()
		_, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), m, true)
			FROM (SELECT MAX(`+cn+`) AS m FROM `+t+`) x WHERE m IS NOT NULL`, t, c.column)
		if err != nil {
			return fmt.Errorf("advance the sequence of %s.%s: %w", c.table, c.column, err)
		}
	}
	return nil
}
