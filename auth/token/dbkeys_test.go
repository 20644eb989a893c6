package token_test

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra/auth/seal"
	"github.com/unhidra/unhidra/auth/token"
	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/keystore"
)

// The database-backed key set, on both engines: several KeySets over one
// database stand for several nodes.

var dbT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openDB(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), url, store.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// engines runs fn on a fresh SQLite database and a fresh PostgreSQL schema.
func engines(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, openDB(t, testenv.SQLiteURL(t)))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, openDB(t, testenv.PostgresURL(t)))
	})
}

func node(t *testing.T, db *store.DB, kek *seal.Key, now time.Time, opts token.DBOptions) *token.KeySet {
	t.Helper()
	ks, err := token.OpenDB(t.Context(), keystore.New(db), kek, now, opts)
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	return ks
}

func issuerAt(t *testing.T, ks *token.KeySet, now *time.Time) *token.Issuer {
	t.Helper()
	is, err := token.NewIssuer(token.Config{Keys: ks, Issuer: "https://chat.example.test", Audience: "unhidra",
		Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func issueTok(t *testing.T, is *token.Issuer) string {
	t.Helper()
	tok, _, err := is.Issue(token.Claims{UserID: "u", SessionID: "s", Role: "member"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func storedKeys(t *testing.T, db *store.DB) []token.StoredKey {
	t.Helper()
	rows, err := keystore.New(db).SigningKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestDBKeySetShared: two nodes on one database sign and verify with the
// same keys; a rotation on one is accepted by the other at once, and
// adopted by it at its next refresh; pruning deletes rows.
func TestDBKeySetShared(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		kek, _ := seal.Generate()
		opts := token.DBOptions{KeyOptions: token.KeyOptions{RetainFor: 2 * time.Hour}}
		now := dbT0
		a := node(t, db, kek, now, opts)
		b := node(t, db, kek, now.Add(time.Second), opts)
		if a.ActiveKeyID() != b.ActiveKeyID() {
			t.Fatalf("the second node made its own key: %s vs %s", a.ActiveKeyID(), b.ActiveKeyID())
		}
		rows := storedKeys(t, db)
		if len(rows) != 1 || rows[0].Generation != 1 || !rows[0].CreatedAt.Equal(dbT0) {
			t.Fatalf("stored keys %+v", rows)
		}
		if _, err := x509.ParsePKCS8PrivateKey(rows[0].Sealed); err == nil {
			t.Fatal("the stored key is not sealed")
		}
		ia, ib := issuerAt(t, a, &now), issuerAt(t, b, &now)
		if _, err := ib.Verify(issueTok(t, ia)); err != nil {
			t.Fatalf("node b refused node a's token: %v", err)
		}

		now = dbT0.Add(time.Minute)
		old := a.ActiveKeyID()
		if err := a.Rotate(t.Context(), now); err != nil {
			t.Fatal(err)
		}
		if a.ActiveKeyID() == old {
			t.Fatal("rotation kept the key")
		}
		fresh := issueTok(t, ia)
		// b has not refreshed: the unknown kid makes it look.
		if _, err := ib.Verify(fresh); err != nil {
			t.Fatalf("node b refused a token of node a's new key: %v", err)
		}
		if b.ActiveKeyID() != a.ActiveKeyID() {
			t.Fatal("node b does not sign with the new key after reloading")
		}
		if got := len(b.Keys()); got != 2 {
			t.Fatalf("node b knows %d keys, want 2", got)
		}

		// Past the retention of the old key, a due check prunes its row.
		now = dbT0.Add(3 * time.Hour)
		if _, err := b.RotateIfDue(t.Context(), now); err != nil {
			t.Fatal(err)
		}
		rows = storedKeys(t, db)
		if len(rows) != 1 || rows[0].ID != a.ActiveKeyID() || rows[0].Generation != 2 {
			t.Fatalf("after pruning: %+v", rows)
		}
		if err := a.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := len(a.Keys()); got != 1 {
			t.Fatalf("node a still knows %d keys after refreshing", got)
		}
		if _, err := ib.Verify(issueTok(t, ia)); err != nil {
			t.Fatalf("the active key's token: %v", err)
		}
	})
}

// TestDBKeySetStaleSigner: a node that has not refreshed yet signs with the
// key another node has just retired; its tokens still verify everywhere
// within the refresh interval, and not after.
func TestDBKeySetStaleSigner(t *testing.T) {
	db := openDB(t, testenv.SQLiteURL(t))
	kek, _ := seal.Generate()
	opts := token.DBOptions{RefreshEvery: time.Minute}
	now := dbT0
	a := node(t, db, kek, now, opts)
	b := node(t, db, kek, now, opts)
	ia, ib := issuerAt(t, a, &now), issuerAt(t, b, &now)
	now = dbT0.Add(time.Hour)
	if err := a.Rotate(t.Context(), now); err != nil {
		t.Fatal(err)
	}
	now = now.Add(50 * time.Second) // b's next refresh is not due yet
	stale := issueTok(t, ib)
	if _, err := ia.Verify(stale); err != nil {
		t.Fatalf("a token of the stale node: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := ia.Verify(issueTok(t, ib)); err == nil {
		t.Fatal("a token signed with the retired key long after its retirement verified")
	}
}

func TestDBKeySetWrongKEK(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		kek, _ := seal.Generate()
		node(t, db, kek, dbT0, token.DBOptions{})
		other, _ := seal.Generate()
		_, err := token.OpenDB(t.Context(), keystore.New(db), other, dbT0, token.DBOptions{})
		if !errors.Is(err, token.ErrKeyEncryptionKey) {
			t.Fatalf("OpenDB with another KEK: %v, want ErrKeyEncryptionKey", err)
		}
	})
}

// TestDBKeySetSwappedRows: a sealed key moved to another row (another kid)
// does not open, even with the right KEK.
func TestDBKeySetSwappedRows(t *testing.T) {
	db := openDB(t, testenv.SQLiteURL(t))
	kek, _ := seal.Generate()
	ks := node(t, db, kek, dbT0, token.DBOptions{})
	if err := ks.Rotate(t.Context(), dbT0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	rows := storedKeys(t, db)
	if len(rows) != 2 {
		t.Fatalf("%d keys", len(rows))
	}
	for i, r := range rows {
		other := rows[1-i].Sealed
		if _, err := db.Write().Exec(t.Context(), `UPDATE signing_keys SET sealed = ? WHERE kid = ?`, other, r.ID); err != nil {
			t.Fatal(err)
		}
	}
	_, err := token.OpenDB(t.Context(), keystore.New(db), kek, dbT0.Add(2*time.Minute), token.DBOptions{})
	if !errors.Is(err, token.ErrKeyEncryptionKey) {
		t.Fatalf("OpenDB over swapped rows: %v", err)
	}
}

// TestDBKeySetConcurrentRotation: nodes finding the key due at the same
// moment on one PostgreSQL database end with one new active key.
func TestDBKeySetConcurrentRotation(t *testing.T) {
	db := openDB(t, testenv.PostgresURL(t))
	kek, _ := seal.Generate()
	opts := token.DBOptions{KeyOptions: token.KeyOptions{RotateEvery: time.Hour}}
	const nodes = 4
	sets := make([]*token.KeySet, nodes)
	for i := range sets {
		sets[i] = node(t, db, kek, dbT0, opts)
	}
	due := dbT0.Add(2 * time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for _, ks := range sets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rotated, err := ks.RotateIfDue(context.Background(), due)
			if err != nil {
				t.Error(err)
			}
			if rotated {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if winners != 1 {
		t.Errorf("%d nodes rotated, want exactly 1", winners)
	}
	rows := storedKeys(t, db)
	if len(rows) != 2 {
		t.Fatalf("stored keys after concurrent rotation: %d, want 2", len(rows))
	}
	for i, ks := range sets {
		if ks.ActiveKeyID() != rows[1].ID {
			t.Errorf("node %d signs with %s, not the winner %s", i, ks.ActiveKeyID(), rows[1].ID)
		}
	}
}

// TestDBKeySetImportsLegacyDir: keys of a key directory of an earlier
// version move into an empty database, so its tokens keep verifying.
func TestDBKeySetImportsLegacyDir(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		dir := filepath.Join(t.TempDir(), "keys")
		now := dbT0
		old, err := token.LoadOrCreate(dir, now, token.KeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Rotate(t.Context(), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		now = dbT0.Add(2 * time.Minute)
		before := issueTok(t, issuerAt(t, old, &now))

		kek, _ := seal.Generate()
		ks := node(t, db, kek, now, token.DBOptions{LegacyDir: dir})
		if ks.ActiveKeyID() != old.ActiveKeyID() || len(ks.Keys()) != 2 {
			t.Fatalf("imported %+v, want the directory's two keys with %s active", ks.Keys(), old.ActiveKeyID())
		}
		if _, err := issuerAt(t, ks, &now).Verify(before); err != nil {
			t.Fatalf("a token from before the upgrade: %v", err)
		}
		// Once the database has keys, the directory is not read again.
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		again := node(t, db, kek, now, token.DBOptions{LegacyDir: dir})
		if again.ActiveKeyID() != ks.ActiveKeyID() {
			t.Fatal("a restart changed the key")
		}
	})
}
