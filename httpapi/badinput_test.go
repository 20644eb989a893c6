package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
)

// TestBadInput walks malformed JSON, unknown fields, wrong types, oversized
// bodies and missing or wrong authentication through every endpoint that
// takes them, and checks each answer's code and that nothing changed.
func TestBadInput(t *testing.T) {
	cfg := testserver.Config(t, "sqlite")
	cfg.MaxBodyBytes = 4096
	n := testserver.Start(t, cfg)
	bootstrapAdmin(t, n, "alice", adminPW)
	bob := register(t, n, "bob", bobPW)
	admin := login(t, n, "alice", adminPW)
	tk := login(t, n, "bob", bobPW)

	type endpoint struct {
		method, path string
		auth         bool // needs a bearer token
		json         bool // takes a JSON body
		token        string
	}
	endpoints := []endpoint{
		{"POST", "/api/v1/auth/register", false, true, ""},
		{"POST", "/api/v1/auth/login", false, true, ""},
		{"POST", "/api/v1/auth/refresh", false, true, ""},
		{"POST", "/api/v1/auth/logout", false, true, tk.AccessToken},
		{"GET", "/api/v1/users/me", true, false, tk.AccessToken},
		{"PATCH", "/api/v1/users/me", true, true, tk.AccessToken},
		{"POST", "/api/v1/users/me/password", true, true, tk.AccessToken},
		{"GET", "/api/v1/users/me/sessions", true, false, tk.AccessToken},
		{"DELETE", "/api/v1/users/me/sessions", true, false, ""},
		{"DELETE", "/api/v1/users/me/sessions/" + tk.SessionID, true, false, ""},
		{"GET", "/api/v1/users/" + bob.ID, true, false, tk.AccessToken},
		{"GET", "/api/v1/users", true, false, tk.AccessToken},
		{"POST", "/api/v1/invites", true, true, admin.AccessToken},
		{"GET", "/api/v1/invites", true, false, admin.AccessToken},
		{"DELETE", "/api/v1/invites/x", true, false, ""},
		{"GET", "/api/v1/admin/users", true, false, admin.AccessToken},
		{"PATCH", "/api/v1/admin/users/" + bob.ID, true, true, admin.AccessToken},
	}
	bodies := []struct {
		name   string
		body   string
		code   string
		status int
	}{
		{"malformed", `{"username":`, "invalid_argument", 400},
		{"not_json", `username=bob`, "invalid_argument", 400},
		{"array", `[1,2]`, "invalid_argument", 400},
		{"null", `null`, "invalid_argument", 400},
		{"unknown_field", `{"surprise":1}`, "invalid_argument", 400},
		{"trailing_data", `{} {}`, "invalid_argument", 400},
		{"oversized", `{"username":"` + strings.Repeat("a", 5000) + `"}`, "payload_too_large", 413},
	}
	wrongTypes := map[string]string{
		"/api/v1/auth/register":     `{"username":1,"password":"x"}`,
		"/api/v1/auth/login":        `{"username":"bob","password":["x"]}`,
		"/api/v1/auth/refresh":      `{"refresh_token":{}}`,
		"/api/v1/auth/logout":       `{"refresh_token":7}`,
		"/api/v1/users/me":          `{"display_name":false}`,
		"/api/v1/users/me/password": `{"old_password":1,"new_password":2}`,
		"/api/v1/invites":           `{"max_uses":"ten"}`,
		"/api/v1/admin/users/":      `{"disabled":"yes"}`,
	}
	snapshot := func() string {
		var users, sessions, invites strings.Builder
		var page struct{ Users []user }
		newCall(t, n, "GET", "/api/v1/admin/users").bearer(admin.AccessToken).expect(200, &page)
		json.NewEncoder(&users).Encode(page)
		r := newCall(t, n, "GET", "/api/v1/users/me/sessions").bearer(tk.AccessToken).expect(200, nil)
		sessions.Write(r.Body)
		r = newCall(t, n, "GET", "/api/v1/invites").bearer(admin.AccessToken).expect(200, nil)
		invites.Write(r.Body)
		return users.String() + sessions.String() + invites.String()
	}
	before := snapshot()

	for _, e := range endpoints {
		t.Run(e.method+e.path, func(t *testing.T) {
			if e.auth {
				t.Run("no_token", func(t *testing.T) {
					newCall(t, n, e.method, e.path).expectError(401, "unauthenticated")
				})
				t.Run("garbage_token", func(t *testing.T) {
					newCall(t, n, e.method, e.path).bearer("not.a.jwt").expectError(401, "unauthenticated")
				})
				t.Run("basic_auth", func(t *testing.T) {
					newCall(t, n, e.method, e.path).with("Authorization", "Basic Ym9iOmJvYg==").expectError(401, "unauthenticated")
				})
			}
			if !e.json {
				return
			}
			for _, b := range bodies {
				t.Run(b.name, func(t *testing.T) {
					c := newCall(t, n, e.method, e.path).raw(b.body)
					if e.token != "" {
						c.bearer(e.token)
					}
					c.expectError(b.status, b.code)
				})
			}
			for prefix, body := range wrongTypes {
				if strings.HasPrefix(e.path, prefix) && (prefix != "/api/v1/users/me" || e.path == prefix) {
					t.Run("wrong_type", func(t *testing.T) {
						c := newCall(t, n, e.method, e.path).raw(body)
						if e.token != "" {
							c.bearer(e.token)
						}
						r := c.expectError(400, "invalid_argument")
						if !strings.Contains(string(r.Body), "must be") {
							t.Fatalf("message does not say what is wrong: %s", r.Body)
						}
					})
				}
			}
		})
	}
	if after := snapshot(); after != before {
		t.Fatalf("bad input changed state:\nbefore %s\nafter  %s", before, after)
	}

	t.Run("unknown_route", func(t *testing.T) {
		newCall(t, n, "GET", "/api/v1/nope").expectError(404, "not_found")
	})
	t.Run("wrong_method", func(t *testing.T) {
		r := newCall(t, n, "PUT", "/api/v1/auth/login").do()
		if r.Status != 405 || r.Header.Get("Allow") != "POST" || !strings.Contains(string(r.Body), `"code"`) {
			t.Fatalf("PUT login: %d %q %s", r.Status, r.Header.Get("Allow"), r.Body)
		}
	})
	t.Run("bad_limit", func(t *testing.T) {
		for _, l := range []string{"0", "201", "x", "-1"} {
			newCall(t, n, "GET", "/api/v1/users?limit="+l).bearer(tk.AccessToken).expectError(400, "invalid_argument")
		}
		newCall(t, n, "GET", "/api/v1/users?cursor=***").bearer(tk.AccessToken).expectError(400, "invalid_argument")
	})
	t.Run("validation", func(t *testing.T) {
		for name, body := range map[string]string{
			"short_username":  `{"username":"ab","password":"long enough pass"}`,
			"bad_chars":       `{"username":"bob smith","password":"long enough pass"}`,
			"long_username":   `{"username":"` + strings.Repeat("a", 33) + `","password":"long enough pass"}`,
			"short_password":  `{"username":"dave","password":"short"}`,
			"common_password": `{"username":"dave","password":"password1234"}`,
			"same_as_user":    `{"username":"davesmith","password":"davesmith"}`,
			"control_chars":   `{"username":"dave","password":"long enough pass","display_name":"a\u0007b"}`,
		} {
			t.Run(name, func(t *testing.T) {
				newCall(t, n, "POST", "/api/v1/auth/register").raw(body).expectError(400, "invalid_argument")
			})
		}
	})
}
