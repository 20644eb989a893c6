// Package storetest is the contract suite of the stores: one suite per
// service store (Accounts for auth.Store, Chat for chat.Store), each
// pinning every behaviour its interface documents as a named test case,
// and Schema for the core's migrations. store's own tests run every suite on
// SQLite and on PostgreSQL, so both engines are held to exactly the same
// semantics.
package storetest

import (
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
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

// now is the suite's clock: fixed, UTC and microsecond-aligned, as the
// store returns times.
var now = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

func ptr[T any](v T) *T { return &v }

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := unhidra.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

// newUser creates a member with password hash "hash-<username>".
func newUser(t *testing.T, st auth.Store, username string) *unhidra.User {
	t.Helper()
	u := &unhidra.User{
		ID:          "u-" + username,
		Username:    username,
		DisplayName: "Display " + username,
		Role:        unhidra.RoleMember,
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	mustOK(t, st.CreateUser(t.Context(), u, "hash-"+username, auth.CreateUserOptions{Now: now}))
	return u
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
