package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/auth/sso"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/authstore"
)

// SSO runs the contract cases of sso.Store, on authstore.Store, as
// parallel subtests of t (open as for Accounts).
func SSO(t *testing.T, open func(t *testing.T) *store.DB) {
	cases := []struct {
		name string
		fn   func(t *testing.T, st *authstore.Store)
	}{
		{"SSO/TakeStateOnce", testTakeStateOnce},
		{"SSO/TakeStateConcurrent", testTakeStateConcurrent},
		{"SSO/DeleteExpiredStates", testDeleteExpiredStates},
		{"SSO/ProvisionAndFind", testProvisionAndFind},
		{"SSO/LinkConflicts", testLinkConflicts},
		{"SSO/UnlinkAndList", testUnlinkAndList},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, authstore.New(open(t)))
		})
	}
}

func stateHash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func newState(name string, exp time.Time) *sso.State {
	return &sso.State{StateHash: stateHash(name), BindingHash: stateHash("b-" + name), Provider: "p",
		Purpose: sso.PurposeLogin, Nonce: "n-" + name, Verifier: "v-" + name, ExpiresAt: exp}
}

func testTakeStateOnce(t *testing.T, st *authstore.Store) {
	ctx := t.Context()
	in := newState("s1", now.Add(time.Minute))
	mustOK(t, st.PutState(ctx, in))
	link := newState("s2", now.Add(time.Minute))
	link.Purpose, link.UserID = sso.PurposeLink, "u1"
	mustOK(t, st.PutState(ctx, link))
	got, err := st.TakeState(ctx, in.StateHash)
	mustOK(t, err)
	if !bytes.Equal(got.BindingHash, in.BindingHash) || got.Nonce != in.Nonce || got.Verifier != in.Verifier ||
		got.Provider != "p" || got.Purpose != sso.PurposeLogin || got.UserID != "" || !got.ExpiresAt.Equal(in.ExpiresAt) {
		t.Fatalf("took %+v, stored %+v", got, in)
	}
	_, err = st.TakeState(ctx, in.StateHash)
	wantCode(t, err, unhidra.ENotFound)
	got, err = st.TakeState(ctx, link.StateHash)
	mustOK(t, err)
	if got.UserID != "u1" || got.Purpose != sso.PurposeLink {
		t.Fatalf("link state = %+v", got)
	}
}

func testTakeStateConcurrent(t *testing.T, st *authstore.Store) {
	ctx := t.Context()
	in := newState("race", now.Add(time.Minute))
	mustOK(t, st.PutState(ctx, in))
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 8 {
		wg.Go(func() {
			if _, err := st.TakeState(ctx, in.StateHash); err == nil {
				mu.Lock()
				won++
				mu.Unlock()
			} else if unhidra.ErrorCode(err) != unhidra.ENotFound {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d takers got the state, want 1", won)
	}
}

func testDeleteExpiredStates(t *testing.T, st *authstore.Store) {
	ctx := t.Context()
	old, live := newState("old", now.Add(-time.Second)), newState("live", now.Add(time.Minute))
	mustOK(t, st.PutState(ctx, old))
	mustOK(t, st.PutState(ctx, live))
	mustOK(t, st.DeleteExpiredStates(ctx, now))
	_, err := st.TakeState(ctx, old.StateHash)
	wantCode(t, err, unhidra.ENotFound)
	_, err = st.TakeState(ctx, live.StateHash)
	mustOK(t, err)
}

func ssoUser(name string) *unhidra.User {
	return &unhidra.User{ID: "id-" + name, Username: name, DisplayName: name, Role: unhidra.RoleMember, CreatedAt: now, UpdatedAt: now}
}

func testProvisionAndFind(t *testing.T, st *authstore.Store) {
	ctx := t.Context()
	u := ssoUser("alice")
	id := &sso.Identity{Provider: "p", Subject: "s-alice"}
	mustOK(t, st.CreateUserWithIdentity(ctx, u, "hash", id))
	if !id.Provisioned || id.UserID != u.ID {
		t.Fatalf("identity = %+v", id)
	}
	got, err := st.UserByIdentity(ctx, "p", "s-alice")
	mustOK(t, err)
	if got.ID != u.ID {
		t.Fatalf("found %+v", got)
	}
	_, err = st.UserByIdentity(ctx, "other", "s-alice")
	wantCode(t, err, unhidra.ENotFound)

	// A taken username: ErrUsernameTaken, and no identity written.
	err = st.CreateUserWithIdentity(ctx, &unhidra.User{ID: "id-2", Username: "ALICE", CreatedAt: now, UpdatedAt: now}, "h", &sso.Identity{Provider: "p", Subject: "s-2"})
	if !errors.Is(err, sso.ErrUsernameTaken) || unhidra.ErrorCode(err) != unhidra.EConflict {
		t.Fatalf("taken username: %v", err)
	}
	_, err = st.UserByIdentity(ctx, "p", "s-2")
	wantCode(t, err, unhidra.ENotFound)

	// The same identity again: a conflict that is not about the name, and
	// no user written.
	err = st.CreateUserWithIdentity(ctx, ssoUser("alice2"), "h", &sso.Identity{Provider: "p", Subject: "s-alice"})
	if errors.Is(err, sso.ErrUsernameTaken) || unhidra.ErrorCode(err) != unhidra.EConflict {
		t.Fatalf("identity twice: %v", err)
	}
	_, _, err = st.UserByUsername(ctx, "alice2")
	wantCode(t, err, unhidra.ENotFound)
}

func testLinkConflicts(t *testing.T, st *authstore.Store) {
	ctx := t.Context()
	for _, n := range []string{"a", "b"} {
		mustOK(t, st.CreateUser(ctx, ssoUser(n), "h", auth.CreateUserOptions{Now: now}))
	}
	mustOK(t, st.LinkIdentity(ctx, &sso.Identity{Provider: "p", Subject: "1", UserID: "id-a", CreatedAt: now}))
	wantCode(t, st.LinkIdentity(ctx, &sso.Identity{Provider: "p", Subject: "1", UserID: "id-b", CreatedAt: now}), unhidra.EConflict)
	wantCode(t, st.LinkIdentity(ctx, &sso.Identity{Provider: "p", Subject: "2", UserID: "id-a", CreatedAt: now}), unhidra.EConflict)
	wantCode(t, st.LinkIdentity(ctx, &sso.Identity{Provider: "p", Subject: "3", UserID: "nobody", CreatedAt: now}), unhidra.ENotFound)
	mustOK(t, st.LinkIdentity(ctx, &sso.Identity{Provider: "q", Subject: "1", UserID: "id-a", CreatedAt: now}))
}

func testUnlinkAndList(t *testing.T, st *authstore.Store) {
	ctx := t.Context()
	mustOK(t, st.CreateUserWithIdentity(ctx, ssoUser("c"), "h", &sso.Identity{Provider: "p", Subject: "c"}))
	mustOK(t, st.LinkIdentity(ctx, &sso.Identity{Provider: "q", Subject: "c", UserID: "id-c", CreatedAt: now.Add(time.Second)}))
	ids, err := st.Identities(ctx, "id-c")
	mustOK(t, err)
	if len(ids) != 2 || ids[0].Provider != "p" || !ids[0].Provisioned || ids[1].Provider != "q" || ids[1].Provisioned || !ids[1].CreatedAt.Equal(now.Add(time.Second)) {
		t.Fatalf("identities = %+v", ids)
	}
	mustOK(t, st.UnlinkIdentity(ctx, "id-c", "p"))
	wantCode(t, st.UnlinkIdentity(ctx, "id-c", "p"), unhidra.ENotFound)
	ids, err = st.Identities(ctx, "id-c")
	mustOK(t, err)
	if len(ids) != 1 || ids[0].Provider != "q" {
		t.Fatalf("after unlink: %+v", ids)
	}
	u, err := st.SetRole(ctx, "id-c", unhidra.RoleAdmin, now)
	mustOK(t, err)
	if u.Role != unhidra.RoleAdmin {
		t.Fatalf("role = %s", u.Role)
	}
}
