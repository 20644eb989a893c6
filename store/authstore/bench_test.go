package authstore_test

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/authstore"
)

// BenchmarkSignIn measures the accounts store's share of a sign-in followed by a
// refresh: CreateSession (a two-insert write transaction) and
// RefreshTokenByHash (a point read). It reports commit latency, which on
// both engines is dominated by the fsync of synchronous durability.
//
// On the 2-core development VM (AMD EPYC, PostgreSQL 15 on the same host,
// fsync on), go test -bench SignIn -benchtime 2s gave:
//
//	BenchmarkSignIn/sqlite-2     2193   1024811 ns/op
//	BenchmarkSignIn/postgres-2   1352   1526092 ns/op
func BenchmarkSignIn(b *testing.B) {
	engines := []struct {
		name string
		url  func(testing.TB) string
	}{
		{store.EngineSQLite, testenv.SQLiteURL},
		{store.EnginePostgres, testenv.PostgresURL},
	}
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			db, err := store.Open(b.Context(), e.url(b), store.Options{Migrate: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				if err := db.Close(); err != nil {
					b.Error(err)
				}
			})
			st := authstore.New(db)
			ctx := b.Context()
			now := time.Now()
			u := &unhidra.User{Username: "bench", Role: unhidra.RoleMember}
			if err := st.CreateUser(ctx, u, "h", auth.CreateUserOptions{Now: now}); err != nil {
				b.Fatal(err)
			}
			var i uint64
			for b.Loop() {
				i++
				hash := sha256.Sum256(binary.BigEndian.AppendUint64(nil, i))
				s := &unhidra.Session{UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
				if err := st.CreateSession(ctx, s, hash[:]); err != nil {
					b.Fatal(err)
				}
				if _, err := st.RefreshTokenByHash(ctx, hash[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
