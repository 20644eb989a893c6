package storetest

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/auth/passkey"
	"github.com/unhidra/unhidra/auth/sso"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/authstore"
)

// Deletion runs the contract cases of deleting an account
// (auth.Store.DeleteUser and what goes with it) as parallel subtests of t
// (open as for Accounts).
func Deletion(t *testing.T, open func(t *testing.T) *store.DB) {
	cases := []struct {
		name string
		fn   func(t *testing.T, db *store.DB, st *authstore.Store)
	}{
		{"Delete/Tombstone", testDeleteTombstone},
		{"Delete/EveryUserTable", testDeleteEveryUserTable},
		{"Delete/Again", testDeleteAgain},
		{"Delete/LastAdmin", testDeleteLastAdmin},
		{"Delete/LastAdminConcurrent", testDeleteLastAdminConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := open(t)
			c.fn(t, db, authstore.New(db))
		})
	}
}

// seedCredentials gives u one row in every table of credentials and
// sign-ins.
func seedCredentials(t *testing.T, st *authstore.Store, u *unhidra.User) {
	t.Helper()
	ctx := t.Context()
	newSession(t, st, u.ID, "s-"+u.ID, now, setupHash("rt-"+u.ID))
	mustOK(t, st.CreateAccessToken(ctx, &auth.AccessToken{ID: "pat-" + u.ID, UserID: u.ID, Name: "ci", Scopes: []string{"read"},
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), Hash: setupHash("pat-" + u.ID)}))
	mustOK(t, st.PutPendingTOTP(ctx, &auth.TOTPRecord{UserID: u.ID, Sealed: []byte("sealed"), CreatedAt: now}))
	mustOK(t, st.ConfirmTOTP(ctx, u.ID, 1, now, [][]byte{setupHash("rc-" + u.ID)}))
	mustOK(t, st.CreateMFATicket(ctx, &auth.MFATicket{Hash: setupHash("mt-" + u.ID), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	mustOK(t, st.LinkIdentity(ctx, &sso.Identity{Provider: "p", Subject: "sub-" + u.ID, UserID: u.ID, CreatedAt: now}))
	link := newState("st-"+u.ID, now.Add(time.Hour))
	link.Purpose, link.UserID = sso.PurposeLink, u.ID
	mustOK(t, st.PutState(ctx, link))
	mustOK(t, st.SetBreakGlass(ctx, u.ID, true, now))
	mustOK(t, st.CreatePasskey(ctx, &passkey.Passkey{ID: "pk-" + u.ID, UserID: u.ID, Name: "laptop", CredentialID: []byte("cred-" + u.ID), CreatedAt: now}, 10))
	mustOK(t, st.PutCeremony(ctx, &passkey.Ceremony{IDHash: setupHash("cer-" + u.ID), Purpose: passkey.PurposeRegister, UserID: u.ID,
		SessionID: "s-" + u.ID, Session: []byte("{}"), ExpiresAt: now.Add(time.Hour)}))
}

// testDeleteTombstone: the account keeps its id and nothing else; its
// username is free again; every credential and sign-in is gone; the
// deletion is pending until finished in its own mode.
func testDeleteTombstone(t *testing.T, db *store.DB, st *authstore.Store) {
	ctx := t.Context()
	bob := newUser(t, st, "bob")
	carol := newUser(t, st, "carol")
	_, err := st.UpdateUser(ctx, bob.ID, auth.UserUpdate{StatusText: ptr("on holiday"), Now: now})
	mustOK(t, err)
	seedCredentials(t, st, bob)
	seedCredentials(t, st, carol)

	later := now.Add(time.Minute)
	u, err := st.DeleteUser(ctx, bob.ID, auth.UserDeletion{Mode: unhidra.DeleteErase, KeepAdmin: true, Now: later})
	mustOK(t, err)
	got, err := st.UserByID(ctx, bob.ID)
	mustOK(t, err)
	for _, x := range []*unhidra.User{u, got} {
		if !x.Deleted || !x.Disabled || x.Username != auth.DeletedUsername(bob.ID) || x.DisplayName != unhidra.DeletedUserName ||
			x.StatusText != "" || !x.UpdatedAt.Equal(later) || !x.CreatedAt.Equal(now) {
			t.Fatalf("deleted user = %+v", x)
		}
	}
	_, _, err = st.UserByUsername(ctx, "bob")
	wantCode(t, err, unhidra.ENotFound)
	// The tombstone's name is no one's to sign in with: no password.
	_, hash, err := st.UserByUsername(ctx, auth.DeletedUsername(bob.ID))
	mustOK(t, err)
	if hash != "" {
		t.Fatalf("the deleted account keeps a password hash %q", hash)
	}
	// The name is free.
	mustOK(t, st.CreateUser(ctx, &unhidra.User{ID: "u-newbob", Username: "Bob", CreatedAt: now, UpdatedAt: now}, "h", auth.CreateUserOptions{Now: now}))

	_, err = st.SessionByID(ctx, "s-"+bob.ID)
	wantCode(t, err, unhidra.ENotFound)
	_, err = st.RefreshTokenByHash(ctx, setupHash("rt-"+bob.ID))
	wantCode(t, err, unhidra.ENotFound)
	_, err = st.AccessTokenByID(ctx, "pat-"+bob.ID)
	wantCode(t, err, unhidra.ENotFound)
	_, err = st.TOTP(ctx, bob.ID)
	wantCode(t, err, unhidra.ENotFound)
	if n, err := st.CountRecoveryCodes(ctx, bob.ID); err != nil || n != 0 {
		t.Fatalf("recovery codes left: %d %v", n, err)
	}
	_, err = st.MFATicketByHash(ctx, setupHash("mt-"+bob.ID))
	wantCode(t, err, unhidra.ENotFound)
	_, err = st.UserByIdentity(ctx, "p", "sub-"+bob.ID)
	wantCode(t, err, unhidra.ENotFound)
	_, err = st.TakeState(ctx, stateHash("st-"+bob.ID))
	wantCode(t, err, unhidra.ENotFound)
	if on, err := st.IsBreakGlass(ctx, bob.ID); err != nil || on {
		t.Fatalf("break-glass left: %v %v", on, err)
	}
	if pks, err := st.Passkeys(ctx, bob.ID); err != nil || len(pks) != 0 {
		t.Fatalf("passkeys left: %v %v", pks, err)
	}
	_, err = st.PasskeyByCredentialID(ctx, []byte("cred-"+bob.ID))
	wantCode(t, err, unhidra.ENotFound)
	_, err = st.TakeCeremony(ctx, setupHash("cer-"+bob.ID))
	wantCode(t, err, unhidra.ENotFound)
	if pks, err := st.Passkeys(ctx, carol.ID); err != nil || len(pks) != 1 {
		t.Fatalf("carol's passkeys: %v %v", pks, err)
	}
	// Carol keeps everything.
	if _, err := st.SessionByID(ctx, "s-"+carol.ID); err != nil {
		t.Fatalf("carol's session: %v", err)
	}
	if _, err := st.UserByIdentity(ctx, "p", "sub-"+carol.ID); err != nil {
		t.Fatalf("carol's identity: %v", err)
	}

	// The directory leaves the deleted account out; the admins' list not.
	users, err := st.SearchUsers(ctx, "", "", 100, false)
	mustOK(t, err)
	if names := usernames(users); slices.Contains(names, auth.DeletedUsername(bob.ID)) {
		t.Fatalf("directory lists the deleted user: %q", names)
	}
	users, err = st.SearchUsers(ctx, "", "", 100, true)
	mustOK(t, err)
	if names := usernames(users); !slices.Contains(names, auth.DeletedUsername(bob.ID)) {
		t.Fatalf("admins' list lacks the deleted user: %q", names)
	}
	users, err = st.SearchUsers(ctx, "deleted", "", 100, false)
	mustOK(t, err)
	if len(users) != 0 {
		t.Fatalf("a search for its name finds %q", usernames(users))
	}

	// Pending until finished in its own mode.
	checkPending(t, st, bob.ID)
	ds, err := st.DeletionState(ctx, bob.ID)
	mustOK(t, err)
	if ds.Mode != unhidra.DeleteErase || !ds.DeletedAt.Equal(later) || ds.PurgedAt != nil {
		t.Fatalf("deletion state = %+v", ds)
	}
	mustOK(t, st.FinishDeletion(ctx, bob.ID, unhidra.DeleteAnonymise, later))
	checkPending(t, st, bob.ID)
	mustOK(t, st.FinishDeletion(ctx, bob.ID, unhidra.DeleteErase, later.Add(time.Second)))
	checkPending(t, st)
	ds, err = st.DeletionState(ctx, bob.ID)
	mustOK(t, err)
	if ds.PurgedAt == nil || !ds.PurgedAt.Equal(later.Add(time.Second)) {
		t.Fatalf("finished deletion state = %+v", ds)
	}
	_, err = st.DeletionState(ctx, carol.ID)
	wantCode(t, err, unhidra.ENotFound)
	_, err = st.DeleteUser(ctx, "u-nobody", auth.UserDeletion{Mode: unhidra.DeleteAnonymise, Now: now})
	wantCode(t, err, unhidra.ENotFound)
}

func checkPending(t *testing.T, st *authstore.Store, want ...string) {
	t.Helper()
	ps, err := st.PendingDeletions(t.Context(), 100)
	mustOK(t, err)
	var got []string
	for _, p := range ps {
		got = append(got, p.UserID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pending deletions %q, want %q", got, want)
	}
}

// testDeleteEveryUserTable: every table that references users is either
// cleared by DeleteUser (authstore.CredentialTables) or left to the chat
// service (authstore.KeptUserTables), so that a table added later (a
// passkey's, say) cannot be forgotten; and the cleared ones hold no row of
// the deleted user afterwards.
func testDeleteEveryUserTable(t *testing.T, db *store.DB, st *authstore.Store) {
	ctx := t.Context()
	q := `SELECT m.name, p."from" FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) p
		WHERE m.type = 'table' AND p."table" = 'users' ORDER BY m.name`
	if db.Engine() == store.EnginePostgres {
		q = `SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc
			JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
			JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema
			WHERE tc.constraint_type = 'FOREIGN KEY' AND ccu.table_name = 'users' AND tc.table_schema = current_schema()
			ORDER BY tc.table_name`
	}
	rows, err := db.Read().Query(ctx, q)
	mustOK(t, err)
	refs, err := store.Collect(rows, "references", func(s store.Scanner) ([2]string, error) {
		var r [2]string
		return r, s.Scan(&r[0], &r[1])
	})
	mustOK(t, err)
	// The query must see the references there are, or it proves nothing.
	if !slices.Contains(refs, [2]string{"sessions", "user_id"}) || !slices.Contains(refs, [2]string{"channel_members", "user_id"}) {
		t.Fatalf("the references to users found are %v: sessions and channel_members are missing", refs)
	}
	cleared := map[string]string{}
	for _, c := range authstore.CredentialTables {
		cleared[c.Table] = c.Column
	}
	for _, r := range refs {
		if col, ok := cleared[r[0]]; ok && col == r[1] || slices.Contains(authstore.KeptUserTables, r[0]) {
			continue
		}
		t.Errorf("table %s references users (column %s) but deleting an account neither clears it "+
			"(authstore.CredentialTables) nor leaves it to the chat service (authstore.KeptUserTables)", r[0], r[1])
	}

	bob := newUser(t, st, "bob")
	seedCredentials(t, st, bob)
	_, err = st.DeleteUser(ctx, bob.ID, auth.UserDeletion{Mode: unhidra.DeleteAnonymise, Now: now})
	mustOK(t, err)
	for _, c := range authstore.CredentialTables {
		var n int
		mustOK(t, db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM `+c.Table+` WHERE `+c.Column+` = ?`, bob.ID).Scan(&n))
		if n != 0 {
			t.Errorf("%s keeps %d rows of the deleted user", c.Table, n)
		}
	}
	var n int
	mustOK(t, db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM refresh_tokens`).Scan(&n))
	if n != 0 {
		t.Errorf("refresh_tokens keeps %d rows", n)
	}
}

// testDeleteAgain: deleting a deleted account changes only its mode and
// reopens its purge; the time of the deletion stays the first.
func testDeleteAgain(t *testing.T, db *store.DB, st *authstore.Store) {
	ctx := t.Context()
	bob := newUser(t, st, "bob")
	_, err := st.DeleteUser(ctx, bob.ID, auth.UserDeletion{Mode: unhidra.DeleteAnonymise, Now: now})
	mustOK(t, err)
	mustOK(t, st.FinishDeletion(ctx, bob.ID, unhidra.DeleteAnonymise, now))
	checkPending(t, st)
	u, err := st.DeleteUser(ctx, bob.ID, auth.UserDeletion{Mode: unhidra.DeleteErase, Now: now.Add(time.Hour)})
	mustOK(t, err)
	if !u.Deleted || u.Username != auth.DeletedUsername(bob.ID) {
		t.Fatalf("deleted again: %+v", u)
	}
	ds, err := st.DeletionState(ctx, bob.ID)
	mustOK(t, err)
	if ds.Mode != unhidra.DeleteErase || !ds.DeletedAt.Equal(now) || ds.PurgedAt != nil {
		t.Fatalf("deletion state = %+v", ds)
	}
	checkPending(t, st, bob.ID)
}

// testDeleteLastAdmin: with KeepAdmin the last enabled admin stays; a
// disabled or deleted admin does not count.
func testDeleteLastAdmin(t *testing.T, db *store.DB, st *authstore.Store) {
	ctx := t.Context()
	a1, a2, a3 := newUser(t, st, "a1"), newUser(t, st, "a2"), newUser(t, st, "a3")
	for _, u := range []*unhidra.User{a1, a2, a3} {
		_, err := st.UpdateUser(ctx, u.ID, auth.UserUpdate{Role: ptr(unhidra.RoleAdmin), Now: now})
		mustOK(t, err)
	}
	_, err := st.UpdateUser(ctx, a3.ID, auth.UserUpdate{Disabled: ptr(true), Now: now})
	mustOK(t, err)
	del := func(id string) error {
		_, err := st.DeleteUser(ctx, id, auth.UserDeletion{Mode: unhidra.DeleteAnonymise, KeepAdmin: true, Now: now})
		return err
	}
	mustOK(t, del(a1.ID))
	err = del(a2.ID)
	wantCode(t, err, unhidra.EConflict)
	if !strings.Contains(err.Error(), "last admin") {
		t.Fatalf("error %v", err)
	}
	// A disabled admin and a member may go; a deleted admin again too.
	mustOK(t, del(a3.ID))
	mustOK(t, del(a1.ID))
	m := newUser(t, st, "m")
	mustOK(t, del(m.ID))
	// Without KeepAdmin (the store's caller decided), it goes.
	_, err = st.DeleteUser(ctx, a2.ID, auth.UserDeletion{Mode: unhidra.DeleteAnonymise, Now: now})
	mustOK(t, err)
}

// testDeleteLastAdminConcurrent: two admins deleting each other at once
// leave one of them.
func testDeleteLastAdminConcurrent(t *testing.T, db *store.DB, st *authstore.Store) {
	ctx := t.Context()
	for round := range 5 {
		a := newUser(t, st, "a"+string(rune('a'+round)))
		b := newUser(t, st, "b"+string(rune('a'+round)))
		for _, u := range []*unhidra.User{a, b} {
			_, err := st.UpdateUser(ctx, u.ID, auth.UserUpdate{Role: ptr(unhidra.RoleAdmin), Now: now})
			mustOK(t, err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, u := range []*unhidra.User{a, b} {
			wg.Go(func() {
				_, errs[i] = st.DeleteUser(ctx, u.ID, auth.UserDeletion{Mode: unhidra.DeleteAnonymise, KeepAdmin: true, Now: now})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if unhidra.ErrorCode(err) != unhidra.EConflict {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d deletions succeeded (%v); want exactly one", round, ok, errs)
		}
		// The survivor is the last admin of the next round's pair too,
		// so delete it without the check.
		for _, u := range []*unhidra.User{a, b} {
			_, err := st.DeleteUser(ctx, u.ID, auth.UserDeletion{Mode: unhidra.DeleteAnonymise, Now: now})
			mustOK(t, err)
		}
	}
}
