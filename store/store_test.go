package store_test

import (
	"testing"

	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/storetest"
)

// open returns a migrated database at url, closed when t ends.
func open(t testing.TB, url string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), url, store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	open := func(t *testing.T) *store.DB { return open(t, testenv.SQLiteURL(t)) }
	storetest.Schema(t, open)
	storetest.Accounts(t, open)
	storetest.SSO(t, open)
	storetest.Deletion(t, open)
	storetest.Chat(t, open)
	storetest.Settings(t, open)

	storetest.Keys(t, open)
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	// One database, one schema per case: creating a database costs about a
	// second, a schema milliseconds.
	dbURL := testenv.PostgresURL(t)
	open := func(t *testing.T) *store.DB { return open(t, testenv.PostgresSchemaURL(t, dbURL)) }
	storetest.Schema(t, open)
	storetest.Accounts(t, open)
	storetest.SSO(t, open)
	storetest.Deletion(t, open)
	storetest.Chat(t, open)
	storetest.Settings(t, open)

	storetest.Keys(t, open)
}
