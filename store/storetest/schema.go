package storetest

import (
	"testing"

	"github.com/unhidra/unhidra/store"
)

// Schema runs the cases of the core's schema handling as parallel subtests
// of t, with the same open as Accounts.
func Schema(t *testing.T, open func(t *testing.T) *store.DB) {
	cases := []struct {
		name string
		fn   func(t *testing.T, db *store.DB)
	}{
		{"Schema/MigrateTwiceIsNoop", testMigrateTwice},
		{"Schema/Ping", testPing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, open(t))
		})
	}
}

func testMigrateTwice(t *testing.T, db *store.DB) {
	ctx := t.Context()
	v, err := db.SchemaVersion(ctx)
	mustOK(t, err)
	if v < 1 {
		t.Fatalf("schema version of a migrated database = %d, want >= 1", v)
	}
	applied, err := db.Migrate(ctx)
	mustOK(t, err)
	if len(applied) != 0 {
		t.Fatalf("second Migrate applied %v, want nothing", applied)
	}
	v2, err := db.SchemaVersion(ctx)
	mustOK(t, err)
	if v2 != v {
		t.Fatalf("schema version after second Migrate = %d, want %d", v2, v)
	}
}

func testPing(t *testing.T, db *store.DB) {
	mustOK(t, db.Ping(t.Context()))
	if e := db.Engine(); e != store.EngineSQLite && e != store.EnginePostgres {
		t.Fatalf("Engine() = %q", e)
	}
}
