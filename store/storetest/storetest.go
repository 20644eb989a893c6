// Package storetest is the contract suite of the stores: one suite per
// service store (Accounts for auth.Store, Chat for chat.Store), each
// pinning every behaviour its interface documents as a named test case,
// and Schema for the core's migrations. store's own tests run every suite on
// SQLite and on PostgreSQL, so both engines are held to exactly the same
// semantics.
package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/authstore"
)

// Accounts runs the contract cases of auth.Store, on authstore.Store, as
// parallel subtests of t. open must return a new, empty, migrated database
// on each call and close it when its t ends.
func Accounts(t *testing.T, open func(t *testing.T) *store.DB) {
	cases := []struct {
		name string
		fn   func(t *testing.T, st auth.Store)
	}{
		{"Users/CreateAndRead", testCreateAndRead},
		{"Users/CreateFillsDefaults", testCreateDefaults},
		{"Users/UsernameUniqueCaseInsensitive", testUsernameUnique},
		{"Users/InviteConsumption", testInviteConsumption},
		{"Users/InviteConcurrentConsumers", testInviteConcurrent},
		{"Users/RequireNoAdmin", testRequireNoAdmin},
		{"Users/RequireNoAdminConcurrent", testRequireNoAdminConcurrent},
		{"Users/UpdatePartial", testUpdateUser},
		{"Users/SetPasswordHash", testSetPasswordHash},
		{"Users/Search", testSearch},
		{"Users/SearchPagination", testSearchPagination},
		{"Users/CountAdmins", testCountAdmins},
		{"Sessions/CreateAndRead", testCreateSession},
		{"Sessions/CreateIsAtomic", testCreateSessionAtomic},
		{"Sessions/List", testListSessions},
		{"Sessions/Touch", testTouchSession},
		{"Sessions/BindClient", testBindSessionClient},
		{"Sessions/Revoke", testRevokeSession},
		{"Sessions/RevokeAllButOne", testRevokeSessions},
		{"Sessions/TimesAreUTCMicroseconds", testTimePrecision},
		{"RefreshTokens/MarkUsedIsCompareAndSet", testMarkUsed},
		{"RefreshTokens/MarkUsedConcurrent", testMarkUsedConcurrent},
		{"RefreshTokens/AddSuccessor", testAddRefreshToken},
		{"Invites/CreateListDelete", testInvites},
		{"SetupTokens/AddAndDrop", testSetupTokensAddDrop},
		{"SetupTokens/ConsumedByFirstAdmin", testSetupTokenConsumed},
		{"SetupTokens/ConcurrentUse", testSetupTokenConcurrent},
		{"NotFound", testNotFound},
		{"MFA/TOTPLifecycle", testTOTPLifecycle},
		{"MFA/TOTPStepCompareAndSet", testTOTPStepCompareAndSet},
		{"MFA/RecoveryCodes", testRecoveryCodes},
		{"MFA/Tickets", testMFATickets},
		{"MFA/AccessTokens", testAccessTokens},
		{"MFA/BreakGlass", testBreakGlass},
		{"MFA/CountBreakGlassAdmins", testCountBreakGlassAdmins},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, authstore.New(open(t)))
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

func newSession(t *testing.T, st auth.Store, userID, id string, created time.Time, hash []byte) *unhidra.Session {
	t.Helper()
	s := &unhidra.Session{
		ID:         id,
		UserID:     userID,
		CreatedAt:  created,
		LastUsedAt: created,
		ExpiresAt:  created.Add(30 * 24 * time.Hour),
		IP:         "192.0.2.1",
		UserAgent:  "storetest",
	}
	mustOK(t, st.CreateSession(t.Context(), s, hash))
	return s
}

func userExists(t *testing.T, st auth.Store, username string) bool {
	t.Helper()
	_, _, err := st.UserByUsername(t.Context(), username)
	if unhidra.ErrorCode(err) == unhidra.ENotFound {
		return false
	}
	mustOK(t, err)
	return true
}

func inviteUses(t *testing.T, st auth.Store, code string) int {
	t.Helper()
	invs, err := st.ListInvites(t.Context())
	mustOK(t, err)
	for _, inv := range invs {
		if inv.Code == code {
			return inv.Uses
		}
	}
	t.Fatalf("invite %q not listed", code)
	return 0
}

func checkUser(t *testing.T, got, want *unhidra.User) {
	t.Helper()
	if got.ID != want.ID || got.Username != want.Username || got.DisplayName != want.DisplayName ||
		got.StatusText != want.StatusText || got.Role != want.Role || got.Disabled != want.Disabled ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("user =\n\t%+v\nwant\n\t%+v", *got, *want)
	}
}

func checkSession(t *testing.T, got, want *unhidra.Session) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || !got.CreatedAt.Equal(want.CreatedAt) ||
		!got.LastUsedAt.Equal(want.LastUsedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
		got.IP != want.IP || got.UserAgent != want.UserAgent || !sameTimePtr(got.RevokedAt, want.RevokedAt) {
		t.Fatalf("session =\n\t%+v\nwant\n\t%+v", *got, *want)
	}
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}

func sessionIDs(ss []*unhidra.Session) []string {
	ids := []string{}
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	return ids
}

func usernames(us []*unhidra.User) []string {
	names := []string{}
	for _, u := range us {
		names = append(names, u.Username)
	}
	return names
}

func testCreateAndRead(t *testing.T, st auth.Store) {
	ctx := t.Context()
	want := &unhidra.User{
		ID:          "u-1",
		Username:    "Alice",
		DisplayName: "Alice Liddell",
		StatusText:  "down the rabbit hole",
		Role:        unhidra.RoleAdmin,
		Disabled:    true,
		CreatedAt:   now,
		UpdatedAt:   now.Add(time.Second),
	}
	mustOK(t, st.CreateUser(ctx, want, "argon2id$hash", auth.CreateUserOptions{Now: now}))

	got, err := st.UserByID(ctx, "u-1")
	mustOK(t, err)
	checkUser(t, got, want)

	for _, name := range []string{"Alice", "alice", "ALICE", "aLiCe"} {
		got, hash, err := st.UserByUsername(ctx, name)
		mustOK(t, err)
		checkUser(t, got, want)
		if hash != "argon2id$hash" {
			t.Fatalf("UserByUsername(%q) hash = %q", name, hash)
		}
	}
}

func testCreateDefaults(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := &unhidra.User{Username: "dee"}
	mustOK(t, st.CreateUser(ctx, u, "h", auth.CreateUserOptions{Now: now}))
	if u.ID == "" || u.Role != unhidra.RoleMember || !u.CreatedAt.Equal(now) || !u.UpdatedAt.Equal(now) {
		t.Fatalf("CreateUser left defaults unset: %+v", *u)
	}
	got, err := st.UserByID(ctx, u.ID)
	mustOK(t, err)
	checkUser(t, got, u)
}

func testUsernameUnique(t *testing.T, st auth.Store) {
	ctx := t.Context()
	newUser(t, st, "Alice")
	for i, name := range []string{"Alice", "alice", "ALICE"} {
		u := &unhidra.User{ID: fmt.Sprintf("dup-%d", i), Username: name, Role: unhidra.RoleMember}
		err := st.CreateUser(ctx, u, "h", auth.CreateUserOptions{Now: now})
		wantCode(t, err, unhidra.EConflict)
		_, err = st.UserByID(ctx, u.ID)
		wantCode(t, err, unhidra.ENotFound)
	}
	// Reusing an ID is a conflict as well.
	err := st.CreateUser(ctx, &unhidra.User{ID: "u-Alice", Username: "other", Role: unhidra.RoleMember}, "h", auth.CreateUserOptions{Now: now})
	wantCode(t, err, unhidra.EConflict)
}

func testInviteConsumption(t *testing.T, st auth.Store) {
	ctx := t.Context()
	for _, inv := range []*unhidra.Invite{
		{Code: "two-uses", CreatedBy: "admin", MaxUses: 2, CreatedAt: now},
		{Code: "expired", MaxUses: 5, ExpiresAt: ptr(now.Add(-time.Second)), CreatedAt: now.Add(-time.Hour)},
		{Code: "expires-now", MaxUses: 5, ExpiresAt: ptr(now), CreatedAt: now.Add(-time.Hour)},
		{Code: "expires-later", MaxUses: 1, ExpiresAt: ptr(now.Add(time.Microsecond)), CreatedAt: now},
		{Code: "zero-uses", MaxUses: 0, CreatedAt: now},
	} {
		mustOK(t, st.CreateInvite(ctx, inv))
	}
	newUser(t, st, "taken")

	// Cases run in order: each sees the uses of the ones before.
	steps := []struct {
		name, username, code string
		wantCode             string
		wantUses             int
	}{
		{"first use", "u1", "two-uses", "", 1},
		{"second use", "u2", "two-uses", "", 2},
		{"used up", "u3", "two-uses", unhidra.ENotFound, 2},
		{"expired", "u4", "expired", unhidra.ENotFound, 0},
		{"expires exactly now", "u5", "expires-now", unhidra.ENotFound, 0},
		{"expires just after now", "u6", "expires-later", "", 1},
		{"max uses zero", "u7", "zero-uses", unhidra.ENotFound, 0},
		{"unknown code", "u8", "no-such-invite", unhidra.ENotFound, -1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			err := st.CreateUser(ctx, &unhidra.User{Username: s.username, Role: unhidra.RoleMember}, "h",
				auth.CreateUserOptions{InviteCode: s.code, Now: now})
			wantCode(t, err, s.wantCode)
			if exists := userExists(t, st, s.username); exists != (s.wantCode == "") {
				t.Fatalf("user %q exists = %v after error %v", s.username, exists, err)
			}
			if s.wantUses >= 0 {
				if got := inviteUses(t, st, s.code); got != s.wantUses {
					t.Fatalf("invite %q uses = %d, want %d", s.code, got, s.wantUses)
				}
			}
		})
	}

	t.Run("conflict after consuming rolls the use back", func(t *testing.T) {
		mustOK(t, st.CreateInvite(ctx, &unhidra.Invite{Code: "fresh", MaxUses: 1, CreatedAt: now}))
		err := st.CreateUser(ctx, &unhidra.User{Username: "Taken", Role: unhidra.RoleMember}, "h",
			auth.CreateUserOptions{InviteCode: "fresh", Now: now})
		wantCode(t, err, unhidra.EConflict)
		if got := inviteUses(t, st, "fresh"); got != 0 {
			t.Fatalf("invite uses after a failed CreateUser = %d, want 0", got)
		}
	})
}

func testInviteConcurrent(t *testing.T, st auth.Store) {
	ctx := t.Context()
	const maxUses, callers = 3, 10
	mustOK(t, st.CreateInvite(ctx, &unhidra.Invite{Code: "shared", MaxUses: maxUses, CreatedAt: now}))
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		ok, denied int
		start      = make(chan struct{})
	)
	for i := range callers {
		wg.Go(func() {
			<-start
			err := st.CreateUser(ctx, &unhidra.User{Username: fmt.Sprintf("racer%d", i), Role: unhidra.RoleMember}, "h",
				auth.CreateUserOptions{InviteCode: "shared", Now: now})
			mu.Lock()
			defer mu.Unlock()
			switch unhidra.ErrorCode(err) {
			case "":
				ok++
			case unhidra.ENotFound:
				denied++
			default:
				t.Errorf("CreateUser: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok != maxUses || denied != callers-maxUses {
		t.Fatalf("%d succeeded and %d were denied, want %d and %d", ok, denied, maxUses, callers-maxUses)
	}
	if got := inviteUses(t, st, "shared"); got != maxUses {
		t.Fatalf("invite uses = %d, want %d", got, maxUses)
	}
	users, err := st.SearchUsers(ctx, "racer", "", 100, false)
	mustOK(t, err)
	if len(users) != maxUses {
		t.Fatalf("%d users created, want %d", len(users), maxUses)
	}
}

func testRequireNoAdmin(t *testing.T, st auth.Store) {
	ctx := t.Context()
	first := &unhidra.User{Username: "root", Role: unhidra.RoleAdmin}
	mustOK(t, st.CreateUser(ctx, first, "h", auth.CreateUserOptions{RequireNoAdmin: true, Now: now}))

	newUser(t, st, "member")

	mustOK(t, st.CreateInvite(ctx, &unhidra.Invite{Code: "inv", MaxUses: 1, CreatedAt: now}))
	err := st.CreateUser(ctx, &unhidra.User{Username: "second", Role: unhidra.RoleAdmin}, "h",
		auth.CreateUserOptions{RequireNoAdmin: true, InviteCode: "inv", Now: now})
	wantCode(t, err, unhidra.EConflict)
	if userExists(t, st, "second") {
		t.Fatal("second admin was written")
	}
	if got := inviteUses(t, st, "inv"); got != 0 {
		t.Fatalf("invite consumed by a failed CreateUser: uses = %d", got)
	}

	// A disabled admin still exists: disabling the only admin must not
	// reopen the bootstrap.
	_, err = st.UpdateUser(ctx, first.ID, auth.UserUpdate{Disabled: ptr(true), Now: now})
	mustOK(t, err)
	err = st.CreateUser(ctx, &unhidra.User{Username: "third", Role: unhidra.RoleAdmin}, "h",
		auth.CreateUserOptions{RequireNoAdmin: true, Now: now})
	wantCode(t, err, unhidra.EConflict)

	// Without the option admins can be added freely.
	mustOK(t, st.CreateUser(ctx, &unhidra.User{Username: "fourth", Role: unhidra.RoleAdmin}, "h",
		auth.CreateUserOptions{Now: now}))
}

func testRequireNoAdminConcurrent(t *testing.T, st auth.Store) {
	ctx := t.Context()
	const callers, rounds = 8, 4
	// Several rounds: the first one also warms the connection pool, so the
	// later ones really race inside the database.
	for round := range rounds {
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			winners   []*unhidra.User
			conflicts int
			start     = make(chan struct{})
		)
		for i := range callers {
			wg.Go(func() {
				u := &unhidra.User{Username: fmt.Sprintf("boot%d-%d", round, i), Role: unhidra.RoleAdmin}
				<-start
				err := st.CreateUser(ctx, u, "h", auth.CreateUserOptions{RequireNoAdmin: true, Now: now})
				mu.Lock()
				defer mu.Unlock()
				switch unhidra.ErrorCode(err) {
				case "":
					winners = append(winners, u)
				case unhidra.EConflict:
					conflicts++
				default:
					t.Errorf("CreateUser: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 || conflicts != callers-1 {
			t.Fatalf("round %d: %d bootstrap admins created and %d refused, want 1 and %d", round, len(winners), conflicts, callers-1)
		}
		n, err := st.CountAdmins(ctx)
		mustOK(t, err)
		if n != 1 {
			t.Fatalf("round %d: CountAdmins = %d, want 1", round, n)
		}
		// Demote the winner so that the next round starts with no admin.
		_, err = st.UpdateUser(ctx, winners[0].ID, auth.UserUpdate{Role: ptr(unhidra.RoleMember), Now: now})
		mustOK(t, err)
	}
}

func testUpdateUser(t *testing.T, st auth.Store) {
	ctx := t.Context()
	base := newUser(t, st, "Zed")
	later := now.Add(time.Hour)
	// Cases run in order on one user; want accumulates the changes.
	want := *base
	steps := []struct {
		name  string
		upd   auth.UserUpdate
		apply func(u *unhidra.User)
	}{
		{"nothing but the time", auth.UserUpdate{}, func(u *unhidra.User) {}},
		{"display name", auth.UserUpdate{DisplayName: ptr("Zed Zebra")}, func(u *unhidra.User) { u.DisplayName = "Zed Zebra" }},
		{"status text", auth.UserUpdate{StatusText: ptr("busy")}, func(u *unhidra.User) { u.StatusText = "busy" }},
		{"role", auth.UserUpdate{Role: ptr(unhidra.RoleAdmin)}, func(u *unhidra.User) { u.Role = unhidra.RoleAdmin }},
		{"disabled", auth.UserUpdate{Disabled: ptr(true)}, func(u *unhidra.User) { u.Disabled = true }},
		{"re-enabled", auth.UserUpdate{Disabled: ptr(false)}, func(u *unhidra.User) { u.Disabled = false }},
		{"empty strings clear", auth.UserUpdate{DisplayName: ptr(""), StatusText: ptr("")}, func(u *unhidra.User) {
			u.DisplayName, u.StatusText = "", ""
		}},
		{"everything", auth.UserUpdate{DisplayName: ptr("Z"), StatusText: ptr("s"), Role: ptr(unhidra.RoleMember), Disabled: ptr(true)},
			func(u *unhidra.User) {
				u.DisplayName, u.StatusText, u.Role, u.Disabled = "Z", "s", unhidra.RoleMember, true
			}},
	}
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.upd.Now = later.Add(time.Duration(i) * time.Minute)
			s.apply(&want)
			want.UpdatedAt = s.upd.Now
			got, err := st.UpdateUser(ctx, base.ID, s.upd)
			mustOK(t, err)
			checkUser(t, got, &want)
			got, err = st.UserByID(ctx, base.ID)
			mustOK(t, err)
			checkUser(t, got, &want)
		})
	}

	t.Run("display name is searchable", func(t *testing.T) {
		_, err := st.UpdateUser(ctx, base.ID, auth.UserUpdate{DisplayName: ptr("Quokka"), Now: later})
		mustOK(t, err)
		got, err := st.SearchUsers(ctx, "quok", "", 10, false)
		mustOK(t, err)
		if names := usernames(got); !slices.Equal(names, []string{"Zed"}) {
			t.Fatalf("search after rename = %v", names)
		}
	})
}

func testSetPasswordHash(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser(t, st, "pat")
	other := newUser(t, st, "other")
	later := now.Add(time.Hour)
	mustOK(t, st.SetPasswordHash(ctx, u.ID, "new-hash", later))
	got, hash, err := st.UserByUsername(ctx, "pat")
	mustOK(t, err)
	if hash != "new-hash" || !got.UpdatedAt.Equal(later) {
		t.Fatalf("after SetPasswordHash: hash %q, updated %v", hash, got.UpdatedAt)
	}
	if _, hash, _ := st.UserByUsername(ctx, other.Username); hash != "hash-other" {
		t.Fatalf("another user's hash changed to %q", hash)
	}
}

func testSearch(t *testing.T, st auth.Store) {
	ctx := t.Context()
	for _, u := range []struct{ username, display string }{
		{"alice", "Alice Liddell"},
		{"Bob", "Bobby Tables"},
		{"a_c", "underscore"},
		{"abc", "plain"},
		{"a%c", "percent"},
		{`a\c`, "backslash"},
		{"emile", "Émile Zola"},
		{"zoe", "100% sure"},
	} {
		mustOK(t, st.CreateUser(ctx, &unhidra.User{Username: u.username, DisplayName: u.display, Role: unhidra.RoleMember}, "h",
			auth.CreateUserOptions{Now: now}))
	}
	cases := []struct {
		name, q string
		want    []string
	}{
		{"empty lists all by lower-cased username", "", []string{"a%c", "a\\c", "a_c", "abc", "alice", "Bob", "emile", "zoe"}},
		{"username substring", "lic", []string{"alice"}},
		{"case-insensitive username", "BOB", []string{"Bob"}},
		{"display name substring", "tables", []string{"Bob"}},
		{"non-ASCII display name", "émile", []string{"emile"}},
		{"non-ASCII display name, other case", "ÉMILE", []string{"emile"}},
		{"underscore is literal", "_", []string{"a_c"}},
		{"percent is literal", "%", []string{"a%c", "zoe"}},
		{"backslash is literal", `\`, []string{`a\c`}},
		{"no match", "nobody", []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := st.SearchUsers(ctx, c.q, "", 100, false)
			mustOK(t, err)
			if names := usernames(got); !slices.Equal(names, c.want) {
				t.Fatalf("SearchUsers(%q) = %q, want %q", c.q, names, c.want)
			}
		})
	}
}

func testSearchPagination(t *testing.T, st auth.Store) {
	ctx := t.Context()
	for _, name := range []string{"Echo", "alpha", "delta", "Bravo", "charlie"} {
		newUser(t, st, name)
	}
	cases := []struct {
		name, q, after string
		limit          int
		want           []string
	}{
		{"first page", "", "", 2, []string{"alpha", "Bravo"}},
		{"second page", "", "bravo", 2, []string{"charlie", "delta"}},
		{"last page", "", "delta", 2, []string{"Echo"}},
		{"past the end", "", "echo", 2, []string{}},
		{"after is lower-cased", "", "BRAVO", 2, []string{"charlie", "delta"}},
		{"after need not be a username", "", "c", 10, []string{"charlie", "delta", "Echo"}},
		{"with a query", "r", "alpha", 10, []string{"Bravo", "charlie"}},
		{"with a query, next page", "r", "bravo", 10, []string{"charlie"}},
		{"zero limit", "", "", 0, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := st.SearchUsers(ctx, c.q, c.after, c.limit, false)
			mustOK(t, err)
			if names := usernames(got); !slices.Equal(names, c.want) {
				t.Fatalf("SearchUsers(%q, %q, %d) = %q, want %q", c.q, c.after, c.limit, names, c.want)
			}
		})
	}
}

func testCountAdmins(t *testing.T, st auth.Store) {
	ctx := t.Context()
	count := func() int {
		t.Helper()
		n, err := st.CountAdmins(ctx)
		mustOK(t, err)
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("CountAdmins on an empty database = %d", n)
	}
	newUser(t, st, "member")
	a1, a2 := newUser(t, st, "admin1"), newUser(t, st, "admin2")
	for _, u := range []*unhidra.User{a1, a2} {
		_, err := st.UpdateUser(ctx, u.ID, auth.UserUpdate{Role: ptr(unhidra.RoleAdmin), Now: now})
		mustOK(t, err)
	}
	if n := count(); n != 2 {
		t.Fatalf("CountAdmins = %d, want 2", n)
	}
	_, err := st.UpdateUser(ctx, a2.ID, auth.UserUpdate{Disabled: ptr(true), Now: now})
	mustOK(t, err)
	if n := count(); n != 1 {
		t.Fatalf("CountAdmins with one admin disabled = %d, want 1", n)
	}
}

func testCreateSession(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser(t, st, "sam")
	s := newSession(t, st, u.ID, "s-1", now, []byte("hash-1"))
	got, err := st.SessionByID(ctx, "s-1")
	mustOK(t, err)
	checkSession(t, got, s)

	rt, err := st.RefreshTokenByHash(ctx, []byte("hash-1"))
	mustOK(t, err)
	if string(rt.Hash) != "hash-1" || rt.SessionID != "s-1" || rt.ParentHash != nil || rt.UsedAt != nil || !rt.CreatedAt.Equal(now) {
		t.Fatalf("first refresh token = %+v", *rt)
	}

	noID := &unhidra.Session{UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
	mustOK(t, st.CreateSession(ctx, noID, []byte("hash-2")))
	if noID.ID == "" {
		t.Fatal("CreateSession did not assign an ID")
	}
	_, err = st.SessionByID(ctx, noID.ID)
	mustOK(t, err)
}

func testCreateSessionAtomic(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser(t, st, "sam")
	newSession(t, st, u.ID, "s-1", now, []byte("hash-1"))
	cases := []struct {
		name, id, userID string
		hash             []byte
		want             string
	}{
		{"unknown user", "s-2", "no-such-user", []byte("hash-2"), unhidra.ENotFound},
		{"duplicate session ID", "s-1", u.ID, []byte("hash-3"), unhidra.EConflict},
		{"duplicate token hash writes no session", "s-4", u.ID, []byte("hash-1"), unhidra.EConflict},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &unhidra.Session{ID: c.id, UserID: c.userID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
			wantCode(t, st.CreateSession(ctx, s, c.hash), c.want)
			if c.id != "s-1" {
				_, err := st.SessionByID(ctx, c.id)
				wantCode(t, err, unhidra.ENotFound)
			}
			if string(c.hash) != "hash-1" {
				_, err := st.RefreshTokenByHash(ctx, c.hash)
				wantCode(t, err, unhidra.ENotFound)
			}
		})
	}
}

func testListSessions(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, other := newUser(t, st, "sam"), newUser(t, st, "other")
	newSession(t, st, u.ID, "oldest", now.Add(-3*time.Hour), []byte("h1"))
	newSession(t, st, u.ID, "middle", now.Add(-2*time.Hour), []byte("h2"))
	newSession(t, st, u.ID, "newest", now.Add(-1*time.Hour), []byte("h3"))
	newSession(t, st, u.ID, "revoked", now.Add(-90*time.Minute), []byte("h4"))
	mustOK(t, st.RevokeSession(ctx, u.ID, "revoked", now.Add(-time.Minute)))
	expired := &unhidra.Session{ID: "expired", UserID: u.ID, CreatedAt: now.Add(-48 * time.Hour), LastUsedAt: now.Add(-48 * time.Hour), ExpiresAt: now.Add(-time.Second)}
	mustOK(t, st.CreateSession(ctx, expired, []byte("h5")))
	expiring := &unhidra.Session{ID: "expires-now", UserID: u.ID, CreatedAt: now.Add(-48 * time.Hour), LastUsedAt: now.Add(-48 * time.Hour), ExpiresAt: now}
	mustOK(t, st.CreateSession(ctx, expiring, []byte("h6")))
	newSession(t, st, other.ID, "someone-else", now, []byte("h7"))

	got, err := st.ListSessions(ctx, u.ID, now)
	mustOK(t, err)
	if ids := sessionIDs(got); !slices.Equal(ids, []string{"newest", "middle", "oldest"}) {
		t.Fatalf("ListSessions = %v, want newest, middle, oldest", ids)
	}
	// Earlier, the expired sessions were still alive.
	got, err = st.ListSessions(ctx, u.ID, now.Add(-2*time.Second))
	mustOK(t, err)
	if ids := sessionIDs(got); !slices.Equal(ids, []string{"newest", "middle", "oldest", "expires-now", "expired"}) {
		t.Fatalf("ListSessions before expiry = %v", ids)
	}
	got, err = st.ListSessions(ctx, "no-such-user", now)
	mustOK(t, err)
	if len(got) != 0 {
		t.Fatalf("ListSessions of an unknown user = %v", sessionIDs(got))
	}
}

func testTouchSession(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser(t, st, "sam")
	s := newSession(t, st, u.ID, "s-1", now, []byte("h1"))
	at, exp := now.Add(time.Hour), now.Add(60*24*time.Hour)
	mustOK(t, st.TouchSession(ctx, "s-1", at, "2001:db8::1", "curl/8", exp))
	want := *s
	want.LastUsedAt, want.IP, want.UserAgent, want.ExpiresAt = at, "2001:db8::1", "curl/8", exp
	got, err := st.SessionByID(ctx, "s-1")
	mustOK(t, err)
	checkSession(t, got, &want)
}

func testBindSessionClient(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, other := newUser(t, st, "sam"), newUser(t, st, "other")
	newSession(t, st, u.ID, "s-1", now, []byte("h1"))
	mustOK(t, st.BindSessionClient(ctx, u.ID, "s-1", "laptop"))
	mustOK(t, st.BindSessionClient(ctx, u.ID, "s-1", "phone")) // the last one counts
	got, err := st.SessionByID(ctx, "s-1")
	mustOK(t, err)
	if got.ClientID != "phone" {
		t.Fatalf("client_id = %q, want phone", got.ClientID)
	}
	wantCode(t, st.BindSessionClient(ctx, other.ID, "s-1", "x"), unhidra.ENotFound)
	wantCode(t, st.BindSessionClient(ctx, u.ID, "nope", "x"), unhidra.ENotFound)
}

func testRevokeSession(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, other := newUser(t, st, "sam"), newUser(t, st, "other")
	newSession(t, st, u.ID, "mine", now, []byte("h1"))
	newSession(t, st, other.ID, "theirs", now, []byte("h2"))
	first := now.Add(time.Minute)

	steps := []struct {
		name, userID, sessionID string
		at                      time.Time
		want                    string
	}{
		{"own session", u.ID, "mine", first, ""},
		{"again keeps the first time", u.ID, "mine", first.Add(time.Hour), ""},
		{"someone else's session", u.ID, "theirs", first, unhidra.ENotFound},
		{"unknown session", u.ID, "nope", first, unhidra.ENotFound},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			wantCode(t, st.RevokeSession(ctx, s.userID, s.sessionID, s.at), s.want)
		})
	}

	got, err := st.SessionByID(ctx, "mine")
	mustOK(t, err)
	if got.RevokedAt == nil || !got.RevokedAt.Equal(first) {
		t.Fatalf("RevokedAt = %v, want %v", got.RevokedAt, first)
	}
	got, err = st.SessionByID(ctx, "theirs")
	mustOK(t, err)
	if got.RevokedAt != nil {
		t.Fatalf("someone else's session was revoked at %v", got.RevokedAt)
	}
}

func testRevokeSessions(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u, other := newUser(t, st, "sam"), newUser(t, st, "other")
	for i, id := range []string{"a", "b", "c", "keep", "already"} {
		newSession(t, st, u.ID, id, now.Add(time.Duration(i)*time.Minute), []byte("h-"+id))
	}
	newSession(t, st, other.ID, "theirs", now, []byte("h-theirs"))
	earlier, at := now.Add(time.Hour), now.Add(2*time.Hour)
	mustOK(t, st.RevokeSession(ctx, u.ID, "already", earlier))

	n, err := st.RevokeSessions(ctx, u.ID, "keep", at)
	mustOK(t, err)
	if n != 3 {
		t.Fatalf("RevokeSessions revoked %d, want 3", n)
	}
	wantRevoked := map[string]*time.Time{"a": &at, "b": &at, "c": &at, "keep": nil, "already": &earlier, "theirs": nil}
	for id, want := range wantRevoked {
		got, err := st.SessionByID(ctx, id)
		mustOK(t, err)
		if !sameTimePtr(got.RevokedAt, want) {
			t.Fatalf("session %q RevokedAt = %v, want %v", id, got.RevokedAt, want)
		}
	}
	live, err := st.ListSessions(ctx, u.ID, at)
	mustOK(t, err)
	if ids := sessionIDs(live); !slices.Equal(ids, []string{"keep"}) {
		t.Fatalf("live sessions = %v, want [keep]", ids)
	}

	n, err = st.RevokeSessions(ctx, u.ID, "", at)
	mustOK(t, err)
	if n != 1 {
		t.Fatalf("RevokeSessions keeping none revoked %d, want 1", n)
	}
	n, err = st.RevokeSessions(ctx, u.ID, "", at)
	mustOK(t, err)
	if n != 0 {
		t.Fatalf("RevokeSessions with nothing live revoked %d, want 0", n)
	}
}

func testTimePrecision(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser(t, st, "sam")
	// Nanoseconds and a non-UTC zone go in; the same instant comes back in
	// UTC, truncated to the microsecond.
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	in := time.Date(2026, 7, 1, 12, 0, 0, 123456789, zone)
	s := &unhidra.Session{ID: "s", UserID: u.ID, CreatedAt: in, LastUsedAt: in, ExpiresAt: in.Add(time.Hour)}
	mustOK(t, st.CreateSession(ctx, s, []byte("h")))
	got, err := st.SessionByID(ctx, "s")
	mustOK(t, err)
	want := in.Truncate(time.Microsecond)
	if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt = %v, want %v in UTC", got.CreatedAt, want.UTC())
	}
}

func testMarkUsed(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser(t, st, "sam")
	newSession(t, st, u.ID, "s", now, []byte("h"))
	first := now.Add(time.Minute)
	steps := []struct {
		name string
		hash string
		at   time.Time
		want bool
	}{
		{"first use wins", "h", first, true},
		{"second use loses", "h", first.Add(time.Minute), false},
		{"unknown token", "nope", first, false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			ok, err := st.MarkRefreshTokenUsed(ctx, []byte(s.hash), s.at)
			mustOK(t, err)
			if ok != s.want {
				t.Fatalf("MarkRefreshTokenUsed = %v, want %v", ok, s.want)
			}
		})
	}
	rt, err := st.RefreshTokenByHash(ctx, []byte("h"))
	mustOK(t, err)
	if rt.UsedAt == nil || !rt.UsedAt.Equal(first) {
		t.Fatalf("UsedAt = %v, want the first use %v", rt.UsedAt, first)
	}
}

func testMarkUsedConcurrent(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser(t, st, "sam")
	newSession(t, st, u.ID, "s", now, []byte("h"))
	const callers = 16
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		wins  int
		start = make(chan struct{})
	)
	for i := range callers {
		wg.Go(func() {
			<-start
			ok, err := st.MarkRefreshTokenUsed(ctx, []byte("h"), now.Add(time.Duration(i)*time.Second))
			if err != nil {
				t.Errorf("MarkRefreshTokenUsed: %v", err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d of %d concurrent callers won the compare-and-set, want exactly 1", wins, callers)
	}
}

func testAddRefreshToken(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser(t, st, "sam")
	newSession(t, st, u.ID, "s", now, []byte("h1"))
	used := now.Add(time.Second)
	succ := &auth.RefreshToken{Hash: []byte("h2"), SessionID: "s", ParentHash: []byte("h1"), CreatedAt: now.Add(time.Minute), UsedAt: &used}
	mustOK(t, st.AddRefreshToken(ctx, succ))
	got, err := st.RefreshTokenByHash(ctx, []byte("h2"))
	mustOK(t, err)
	if string(got.Hash) != "h2" || got.SessionID != "s" || string(got.ParentHash) != "h1" ||
		!got.CreatedAt.Equal(succ.CreatedAt) || !sameTimePtr(got.UsedAt, succ.UsedAt) {
		t.Fatalf("successor = %+v, want %+v", *got, *succ)
	}

	cases := []struct {
		name string
		tok  *auth.RefreshToken
		want string
	}{
		{"duplicate hash", &auth.RefreshToken{Hash: []byte("h1"), SessionID: "s", CreatedAt: now}, unhidra.EConflict},
		{"unknown session", &auth.RefreshToken{Hash: []byte("h3"), SessionID: "nope", CreatedAt: now}, unhidra.ENotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantCode(t, st.AddRefreshToken(ctx, c.tok), c.want)
		})
	}
}

func testInvites(t *testing.T, st auth.Store) {
	ctx := t.Context()
	exp := now.Add(24 * time.Hour)
	invs := []*unhidra.Invite{
		{Code: "old", CreatedBy: "u-admin", MaxUses: 1, CreatedAt: now.Add(-time.Hour)},
		{Code: "new", CreatedBy: "u-admin", MaxUses: 10, Uses: 3, ExpiresAt: &exp, CreatedAt: now},
	}
	for _, inv := range invs {
		mustOK(t, st.CreateInvite(ctx, inv))
	}
	wantCode(t, st.CreateInvite(ctx, &unhidra.Invite{Code: "old", MaxUses: 1, CreatedAt: now}), unhidra.EConflict)

	got, err := st.ListInvites(ctx)
	mustOK(t, err)
	if len(got) != 2 {
		t.Fatalf("ListInvites returned %d invites, want 2", len(got))
	}
	for i, want := range []*unhidra.Invite{invs[1], invs[0]} { // newest first
		g := got[i]
		if g.Code != want.Code || g.CreatedBy != want.CreatedBy || g.MaxUses != want.MaxUses || g.Uses != want.Uses ||
			!sameTimePtr(g.ExpiresAt, want.ExpiresAt) || !g.CreatedAt.Equal(want.CreatedAt) {
			t.Fatalf("invite %d = %+v, want %+v", i, *g, *want)
		}
	}

	mustOK(t, st.DeleteInvite(ctx, "old"))
	wantCode(t, st.DeleteInvite(ctx, "old"), unhidra.ENotFound)
	got, err = st.ListInvites(ctx)
	mustOK(t, err)
	if len(got) != 1 || got[0].Code != "new" {
		t.Fatalf("after delete ListInvites = %v", got)
	}
	err = st.CreateUser(ctx, &unhidra.User{Username: "late"}, "h", auth.CreateUserOptions{InviteCode: "old", Now: now})
	wantCode(t, err, unhidra.ENotFound)
}

func testNotFound(t *testing.T, st auth.Store) {
	ctx := t.Context()
	u := newUser(t, st, "sam")
	newSession(t, st, u.ID, "s", now, []byte("h"))
	cases := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"UserByID", func(ctx context.Context) error { _, err := st.UserByID(ctx, "nope"); return err }},
		{"UserByUsername", func(ctx context.Context) error { _, _, err := st.UserByUsername(ctx, "nope"); return err }},
		{"UpdateUser", func(ctx context.Context) error {
			_, err := st.UpdateUser(ctx, "nope", auth.UserUpdate{DisplayName: ptr("x"), Now: now})
			return err
		}},
		{"SetPasswordHash", func(ctx context.Context) error { return st.SetPasswordHash(ctx, "nope", "h", now) }},
		{"SessionByID", func(ctx context.Context) error { _, err := st.SessionByID(ctx, "nope"); return err }},
		{"TouchSession", func(ctx context.Context) error { return st.TouchSession(ctx, "nope", now, "", "", now) }},
		{"RevokeSession unknown", func(ctx context.Context) error { return st.RevokeSession(ctx, u.ID, "nope", now) }},
		{"RevokeSession wrong user", func(ctx context.Context) error { return st.RevokeSession(ctx, "nope", "s", now) }},
		{"RefreshTokenByHash", func(ctx context.Context) error { _, err := st.RefreshTokenByHash(ctx, []byte("nope")); return err }},
		{"DeleteInvite", func(ctx context.Context) error { return st.DeleteInvite(ctx, "nope") }},
		{"CreateUser with unknown invite", func(ctx context.Context) error {
			return st.CreateUser(ctx, &unhidra.User{Username: "x"}, "h", auth.CreateUserOptions{InviteCode: "nope", Now: now})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantCode(t, c.call(ctx), unhidra.ENotFound)
		})
	}
}
