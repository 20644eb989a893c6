package httpapi_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/unhidra/unhidra/internal/testserver"
)

type setting struct {
	Key       string   `json:"key"`
	Value     any      `json:"value"`
	Default   any      `json:"default"`
	Source    string   `json:"source"`
	Type      string   `json:"type"`
	Choices   []string `json:"choices"`
	Flag      string   `json:"flag"`
	UpdatedBy string   `json:"updated_by"`
}

type settingsList struct {
	Settings []setting `json:"settings"`
}

func (l settingsList) get(t testing.TB, key string) setting {
	t.Helper()
	for _, s := range l.Settings {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("no setting %s in %+v", key, l.Settings)
	return setting{}
}

// TestSettings: admins read and change the runtime settings; members and
// guests are refused; a bad key or value changes nothing, not even the
// good entries beside it; each change is in force at once (registration,
// password length, retention, SSO only) and audited with its old and new
// value; null returns to the flag's value; SSO only needs a break-glass
// admin and keeps the last one.
func TestSettings(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			cfg := testserver.Config(t, engine)
			cfg.RetentionDays = 7
			n := testserver.Start(t, cfg)
			alice := bootstrapAdmin(t, n, "alice", adminPW)
			register(t, n, "bob", bobPW)
			const ginaPW = "a guest's own passphrase"
			gina := register(t, n, "gina", ginaPW)
			admin := login(t, n, "alice", adminPW).AccessToken
			bob := login(t, n, "bob", bobPW).AccessToken
			newCall(t, n, "PATCH", "/api/v1/admin/users/"+gina.ID).bearer(admin).json(map[string]any{"role": "guest"}).expect(200, nil)
			guest := login(t, n, "gina", ginaPW).AccessToken

			// Refused to everyone but admins, before anything is read.
			for _, tok := range []string{bob, guest} {
				newCall(t, n, "GET", "/api/v1/admin/settings").bearer(tok).expectError(403, "permission_denied")
				newCall(t, n, "PATCH", "/api/v1/admin/settings").bearer(tok).json(map[string]any{"registration": "closed"}).expectError(403, "permission_denied")
				newCall(t, n, "PATCH", "/api/v1/admin/settings").bearer(tok).json(map[string]any{"no_such_key": 1}).expectError(403, "permission_denied")
			}
			newCall(t, n, "GET", "/api/v1/admin/settings").expectError(401, "unauthenticated")
			newCall(t, n, "PATCH", "/api/v1/admin/settings").json(map[string]any{"registration": "closed"}).expectError(401, "unauthenticated")

			var list settingsList
			newCall(t, n, "GET", "/api/v1/admin/settings").bearer(admin).expect(200, &list)
			if len(list.Settings) != 4 {
				t.Fatalf("%d settings: %+v", len(list.Settings), list.Settings)
			}
			if r := list.get(t, "registration"); r.Value != "open" || r.Default != "open" || r.Source != "default" || r.Type != "string" || len(r.Choices) != 3 || r.Flag != "--registration" {
				t.Fatalf("registration: %+v", r)
			}
			if r := list.get(t, "retention_days"); r.Value != 7.0 || r.Default != 7.0 || r.Source != "default" || r.Type != "integer" {
				t.Fatalf("retention_days: %+v", r)
			}

			// Bad input: 400 and nothing changes, the valid entries
			// beside a bad one included.
			for _, bad := range []string{
				`{"no_such_key": 1}`,
				`{"registration": "sometimes"}`,
				`{"registration": 3}`,
				`{"registration": ["open"]}`,
				`{"retention_days": -1}`,
				`{"retention_days": 36501}`,
				`{"retention_days": "30"}`,
				`{"retention_days": 1.5}`,
				`{"password_min_length": 7}`,
				`{"registration": "closed", "retention_days": -1}`,
				`{"registration": "closed", "bogus": null}`,
				`{}`,
				`[]`,
				`"registration"`,
				`{"registration": "closed"} {}`,
			} {
				newCall(t, n, "PATCH", "/api/v1/admin/settings").bearer(admin).raw(bad).expectError(400, "invalid_argument")
			}
			newCall(t, n, "GET", "/api/v1/admin/settings").bearer(admin).expect(200, &list)
			for _, s := range list.Settings {
				if s.Source != "default" {
					t.Fatalf("a refused patch changed %+v", s)
				}
			}
			register(t, n, "carol", "a third long passphrase")

			// Closed registration: in force at once, for the web client's
			// server info too.
			newCall(t, n, "PATCH", "/api/v1/admin/settings").bearer(admin).json(map[string]any{"registration": "closed", "retention_days": 30}).expect(200, &list)
			if r := list.get(t, "registration"); r.Value != "closed" || r.Default != "open" || r.Source != "override" || r.UpdatedBy != alice.ID {
				t.Fatalf("after the patch: %+v", r)
			}
			newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "dave", "password": "the fourth long passphrase"}).expectError(403, "permission_denied")
			var info struct {
				Server struct {
					Registration string `json:"registration"`
				} `json:"server"`
			}
			newCall(t, n, "GET", "/api/v1/server").expect(200, &info)
			if info.Server.Registration != "closed" {
				t.Fatalf("server info says %q", info.Server.Registration)
			}
			// The server's retention is the override's.
			var ch struct{ Channel struct{ ID string } }
			newCall(t, n, "POST", "/api/v1/channels").bearer(admin).json(map[string]any{"name": "general", "kind": "public"}).expect(201, &ch)
			var ret struct {
				ServerDays int `json:"server_days"`
			}
			newCall(t, n, "GET", "/api/v1/admin/channels/"+ch.Channel.ID+"/retention").bearer(admin).expect(200, &ret)
			if ret.ServerDays != 30 {
				t.Fatalf("server retention %d, want the override's 30", ret.ServerDays)
			}

			// Invite only, then back to the flag's open with null.
			newCall(t, n, "PATCH", "/api/v1/admin/settings").bearer(admin).json(map[string]any{"registration": "invite"}).expect(200, nil)
			newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "dave", "password": "the fourth long passphrase"}).expectError(403, "permission_denied")
			var reset settingsList
			newCall(t, n, "PATCH", "/api/v1/admin/settings").bearer(admin).raw(`{"registration": null}`).expect(200, &reset)
			if r := reset.get(t, "registration"); r.Value != "open" || r.Source != "default" || r.UpdatedBy != "" {
				t.Fatalf("after the reset: %+v", r)
			}
			register(t, n, "dave", "the fourth long passphrase")
			// A reset of what is already the default changes nothing.
			newCall(t, n, "PATCH", "/api/v1/admin/settings").bearer(admin).raw(`{"registration": null}`).expect(200, nil)

			// A longer minimum password length holds for new passwords.
			newCall(t, n, "PATCH", "/api/v1/admin/settings").bearer(admin).json(map[string]any{"password_min_length": 30}).expect(200, nil)
			newCall(t, n, "POST", "/api/v1/auth/register").json(map[string]string{"username": "erin", "password": "fifth passphrase, long"}).expectError(400, "invalid_argument")
			newCall(t, n, "PATCH", "/api/v1/admin/settings").bearer(admin).json(map[string]any{"password_min_length": nil}).expect(200, nil)
			register(t, n, "erin", "fifth passphrase, long")

			// SSO only needs an enabled break-glass admin: alice, who
			// registered while passwords were on, is not one yet.
			newCall(t, n, "PATCH", "/api/v1/admin/settings").bearer(admin).json(map[string]any{"password_login": "sso-only"}).expectError(409, "conflict")
			newCall(t, n, "PATCH", "/api/v1/admin/settings").bearer(admin).json(map[string]any{"password_login": "sso-only", "registration": "closed"}).expectError(409, "conflict")
			list = settingsList{}
			newCall(t, n, "GET", "/api/v1/admin/settings").bearer(admin).expect(200, &list)
			if list.get(t, "password_login").Source != "default" || list.get(t, "registration").Source != "default" {
				t.Fatal("a refused patch changed something")
			}
			newCall(t, n, "PUT", "/api/v1/admin/users/"+alice.ID+"/break-glass").bearer(admin).json(map[string]any{"break_glass": true}).expect(200, nil)
			newCall(t, n, "PATCH", "/api/v1/admin/settings").bearer(admin).json(map[string]any{"password_login": "sso-only"}).expect(200, nil)
			newCall(t, n, "POST", "/api/v1/auth/login").json(map[string]string{"username": "bob", "password": bobPW}).expectError(403, "password_login_disabled")
			login(t, n, "alice", adminPW)
			// The last break-glass admin keeps the mark while SSO only holds.
			newCall(t, n, "PUT", "/api/v1/admin/users/"+alice.ID+"/break-glass").bearer(admin).json(map[string]any{"break_glass": false}).expectError(409, "conflict")
			newCall(t, n, "PATCH", "/api/v1/admin/settings").bearer(admin).json(map[string]any{"password_login": nil}).expect(200, nil)
			login(t, n, "bob", bobPW)
			newCall(t, n, "PUT", "/api/v1/admin/users/"+alice.ID+"/break-glass").bearer(admin).json(map[string]any{"break_glass": false}).expect(200, nil)

			// Audited: one entry per setting changed, with the old and new
			// value; refused and empty changes left none.
			want := []map[string]string{
				{"key": "registration", "old": "open", "new": "closed", "source": "override"},
				{"key": "retention_days", "old": "7", "new": "30", "source": "override"},
				{"key": "registration", "old": "closed", "new": "invite", "source": "override"},
				{"key": "registration", "old": "invite", "new": "open", "source": "default"},
				{"key": "password_min_length", "old": "15", "new": "30", "source": "override"},
				{"key": "password_min_length", "old": "30", "new": "15", "source": "default"},
				{"key": "password_login", "old": "on", "new": "sso-only", "source": "override"},
				{"key": "password_login", "old": "sso-only", "new": "on", "source": "default"},
			}
			var entries []struct {
				ActorID    string            `json:"actor_id"`
				TargetType string            `json:"target_type"`
				TargetID   string            `json:"target_id"`
				Metadata   map[string]string `json:"metadata"`
			}
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				var log struct {
					Entries json.RawMessage `json:"entries"`
				}
				newCall(t, n, "GET", "/api/v1/admin/audit?action=admin.settings_change").bearer(admin).expect(200, &log)
				if err := json.Unmarshal(log.Entries, &entries); err != nil {
					t.Fatal(err)
				}
				if len(entries) >= len(want) || time.Now().After(deadline) {
					break
				}
			}
			if len(entries) != len(want) {
				t.Fatalf("%d admin.settings_change entries, want %d: %+v", len(entries), len(want), entries)
			}
			for i, e := range entries {
				w := want[i]
				if e.ActorID != alice.ID || e.TargetType != "setting" || e.TargetID != w["key"] {
					t.Fatalf("entry %d: %+v", i, e)
				}
				for k, v := range w {
					if e.Metadata[k] != v {
						t.Fatalf("entry %d: metadata %v, want %v", i, e.Metadata, w)
					}
				}
			}
		})
	}
}
