package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/testserver"
)

const (
	adminPW = "admin passphrase 1"
	bobPW   = "bob passphrase 22"
)

// TestAccountFlow is the end-to-end account life cycle on each engine:
// register → login → me → refresh → old refresh rejected → logout → refresh
// rejected.
func TestAccountFlow(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			cfg := testserver.Config(t, engine)
			cfg.RefreshGrace = 0
			n := testserver.Start(t, cfg)

			admin := bootstrapAdmin(t, n, "alice", adminPW)
			if admin.Role != "admin" {
				t.Fatalf("setup-token registration made role %q", admin.Role)
			}
			bob := register(t, n, "Bob", bobPW)
			if bob.Role != "member" || bob.DisplayName != "Bob" {
				t.Fatalf("bob = %+v", bob)
			}
			// usernames are unique case-insensitively
			newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "bob", "password": bobPW}).
				expectError(409, "conflict")

			tk := login(t, n, "bob", bobPW) // case-insensitive login
			if tk.AccessToken == "" || tk.RefreshToken == "" || tk.ExpiresIn < 800 || tk.User.ID != bob.ID {
				t.Fatalf("login = %+v", tk)
			}
			var me struct{ User user }
			newCall(t, n, "GET", "/api/v1/users/me").bearer(tk.AccessToken).expect(200, &me)
			if me.User.ID != bob.ID {
				t.Fatalf("me = %+v", me.User)
			}

			var next tokens
			newCall(t, n, "POST", "/api/v1/auth/refresh").json(map[string]string{"refresh_token": tk.RefreshToken}).expect(200, &next)
			if next.RefreshToken == tk.RefreshToken || next.AccessToken == "" || next.SessionID != tk.SessionID {
				t.Fatalf("refresh did not rotate: %+v", next)
			}
			newCall(t, n, "GET", "/api/v1/users/me").bearer(next.AccessToken).expect(200, nil)

			// The old refresh token is spent; presenting it again is reuse,
			// which revokes the whole family: the new tokens stop working too.
			newCall(t, n, "POST", "/api/v1/auth/refresh").json(map[string]string{"refresh_token": tk.RefreshToken}).expectError(401, "unauthenticated")
			newCall(t, n, "POST", "/api/v1/auth/refresh").json(map[string]string{"refresh_token": next.RefreshToken}).expectError(401, "unauthenticated")
			newCall(t, n, "GET", "/api/v1/users/me").bearer(next.AccessToken).expectError(401, "unauthenticated")

			// A fresh session: logout ends it and its refresh token.
			tk = login(t, n, "bob", bobPW)
			newCall(t, n, "POST", "/api/v1/auth/logout").bearer(tk.AccessToken).expect(204, nil)
			newCall(t, n, "GET", "/api/v1/users/me").bearer(tk.AccessToken).expectError(401, "unauthenticated")
			newCall(t, n, "POST", "/api/v1/auth/refresh").json(map[string]string{"refresh_token": tk.RefreshToken}).expectError(401, "unauthenticated")

			// Wrong password and unknown user answer the same.
			a := newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": "bob", "password": "wrong password!"}).expectError(401, "unauthenticated")
			b := newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": "nobody", "password": "wrong password!"}).expectError(401, "unauthenticated")
			if string(a.Body) != string(b.Body) {
				t.Fatalf("unknown user and wrong password differ: %s vs %s", a.Body, b.Body)
			}
		})
	}
}

func TestRefreshGraceWindow(t *testing.T) {
	cfg := testserver.Config(t, "sqlite")
	cfg.RefreshGrace = time.Minute
	n := testserver.Start(t, cfg)
	register(t, n, "bob", bobPW)
	tk := login(t, n, "bob", bobPW)

	// Two tabs refresh with the same token at once: both get a working pair
	// in the same family, and nobody is logged out.
	var a, b tokens
	newCall(t, n, "POST", "/api/v1/auth/refresh").json(map[string]string{"refresh_token": tk.RefreshToken}).expect(200, &a)
	newCall(t, n, "POST", "/api/v1/auth/refresh").json(map[string]string{"refresh_token": tk.RefreshToken}).expect(200, &b)
	if a.RefreshToken == b.RefreshToken || a.SessionID != tk.SessionID || b.SessionID != tk.SessionID {
		t.Fatalf("grace refresh: a=%+v b=%+v", a, b)
	}
	for _, x := range []tokens{a, b} {
		var next tokens
		newCall(t, n, "POST", "/api/v1/auth/refresh").json(map[string]string{"refresh_token": x.RefreshToken}).expect(200, &next)
		newCall(t, n, "GET", "/api/v1/users/me").bearer(next.AccessToken).expect(200, nil)
	}
}

func TestCookieMode(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	register(t, n, "bob", bobPW)
	r := newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]any{"username": "bob", "password": bobPW, "cookie": true}).expect(200, nil)
	if strings.Contains(string(r.Body), "refresh_token") {
		t.Fatalf("cookie login leaked the refresh token in the body: %s", r.Body)
	}
	var c *http.Cookie
	for _, x := range (&http.Response{Header: r.Header}).Cookies() {
		if x.Name == "unhidra_refresh" {
			c = x
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/api/v1/auth/" || c.Value == "" {
		t.Fatalf("refresh cookie = %+v (Set-Cookie %q)", c, r.Header.Values("Set-Cookie"))
	}
	cookie := c.Name + "=" + c.Value

	// Without the CSRF header a cookie refresh is refused and changes nothing.
	newCall(t, n, "POST", "/api/v1/auth/refresh").with("Cookie", cookie).expectError(403, "permission_denied")
	var next tokens
	r = newCall(t, n, "POST", "/api/v1/auth/refresh").with("Cookie", cookie).with("X-Unhidra-CSRF", "1").expect(200, &next)
	if next.AccessToken == "" || next.RefreshToken != "" || len(r.Header.Values("Set-Cookie")) == 0 {
		t.Fatalf("cookie refresh: %s / %q", r.Body, r.Header.Values("Set-Cookie"))
	}
	newCall(t, n, "GET", "/api/v1/users/me").bearer(next.AccessToken).expect(200, nil)

	// Logout by cookie needs the header too, and clears the cookie.
	var newCookie string
	for _, x := range (&http.Response{Header: r.Header}).Cookies() {
		newCookie = x.Name + "=" + x.Value
	}
	newCall(t, n, "POST", "/api/v1/auth/logout").with("Cookie", newCookie).expectError(403, "permission_denied")
	r = newCall(t, n, "POST", "/api/v1/auth/logout").with("Cookie", newCookie).with("X-Unhidra-CSRF", "1").expect(204, nil)
	if !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), ";"), "Max-Age=0") {
		t.Fatalf("logout did not clear the cookie: %q", r.Header.Values("Set-Cookie"))
	}
	newCall(t, n, "GET", "/api/v1/users/me").bearer(next.AccessToken).expectError(401, "unauthenticated")
}

func TestSessionsAndPasswordChange(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			n := testserver.Start(t, testserver.Config(t, engine))
			register(t, n, "bob", bobPW)
			register(t, n, "carol", "seashell lantern 3")
			s1 := login(t, n, "bob", bobPW)
			s2 := login(t, n, "bob", bobPW)
			s3 := login(t, n, "bob", bobPW)
			carol := login(t, n, "carol", "seashell lantern 3")

			var list struct {
				Sessions []struct {
					ID      string `json:"id"`
					Current bool   `json:"current"`
					IP      string `json:"ip"`
				}
			}
			newCall(t, n, "GET", "/api/v1/users/me/sessions").bearer(s1.AccessToken).expect(200, &list)
			if len(list.Sessions) != 3 {
				t.Fatalf("sessions = %+v", list.Sessions)
			}
			for _, s := range list.Sessions {
				if s.Current != (s.ID == s1.SessionID) || s.IP != "127.0.0.1" {
					t.Fatalf("session %+v (current is %s)", s, s1.SessionID)
				}
			}
			// Carol cannot revoke Bob's session, nor learn that it exists.
			newCall(t, n, "DELETE", "/api/v1/users/me/sessions/"+s2.SessionID).bearer(carol.AccessToken).expectError(404, "not_found")
			newCall(t, n, "GET", "/api/v1/users/me").bearer(s2.AccessToken).expect(200, nil)

			newCall(t, n, "DELETE", "/api/v1/users/me/sessions/"+s2.SessionID).bearer(s1.AccessToken).expect(204, nil)
			newCall(t, n, "GET", "/api/v1/users/me").bearer(s2.AccessToken).expectError(401, "unauthenticated")

			// Password change: wrong old password refused, then every other
			// session is revoked and the current one survives.
			newCall(t, n, "POST", "/api/v1/users/me/password").bearer(s1.AccessToken).
				json(map[string]string{"old_password": "not it at all", "new_password": "brand new passphrase"}).expectError(403, "permission_denied")
			newCall(t, n, "POST", "/api/v1/users/me/password").bearer(s1.AccessToken).
				json(map[string]string{"old_password": bobPW, "new_password": "password"}).expectError(400, "invalid_argument")
			newCall(t, n, "POST", "/api/v1/users/me/password").bearer(s1.AccessToken).
				json(map[string]string{"old_password": bobPW, "new_password": "brand new passphrase"}).expect(204, nil)
			newCall(t, n, "GET", "/api/v1/users/me").bearer(s3.AccessToken).expectError(401, "unauthenticated")
			newCall(t, n, "POST", "/api/v1/auth/refresh").json(map[string]string{"refresh_token": s3.RefreshToken}).expectError(401, "unauthenticated")
			newCall(t, n, "GET", "/api/v1/users/me").bearer(s1.AccessToken).expect(200, nil)
			newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": "bob", "password": bobPW}).expectError(401, "unauthenticated")
			s4 := login(t, n, "bob", "brand new passphrase")

			var revoked struct{ Revoked int }
			newCall(t, n, "DELETE", "/api/v1/users/me/sessions").bearer(s1.AccessToken).expect(200, &revoked)
			if revoked.Revoked != 1 {
				t.Fatalf("revoked %d others, want 1", revoked.Revoked)
			}
			newCall(t, n, "GET", "/api/v1/users/me").bearer(s4.AccessToken).expectError(401, "unauthenticated")
			newCall(t, n, "GET", "/api/v1/users/me").bearer(carol.AccessToken).expect(200, nil)
		})
	}
}

func TestProfileAndUserSearch(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	bob := register(t, n, "bob", bobPW)
	register(t, n, "carol", "seashell lantern 3")
	register(t, n, "carl_100", "granite orchard 44")
	tk := login(t, n, "bob", bobPW)

	var me struct{ User user }
	newCall(t, n, "PATCH", "/api/v1/users/me").bearer(tk.AccessToken).json(map[string]string{"display_name": " Bob B ", "status_text": "on call"}).expect(200, &me)
	if me.User.DisplayName != "Bob B" || me.User.StatusText != "on call" {
		t.Fatalf("profile = %+v", me.User)
	}
	newCall(t, n, "PATCH", "/api/v1/users/me").bearer(tk.AccessToken).json(map[string]string{"display_name": ""}).expectError(400, "invalid_argument")
	newCall(t, n, "PATCH", "/api/v1/users/me").bearer(tk.AccessToken).json(map[string]string{"status_text": strings.Repeat("x", 141)}).expectError(400, "invalid_argument")

	var got struct{ User user }
	newCall(t, n, "GET", "/api/v1/users/"+bob.ID).bearer(tk.AccessToken).expect(200, &got)
	if got.User.StatusText != "on call" {
		t.Fatalf("user = %+v", got.User)
	}
	newCall(t, n, "GET", "/api/v1/users/nope").bearer(tk.AccessToken).expectError(404, "not_found")

	var page struct {
		Users      []user
		NextCursor string `json:"next_cursor"`
	}
	newCall(t, n, "GET", "/api/v1/users?q=CAR&limit=1").bearer(tk.AccessToken).expect(200, &page)
	if len(page.Users) != 1 || page.Users[0].Username != "carl_100" || page.NextCursor == "" {
		t.Fatalf("page 1 = %+v", page)
	}
	cursor := page.NextCursor
	page.NextCursor = ""
	newCall(t, n, "GET", "/api/v1/users?q=CAR&limit=1&cursor="+cursor).bearer(tk.AccessToken).expect(200, &page)
	if len(page.Users) != 1 || page.Users[0].Username != "carol" || page.NextCursor != "" {
		t.Fatalf("page 2 = %+v", page)
	}
	// LIKE wildcards in q are literal.
	newCall(t, n, "GET", "/api/v1/users?q=%25").bearer(tk.AccessToken).expect(200, &page)
	if len(page.Users) != 0 {
		t.Fatalf("q=%% matched %+v", page.Users)
	}
	newCall(t, n, "GET", "/api/v1/users?q=_").bearer(tk.AccessToken).expect(200, &page)
	if len(page.Users) != 1 || page.Users[0].Username != "carl_100" {
		t.Fatalf("q=_ matched %+v", page.Users)
	}
}

func TestRegistrationModesAndInvites(t *testing.T) {
	cfg := testserver.Config(t, "sqlite")
	cfg.Registration = "invite"
	n := testserver.Start(t, cfg)

	newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "eve", "password": "quiet meadow fox 1"}).expectError(403, "permission_denied")
	// A forged setup token makes nobody an admin.
	newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "eve", "password": "quiet meadow fox 1", "setup_token": "uhs_forged"}).expectError(403, "permission_denied")
	bootstrapAdmin(t, n, "alice", adminPW)
	admin := login(t, n, "alice", adminPW)

	var inv struct {
		Invite struct {
			Code    string `json:"code"`
			MaxUses int    `json:"max_uses"`
		}
	}
	newCall(t, n, "POST", "/api/v1/invites").bearer(admin.AccessToken).json(map[string]int{"max_uses": 1, "expires_in_s": 3600}).expect(201, &inv)
	if inv.Invite.Code == "" || inv.Invite.MaxUses != 1 {
		t.Fatalf("invite = %+v", inv)
	}
	newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "bob", "password": bobPW, "invite": "uhi_wrong"}).expectError(403, "permission_denied")
	newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "bob", "password": bobPW, "invite": inv.Invite.Code}).expect(201, nil)
	// used up
	newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "carol", "password": "seashell lantern 3", "invite": inv.Invite.Code}).expectError(403, "permission_denied")
	// a taken username does not spend an invite
	newCall(t, n, "POST", "/api/v1/invites").bearer(admin.AccessToken).json(map[string]int{"max_uses": 1}).expect(201, &inv)
	newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "BOB", "password": bobPW, "invite": inv.Invite.Code}).expectError(409, "conflict")
	newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "carol", "password": "seashell lantern 3", "invite": inv.Invite.Code}).expect(201, nil)

	// Members may not manage invites; the second setup-token use is refused.
	bob := login(t, n, "bob", bobPW)
	newCall(t, n, "POST", "/api/v1/invites").bearer(bob.AccessToken).json(map[string]int{}).expectError(403, "permission_denied")
	newCall(t, n, "GET", "/api/v1/invites").bearer(bob.AccessToken).expectError(403, "permission_denied")
	var list struct{ Invites []struct{ Code string } }
	newCall(t, n, "GET", "/api/v1/invites").bearer(admin.AccessToken).expect(200, &list)
	if len(list.Invites) != 2 {
		t.Fatalf("invites = %+v", list)
	}
	newCall(t, n, "DELETE", "/api/v1/invites/"+list.Invites[0].Code).bearer(bob.AccessToken).expectError(403, "permission_denied")
	newCall(t, n, "DELETE", "/api/v1/invites/"+list.Invites[0].Code).bearer(admin.AccessToken).expect(204, nil)
	newCall(t, n, "DELETE", "/api/v1/invites/"+list.Invites[0].Code).bearer(admin.AccessToken).expectError(404, "not_found")

	t.Run("closed", func(t *testing.T) {
		cfg := testserver.Config(t, "sqlite")
		cfg.Registration = "closed"
		n := testserver.Start(t, cfg)
		newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "eve", "password": "quiet meadow fox 1"}).expectError(403, "permission_denied")
		bootstrapAdmin(t, n, "alice", adminPW) // the setup token still works
	})
}

func TestSetupTokenIsOneTime(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	tok, _, _ := n.Auth.Bootstrap(t.Context())
	newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "alice", "password": adminPW, "setup_token": tok}).expect(201, nil)
	newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "mallory", "password": "harbor tulip 987x", "setup_token": tok}).expectError(403, "permission_denied")
	if _, needed, _ := n.Auth.Bootstrap(t.Context()); needed {
		t.Fatal("bootstrap still needed after the admin registered")
	}
}

func TestAdminUsers(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	alice := bootstrapAdmin(t, n, "alice", adminPW)
	bob := register(t, n, "bob", bobPW)
	admin := login(t, n, "alice", adminPW)
	b := login(t, n, "bob", bobPW)

	newCall(t, n, "GET", "/api/v1/admin/users").bearer(b.AccessToken).expectError(403, "permission_denied")
	newCall(t, n, "DELETE", "/api/v1/admin/users/"+alice.ID+"/sessions").bearer(b.AccessToken).expectError(403, "permission_denied")
	newCall(t, n, "DELETE", "/api/v1/admin/users/no-such-user/sessions").bearer(admin.AccessToken).expectError(404, "not_found")
	// Signing bob out everywhere ends his tokens; he signs in again.
	var revoked struct{ Revoked int }
	newCall(t, n, "DELETE", "/api/v1/admin/users/"+bob.ID+"/sessions").bearer(admin.AccessToken).expect(200, &revoked)
	if revoked.Revoked != 1 {
		t.Fatalf("revoked %d sessions, want 1", revoked.Revoked)
	}
	newCall(t, n, "GET", "/api/v1/users/me").bearer(b.AccessToken).expectError(401, "unauthenticated")
	b = login(t, n, "bob", bobPW)
	newCall(t, n, "PATCH", "/api/v1/admin/users/"+alice.ID).bearer(b.AccessToken).json(map[string]any{"role": "member"}).expectError(403, "permission_denied")
	var page struct{ Users []user }
	newCall(t, n, "GET", "/api/v1/admin/users").bearer(admin.AccessToken).expect(200, &page)
	if len(page.Users) != 2 {
		t.Fatalf("users = %+v", page)
	}
	// The last admin can be neither demoted nor disabled.
	newCall(t, n, "PATCH", "/api/v1/admin/users/"+alice.ID).bearer(admin.AccessToken).json(map[string]any{"role": "member"}).expectError(409, "conflict")
	newCall(t, n, "PATCH", "/api/v1/admin/users/"+bob.ID).bearer(admin.AccessToken).json(map[string]any{"role": "root"}).expectError(400, "invalid_argument")

	// Disabling revokes Bob's sessions at once and blocks his login.
	var out struct{ User user }
	newCall(t, n, "PATCH", "/api/v1/admin/users/"+bob.ID).bearer(admin.AccessToken).json(map[string]any{"disabled": true}).expect(200, &out)
	if !out.User.Disabled {
		t.Fatalf("user = %+v", out.User)
	}
	newCall(t, n, "GET", "/api/v1/users/me").bearer(b.AccessToken).expectError(401, "unauthenticated")
	newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": "bob", "password": bobPW}).expectError(401, "unauthenticated")

	// Promotion takes effect on the next request, not at token expiry.
	newCall(t, n, "PATCH", "/api/v1/admin/users/"+bob.ID).bearer(admin.AccessToken).json(map[string]any{"disabled": false, "role": "admin"}).expect(200, &out)
	b = login(t, n, "bob", bobPW)
	newCall(t, n, "GET", "/api/v1/admin/users").bearer(b.AccessToken).expect(200, nil)
	newCall(t, n, "PATCH", "/api/v1/admin/users/"+bob.ID).bearer(admin.AccessToken).json(map[string]any{"role": "member"}).expect(200, &out)
	newCall(t, n, "GET", "/api/v1/admin/users").bearer(b.AccessToken).expectError(403, "permission_denied")
}
