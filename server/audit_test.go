package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/internal/testserver"
)

type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (c *apiClient) do(method, path string, body any, out any) int {
	c.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func login(t *testing.T, base, user, pw string) *apiClient {
	t.Helper()
	c := &apiClient{t: t, base: base}
	var r struct {
		AccessToken string `json:"access_token"`
	}
	if code := c.do("POST", "/api/v1/auth/login", map[string]string{"username": user, "password": pw}, &r); code != 200 {
		t.Fatalf("login %s: %d", user, code)
	}
	c.token = r.AccessToken
	return c
}

// TestAuditedActions drives audited actions through the API and reads them
// back from the log, which verifies; a member is refused the audit API.
func TestAuditedActions(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			n := testserver.Start(t, testserver.Config(t, engine))
			const pw = "a long enough passphrase"
			admin, err := n.Auth.CreateAdmin(t.Context(), "root_admin", pw, "")
			if err != nil {
				t.Fatal(err)
			}
			anon := &apiClient{t: t, base: n.URL}
			if code := anon.do("POST", "/api/v1/auth/register", map[string]string{"username": "bob", "password": pw}, nil); code != 201 {
				t.Fatalf("register: %d", code)
			}
			if code := anon.do("POST", "/api/v1/auth/login", map[string]string{"username": "bob", "password": "wrong password here"}, nil); code != 401 {
				t.Fatalf("bad login: %d", code)
			}
			a, bob := login(t, n.URL, "root_admin", pw), login(t, n.URL, "bob", pw)
			var ch struct {
				Channel struct{ ID string } `json:"channel"`
			}
			if code := a.do("POST", "/api/v1/channels", map[string]string{"name": "ops", "kind": "public"}, &ch); code != 201 {
				t.Fatalf("create channel: %d", code)
			}
			if code := bob.do("POST", "/api/v1/channels/"+ch.Channel.ID+"/join", nil, nil); code != 200 {
				t.Fatalf("join: %d", code)
			}
			var me struct {
				User struct{ ID string } `json:"user"`
			}
			bob.do("GET", "/api/v1/users/me", nil, &me)
			if code := a.do("DELETE", "/api/v1/channels/"+ch.Channel.ID+"/members/"+me.User.ID, nil, nil); code != 204 && code != 200 {
				t.Fatalf("remove member: %d", code)
			}
			if code := a.do("PATCH", "/api/v1/admin/users/"+me.User.ID, map[string]any{"role": "admin"}, nil); code != 200 {
				t.Fatalf("promote: %d", code)
			}

			// A member (bob was a member when his token was issued, but roles come from the store: demote first).
			if code := a.do("PATCH", "/api/v1/admin/users/"+me.User.ID, map[string]any{"role": "member"}, nil); code != 200 {
				t.Fatalf("demote: %d", code)
			}
			// Refused: the last admin cannot demote themself; nothing is recorded.
			var self struct {
				User struct{ ID string } `json:"user"`
			}
			a.do("GET", "/api/v1/users/me", nil, &self)
			if code := a.do("PATCH", "/api/v1/admin/users/"+self.User.ID, map[string]any{"role": "member"}, nil); code != 409 {
				t.Fatalf("demoting the last admin: %d", code)
			}
			for _, p := range []string{"/api/v1/admin/audit/verify", "/api/v1/admin/audit", "/api/v1/admin/audit/checkpoints", "/api/v1/admin/audit/prunes"} {
				if code := bob.do("GET", p, nil, nil); code != 403 {
					t.Errorf("member GET %s: %d, want 403", p, code)
				}
				if code := anon.do("GET", p, nil, nil); code != 401 {
					t.Errorf("anonymous GET %s: %d, want 401", p, code)
				}
			}

			want := map[string]bool{
				audit.ActionAdminCreate: false, audit.ActionRegister: false, audit.ActionLogin + "/failed": false,
				audit.ActionLogin + "/ok": false, audit.ActionMemberAdd: false, audit.ActionMemberRemove: false,
				audit.ActionUserUpdate: false, audit.ActionChannelCreate: false,
			}
			deadline := time.Now().Add(10 * time.Second)
			var entries []*audit.Entry
			for {
				var page struct {
					Entries []*audit.Entry `json:"entries"`
				}
				if code := a.do("GET", "/api/v1/admin/audit?limit=200", nil, &page); code != 200 {
					t.Fatalf("list: %d", code)
				}
				entries = page.Entries
				for _, e := range entries {
					want[e.Action] = true
					want[e.Action+"/"+e.Result] = true
				}
				missing := []string{}
				for k, v := range want {
					if !v {
						missing = append(missing, k)
					}
				}
				if len(missing) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("actions missing from the audit log: %v (have %d entries)", missing, len(entries))
				}
				time.Sleep(50 * time.Millisecond)
			}
			updates := 0
			for _, e := range entries {
				if e.Action == audit.ActionUserUpdate {
					updates++
				}
				if e.Action == audit.ActionLogin && e.Result == audit.ResultFailed {
					if e.Reason != "bad_password" || e.IP == "" {
						t.Errorf("failed login entry %+v", e)
					}
				}
				if e.Action == audit.ActionAdminCreate && e.TargetID != admin.ID {
					t.Errorf("admin_create entry %+v", e)
				}
			}
			if updates != 2 {
				t.Errorf("%d admin.user_update entries, want 2 (the refused demotion of the last admin records none)", updates)
			}
			var rep audit.Report
			if code := a.do("GET", "/api/v1/admin/audit/verify", nil, &rep); code != 200 || !rep.OK || rep.Checked < 7 {
				t.Fatalf("verify: %d %+v", code, rep)
			}
			// JSON lines.
			req, _ := http.NewRequest("GET", n.URL+"/api/v1/admin/audit?format=jsonl&limit=3", nil)
			req.Header.Set("Authorization", "Bearer "+a.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			resp.Body.Close()
			if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" || strings.Count(buf.String(), "\n") != 3 {
				t.Fatalf("jsonl: %s %q", ct, buf.String())
			}
		})
	}
}
