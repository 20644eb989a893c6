package httpapi_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/auth/password"
	"github.com/unhidra/unhidra/internal/testserver"
	"github.com/unhidra/unhidra/store/authstore"
)

// TestLookAlikeNames: new accounts and profile changes refuse display names
// with invisible formatting characters, with nothing visible, or reading as
// the server's own (for members), and usernames that could never be
// @mentioned; accounts made under the older rules keep working.
func TestLookAlikeNames(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			n := testserver.Start(t, testserver.Config(t, engine))
			tok, _, _ := n.Auth.Bootstrap(t.Context())
			// The first admin may be called admin.
			newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "admin", "password": "harbor tulip 987x", "setup_token": tok}).expect(201, nil)
			register(t, n, "bob", bobPW)
			bob := login(t, n, "bob", bobPW)
			admin := login(t, n, "admin", "harbor tulip 987x")

			reg := func(username, display string) *call {
				return newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": username, "password": "a long passphrase 77", "display_name": display})
			}
			for name, c := range map[string]*call{
				"bidi_override":  reg("mallory", "bob\u202Egnp.exe"),
				"bidi_isolate":   reg("mallory", "\u2066bob\u2069"),
				"zero_width":     reg("mallory", "\u200B\u200C\u200D"),
				"word_joiner":    reg("mallory", "\u2060\uFEFF"),
				"admin":          reg("mallory", "Admin"),
				"fullwidth_root": reg("mallory", "ｒｏｏｔ"),
				"spaced_system":  reg("mallory", "S y s t e m"),
				"username_admin": reg("administrator", ""), // the display name defaults to the username
				"trailing_dot":   reg("mallory.", "Mallory"),
				"trailing_dash":  reg("mallory-", "Mallory"),
				"trailing_under": reg("mallory_", "Mallory"),
			} {
				t.Run("register/"+name, func(t *testing.T) { c.expectError(400, "invalid_argument") })
			}
			for name, display := range map[string]string{
				"bidi_override": "bob\u202E", "zero_width_only": "\u200B", "moderator": "Moderator!", "support": "support",
			} {
				t.Run("update/"+name, func(t *testing.T) {
					newCall(t, n, "PATCH", "/api/v1/users/me").bearer(bob.AccessToken).json(map[string]string{"display_name": display}).expectError(400, "invalid_argument")
				})
			}
			var me struct{ User user }
			newCall(t, n, "PATCH", "/api/v1/users/me").bearer(bob.AccessToken).json(map[string]string{"display_name": "Bob 👋"}).expect(200, &me)
			newCall(t, n, "PATCH", "/api/v1/users/me").bearer(admin.AccessToken).json(map[string]string{"display_name": "Admin"}).expect(200, nil)
			reg("mallory", "Mallory").expect(201, nil)

			// An account made under the older rules (a username ending in
			// '_', a display name that is now reserved) still logs in and
			// edits the rest of its profile.
			h, err := password.New(password.Config{})
			if err != nil {
				t.Fatal(err)
			}
			hash, err := h.Hash(t.Context(), "legacy passphrase 42")
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			legacy := &unhidra.User{ID: uuid.Must(uuid.NewV7()).String(), Username: "legacy_", DisplayName: "root", Role: unhidra.RoleMember, CreatedAt: now, UpdatedAt: now}
			if err := authstore.New(n.Store).CreateUser(t.Context(), legacy, hash, auth.CreateUserOptions{Now: now}); err != nil {
				t.Fatal(err)
			}
			lt := login(t, n, "legacy_", "legacy passphrase 42")
			newCall(t, n, "PATCH", "/api/v1/users/me").bearer(lt.AccessToken).json(map[string]string{"status_text": "still here"}).expect(200, &me)
			if me.User.DisplayName != "root" || me.User.StatusText != "still here" {
				t.Fatalf("legacy user after update: %+v", me.User)
			}
		})
	}
}
