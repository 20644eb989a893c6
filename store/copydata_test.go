package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/internal/testenv"
)

func TestConvertValue(t *testing.T) {
	for _, c := range []struct {
		in       any
		dataType string
		want     any
	}{
		{int64(1), "boolean", true},
		{int64(0), "boolean", false},
		{int64(42), "bigint", int64(42)},
		{"x", "text", "x"},
		{[]byte("x"), "text", "x"},
		{[]byte{0, 1}, "bytea", []byte{0, 1}},
		{nil, "boolean", nil},
	} {
		got, err := convertValue(c.in, c.dataType)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("convertValue(%v, %s) = %v, %v; want %v", c.in, c.dataType, got, err, c.want)
		}
	}
	for _, c := range []struct {
		in       any
		dataType string
	}{
		{int64(2), "boolean"}, // not a 0/1 boolean
		{"1", "bigint"},
		{int64(1), "text"},
		{"x", "jsonb"}, // a type the copy does not know
	} {
		if _, err := convertValue(c.in, c.dataType); err == nil {
			t.Errorf("convertValue(%v, %s) accepted", c.in, c.dataType)
		}
	}
}

// The engines are checked before anything is read or written, and the
// full-text index is not among the tables to copy.
func TestCopyToChecksEnginesAndSkipsDerivedTables(t *testing.T) {
	ctx := context.Background()
	lite, err := Open(ctx, testenv.SQLiteURL(t), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	lite2, err := Open(ctx, testenv.SQLiteURL(t), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer lite2.Close()
	pg, err := Open(ctx, testenv.PostgresURL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if _, err := pg.CopyTo(ctx, lite, nil); err == nil || !strings.Contains(err.Error(), "source") {
		t.Fatalf("PostgreSQL source: %v", err)
	}
	if _, err := lite.CopyTo(ctx, lite2, nil); err == nil || !strings.Contains(err.Error(), "target") {
		t.Fatalf("SQLite target: %v", err)
	}
	if v, err := pg.SchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("the refusals touched the target: %d %v", v, err)
	}

	tx, err := lite.reader.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	tables, err := sqliteTables(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	for name := range tables {
		if strings.HasPrefix(name, "messages_fts") || name == "schema_migrations" {
			t.Errorf("%s is among the tables to copy", name)
		}
	}
	if !tables["messages"] || !tables["users"] {
		t.Fatalf("tables to copy: %v", tables)
	}
}

// A table of more rows than one progress step is copied whole, with
// progress along the way, and the copy's checks pass on the target.
func TestCopyToManyRows(t *testing.T) {
	ctx := context.Background()
	lite, err := Open(ctx, testenv.SQLiteURL(t), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	const n = 2*copyProgressEvery + 123
	err = lite.InTx(ctx, func(c Conn) error {
		for i := range n {
			id := fmt.Sprintf("u%05d", i)
			if _, err := c.Exec(ctx, `INSERT INTO users (id, username, username_lower, role, disabled, password_hash, created_at, updated_at)
				VALUES (?, ?, ?, 'member', ?, 'x', ?, ?)`, id, id, id, i%2, i, i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pg, err := Open(ctx, testenv.PostgresURL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	var steps []int64
	counts, err := lite.CopyTo(ctx, pg, func(table string, rows int64) {
		if table == "users" {
			steps = append(steps, rows)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(steps, []int64{0, copyProgressEvery, 2 * copyProgressEvery}) {
		t.Fatalf("progress of users: %v", steps)
	}
	for _, c := range counts {
		if want := map[string]int64{"users": n}[c.Table]; c.Rows != want {
			t.Errorf("%s: %d rows copied, want %d", c.Table, c.Rows, want)
		}
	}
	var disabled int
	if err := pg.Read().QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE disabled`).Scan(&disabled); err != nil || disabled != n/2 {
		t.Fatalf("disabled users on the target: %d %v", disabled, err)
	}
	if v, err := pg.SchemaVersion(ctx); err != nil || v != pg.latestVersion() {
		t.Fatalf("target schema version %d %v", v, err)
	}
}
