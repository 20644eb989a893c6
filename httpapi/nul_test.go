package httpapi_test

import (
	"encoding/base64"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
)

// TestHostileStrings sends NUL bytes, invalid UTF-8 and 64 KiB values in
// every path id, in the q and cursor parameters and in the id-like body
// fields (login username, invite codes, DM members, thread_root_id,
// attachments), on both engines. PostgreSQL refuses NUL and invalid UTF-8 in
// text (SQLSTATE 22021), so each must be refused at the edge: 400 or 404,
// never 500, and nothing logged at ERROR.
func TestHostileStrings(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) { testHostileStrings(t, engine) })
	}
}

func testHostileStrings(t *testing.T, engine string) {
	rec := &logRecorder{}
	n := testserver.StartWithLog(t, testserver.Config(t, engine), rec)
	bootstrapAdmin(t, n, "alice", adminPW)
	bob := register(t, n, "bob", bobPW)
	carol := register(t, n, "carol", carolPW)
	admin := login(t, n, "alice", adminPW)
	as := func(method, path string) *call { return newCall(t, n, method, path).bearer(admin.AccessToken) }

	var ch struct{ Channel channel }
	as("POST", "/api/v1/channels").json(map[string]any{"name": "general", "kind": "public"}).expect(201, &ch)
	var msg struct{ Message *message }
	as("POST", "/api/v1/channels/"+ch.Channel.ID+"/messages").json(map[string]any{"client_msg_id": "m1", "body": "hello"}).expect(201, &msg)
	var inv struct{ Invite struct{ Code string } }
	as("POST", "/api/v1/invites").json(map[string]any{}).expect(201, &inv)

	// A valid value for each wildcard, so that only one part of a request is
	// hostile at a time.
	valid := func(pattern, name string) string {
		switch {
		case name == "user_id":
			return carol.ID
		case name == "code":
			return inv.Invite.Code
		case name == "emoji":
			return url.PathEscape("👍")
		case strings.Contains(pattern, "/channels/{id}"):
			return ch.Channel.ID
		case strings.Contains(pattern, "/messages/{id}"):
			return msg.Message.ID
		case strings.Contains(pattern, "/sessions/{id}"):
			return admin.SessionID
		default:
			return bob.ID
		}
	}
	// A plausible body per route, so the request reaches the id and not a
	// complaint about the body.
	bodies := map[string]any{
		"PATCH /api/v1/channels/{id}":                    map[string]any{"topic": "t"},
		"PUT /api/v1/channels/{id}/members/{user_id}":    map[string]any{"role": "member"},
		"PATCH /api/v1/channels/{id}/prefs":              map[string]any{"muted": true},
		"POST /api/v1/channels/{id}/messages":            map[string]any{"client_msg_id": "m2", "body": "x"},
		"POST /api/v1/channels/{id}/read":                map[string]any{"seq": 1},
		"PATCH /api/v1/messages/{id}":                    map[string]any{"body": "edited"},
		"PATCH /api/v1/admin/users/{id}":                 map[string]any{"disabled": false},
		"PUT /api/v1/messages/{id}/reactions/{emoji}":    nil,
		"DELETE /api/v1/channels/{id}/members/{user_id}": nil,
	}
	hostile := map[string]string{
		"nul":     "a%00b",
		"bad_utf": "%ff%fe",
		"long":    strings.Repeat("a", 60<<10),
	}
	check := func(t *testing.T, r *result) {
		t.Helper()
		if r.Status != 400 && r.Status != 404 {
			t.Errorf("status %d, want 400 or 404: %.300s", r.Status, r.Body)
		}
	}

	wildcard := regexp.MustCompile(`\{[a-z_]+\}`)
	for _, rt := range n.API.Routes() {
		method, pattern, _ := strings.Cut(rt, " ")
		names := wildcard.FindAllString(pattern, -1)
		for _, w := range names {
			for hname, hv := range hostile {
				t.Run("path/"+rt+"/"+w+"/"+hname, func(t *testing.T) {
					path := wildcard.ReplaceAllStringFunc(pattern, func(x string) string {
						if x == w {
							return hv
						}
						return valid(pattern, strings.Trim(x, "{}"))
					})
					c := as(method, path)
					if b, ok := bodies[rt]; ok && b != nil {
						c.json(b)
					}
					check(t, c.do())
				})
			}
		}
	}

	nulCursor := base64.RawURLEncoding.EncodeToString([]byte("a\x00b"))
	badCursor := base64.RawURLEncoding.EncodeToString([]byte("a\xffb"))
	for _, path := range []string{"/api/v1/users", "/api/v1/admin/users", "/api/v1/channels/browse", "/api/v1/channels/" + ch.Channel.ID + "/members", "/api/v1/search"} {
		for _, param := range []string{"q", "cursor"} {
			if param == "q" && (strings.Contains(path, "admin") || strings.Contains(path, "members")) {
				continue
			}
			values := map[string]string{"nul": "a%00b", "bad_utf": "a%ffb", "long": strings.Repeat("a", 60<<10)}
			if param == "cursor" && strings.Contains(path, "/users") {
				// These cursors are base64 of a username: check what they decode to.
				values["nul_inside"], values["bad_utf_inside"] = nulCursor, badCursor
			}
			for vname, v := range values {
				t.Run("query"+path+"/"+param+"/"+vname, func(t *testing.T) {
					q := "?" + param + "=" + v
					if param == "cursor" && strings.Contains(path, "search") {
						q += "&q=hello"
					}
					check(t, as("GET", path+q).do())
				})
			}
		}
	}

	nul := "a\x00b"
	for name, c := range map[string]*call{
		"login_username":    newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": "bob" + nul, "password": bobPW}),
		"register_username": newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "dave" + nul, "password": "a long passphrase 99"}),
		"register_invite":   newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "dave", "password": "a long passphrase 99", "invite": "uhi_" + nul}),
		"register_setup":    newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "dave", "password": "a long passphrase 99", "setup_token": "uhs_" + nul}),
		"dm_members":        as("POST", "/api/v1/channels").json(map[string]any{"kind": "direct", "members": []string{bob.ID + nul}}),
		"dm_members_long":   as("POST", "/api/v1/channels").json(map[string]any{"kind": "direct", "members": []string{strings.Repeat("a", 60<<10)}}),
		"thread_root_id":    as("POST", "/api/v1/channels/"+ch.Channel.ID+"/messages").json(map[string]any{"client_msg_id": "m3", "body": "x", "thread_root_id": msg.Message.ID + nul}),
		"attachments":       as("POST", "/api/v1/channels/"+ch.Channel.ID+"/messages").json(map[string]any{"client_msg_id": "m4", "body": "x", "attachments": []string{nul}}),
		"refresh_token":     newCall(t, n, "POST", "/api/v1/auth/refresh").json(map[string]string{"refresh_token": "uhr_" + nul}),
		"logout_token":      newCall(t, n, "POST", "/api/v1/auth/logout").json(map[string]string{"refresh_token": "uhr_" + nul}),
		"display_name":      as("PATCH", "/api/v1/users/me").json(map[string]string{"display_name": "al" + nul}),
	} {
		t.Run("body/"+name, func(t *testing.T) {
			r := c.do()
			if r.Status != 400 && r.Status != 401 && r.Status != 403 && r.Status != 404 {
				t.Errorf("status %d, want a 4xx refusal: %.300s", r.Status, r.Body)
			}
		})
	}
	if errs := rec.atLeast(slog.LevelError); len(errs) > 0 {
		t.Errorf("%d ERROR log lines, e.g. %.500s", len(errs), errs[0])
	}
}
