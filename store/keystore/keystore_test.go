package keystore_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/unhidra/unhidra/auth/token"
	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/keystore"
)

func engines(t *testing.T, fn func(t *testing.T, ks *keystore.Store)) {
	for name, url := range map[string]func(testing.TB) string{"sqlite": testenv.SQLiteURL, "postgres": testenv.PostgresURL} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db, err := store.Open(t.Context(), url(t), store.Options{Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			fn(t, keystore.New(db))
		})
	}
}

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// TestSecrets: the first secret of a name stays; later adds report false.
func TestSecrets(t *testing.T) {
	engines(t, func(t *testing.T, ks *keystore.Store) {
		ctx := t.Context()
		if _, ok, err := ks.Secret(ctx, "device-token-key"); ok || err != nil {
			t.Fatalf("Secret of an empty table = %v, %v", ok, err)
		}
		if added, err := ks.AddSecret(ctx, "device-token-key", []byte("first"), now); !added || err != nil {
			t.Fatalf("AddSecret = %v, %v", added, err)
		}
		if added, err := ks.AddSecret(ctx, "device-token-key", []byte("second"), now); added || err != nil {
			t.Fatalf("second AddSecret = %v, %v", added, err)
		}
		if got, ok, err := ks.Secret(ctx, "device-token-key"); !ok || err != nil || !bytes.Equal(got, []byte("first")) {
			t.Fatalf("Secret = %q, %v, %v", got, ok, err)
		}
	})
}

// TestSigningKeys: a generation is stored once, an older generation is
// refused once a newer one exists, and deletes are by kid.
func TestSigningKeys(t *testing.T) {
	engines(t, func(t *testing.T, ks *keystore.Store) {
		ctx := t.Context()
		add := func(id string, gen int64) bool {
			t.Helper()
			added, err := ks.AddSigningKey(ctx, token.StoredKey{ID: id, Generation: gen, CreatedAt: now, Sealed: []byte("sealed " + id)})
			if err != nil {
				t.Fatal(err)
			}
			return added
		}
		if !add("a", 1) || !add("b", 2) {
			t.Fatal("fresh generations refused")
		}
		if add("c", 2) || add("d", 1) {
			t.Fatal("a taken or older generation was stored")
		}
		if err := ks.DeleteSigningKeys(ctx, []string{"a", "missing"}); err != nil {
			t.Fatal(err)
		}
		// Deleting generation 1 does not reopen it.
		if add("e", 1) {
			t.Fatal("a generation older than the newest was stored")
		}
		keys, err := ks.SigningKeys(ctx)
		if err != nil || len(keys) != 1 || keys[0].ID != "b" || keys[0].Generation != 2 || !keys[0].CreatedAt.Equal(now) {
			t.Fatalf("SigningKeys = %+v, %v", keys, err)
		}
	})
}
