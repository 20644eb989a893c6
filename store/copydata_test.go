package store

import (
	"context"
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
