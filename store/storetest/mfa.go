package storetest

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
)

// The contract cases of auth.MFAStore: two-factor, recovery codes, login
// tickets, personal access tokens and the break-glass flag.

// testTOTPLifecycle: pending → replaced while pending → confirmed (with
// recovery codes) → no replacement while confirmed → deleted with its codes.
func testTOTPLifecycle(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser(t, st, "bob")
	_, err := st.TOTP(ctx, u.ID)
	wantCode(t, err, unhidra.ENotFound)
	wantCode(t, st.PutPendingTOTP(ctx, &auth.TOTPRecord{UserID: "u-nobody", Sealed: []byte("x"), CreatedAt: now}), unhidra.ENotFound)
	mustOK(t, st.PutPendingTOTP(ctx, &auth.TOTPRecord{UserID: u.ID, Sealed: []byte("one"), CreatedAt: now}))
	mustOK(t, st.PutPendingTOTP(ctx, &auth.TOTPRecord{UserID: u.ID, Sealed: []byte("two"), CreatedAt: now.Add(time.Second)}))
	rec, err := st.TOTP(ctx, u.ID)
	mustOK(t, err)
	if string(rec.Sealed) != "two" || rec.ConfirmedAt != nil || rec.LastStep != 0 || !rec.CreatedAt.Equal(now.Add(time.Second)) {
		t.Fatalf("pending = %+v", rec)
	}
	// A code step cannot be used before confirmation.
	if ok, err := st.UseTOTPStep(ctx, u.ID, 10); err != nil || ok {
		t.Fatalf("UseTOTPStep on pending = %v %v", ok, err)
	}
	hashes := [][]byte{setupHash("r1"), setupHash("r2")}
	mustOK(t, st.ConfirmTOTP(ctx, u.ID, 100, now, hashes))
	wantCode(t, st.ConfirmTOTP(ctx, u.ID, 101, now, hashes), unhidra.ENotFound)
	rec, err = st.TOTP(ctx, u.ID)
	mustOK(t, err)
	if rec.ConfirmedAt == nil || !rec.ConfirmedAt.Equal(now) || rec.LastStep != 100 {
		t.Fatalf("confirmed = %+v", rec)
	}
	wantCode(t, st.PutPendingTOTP(ctx, &auth.TOTPRecord{UserID: u.ID, Sealed: []byte("three"), CreatedAt: now}), unhidra.EConflict)
	if n, err := st.CountRecoveryCodes(ctx, u.ID); err != nil || n != 2 {
		t.Fatalf("recovery codes = %d %v", n, err)
	}
	mustOK(t, st.DeleteTOTP(ctx, u.ID))
	_, err = st.TOTP(ctx, u.ID)
	wantCode(t, err, unhidra.ENotFound)
	if n, err := st.CountRecoveryCodes(ctx, u.ID); err != nil || n != 0 {
		t.Fatalf("recovery codes after delete = %d %v", n, err)
	}
}

// testTOTPStepCompareAndSet: a step is accepted once, never an earlier
// one, and of concurrent users of one step exactly one wins.
func testTOTPStepCompareAndSet(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser(t, st, "bob")
	mustOK(t, st.PutPendingTOTP(ctx, &auth.TOTPRecord{UserID: u.ID, Sealed: []byte("s"), CreatedAt: now}))
	mustOK(t, st.ConfirmTOTP(ctx, u.ID, 100, now, nil))
	for _, c := range []struct {
		step int64
		want bool
	}{{100, false}, {99, false}, {101, true}, {101, false}, {103, true}, {102, false}} {
		if ok, err := st.UseTOTPStep(ctx, u.ID, c.step); err != nil || ok != c.want {
			t.Fatalf("UseTOTPStep(%d) = %v %v, want %v", c.step, ok, err, c.want)
		}
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ok, err := st.UseTOTPStep(ctx, u.ID, 200)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent uses of one step won", wins.Load())
	}
}

// testRecoveryCodes: each code is spent once, only by its user; replacing
// drops the old ones.
func testRecoveryCodes(t *testing.T, st auth.Store) {
	ctx := t.Context()
	bob, carol := newUser(t, st, "bob"), newUser(t, st, "carol")
	mustOK(t, st.ReplaceRecoveryCodes(ctx, bob.ID, [][]byte{setupHash("a"), setupHash("b")}, now))
	if ok, err := st.UseRecoveryCode(ctx, carol.ID, setupHash("a"), now); err != nil || ok {
		t.Fatalf("carol used bob's code: %v %v", ok, err)
	}
	if ok, err := st.UseRecoveryCode(ctx, bob.ID, setupHash("a"), now); err != nil || !ok {
		t.Fatalf("first use: %v %v", ok, err)
	}
	if ok, err := st.UseRecoveryCode(ctx, bob.ID, setupHash("a"), now); err != nil || ok {
		t.Fatalf("second use: %v %v", ok, err)
	}
	if n, err := st.CountRecoveryCodes(ctx, bob.ID); err != nil || n != 1 {
		t.Fatalf("left = %d %v", n, err)
	}
	mustOK(t, st.ReplaceRecoveryCodes(ctx, bob.ID, [][]byte{setupHash("c")}, now))
	if ok, err := st.UseRecoveryCode(ctx, bob.ID, setupHash("b"), now); err != nil || ok {
		t.Fatalf("replaced code used: %v %v", ok, err)
	}
	if ok, err := st.UseRecoveryCode(ctx, bob.ID, setupHash("c"), now); err != nil || !ok {
		t.Fatalf("new code: %v %v", ok, err)
	}
}

// testMFATickets: a ticket is read back, counts failures, is spent once,
// and expired ones are swept by the next creation.
func testMFATickets(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser(t, st, "bob")
	h1, h2 := setupHash("t1"), setupHash("t2")
	mustOK(t, st.CreateMFATicket(ctx, &auth.MFATicket{Hash: h1, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}))
	got, err := st.MFATicketByHash(ctx, h1)
	mustOK(t, err)
	if !bytes.Equal(got.Hash, h1) || got.UserID != u.ID || got.Attempts != 0 || got.UsedAt != nil || !got.ExpiresAt.Equal(now.Add(5*time.Minute)) {
		t.Fatalf("ticket = %+v", got)
	}
	for want := 1; want <= 2; want++ {
		if n, err := st.FailMFATicket(ctx, h1); err != nil || n != want {
			t.Fatalf("FailMFATicket = %d %v, want %d", n, err, want)
		}
	}
	_, err = st.FailMFATicket(ctx, setupHash("none"))
	wantCode(t, err, unhidra.ENotFound)
	if ok, err := st.UseMFATicket(ctx, h1, now); err != nil || !ok {
		t.Fatalf("use: %v %v", ok, err)
	}
	if ok, err := st.UseMFATicket(ctx, h1, now); err != nil || ok {
		t.Fatalf("second use: %v %v", ok, err)
	}
	mustOK(t, st.CreateMFATicket(ctx, &auth.MFATicket{Hash: h2, UserID: u.ID, CreatedAt: now.Add(time.Hour), ExpiresAt: now.Add(time.Hour + 5*time.Minute)}))
	_, err = st.MFATicketByHash(ctx, h1)
	wantCode(t, err, unhidra.ENotFound)
	wantCode(t, st.CreateMFATicket(ctx, &auth.MFATicket{Hash: setupHash("t3"), UserID: "u-nobody", CreatedAt: now, ExpiresAt: now}), unhidra.ENotFound)
}

// testAccessTokens: create, read back with hash and scopes, list newest
// first without revoked ones, revoke only one's own, once; touch.
func testAccessTokens(t *testing.T, st auth.Store) {
	ctx := t.Context()
	bob, carol := newUser(t, st, "bob"), newUser(t, st, "carol")
	t1 := &auth.AccessToken{ID: "t1", UserID: bob.ID, Name: "ci", Scopes: []string{"read", "write"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Hash: setupHash("s1")}
	t2 := &auth.AccessToken{ID: "t2", UserID: bob.ID, Name: "cron", Scopes: []string{"read"}, CreatedAt: now.Add(time.Second), ExpiresAt: now.Add(time.Hour), Hash: setupHash("s2")}
	mustOK(t, st.CreateAccessToken(ctx, t1))
	mustOK(t, st.CreateAccessToken(ctx, t2))
	wantCode(t, st.CreateAccessToken(ctx, t1), unhidra.EConflict)
	wantCode(t, st.CreateAccessToken(ctx, &auth.AccessToken{ID: "t3", UserID: "u-nobody", Name: "x", Scopes: []string{"read"}, CreatedAt: now, ExpiresAt: now, Hash: setupHash("s3")}), unhidra.ENotFound)
	got, err := st.AccessTokenByID(ctx, "t1")
	mustOK(t, err)
	if got.UserID != bob.ID || got.Name != "ci" || len(got.Scopes) != 2 || got.Scopes[1] != "write" || !bytes.Equal(got.Hash, t1.Hash) ||
		!got.ExpiresAt.Equal(t1.ExpiresAt) || got.LastUsedAt != nil || got.RevokedAt != nil {
		t.Fatalf("token = %+v", got)
	}
	list, err := st.ListAccessTokens(ctx, bob.ID)
	mustOK(t, err)
	if len(list) != 2 || list[0].ID != "t2" || list[1].ID != "t1" {
		t.Fatalf("list = %+v", list)
	}
	mustOK(t, st.TouchAccessToken(ctx, "t1", now.Add(time.Minute)))
	got, _ = st.AccessTokenByID(ctx, "t1")
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("after touch = %+v", got)
	}
	wantCode(t, st.RevokeAccessToken(ctx, carol.ID, "t1", now), unhidra.ENotFound)
	mustOK(t, st.RevokeAccessToken(ctx, bob.ID, "t1", now))
	wantCode(t, st.RevokeAccessToken(ctx, bob.ID, "t1", now), unhidra.ENotFound)
	got, _ = st.AccessTokenByID(ctx, "t1")
	if got.RevokedAt == nil || !got.RevokedAt.Equal(now) {
		t.Fatalf("after revoke = %+v", got)
	}
	list, _ = st.ListAccessTokens(ctx, bob.ID)
	if len(list) != 1 || list[0].ID != "t2" {
		t.Fatalf("list after revoke = %+v", list)
	}
	_, err = st.AccessTokenByID(ctx, "none")
	wantCode(t, err, unhidra.ENotFound)
}

// testBreakGlass: set, set again, clear; unknown users are ENotFound.
func testBreakGlass(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser(t, st, "bob")
	check := func(want bool) {
		t.Helper()
		if on, err := st.IsBreakGlass(ctx, u.ID); err != nil || on != want {
			t.Fatalf("IsBreakGlass = %v %v, want %v", on, err, want)
		}
	}
	check(false)
	mustOK(t, st.SetBreakGlass(ctx, u.ID, true, now))
	mustOK(t, st.SetBreakGlass(ctx, u.ID, true, now))
	check(true)
	mustOK(t, st.SetBreakGlass(ctx, u.ID, false, now))
	check(false)
	wantCode(t, st.SetBreakGlass(ctx, "u-nobody", true, now), unhidra.ENotFound)
	wantCode(t, st.SetBreakGlass(ctx, "u-nobody", false, now), unhidra.ENotFound)
}

// testCountBreakGlassAdmins: only enabled admins that are break-glass
// count.
func testCountBreakGlassAdmins(t *testing.T, st auth.Store) {
	ctx := t.Context()
	count := func(want int) {
		t.Helper()
		if n, err := st.CountBreakGlassAdmins(ctx); err != nil || n != want {
			t.Fatalf("CountBreakGlassAdmins = %d %v, want %d", n, err, want)
		}
	}
	member, admin, other := newUser(t, st, "mia"), newUser(t, st, "ada"), newUser(t, st, "oto")
	for _, u := range []*unhidra.User{admin, other} {
		_, err := st.UpdateUser(ctx, u.ID, auth.UserUpdate{Role: ptr(unhidra.RoleAdmin), Now: now})
		mustOK(t, err)
	}
	count(0)
	mustOK(t, st.SetBreakGlass(ctx, member.ID, true, now))
	count(0) // not an admin
	mustOK(t, st.SetBreakGlass(ctx, admin.ID, true, now))
	mustOK(t, st.SetBreakGlass(ctx, other.ID, true, now))
	count(2)
	_, err := st.UpdateUser(ctx, other.ID, auth.UserUpdate{Disabled: ptr(true), Now: now})
	mustOK(t, err)
	count(1) // disabled
	mustOK(t, st.SetBreakGlass(ctx, admin.ID, false, now))
	count(0)
}
