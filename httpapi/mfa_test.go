package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/unhidra/unhidra/internal/testserver"
)

type mfaLogin struct {
	AccessToken string `json:"access_token"`
	MFARequired bool   `json:"mfa_required"`
	MFATicket   string `json:"mfa_ticket"`
	ExpiresIn   int    `json:"expires_in"`
}

// freshStep waits, if needed, until the current 30-second TOTP step has
// at least 12 s left, so that the codes a test computes for now-30s, now
// and now+30s name the steps it means.
func freshStep(t *testing.T) {
	t.Helper()
	if left := 30 - time.Now().Unix()%30; left < 12 {
		time.Sleep(time.Duration(left)*time.Second + 200*time.Millisecond)
	}
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP turns two-factor on for the holder of access with a code of
// the previous step and returns the secret and the recovery codes.
func enrolTOTP(t *testing.T, n *testserver.Node, access string) (string, []string) {
	t.Helper()
	var enr struct {
		TOTP struct {
			Secret     string `json:"secret"`
			OTPAuthURI string `json:"otpauth_uri"`
			QRPNG      []byte `json:"qr_png"`
		} `json:"totp"`
	}
	newCall(t, n, "POST", "/api/v1/users/me/totp").bearer(access).expect(201, &enr)
	if enr.TOTP.Secret == "" || !strings.HasPrefix(enr.TOTP.OTPAuthURI, "otpauth://totp/Unhidra:") ||
		len(enr.TOTP.QRPNG) < 100 || string(enr.TOTP.QRPNG[1:4]) != "PNG" {
		t.Fatalf("enrolment = %+v", enr.TOTP)
	}
	// Wrong code: refused, still pending.
	newCall(t, n, "POST", "/api/v1/users/me/totp/confirm").bearer(access).json(map[string]string{"code": "000000"}).
		expectError(401, "unauthenticated")
	var rc struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	newCall(t, n, "POST", "/api/v1/users/me/totp/confirm").bearer(access).
		json(map[string]string{"code": code(t, enr.TOTP.Secret, time.Now().Add(-30*time.Second))}).expect(200, &rc)
	if len(rc.RecoveryCodes) != 10 {
		t.Fatalf("recovery codes = %v", rc.RecoveryCodes)
	}
	return enr.TOTP.Secret, rc.RecoveryCodes
}

func startLogin(t *testing.T, n *testserver.Node, username, password string) string {
	t.Helper()
	var l mfaLogin
	newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": username, "password": password}).expect(200, &l)
	if !l.MFARequired || !strings.HasPrefix(l.MFATicket, "uhm_") || l.AccessToken != "" || l.ExpiresIn != 300 {
		t.Fatalf("login of a two-factor account = %+v", l)
	}
	return l.MFATicket
}

func finishLogin(t *testing.T, n *testserver.Node, ticket, c string) *call {
	return newCall(t, n, "POST", "/api/v1/auth/login/mfa").json(map[string]string{"mfa_ticket": ticket, "code": c})
}

// TestTOTPLogin: enrolment, the second step of a login with TOTP and
// recovery codes, and every refusal: wrong code, replayed code, spent or
// bogus ticket, a ticket killed by wrong codes, a spent recovery code,
// regenerated codes, disabling with a wrong password or code.
func TestTOTPLogin(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			n := testserver.Start(t, testserver.Config(t, engine))
			register(t, n, "bob", bobPW)
			tk := login(t, n, "bob", bobPW)
			var st struct {
				TOTP struct {
					Enabled, Pending  bool
					RecoveryCodesLeft int `json:"recovery_codes_left"`
				} `json:"totp"`
			}
			newCall(t, n, "GET", "/api/v1/users/me/totp").bearer(tk.AccessToken).expect(200, &st)
			if st.TOTP.Enabled || st.TOTP.Pending {
				t.Fatalf("status before enrolment = %+v", st)
			}
			freshStep(t)
			secret, recovery := enrolTOTP(t, n, tk.AccessToken)
			newCall(t, n, "GET", "/api/v1/users/me/totp").bearer(tk.AccessToken).expect(200, &st)
			if !st.TOTP.Enabled || st.TOTP.RecoveryCodesLeft != 10 {
				t.Fatalf("status after enrolment = %+v", st)
			}
			newCall(t, n, "POST", "/api/v1/users/me/totp").bearer(tk.AccessToken).expectError(409, "conflict")
			now := time.Now()

			// The code that confirmed (previous step) is spent.
			ticket := startLogin(t, n, "bob", bobPW)
			finishLogin(t, n, ticket, code(t, secret, now.Add(-30*time.Second))).expectError(401, "unauthenticated")
			finishLogin(t, n, ticket, "123").expectError(401, "unauthenticated")
			var done tokens
			finishLogin(t, n, ticket, code(t, secret, now)).expect(200, &done)
			if done.AccessToken == "" || done.RefreshToken == "" {
				t.Fatalf("tokens = %+v", done)
			}
			newCall(t, n, "GET", "/api/v1/users/me").bearer(done.AccessToken).expect(200, nil)
			// The ticket worked once.
			finishLogin(t, n, ticket, code(t, secret, now.Add(30*time.Second))).expectError(401, "unauthenticated")

			// Replay of the code just used: refused; the next step's works.
			ticket = startLogin(t, n, "bob", bobPW)
			finishLogin(t, n, ticket, code(t, secret, now)).expectError(401, "unauthenticated")
			finishLogin(t, n, ticket, code(t, secret, now.Add(30*time.Second))).expect(200, nil)

			// A bogus ticket.
			finishLogin(t, n, "uhm_nothing", recovery[0]).expectError(401, "unauthenticated")
			finishLogin(t, n, "", recovery[0]).expectError(400, "invalid_argument")

			// A recovery code in place of a code, once (typed upper-case,
			// without dashes, still counts).
			ticket = startLogin(t, n, "bob", bobPW)
			finishLogin(t, n, ticket, strings.ToUpper(strings.ReplaceAll(recovery[0], "-", ""))).expect(200, nil)
			ticket = startLogin(t, n, "bob", bobPW)
			finishLogin(t, n, ticket, recovery[0]).expectError(401, "unauthenticated")

			// Five wrong codes kill the ticket, even for a right code after.
			for range 4 {
				finishLogin(t, n, ticket, "999999").expectError(401, "unauthenticated")
			}
			finishLogin(t, n, ticket, recovery[1]).expectError(401, "unauthenticated")
			ticket = startLogin(t, n, "bob", bobPW)
			finishLogin(t, n, ticket, recovery[1]).expect(200, nil) // not spent by the dead ticket

			// New recovery codes: the old ones stop working.
			var rc struct {
				RecoveryCodes []string `json:"recovery_codes"`
			}
			newCall(t, n, "POST", "/api/v1/users/me/recovery-codes").bearer(tk.AccessToken).json(map[string]string{"code": "nope"}).
				expectError(401, "unauthenticated")
			newCall(t, n, "POST", "/api/v1/users/me/recovery-codes").bearer(tk.AccessToken).json(map[string]string{"code": recovery[2]}).
				expect(200, &rc)
			if len(rc.RecoveryCodes) != 10 || rc.RecoveryCodes[0] == recovery[3] {
				t.Fatalf("new recovery codes = %v", rc.RecoveryCodes)
			}
			ticket = startLogin(t, n, "bob", bobPW)
			finishLogin(t, n, ticket, recovery[3]).expectError(401, "unauthenticated")
			finishLogin(t, n, ticket, rc.RecoveryCodes[3]).expect(200, nil)

			// Disabling takes the password and a code.
			newCall(t, n, "POST", "/api/v1/users/me/totp/disable").bearer(tk.AccessToken).
				json(map[string]string{"password": "wrong password", "code": rc.RecoveryCodes[4]}).expectError(403, "permission_denied")
			newCall(t, n, "POST", "/api/v1/users/me/totp/disable").bearer(tk.AccessToken).
				json(map[string]string{"password": bobPW, "code": "000000"}).expectError(401, "unauthenticated")
			newCall(t, n, "POST", "/api/v1/users/me/totp/disable").bearer(tk.AccessToken).
				json(map[string]string{"password": bobPW}).expectError(400, "invalid_argument")
			newCall(t, n, "POST", "/api/v1/users/me/totp/disable").bearer(tk.AccessToken).
				json(map[string]string{"password": bobPW, "code": rc.RecoveryCodes[4]}).expect(204, nil)
			if l := login(t, n, "bob", bobPW); l.AccessToken == "" {
				t.Fatal("login after disabling gave no tokens")
			}
			newCall(t, n, "POST", "/api/v1/users/me/recovery-codes").bearer(tk.AccessToken).json(map[string]string{"code": rc.RecoveryCodes[5]}).
				expectError(409, "conflict")
			newCall(t, n, "POST", "/api/v1/users/me/totp/confirm").bearer(tk.AccessToken).json(map[string]string{"code": "123456"}).
				expectError(409, "conflict")
		})
	}
}

type patResponse struct {
	Token struct {
		ID     string   `json:"id"`
		Name   string   `json:"name"`
		Scopes []string `json:"scopes"`
	} `json:"token"`
	Secret string `json:"secret"`
}

func createPAT(t *testing.T, n *testserver.Node, access, name string, scopes ...string) patResponse {
	t.Helper()
	var out patResponse
	newCall(t, n, "POST", "/api/v1/users/me/tokens").bearer(access).
		json(map[string]any{"name": name, "scopes": scopes, "expires_in_s": 3600}).expect(201, &out)
	if !strings.HasPrefix(out.Secret, "uhp_"+out.Token.ID+"_") || len(out.Secret) != 80 {
		t.Fatalf("token = %+v", out)
	}
	return out
}

// TestPersonalAccessTokens: creation rules, use on the API within the
// token's scopes and refusal outside them, no credential management with a
// token, listing without secrets, and revocation (owner only, at once).
func TestPersonalAccessTokens(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			n := testserver.Start(t, testserver.Config(t, engine))
			bootstrapAdmin(t, n, "alice", adminPW)
			register(t, n, "bob", bobPW)
			register(t, n, "carol", bobPW)
			alice, bob, carol := login(t, n, "alice", adminPW), login(t, n, "bob", bobPW), login(t, n, "carol", bobPW)
			tokens := func(access string) *call { return newCall(t, n, "POST", "/api/v1/users/me/tokens").bearer(access) }

			tokens(bob.AccessToken).json(map[string]any{"name": "ci", "scopes": []string{"read"}}).expectError(400, "invalid_argument")
			tokens(bob.AccessToken).json(map[string]any{"name": "ci", "scopes": []string{"read"}, "expires_in_s": 367 * 86400}).expectError(400, "invalid_argument")
			tokens(bob.AccessToken).json(map[string]any{"name": "ci", "scopes": []string{"root"}, "expires_in_s": 60}).expectError(400, "invalid_argument")
			tokens(bob.AccessToken).json(map[string]any{"name": "ci", "scopes": []string{}, "expires_in_s": 60}).expectError(400, "invalid_argument")
			tokens(bob.AccessToken).json(map[string]any{"name": "", "scopes": []string{"read"}, "expires_in_s": 60}).expectError(400, "invalid_argument")
			tokens(bob.AccessToken).json(map[string]any{"name": "ci", "scopes": []string{"admin"}, "expires_in_s": 60}).expectError(403, "permission_denied")

			read := createPAT(t, n, bob.AccessToken, "reader", "read")
			write := createPAT(t, n, bob.AccessToken, "writer", "write", "read", "write")
			if strings.Join(write.Token.Scopes, " ") != "read write" {
				t.Fatalf("scopes = %v", write.Token.Scopes)
			}
			var list struct {
				Tokens []map[string]any `json:"tokens"`
			}
			r := newCall(t, n, "GET", "/api/v1/users/me/tokens").bearer(bob.AccessToken).expect(200, &list)
			if len(list.Tokens) != 2 || strings.Contains(string(r.Body), read.Secret[37:]) || strings.Contains(string(r.Body), "hash") {
				t.Fatalf("list = %s", r.Body)
			}

			// Reads work with read; writes need write.
			var me struct{ User user }
			newCall(t, n, "GET", "/api/v1/users/me").bearer(read.Secret).expect(200, &me)
			if me.User.Username != "bob" {
				t.Fatalf("me = %+v", me.User)
			}
			newCall(t, n, "GET", "/api/v1/channels").bearer(read.Secret).expect(200, nil)
			newCall(t, n, "POST", "/api/v1/channels").bearer(read.Secret).json(map[string]any{"name": "ops", "kind": "public"}).
				expectError(403, "permission_denied")
			newCall(t, n, "PATCH", "/api/v1/users/me").bearer(read.Secret).json(map[string]any{"status_text": "x"}).
				expectError(403, "permission_denied")
			newCall(t, n, "POST", "/api/v1/channels").bearer(write.Secret).json(map[string]any{"name": "ops", "kind": "public"}).expect(201, nil)

			// No credential management with a token, whatever its scopes.
			for _, c := range []*call{
				tokens(write.Secret).json(map[string]any{"name": "more", "scopes": []string{"read"}, "expires_in_s": 60}),
				newCall(t, n, "GET", "/api/v1/users/me/tokens").bearer(write.Secret),
				newCall(t, n, "DELETE", "/api/v1/users/me/tokens/"+read.Token.ID).bearer(write.Secret),
				newCall(t, n, "POST", "/api/v1/users/me/totp").bearer(write.Secret),
				newCall(t, n, "POST", "/api/v1/users/me/password").bearer(write.Secret).json(map[string]string{"old_password": bobPW, "new_password": "another long passphrase"}),
				newCall(t, n, "GET", "/api/v1/users/me/sessions").bearer(write.Secret),
				newCall(t, n, "POST", "/api/v1/auth/logout").bearer(write.Secret),
			} {
				c.expectError(403, "permission_denied")
			}

			// Admin routes need the admin scope, and an admin user.
			aw := createPAT(t, n, alice.AccessToken, "aw", "write")
			aa := createPAT(t, n, alice.AccessToken, "aa", "admin")
			newCall(t, n, "GET", "/api/v1/admin/users").bearer(aw.Secret).expectError(403, "permission_denied")
			newCall(t, n, "GET", "/api/v1/admin/users").bearer(aa.Secret).expect(200, nil)
			newCall(t, n, "GET", "/api/v1/channels").bearer(aa.Secret).expectError(403, "permission_denied")

			// Bad tokens (the last character changed to another that keeps
			// the encoding canonical: A and E both end in two zero bits).
			last := "A"
			if strings.HasSuffix(read.Secret, "A") {
				last = "E"
			}
			for _, bad := range []string{"uhp_", read.Secret[:79], read.Secret[:len(read.Secret)-1] + last, "uhp_" + strings.Repeat("0", 32) + read.Secret[36:]} {
				newCall(t, n, "GET", "/api/v1/users/me").bearer(bad).expectError(401, "unauthenticated")
			}

			// Revocation: only by the owner (others get 404), at once.
			newCall(t, n, "DELETE", "/api/v1/users/me/tokens/"+read.Token.ID).bearer(carol.AccessToken).expectError(404, "not_found")
			newCall(t, n, "GET", "/api/v1/users/me").bearer(read.Secret).expect(200, nil)
			newCall(t, n, "DELETE", "/api/v1/users/me/tokens/"+read.Token.ID).bearer(bob.AccessToken).expect(204, nil)
			newCall(t, n, "GET", "/api/v1/users/me").bearer(read.Secret).expectError(401, "unauthenticated")
			newCall(t, n, "DELETE", "/api/v1/users/me/tokens/"+read.Token.ID).bearer(bob.AccessToken).expectError(404, "not_found")
			newCall(t, n, "GET", "/api/v1/users/me/tokens").bearer(bob.AccessToken).expect(200, &list)
			if len(list.Tokens) != 1 || list.Tokens[0]["id"] != write.Token.ID {
				t.Fatalf("list after revoke = %v", list.Tokens)
			}

			// A disabled user's tokens stop working.
			newCall(t, n, "PATCH", "/api/v1/admin/users/"+bob.User.ID).bearer(alice.AccessToken).json(map[string]any{"disabled": true}).expect(200, nil)
			newCall(t, n, "GET", "/api/v1/users/me").bearer(write.Secret).expectError(401, "unauthenticated")

			// Making and revoking tokens is audited, by id, never the secret.
			for _, action := range []string{"auth.token_create", "auth.token_revoke"} {
				for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
					r := newCall(t, n, "GET", "/api/v1/admin/audit?action="+action).bearer(alice.AccessToken).expect(200, nil)
					if strings.Contains(string(r.Body), `"target_id"`) {
						if strings.Contains(string(r.Body), write.Secret) || strings.Contains(string(r.Body), read.Secret) {
							t.Fatal("a token secret is in the audit log")
						}
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("no %s entry in the audit log", action)
					}
				}
			}
		})
	}
}

// TestSSOOnly: under --password-login sso-only, password registration is
// refused, the first admin (setup token) is break-glass and signs in, the
// last enabled break-glass admin cannot be unmarked, and an account that
// is not break-glass is refused with password_login_disabled, before any
// password is checked.
func TestSSOOnly(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			cfg := testserver.Config(t, engine)
			cfg.PasswordLogin = "sso-only"
			n := testserver.Start(t, cfg)
			var info struct {
				Server struct {
					PasswordLogin string `json:"password_login"`
				} `json:"server"`
			}
			newCall(t, n, "GET", "/api/v1/server").expect(200, &info)
			if info.Server.PasswordLogin != "sso-only" {
				t.Fatalf("server info = %+v", info)
			}
			alice := bootstrapAdmin(t, n, "alice", adminPW)
			newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "bob", "password": bobPW}).
				expectError(403, "password_login_disabled")
			a := login(t, n, "alice", adminPW)
			var bg struct {
				BreakGlass bool `json:"break_glass"`
			}
			newCall(t, n, "GET", "/api/v1/admin/users/"+alice.ID+"/break-glass").bearer(a.AccessToken).expect(200, &bg)
			if !bg.BreakGlass {
				t.Fatal("the first admin is not break-glass under sso-only")
			}
			if r := auditedOne(t, n, "admin.break_glass", map[string]string{"via": "first_admin"}); r.TargetID != alice.ID || r.Metadata["state"] != "set" {
				t.Fatalf("the first admin's break-glass event: %+v", r)
			}
			newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": "nobody", "password": "x"}).
				expectError(403, "password_login_disabled")
			// The last enabled break-glass admin keeps the mark: with a
			// second one (made from the shell), alice may drop hers.
			newCall(t, n, "PUT", "/api/v1/admin/users/"+alice.ID+"/break-glass").bearer(a.AccessToken).json(map[string]bool{"break_glass": false}).
				expectError(409, "conflict")
			if _, err := n.Auth.CreateAdmin(t.Context(), "root_admin", "another admin passphrase", ""); err != nil {
				t.Fatal(err)
			}
			if _, err := n.Auth.SetBreakGlassUnchecked(t.Context(), "root_admin", true); err != nil {
				t.Fatal(err)
			}
			newCall(t, n, "PUT", "/api/v1/admin/users/"+alice.ID+"/break-glass").bearer(a.AccessToken).json(map[string]bool{"break_glass": false}).expect(200, &bg)
			newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": "alice", "password": adminPW}).
				expectError(403, "password_login_disabled")
			newCall(t, n, "PUT", "/api/v1/admin/users/"+alice.ID+"/break-glass").bearer(a.AccessToken).json(map[string]bool{"break_glass": true}).expect(200, &bg)
			newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": "alice", "password": "wrong"}).
				expectError(401, "unauthenticated")
			login(t, n, "alice", adminPW)
			newCall(t, n, "PUT", "/api/v1/admin/users/nope/break-glass").bearer(a.AccessToken).json(map[string]bool{"break_glass": true}).
				expectError(404, "not_found")
		})
	}
}

// TestBreakGlassNeedsAdmin: members cannot read or set the flag.
func TestBreakGlassNeedsAdmin(t *testing.T) {
	n := testserver.Start(t, testserver.Config(t, "sqlite"))
	alice := bootstrapAdmin(t, n, "alice", adminPW)
	register(t, n, "bob", bobPW)
	b := login(t, n, "bob", bobPW)
	newCall(t, n, "PUT", "/api/v1/admin/users/"+alice.ID+"/break-glass").bearer(b.AccessToken).json(map[string]bool{"break_glass": false}).
		expectError(403, "permission_denied")
	newCall(t, n, "GET", "/api/v1/admin/users/"+alice.ID+"/break-glass").bearer(b.AccessToken).expectError(403, "permission_denied")
}
