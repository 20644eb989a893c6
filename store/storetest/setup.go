package storetest

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
)

func setupHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func setupTokens(t *testing.T, st auth.Store) [][]byte {
	t.Helper()
	got, err := st.SetupTokens(t.Context())
	mustOK(t, err)
	slices.SortFunc(got, bytes.Compare)
	return got
}

func sortedHashes(hs ...[]byte) [][]byte {
	slices.SortFunc(hs, bytes.Compare)
	return hs
}

// testSetupTokensAddDrop: tokens accumulate, and adding one drops those
// created before the given time.
func testSetupTokensAddDrop(t *testing.T, st auth.Store) {
	ctx := t.Context()
	h1, h2, h3 := setupHash("one"), setupHash("two"), setupHash("three")
	mustOK(t, st.AddSetupToken(ctx, h1, now, now.Add(-time.Hour)))
	mustOK(t, st.AddSetupToken(ctx, h2, now.Add(time.Minute), now.Add(-time.Hour)))
	if got, want := setupTokens(t, st), sortedHashes(h1, h2); !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("SetupTokens = %x, want %x", got, want)
	}
	mustOK(t, st.AddSetupToken(ctx, h3, now.Add(20*time.Minute), now.Add(5*time.Minute)))
	if got := setupTokens(t, st); len(got) != 1 || !bytes.Equal(got[0], h3) {
		t.Fatalf("SetupTokens = %x, want only the newest", got)
	}
}

// testSetupTokenConsumed: registering the admin with a token consumes it
// and every other token; a second use finds the admin.
func testSetupTokenConsumed(t *testing.T, st auth.Store) {
	ctx := t.Context()
	h1, h2 := setupHash("one"), setupHash("two")
	mustOK(t, st.AddSetupToken(ctx, h1, now, now.Add(-time.Hour)))
	mustOK(t, st.AddSetupToken(ctx, h2, now, now.Add(-time.Hour)))

	// An unknown token writes nothing.
	u := &unhidra.User{Username: "first", Role: unhidra.RoleAdmin}
	err := st.CreateUser(ctx, u, "h", auth.CreateUserOptions{RequireNoAdmin: true, SetupTokenHash: setupHash("other"), Now: now})
	wantCode(t, err, unhidra.ENotFound)
	if userExists(t, st, "first") || len(setupTokens(t, st)) != 2 {
		t.Fatal("a refused setup registration wrote something")
	}

	mustOK(t, st.CreateUser(ctx, u, "h", auth.CreateUserOptions{RequireNoAdmin: true, SetupTokenHash: h1, Now: now}))
	if got := setupTokens(t, st); len(got) != 0 {
		t.Fatalf("setup tokens left after the first admin: %x", got)
	}
	again := &unhidra.User{Username: "second", Role: unhidra.RoleAdmin}
	err = st.CreateUser(ctx, again, "h", auth.CreateUserOptions{RequireNoAdmin: true, SetupTokenHash: h2, Now: now})
	wantCode(t, err, unhidra.EConflict)

	// An admin made without a token (create-admin) ends the setup too.
	mustOK(t, st.AddSetupToken(ctx, h1, now, now.Add(-time.Hour)))
	mustOK(t, st.CreateUser(ctx, &unhidra.User{Username: "third", Role: unhidra.RoleAdmin}, "h", auth.CreateUserOptions{Now: now}))
	if got := setupTokens(t, st); len(got) != 0 {
		t.Fatalf("setup tokens left after an admin was created: %x", got)
	}
}

// testSetupTokenConcurrent: of concurrent registrations with one token,
// exactly one becomes the admin.
func testSetupTokenConcurrent(t *testing.T, st auth.Store) {
	ctx := t.Context()
	h := setupHash("the token")
	mustOK(t, st.AddSetupToken(ctx, h, now, now.Add(-time.Hour)))
	const callers = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners int
		start   = make(chan struct{})
	)
	for i := range callers {
		wg.Go(func() {
			u := &unhidra.User{Username: fmt.Sprintf("boot%d", i), Role: unhidra.RoleAdmin}
			<-start
			err := st.CreateUser(ctx, u, "h", auth.CreateUserOptions{RequireNoAdmin: true, SetupTokenHash: h, Now: now})
			mu.Lock()
			defer mu.Unlock()
			switch unhidra.ErrorCode(err) {
			case "":
				winners++
			case unhidra.EConflict, unhidra.ENotFound:
			default:
				t.Errorf("CreateUser: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if winners != 1 {
		t.Fatalf("%d admins registered with one setup token, want 1", winners)
	}
	n, err := st.CountAdmins(ctx)
	mustOK(t, err)
	if n != 1 {
		t.Fatalf("CountAdmins = %d", n)
	}
}
