package httpapi_test

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
)

// TestPermissionMatrix checks docs/permissions.md cell by cell from the side
// of the user who must be refused (and a few that must be allowed), in a
// public and a private channel. Roles: bob owner, carol admin, dave
// moderator, erin member, frank non-member, alice system admin (not a
// member).
func TestPermissionMatrix(t *testing.T) {
	engines := []string{"sqlite"}
	if !testing.Short() {
		engines = testserver.Engines
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newChatEnv(t, engine)
			erin := register(t, e.n, "erin", "fifth user passphrase 5")
			frank := register(t, e.n, "frank", "sixth user passphrase 66")
			e.tok["erin"] = login(t, e.n, "erin", "fifth user passphrase 5").AccessToken
			e.tok["frank"] = login(t, e.n, "frank", "sixth user passphrase 66").AccessToken

			type setup struct {
				ch                channel
				ownerMsg, erinMsg *message
				modMsg, carolMsg  *message
			}
			build := func(kind string) setup {
				ch := e.createChannel(t, "bob", "perm-"+kind, kind)
				e.addMember(t, "bob", ch.ID, e.carol.ID, "admin")
				e.addMember(t, "bob", ch.ID, e.dave.ID, "moderator")
				e.addMember(t, "bob", ch.ID, erin.ID, "member")
				return setup{
					ch:       ch,
					ownerMsg: e.send(t, "bob", ch.ID, "o1", "owner says"),
					erinMsg:  e.send(t, "erin", ch.ID, "e1", "member says"),
					modMsg:   e.send(t, "dave", ch.ID, "d1", "moderator says"),
					carolMsg: e.send(t, "carol", ch.ID, "c1", "admin says"),
				}
			}
			pub, priv := build("public"), build("private")

			type tc struct {
				name, who, method, path string
				body                    any
				status                  int
				code                    string
			}
			cases := func(s setup, hidden bool) []tc {
				c := "/api/v1/channels/" + s.ch.ID
				m := "/api/v1/messages/"
				// What a non-member gets: 403 for public, 404 for private.
				// Anything addressed by message id is 404 to whoever cannot
				// read the channel: message ids do not leak either.
				nm, nmCode := 403, "permission_denied"
				seeStatus := 200
				if hidden {
					nm, nmCode, seeStatus = 404, "not_found", 404
				}
				return []tc{
					// Seeing and reading.
					{"nonmember_get", "frank", "GET", c, nil, seeStatus, map[bool]string{true: "not_found", false: ""}[hidden]},
					{"nonmember_history", "frank", "GET", c + "/messages", nil, nm, nmCode},
					{"nonmember_members", "frank", "GET", c + "/members", nil, nm, nmCode},
					{"nonmember_pins", "frank", "GET", c + "/pins", nil, nm, nmCode},
					{"nonmember_events", "frank", "GET", c + "/events", nil, nm, nmCode},
					{"nonmember_thread", "frank", "GET", m + s.ownerMsg.ID + "/thread", nil, 404, "not_found"},
					{"nonmember_message", "frank", "GET", m + s.ownerMsg.ID, nil, 404, "not_found"},
					{"sysadmin_history", "alice", "GET", c + "/messages", nil, nm, nmCode},
					// Posting.
					{"nonmember_post", "frank", "POST", c + "/messages", map[string]any{"client_msg_id": "x", "body": "hi"}, nm, nmCode},
					{"nonmember_react", "frank", "PUT", m + s.ownerMsg.ID + "/reactions/" + url.PathEscape("👍"), nil, 404, "not_found"},
					{"nonmember_read", "frank", "POST", c + "/read", map[string]any{"seq": 1}, nm, nmCode},
					{"nonmember_prefs", "frank", "PATCH", c + "/prefs", map[string]any{"muted": true}, nm, nmCode},
					{"nonmember_typing_follow", "frank", "PUT", m + s.ownerMsg.ID + "/follow", nil, 404, "not_found"},
					// Editing and deleting.
					{"owner_edits_others", "bob", "PATCH", m + s.erinMsg.ID, map[string]string{"body": "x"}, 403, "permission_denied"},
					{"member_deletes_others", "erin", "DELETE", m + s.ownerMsg.ID, nil, 403, "permission_denied"},
					{"nonmember_deletes", "frank", "DELETE", m + s.ownerMsg.ID, nil, 404, "not_found"},
					{"member_history_others", "erin", "GET", m + s.ownerMsg.ID + "/history", nil, 403, "permission_denied"},
					{"member_history_own", "erin", "GET", m + s.erinMsg.ID + "/history", nil, 200, ""},
					{"moderator_history_others", "dave", "GET", m + s.erinMsg.ID + "/history", nil, 200, ""},
					// Pins.
					{"member_pins", "erin", "PUT", m + s.erinMsg.ID + "/pin", nil, 403, "permission_denied"},
					{"nonmember_pins_msg", "frank", "PUT", m + s.erinMsg.ID + "/pin", nil, 404, "not_found"},
					{"moderator_pins", "dave", "PUT", m + s.erinMsg.ID + "/pin", nil, 200, ""},
					// Channel settings.
					{"moderator_renames", "dave", "PATCH", c, map[string]any{"topic": "x"}, 403, "permission_denied"},
					{"member_renames", "erin", "PATCH", c, map[string]any{"name": "x"}, 403, "permission_denied"},
					{"nonmember_renames", "frank", "PATCH", c, map[string]any{"name": "x"}, seeOr(hidden, 403), codeOr(hidden, "permission_denied")},
					{"admin_sets_topic", "carol", "PATCH", c, map[string]any{"topic": "set by admin"}, 200, ""},
					{"admin_archives", "carol", "DELETE", c, nil, 403, "permission_denied"},
					{"moderator_archives", "dave", "DELETE", c, nil, 403, "permission_denied"},
					{"member_archives", "erin", "DELETE", c, nil, 403, "permission_denied"},
					{"nonmember_archives", "frank", "DELETE", c, nil, seeOr(hidden, 403), codeOr(hidden, "permission_denied")},
					// Membership.
					{"member_adds", "erin", "PUT", c + "/members/" + frank.ID, map[string]string{"role": "member"}, 403, "permission_denied"},
					{"nonmember_adds_self", "frank", "PUT", c + "/members/" + frank.ID, map[string]string{"role": "member"}, seeOr(hidden, 403), codeOr(hidden, "permission_denied")},
					{"moderator_adds_admin", "dave", "PUT", c + "/members/" + frank.ID, map[string]string{"role": "admin"}, 403, "permission_denied"},
					{"member_removes", "erin", "DELETE", c + "/members/" + e.dave.ID, nil, 403, "permission_denied"},
					{"moderator_removes_admin", "dave", "DELETE", c + "/members/" + e.carol.ID, nil, 403, "permission_denied"},
					{"admin_removes_owner", "carol", "DELETE", c + "/members/" + e.bob.ID, nil, 403, "permission_denied"},
					{"member_promotes_self", "erin", "PUT", c + "/members/" + erin.ID, map[string]string{"role": "owner"}, 403, "permission_denied"},
					{"moderator_promotes", "dave", "PUT", c + "/members/" + erin.ID, map[string]string{"role": "moderator"}, 403, "permission_denied"},
					{"admin_makes_admin", "carol", "PUT", c + "/members/" + erin.ID, map[string]string{"role": "admin"}, 403, "permission_denied"},
					{"admin_demotes_owner", "carol", "PUT", c + "/members/" + e.bob.ID, map[string]string{"role": "member"}, 403, "permission_denied"},
					{"last_owner_demotes_self", "bob", "PUT", c + "/members/" + e.bob.ID, map[string]string{"role": "admin"}, 409, "conflict"},
					{"last_owner_leaves", "bob", "POST", c + "/leave", nil, 409, "conflict"},
					{"nonmember_join", "frank", "POST", c + "/join", nil, seeOr(hidden, 200), codeOr(hidden, "")},
				}
			}
			// The system admin moderates public channels only.
			sys := func(s setup, hidden bool) []tc {
				c := "/api/v1/channels/" + s.ch.ID
				st, code := 200, ""
				if hidden {
					st, code = 404, "not_found"
				}
				return []tc{
					{"sysadmin_sets_topic", "alice", "PATCH", c, map[string]any{"topic": "by the operator"}, st, code},
					{"sysadmin_deletes_message", "alice", "DELETE", "/api/v1/messages/" + s.carolMsg.ID, nil, map[bool]int{true: 404, false: 204}[hidden], code},
					{"sysadmin_pins", "alice", "PUT", "/api/v1/messages/" + s.modMsg.ID + "/pin", nil, map[bool]int{true: 404, false: 403}[hidden], codeOr(hidden, "permission_denied")},
				}
			}
			run := func(label string, s setup, hidden bool) {
				for _, c := range append(cases(s, hidden), sys(s, hidden)...) {
					t.Run(label+"/"+c.name, func(t *testing.T) {
						call := e.as(t, c.who, c.method, c.path)
						if c.body != nil {
							call.json(c.body)
						}
						if c.code != "" {
							call.expectError(c.status, c.code)
						} else {
							call.expect(c.status, nil)
						}
					})
				}
			}
			run("public", pub, false)
			run("private", priv, true)

			// Nothing refused above changed a member's role or removed anyone.
			var ms struct {
				Members []struct {
					UserID string `json:"user_id"`
					Role   string `json:"role"`
				} `json:"members"`
			}
			e.as(t, "bob", "GET", "/api/v1/channels/"+priv.ch.ID+"/members").expect(200, &ms)
			roles := map[string]string{}
			for _, m := range ms.Members {
				roles[m.UserID] = m.Role
			}
			want := fmt.Sprint(map[string]string{e.bob.ID: "owner", e.carol.ID: "admin", e.dave.ID: "moderator", erin.ID: "member"})
			if fmt.Sprint(roles) != want {
				t.Fatalf("private roles = %v, want %v", roles, want)
			}

			// Direct channels: no moderation at all; outsiders see nothing.
			var dm struct{ Channel channel }
			e.as(t, "bob", "POST", "/api/v1/channels").json(map[string]any{"kind": "direct", "members": []string{e.carol.ID}}).expect(201, &dm)
			d := "/api/v1/channels/" + dm.Channel.ID
			e.as(t, "bob", "PATCH", d).json(map[string]any{"topic": "x"}).expectError(403, "permission_denied")
			e.as(t, "bob", "DELETE", d).expectError(403, "permission_denied")
			e.as(t, "bob", "POST", d+"/leave").expectError(403, "permission_denied")
			e.as(t, "bob", "PUT", d+"/members/"+e.dave.ID).json(map[string]string{"role": "member"}).expectError(403, "permission_denied")
			e.as(t, "bob", "DELETE", d+"/members/"+e.carol.ID).expectError(403, "permission_denied")
			e.as(t, "alice", "GET", d).expectError(404, "not_found")
			e.as(t, "alice", "DELETE", d).expectError(404, "not_found")
			dmMsg := e.send(t, "carol", dm.Channel.ID, "x1", "in a DM")
			e.as(t, "bob", "PUT", "/api/v1/messages/"+dmMsg.ID+"/pin").expect(200, nil)
			e.as(t, "dave", "GET", "/api/v1/messages/"+dmMsg.ID).expectError(404, "not_found")

			// Archived: read-only for everyone.
			e.as(t, "bob", "DELETE", "/api/v1/channels/"+pub.ch.ID).expect(204, nil)
			e.as(t, "bob", "POST", "/api/v1/channels/"+pub.ch.ID+"/messages").json(map[string]any{"client_msg_id": "late", "body": "hi"}).expectError(403, "permission_denied")
			e.as(t, "erin", "GET", "/api/v1/channels/"+pub.ch.ID+"/messages").expect(200, nil)
		})
	}
}

func seeOr(hidden bool, status int) int {
	if hidden {
		return 404
	}
	return status
}

func codeOr(hidden bool, code string) string {
	if hidden {
		return "not_found"
	}
	return code
}
