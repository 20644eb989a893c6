package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
	"github.com/unhidra/unhidra/internal/webauthntest"
)

// passkeyOrigin is the tests' public URL: passkeys need a domain name as
// relying party, and the software authenticator reports this origin.
const passkeyOrigin = "http://localhost"

type begin struct {
	CeremonyID string          `json:"ceremony_id"`
	Options    json.RawMessage `json:"options"`
}

type passkeyInfo struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	BackupEligible bool    `json:"backup_eligible"`
	SignCount      uint32  `json:"sign_count"`
	LastUsedAt     *string `json:"last_used_at"`
}

func passkeyNode(t *testing.T, engine string) *testserver.Node {
	cfg := testserver.Config(t, engine)
	cfg.PublicURL = passkeyOrigin
	return testserver.Start(t, cfg)
}

// addPasskey registers a passkey held by a for the holder of access.
func addPasskey(t *testing.T, n *testserver.Node, a *webauthntest.Authenticator, access, name string) passkeyInfo {
	t.Helper()
	var b begin
	newCall(t, n, "POST", "/api/v1/auth/webauthn/register/begin").bearer(access).expect(200, &b)
	cred, err := a.Create(b.Options)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct{ Passkey passkeyInfo }
	newCall(t, n, "POST", "/api/v1/auth/webauthn/register/finish").bearer(access).
		json(map[string]any{"ceremony_id": b.CeremonyID, "name": name, "credential": json.RawMessage(cred)}).expect(201, &resp)
	return resp.Passkey
}

// passkeyAssertion begins a sign-in and returns its ceremony and a's answer.
func passkeyAssertion(t *testing.T, n *testserver.Node, a *webauthntest.Authenticator) (string, json.RawMessage) {
	t.Helper()
	var b begin
	newCall(t, n, "POST", "/api/v1/auth/webauthn/login/begin").expect(200, &b)
	if strings.Contains(string(b.Options), "allowCredentials") {
		t.Fatalf("sign-in options name credentials: %s (want a discoverable sign-in)", b.Options)
	}
	if !strings.Contains(string(b.Options), `"userVerification":"required"`) || !strings.Contains(string(b.Options), `"rpId":"localhost"`) {
		t.Fatalf("sign-in options = %s, want user verification required for rpId localhost", b.Options)
	}
	resp, err := a.Get(b.Options)
	if err != nil {
		t.Fatal(err)
	}
	return b.CeremonyID, resp
}

func passkeyLogin(t *testing.T, n *testserver.Node, a *webauthntest.Authenticator) *call {
	t.Helper()
	id, resp := passkeyAssertion(t, n, a)
	return newCall(t, n, "POST", "/api/v1/auth/webauthn/login/finish").json(map[string]any{"ceremony_id": id, "credential": resp})
}

func auditCount(t *testing.T, n *testserver.Node, where string) int {
	t.Helper()
	var got int
	if err := n.Store.Read().QueryRow(t.Context(), `SELECT
		(SELECT COUNT(*) FROM audit_outbox WHERE `+where+`) +
		(SELECT COUNT(*) FROM audit_log WHERE `+where+`)`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestPasskeys(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			n := passkeyNode(t, engine)
			bob := register(t, n, "bob", bobPW)
			tk := login(t, n, "bob", bobPW)
			laptop, phone := webauthntest.New(passkeyOrigin), webauthntest.New(passkeyOrigin)

			// Several passkeys per user, named and listed.
			k1 := addPasskey(t, n, laptop, tk.AccessToken, "Laptop")
			k2 := addPasskey(t, n, phone, tk.AccessToken, "Phone")
			var list struct{ Passkeys []passkeyInfo }
			newCall(t, n, "GET", "/api/v1/users/me/passkeys").bearer(tk.AccessToken).expect(200, &list)
			if len(list.Passkeys) != 2 || list.Passkeys[0].Name != "Laptop" || list.Passkeys[1].Name != "Phone" || list.Passkeys[0].LastUsedAt != nil {
				t.Fatalf("passkeys = %+v", list.Passkeys)
			}
			// The same authenticator again is excluded by the options (the
			// browser refuses), and a credential id registered already is
			// refused by the server.
			var b begin
			newCall(t, n, "POST", "/api/v1/auth/webauthn/register/begin").bearer(tk.AccessToken).expect(200, &b)
			if _, err := laptop.Create(b.Options); err == nil || !strings.Contains(err.Error(), "excluded") {
				t.Fatalf("registering the laptop twice: %v, want it excluded", err)
			}

			// Passwordless sign-in with either passkey: no username.
			for _, a := range []*webauthntest.Authenticator{laptop, phone} {
				var pair struct {
					AccessToken string `json:"access_token"`
					User        struct{ ID string }
				}
				passkeyLogin(t, n, a).expect(200, &pair)
				if pair.User.ID != bob.ID || pair.AccessToken == "" {
					t.Fatalf("passkey sign-in = %+v, want bob", pair)
				}
				newCall(t, n, "GET", "/api/v1/users/me").bearer(pair.AccessToken).expect(200, nil)
			}
			if got := auditCount(t, n, `action = 'auth.passkey_login' AND result = 'ok'`); got != 2 {
				t.Fatalf("%d ok passkey sign-ins audited, want 2", got)
			}
			if got := auditCount(t, n, `action = 'auth.passkey_register'`); got != 2 {
				t.Fatalf("%d passkey registrations audited, want 2", got)
			}
			newCall(t, n, "GET", "/api/v1/users/me/passkeys").bearer(tk.AccessToken).expect(200, &list)
			if list.Passkeys[0].SignCount != 1 || list.Passkeys[0].LastUsedAt == nil {
				t.Fatalf("after use: %+v, want sign count 1 and a last use", list.Passkeys[0])
			}

			// A ceremony is single-use; a replayed assertion (its challenge
			// spent) is refused on a fresh ceremony.
			id, resp := passkeyAssertion(t, n, laptop)
			newCall(t, n, "POST", "/api/v1/auth/webauthn/login/finish").json(map[string]any{"ceremony_id": id, "credential": resp}).expect(200, nil)
			newCall(t, n, "POST", "/api/v1/auth/webauthn/login/finish").json(map[string]any{"ceremony_id": id, "credential": resp}).
				expectError(400, "invalid_argument")
			id2, _ := passkeyAssertion(t, n, laptop)
			newCall(t, n, "POST", "/api/v1/auth/webauthn/login/finish").json(map[string]any{"ceremony_id": id2, "credential": resp}).
				expectError(401, "unauthenticated")

			// Sign count: an assertion whose counter went backwards (a
			// cloned authenticator) is refused and audited.
			cred := laptop.Credentials()[0]
			cred.Counter = 0 // the next assertion carries 1, below the stored 2
			passkeyLogin(t, n, laptop).expectError(401, "unauthenticated")
			if got := auditCount(t, n, `action = 'auth.passkey_login' AND result = 'failed' AND reason = 'sign_count'`); got != 1 {
				t.Fatalf("%d sign-count refusals audited, want 1", got)
			}
			cred.Counter = 100
			passkeyLogin(t, n, laptop).expect(200, nil)

			// User verification is required: an authenticator that did not
			// verify the user can neither sign in nor register.
			phone.NoUserVerification = true
			passkeyLogin(t, n, phone).expectError(401, "unauthenticated")
			lazy := webauthntest.New(passkeyOrigin)
			lazy.NoUserVerification = true
			newCall(t, n, "POST", "/api/v1/auth/webauthn/register/begin").bearer(tk.AccessToken).expect(200, &b)
			c, _ := lazy.Create(b.Options)
			newCall(t, n, "POST", "/api/v1/auth/webauthn/register/finish").bearer(tk.AccessToken).
				json(map[string]any{"ceremony_id": b.CeremonyID, "credential": json.RawMessage(c)}).expectError(400, "invalid_argument")
			phone.NoUserVerification = false

			// Another origin (a phishing page) is refused.
			evil := webauthntest.New("http://localhost.evil.example")
			newCall(t, n, "POST", "/api/v1/auth/webauthn/register/begin").bearer(tk.AccessToken).expect(200, &b)
			c, _ = evil.Create(b.Options)
			newCall(t, n, "POST", "/api/v1/auth/webauthn/register/finish").bearer(tk.AccessToken).
				json(map[string]any{"ceremony_id": b.CeremonyID, "credential": json.RawMessage(c)}).expectError(400, "invalid_argument")

			// Rename and remove; a removed passkey stops signing in at once.
			var renamed struct{ Passkey passkeyInfo }
			newCall(t, n, "PATCH", "/api/v1/users/me/passkeys/"+k2.ID).bearer(tk.AccessToken).json(map[string]string{"name": "Old phone"}).expect(200, &renamed)
			if renamed.Passkey.Name != "Old phone" {
				t.Fatalf("renamed = %+v", renamed.Passkey)
			}
			newCall(t, n, "PATCH", "/api/v1/users/me/passkeys/"+k2.ID).bearer(tk.AccessToken).json(map[string]string{"name": " "}).expectError(400, "invalid_argument")
			newCall(t, n, "PATCH", "/api/v1/users/me/passkeys/"+k2.ID).bearer(tk.AccessToken).json(map[string]string{"name": "a\x00b"}).expectError(400, "invalid_argument")
			newCall(t, n, "DELETE", "/api/v1/users/me/passkeys/"+k2.ID).bearer(tk.AccessToken).expect(204, nil)
			passkeyLogin(t, n, phone).expectError(401, "unauthenticated")
			if got := auditCount(t, n, `action = 'auth.passkey_login' AND reason = 'unknown_passkey'`); got != 1 {
				t.Fatalf("%d unknown-passkey refusals audited, want 1", got)
			}
			if got := auditCount(t, n, `action = 'auth.passkey_remove' AND target_id = '`+k2.ID+`'`); got != 1 {
				t.Fatalf("%d removals audited, want 1", got)
			}
			newCall(t, n, "DELETE", "/api/v1/users/me/passkeys/"+k2.ID).bearer(tk.AccessToken).expectError(404, "not_found")

			// Refused: someone else's passkey, an unsigned caller, a
			// personal access token, another user's ceremony.
			register(t, n, "alice", "kettle orbit 39")
			alice := login(t, n, "alice", "kettle orbit 39")
			newCall(t, n, "DELETE", "/api/v1/users/me/passkeys/"+k1.ID).bearer(alice.AccessToken).expectError(404, "not_found")
			newCall(t, n, "PATCH", "/api/v1/users/me/passkeys/"+k1.ID).bearer(alice.AccessToken).json(map[string]string{"name": "mine"}).expectError(404, "not_found")
			newCall(t, n, "GET", "/api/v1/users/me/passkeys").bearer(alice.AccessToken).expect(200, &list)
			if len(list.Passkeys) != 0 {
				t.Fatalf("alice sees %d passkeys", len(list.Passkeys))
			}
			newCall(t, n, "POST", "/api/v1/auth/webauthn/register/begin").expectError(401, "unauthenticated")
			var pat struct{ Secret string }
			newCall(t, n, "POST", "/api/v1/users/me/tokens").bearer(tk.AccessToken).
				json(map[string]any{"name": "ci", "scopes": []string{"read", "write"}, "expires_in_s": 3600}).expect(201, &pat)
			newCall(t, n, "POST", "/api/v1/auth/webauthn/register/begin").bearer(pat.Secret).expectError(403, "permission_denied")
			newCall(t, n, "DELETE", "/api/v1/users/me/passkeys/"+k1.ID).bearer(pat.Secret).expectError(403, "permission_denied")
			newCall(t, n, "POST", "/api/v1/auth/webauthn/register/begin").bearer(tk.AccessToken).expect(200, &b)
			c, _ = webauthntest.New(passkeyOrigin).Create(b.Options)
			newCall(t, n, "POST", "/api/v1/auth/webauthn/register/finish").bearer(alice.AccessToken).
				json(map[string]any{"ceremony_id": b.CeremonyID, "credential": json.RawMessage(c)}).expectError(400, "invalid_argument")

			// Bad input: no credential, not an object, garbage, a made-up
			// ceremony.
			newCall(t, n, "POST", "/api/v1/auth/webauthn/login/finish").json(map[string]any{"ceremony_id": id2}).expectError(400, "invalid_argument")
			newCall(t, n, "POST", "/api/v1/auth/webauthn/login/finish").json(map[string]any{"ceremony_id": id2, "credential": "x"}).expectError(400, "invalid_argument")
			fresh, _ := passkeyAssertion(t, n, laptop)
			newCall(t, n, "POST", "/api/v1/auth/webauthn/login/finish").json(map[string]any{"ceremony_id": fresh, "credential": map[string]any{"id": "\xff", "response": 7}}).
				expectError(401, "unauthenticated")
			newCall(t, n, "POST", "/api/v1/auth/webauthn/login/finish").json(map[string]any{"ceremony_id": strings.Repeat("A", 43), "credential": map[string]any{}}).
				expectError(400, "invalid_argument")

			// A disabled account cannot sign in with its passkey.
			bootstrapAdmin(t, n, "root", adminPW)
			admin := login(t, n, "root", adminPW).AccessToken
			newCall(t, n, "PATCH", "/api/v1/admin/users/"+bob.ID).bearer(admin).json(map[string]any{"disabled": true}).expect(200, nil)
			passkeyLogin(t, n, laptop).expectError(401, "unauthenticated")
		})
	}
}
