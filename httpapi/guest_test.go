package httpapi_test

import (
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
)

// TestGuests checks the guest rows of docs/permissions.md case by case,
// from the guest's side: a guest sees and joins no channel they were not
// added to, creates none, is at most a plain member where they are, and
// opens direct messages only with people they share a channel with; the
// demotion holds from the next request.
func TestGuests(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newChatEnv(t, engine)
			const ginaPW = "a guest's own passphrase"
			gina := register(t, e.n, "gina", ginaPW)
			old := login(t, e.n, "gina", ginaPW).AccessToken

			// Only admins make guests; an unknown role is refused.
			e.as(t, "bob", "PATCH", "/api/v1/admin/users/"+gina.ID).json(map[string]any{"role": "guest"}).expectError(403, "permission_denied")
			e.as(t, "alice", "PATCH", "/api/v1/admin/users/"+gina.ID).json(map[string]any{"role": "visitor"}).expectError(400, "invalid_argument")
			var out struct{ User user }
			e.as(t, "alice", "PATCH", "/api/v1/admin/users/"+gina.ID).json(map[string]any{"role": "guest"}).expect(200, &out)
			if out.User.Role != "guest" {
				t.Fatalf("role %q", out.User.Role)
			}
			// The role is read on every request: the token she had as a
			// member is a guest's from now on.
			e.tok["gina"] = old

			lobby := e.createChannel(t, "bob", "lobby", "public")
			project := e.createChannel(t, "bob", "project", "private")
			e.addMember(t, "bob", project.ID, gina.ID, "moderator")

			// Channels they were not added to do not exist for them.
			e.as(t, "gina", "GET", "/api/v1/channels/"+lobby.ID).expectError(404, "not_found")
			e.as(t, "gina", "POST", "/api/v1/channels/"+lobby.ID+"/join").expectError(404, "not_found")
			e.as(t, "gina", "GET", "/api/v1/channels/"+lobby.ID+"/messages").expectError(404, "not_found")
			e.as(t, "gina", "POST", "/api/v1/channels/"+lobby.ID+"/messages").json(map[string]any{"client_msg_id": "g0", "body": "hi"}).expectError(404, "not_found")
			var browse struct{ Channels []channel }
			e.as(t, "gina", "GET", "/api/v1/channels/browse").expect(200, &browse)
			if len(browse.Channels) != 0 {
				t.Fatalf("a guest browses %d public channels", len(browse.Channels))
			}
			// They create none.
			e.as(t, "gina", "POST", "/api/v1/channels").json(map[string]any{"name": "mine", "kind": "public"}).expectError(403, "permission_denied")
			e.as(t, "gina", "POST", "/api/v1/channels").json(map[string]any{"name": "mine", "kind": "private"}).expectError(403, "permission_denied")

			// Where they were added, they read and post as a member, and
			// no more, whatever role they were given.
			e.send(t, "gina", project.ID, "g1", "hello from the guest")
			e.as(t, "gina", "GET", "/api/v1/channels/"+project.ID+"/messages").expect(200, nil)
			e.as(t, "gina", "PUT", "/api/v1/channels/"+project.ID+"/members/"+e.carol.ID).json(map[string]any{"role": "member"}).expectError(403, "permission_denied")
			e.as(t, "gina", "DELETE", "/api/v1/channels/"+project.ID+"/members/"+e.bob.ID).expectError(403, "permission_denied")
			bobMsg := e.send(t, "bob", project.ID, "b1", "from the owner")
			e.as(t, "gina", "DELETE", "/api/v1/messages/"+bobMsg.ID).expectError(403, "permission_denied")
			e.as(t, "gina", "PUT", "/api/v1/messages/"+bobMsg.ID+"/pin").expectError(403, "permission_denied")

			// Direct messages: with bob (they share project), not with
			// carol (they share nothing), who stays unknown to them.
			e.as(t, "gina", "POST", "/api/v1/channels").json(map[string]any{"kind": "direct", "members": []string{e.bob.ID}}).expect(201, nil)
			e.as(t, "gina", "POST", "/api/v1/channels").json(map[string]any{"kind": "direct", "members": []string{e.carol.ID}}).expectError(404, "not_found")
			e.as(t, "gina", "POST", "/api/v1/channels").json(map[string]any{"kind": "direct", "members": []string{e.bob.ID, e.carol.ID}}).expectError(404, "not_found")
			// A member may open one with the guest.
			e.as(t, "dave", "POST", "/api/v1/channels").json(map[string]any{"kind": "direct", "members": []string{gina.ID}}).expect(201, nil)

			// Removed from project, it is gone for them too.
			e.as(t, "bob", "DELETE", "/api/v1/channels/"+project.ID+"/members/"+gina.ID).expect(204, nil)
			e.as(t, "gina", "GET", "/api/v1/channels/"+project.ID).expectError(404, "not_found")
		})
	}
}
