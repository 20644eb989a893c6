package httpapi_test

import (
	"context"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/internal/testenv"
	"github.com/unhidra/unhidra/internal/testserver"
	"github.com/unhidra/unhidra/store/authstore"
)

const erinPW = "fifth user passphrase 555"

// deleteEnv is a chat node with erin, a member who watches what the others
// see, and dave made a guest.
type deleteEnv struct {
	*chatEnv
	erin user
}

func newDeleteEnv(t *testing.T, engine string) *deleteEnv {
	t.Helper()
	e := &deleteEnv{chatEnv: newChatEnv(t, engine)}
	e.erin = register(t, e.n, "erin", erinPW)
	e.tok["erin"] = login(t, e.n, "erin", erinPW).AccessToken
	e.as(t, "alice", "PATCH", "/api/v1/admin/users/"+e.dave.ID).json(map[string]any{"role": "guest"}).expect(200, nil)
	return e
}

type deletion struct {
	User     user
	Mode     string
	Messages int
	Pending  bool
}

func (e *deleteEnv) deleteUser(t *testing.T, id, mode string) deletion {
	t.Helper()
	var out deletion
	e.as(t, "alice", "DELETE", "/api/v1/admin/users/"+id).json(map[string]any{"mode": mode}).expect(200, &out)
	return out
}

// socket opens a WebSocket as who and returns it with a channel that gets
// every frame it reads and, last, the error that ended it.
func (e *deleteEnv) socket(t *testing.T, who string) (<-chan *client.Frame, <-chan error) {
	t.Helper()
	c, err := client.New(e.n.URL, client.WithTokens(client.Tokens{AccessToken: e.tok[who]}))
	if err != nil {
		t.Fatal(err)
	}
	cn, err := c.Connect(t.Context(), client.ConnectOptions{})
	if err != nil {
		t.Fatalf("connect as %s: %v", who, err)
	}
	t.Cleanup(func() { cn.CloseNow() })
	frames, end := make(chan *client.Frame, 4096), make(chan error, 1)
	go func() {
		for {
			f, err := cn.Read(context.Background())
			if err != nil {
				end <- err
				return
			}
			frames <- f
		}
	}()
	return frames, end
}

// waitFrame reads frames until one satisfies ok.
func waitFrame(t *testing.T, frames <-chan *client.Frame, what string, ok func(f *client.Frame) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case f := <-frames:
			if ok(f) {
				return
			}
		case <-deadline:
			t.Fatalf("no %s frame", what)
		}
	}
}

func (e *deleteEnv) messages(t *testing.T, who, channelID string) []*message {
	t.Helper()
	var out struct{ Messages []*message }
	e.as(t, who, "GET", "/api/v1/channels/"+channelID+"/messages?limit=200").expect(200, &out)
	return out.Messages
}

func (e *deleteEnv) searchHits(t *testing.T, who, q string) int {
	t.Helper()
	var out struct{ Hits []json.RawMessage }
	e.as(t, who, "GET", "/api/v1/search?q="+url.QueryEscape(q)).expect(200, &out)
	return len(out.Hits)
}

func (e *deleteEnv) memberIDs(t *testing.T, who, channelID string) map[string]string {
	t.Helper()
	var out struct {
		Members []struct {
			UserID string `json:"user_id"`
			Role   string `json:"role"`
		} `json:"members"`
	}
	e.as(t, who, "GET", "/api/v1/channels/"+channelID+"/members?limit=200").expect(200, &out)
	ids := map[string]string{}
	for _, m := range out.Members {
		ids[m.UserID] = m.Role
	}
	return ids
}

// auditEntry waits until the audit log has an entry of action for target
// and returns its metadata.
func (e *deleteEnv) auditEntry(t *testing.T, action, target string, match func(map[string]string) bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var log struct {
			Entries []struct {
				ActorID  string            `json:"actor_id"`
				TargetID string            `json:"target_id"`
				Metadata map[string]string `json:"metadata"`
			}
		}
		e.as(t, "alice", "GET", "/api/v1/admin/audit?limit=200&action="+action).expect(200, &log)
		for _, en := range log.Entries {
			if en.TargetID == target && en.ActorID == e.alice.ID && match(en.Metadata) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s entry for %s in the audit log: %+v", action, target, log.Entries)
		}
	}
}

// TestDeleteUserRefusals: only admins delete accounts (the service
// refuses members and guests), never their own or the last admin's, never
// with a mode other than anonymise or erase, and erase not while a legal
// hold keeps the user's messages; nothing changes on a refusal.
func TestDeleteUserRefusals(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newDeleteEnv(t, engine)
			gen := e.createChannel(t, "bob", "general", "public")
			e.as(t, "carol", "POST", "/api/v1/channels/"+gen.ID+"/join").expect(200, nil)
			e.send(t, "carol", gen.ID, "c1", "carol was here")
			path := "/api/v1/admin/users/" + e.carol.ID

			// Members and guests are refused, by the service too.
			e.as(t, "bob", "DELETE", path).json(map[string]any{"mode": "anonymise"}).expectError(403, "permission_denied")
			e.as(t, "dave", "DELETE", path).json(map[string]any{"mode": "erase"}).expectError(403, "permission_denied")
			for who, role := range map[string]string{"bob": unhidra.RoleMember, "dave": unhidra.RoleGuest} {
				ctx := unhidra.NewContextWithPrincipal(t.Context(), &unhidra.Principal{UserID: who, Role: role})
				if _, err := e.n.Auth.AdminDeleteUser(ctx, e.carol.ID, unhidra.DeleteAnonymise); unhidra.ErrorCode(err) != unhidra.EPermission {
					t.Fatalf("%s: AdminDeleteUser = %v", who, err)
				}
				if _, err := e.n.Chat.PurgeUser(ctx, e.carol.ID, true); unhidra.ErrorCode(err) != unhidra.EPermission {
					t.Fatalf("%s: PurgeUser = %v", who, err)
				}
				if _, err := e.n.Chat.AdminChannels(ctx, "", "", 10); unhidra.ErrorCode(err) != unhidra.EPermission {
					t.Fatalf("%s: AdminChannels = %v", who, err)
				}
			}
			// A personal access token without the admin scope.
			var pat struct{ Secret string }
			e.as(t, "alice", "POST", "/api/v1/users/me/tokens").json(map[string]any{"name": "ci", "scopes": []string{"read", "write"}, "expires_in_s": 3600}).expect(201, &pat)
			newCall(t, e.n, "DELETE", path).bearer(pat.Secret).json(map[string]any{"mode": "anonymise"}).expectError(403, "permission_denied")

			// Bad input.
			for _, body := range []string{`{"mode":"nuke"}`, `{"mode":"Anonymise"}`, `{}`, `{"mode":""}`, `{"mode":"erase","why":1}`, `{"mode":7}`, ``, `[]`} {
				e.as(t, "alice", "DELETE", path).raw(body).expectError(400, "invalid_argument")
			}
			e.as(t, "alice", "DELETE", "/api/v1/admin/users/nobody").json(map[string]any{"mode": "erase"}).expectError(404, "not_found")

			// Not oneself; not the last admin (bob has just lost the admin
			// role the request was authenticated with: the store decides).
			e.as(t, "alice", "DELETE", "/api/v1/admin/users/"+e.alice.ID).json(map[string]any{"mode": "anonymise"}).expectError(409, "conflict")
			ctx := unhidra.NewContextWithPrincipal(t.Context(), &unhidra.Principal{UserID: e.bob.ID, Role: unhidra.RoleAdmin})
			if _, err := e.n.Auth.AdminDeleteUser(ctx, e.alice.ID, unhidra.DeleteAnonymise); unhidra.ErrorCode(err) != unhidra.EConflict ||
				!strings.Contains(err.Error(), "last admin") {
				t.Fatalf("deleting the last admin: %v", err)
			}

			// A hold on the user, or on a channel with their messages:
			// erase refused, with a message saying why.
			e.as(t, "alice", "PUT", "/api/v1/admin/legal-holds/user/"+e.carol.ID).json(map[string]any{"reason": "case 9"}).expect(200, nil)
			r := e.as(t, "alice", "DELETE", path).json(map[string]any{"mode": "erase"}).expectError(409, "conflict")
			if !strings.Contains(string(r.Body), "legal hold") {
				t.Fatalf("hold refusal: %s", r.Body)
			}
			e.as(t, "alice", "DELETE", "/api/v1/admin/legal-holds/user/"+e.carol.ID).expect(204, nil)
			e.as(t, "alice", "PUT", "/api/v1/admin/legal-holds/channel/"+gen.ID).json(map[string]any{}).expect(200, nil)
			r = e.as(t, "alice", "DELETE", path).json(map[string]any{"mode": "erase"}).expectError(409, "conflict")
			if !strings.Contains(string(r.Body), "legal hold") {
				t.Fatalf("channel hold refusal: %s", r.Body)
			}

			// Nothing changed for carol.
			var got struct{ User user }
			e.as(t, "bob", "GET", "/api/v1/users/"+e.carol.ID).expect(200, &got)
			if got.User.Username != "carol" || got.User.Disabled {
				t.Fatalf("after the refusals: %+v", got.User)
			}
			login(t, e.n, "carol", carolPW)
			if ms := e.messages(t, "bob", gen.ID); len(ms) != 1 || ms[0].Body != "carol was here" {
				t.Fatalf("messages after the refusals: %+v", ms)
			}

			// Anonymising is allowed under the hold, and keeps the messages.
			d := e.deleteUser(t, e.carol.ID, "anonymise")
			if d.Mode != "anonymise" || d.Messages != 1 || d.Pending || d.User.DisplayName != unhidra.DeletedUserName {
				t.Fatalf("anonymise under hold: %+v", d)
			}
			// Upgrading it to erase is refused while the hold lasts; a
			// deleted account cannot be changed or enabled again.
			e.as(t, "alice", "DELETE", path).json(map[string]any{"mode": "erase"}).expectError(409, "conflict")
			e.as(t, "alice", "PATCH", path).json(map[string]any{"disabled": false}).expectError(409, "conflict")
			if ms := e.messages(t, "bob", gen.ID); len(ms) != 1 || ms[0].Body != "carol was here" {
				t.Fatalf("messages: %+v", ms)
			}
		})
	}
}

// TestDeleteUser deletes one user each way and checks what the others
// see, over REST and on their sockets.
func TestDeleteUser(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newDeleteEnv(t, engine)
			gen := e.createChannel(t, "erin", "general", "public")
			for _, who := range []string{"bob", "carol"} {
				e.as(t, who, "POST", "/api/v1/channels/"+gen.ID+"/join").expect(200, nil)
			}
			// bob owns a private channel with carol and erin in it.
			proj := e.createChannel(t, "bob", "project", "private")
			e.addMember(t, "bob", proj.ID, e.carol.ID, "member")
			e.addMember(t, "bob", proj.ID, e.erin.ID, "moderator")
			var dm struct{ Channel channel }
			e.as(t, "carol", "POST", "/api/v1/channels").json(map[string]any{"kind": "direct", "members": []string{e.erin.ID}}).expect(201, &dm)

			// bob's messages (anonymise keeps them).
			bobMsg := e.send(t, "bob", gen.ID, "b1", "the zebra stays")
			e.send(t, "bob", proj.ID, "b2", "project zebra notes")
			// carol's (erase deletes them): plain, edited, a thread reply,
			// in the private channel and in the DM; her reactions.
			root := e.send(t, "erin", gen.ID, "e1", "erin asks something")
			e.send(t, "carol", gen.ID, "c1", "quagga one")
			edited := e.send(t, "carol", gen.ID, "c2", "quagga draft")
			e.as(t, "carol", "PATCH", "/api/v1/messages/"+edited.ID).json(map[string]any{"body": "quagga final"}).expect(200, nil)
			var reply struct{ Message *message }
			e.as(t, "carol", "POST", "/api/v1/channels/"+gen.ID+"/messages").json(map[string]any{"client_msg_id": "c3", "body": "quagga reply", "thread_root_id": root.ID}).expect(201, &reply)
			e.send(t, "carol", proj.ID, "c4", "quagga private")
			e.send(t, "carol", dm.Channel.ID, "c5", "quagga direct")
			e.as(t, "carol", "PUT", "/api/v1/messages/"+root.ID+"/reactions/"+url.PathEscape("👍")).expect(200, nil)
			e.as(t, "carol", "PUT", "/api/v1/messages/"+bobMsg.ID+"/reactions/"+url.PathEscape("🎉")).expect(200, nil)
			e.as(t, "erin", "PUT", "/api/v1/messages/"+edited.ID+"/reactions/"+url.PathEscape("👀")).expect(200, nil)
			if n := e.searchHits(t, "erin", "quagga"); n != 5 {
				t.Fatalf("before: erin finds %d quagga messages, want 5", n)
			}

			// carol's encrypted reaction to erin's message in an encrypted
			// channel (erase deletes it too).
			var vault struct{ Channel channel }
			e.as(t, "erin", "POST", "/api/v1/channels").json(map[string]any{"name": "vault", "kind": "private", "encrypted": true}).expect(201, &vault)
			e.addMember(t, "erin", vault.Channel.ID, e.carol.ID, "member")
			var sealed struct{ Message *message }
			e.as(t, "erin", "POST", "/api/v1/channels/"+vault.Channel.ID+"/messages").
				json(map[string]any{"client_msg_id": "v1", "ciphertext": senderKeyEnvelope(t, e.erin.ID, "sealed")}).expect(201, &sealed)
			e.as(t, "carol", "POST", "/api/v1/messages/"+sealed.Message.ID+"/reactions").
				json(map[string]any{"ciphertext": senderKeyEnvelope(t, e.carol.ID, "reaction")}).expect(201, nil)

			erinFrames, _ := e.socket(t, "erin")
			_, bobEnd := e.socket(t, "bob")
			_, carolEnd := e.socket(t, "carol")

			// ---- anonymise bob
			d := e.deleteUser(t, e.bob.ID, "anonymise")
			if d.Mode != "anonymise" || d.Messages != 2 || d.Pending || !d.User.Disabled ||
				d.User.DisplayName != unhidra.DeletedUserName || d.User.Username != auth.DeletedUsername(e.bob.ID) {
				t.Fatalf("anonymise: %+v", d)
			}
			// His socket is closed as a revoked session's; his tokens and
			// password no longer work.
			select {
			case err := <-bobEnd:
				if ce := (*client.Error)(nil); !asClientError(err, &ce) || ce.CloseCode != 4001 {
					t.Fatalf("bob's socket ended with %v, want close 4001", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("bob's socket stays open")
			}
			e.as(t, "bob", "GET", "/api/v1/users/me").expectError(401, "unauthenticated")
			newCall(t, e.n, "POST", "/api/v1/auth/login").json(map[string]string{"username": "bob", "password": bobPW}).expectError(401, "unauthenticated")
			// Everyone sees the deleted user: the id, no profile.
			var prof struct {
				User map[string]any `json:"user"`
			}
			e.as(t, "erin", "GET", "/api/v1/users/"+e.bob.ID).expect(200, &prof)
			if prof.User["deleted"] != true || prof.User["display_name"] != unhidra.DeletedUserName || prof.User["status_text"] != "" ||
				prof.User["username"] != auth.DeletedUsername(e.bob.ID) || prof.User["id"] != e.bob.ID {
				t.Fatalf("profile of the deleted user: %+v", prof.User)
			}
			var found struct{ Users []user }
			e.as(t, "erin", "GET", "/api/v1/users?q=deleted").expect(200, &found)
			if len(found.Users) != 0 {
				t.Fatalf("the directory still finds %+v", found.Users)
			}
			// His messages stay, under his id; search finds them.
			ms := e.messages(t, "erin", gen.ID)
			if ms[0].ID != bobMsg.ID || ms[0].Body != "the zebra stays" || ms[0].Sender.ID != e.bob.ID || ms[0].Sender.Type != "user" || ms[0].Deleted {
				t.Fatalf("bob's message after anonymise: %+v", ms[0])
			}
			if n := e.searchHits(t, "erin", "zebra"); n != 2 {
				t.Fatalf("search finds %d of bob's messages, want 2", n)
			}
			// He left every channel; his private channel has a new owner:
			// the strongest remaining role, erin the moderator.
			if _, in := e.memberIDs(t, "erin", gen.ID)[e.bob.ID]; in {
				t.Fatal("bob is still a member of general")
			}
			roles := e.memberIDs(t, "erin", proj.ID)
			if _, in := roles[e.bob.ID]; in || roles[e.erin.ID] != "owner" || roles[e.carol.ID] != "member" {
				t.Fatalf("project members after bob: %v", roles)
			}
			waitFrame(t, erinFrames, "member_left of bob", func(f *client.Frame) bool {
				return f.Type == "member_left" && strings.Contains(string(f.Raw), e.bob.ID)
			})
			// The name is free.
			newBob := register(t, e.n, "bob", bobPW)
			if newBob.ID == e.bob.ID {
				t.Fatal("the new bob has the old id")
			}
			e.auditEntry(t, "admin.user_delete", e.bob.ID, func(m map[string]string) bool {
				return m["mode"] == "anonymise" && m["messages"] == "2"
			})

			// ---- erase carol
			d = e.deleteUser(t, e.carol.ID, "erase")
			if d.Mode != "erase" || d.Messages != 5 || d.Pending {
				t.Fatalf("erase: %+v", d)
			}
			select {
			case <-carolEnd:
			case <-time.After(10 * time.Second):
				t.Fatal("carol's socket stays open")
			}
			var encrypted int
			if err := e.n.Store.Read().QueryRow(t.Context(), `SELECT COUNT(*) FROM encrypted_reactions WHERE user_id = ?`, e.carol.ID).Scan(&encrypted); err != nil || encrypted != 0 {
				t.Fatalf("%d encrypted reactions of carol survive (%v)", encrypted, err)
			}
			// Gone from search, from the messages, from the event log.
			if n := e.searchHits(t, "erin", "quagga"); n != 0 {
				t.Fatalf("search still finds %d of carol's messages", n)
			}
			for _, ch := range []string{gen.ID, proj.ID, dm.Channel.ID} {
				for _, m := range e.messages(t, "erin", ch) {
					if m.Sender.ID == e.carol.ID && (!m.Deleted || m.Body != "") {
						t.Fatalf("carol's message survives: %+v", m)
					}
				}
				for _, f := range e.events(t, "erin", ch) {
					if b, _ := json.Marshal(f); strings.Contains(string(b), "quagga") {
						t.Fatalf("the event log of %s still has %s", ch, b)
					}
				}
			}
			var th struct {
				Root    *message
				Replies []*message
			}
			e.as(t, "erin", "GET", "/api/v1/messages/"+root.ID+"/thread").expect(200, &th)
			if th.Root.ReplyCount != 0 || len(th.Replies) != 1 || !th.Replies[0].Deleted {
				t.Fatalf("thread after erase: root %+v replies %+v", th.Root, th.Replies)
			}
			// Her reactions went (on erin's and bob's messages), erin's on
			// her message with it.
			for _, id := range []string{root.ID, bobMsg.ID, edited.ID} {
				var m struct{ Message *message }
				e.as(t, "erin", "GET", "/api/v1/messages/"+id).expect(200, &m)
				if len(m.Message.Reactions) != 0 {
					t.Fatalf("reactions left on %s: %+v", id, m.Message.Reactions)
				}
			}
			for _, q := range []string{
				`SELECT COUNT(*) FROM reactions WHERE user_id = ?`,
				`SELECT COUNT(*) FROM message_edits e JOIN messages m ON m.id = e.message_id WHERE m.sender_id = ?`,
				`SELECT COUNT(*) FROM messages WHERE sender_id = ? AND (body <> '' OR deleted_at IS NULL)`,
				`SELECT COUNT(*) FROM channel_members WHERE user_id = ?`,
				`SELECT COUNT(*) FROM mentions WHERE user_id = ?`,
				`SELECT COUNT(*) FROM thread_follows WHERE user_id = ?`,
			} {
				var n int
				if err := e.n.Store.Read().QueryRow(t.Context(), q, e.carol.ID).Scan(&n); err != nil || n != 0 {
					t.Fatalf("%s: %d, %v", q, n, err)
				}
			}
			// erin's socket saw each delete.
			for _, id := range []string{edited.ID, reply.Message.ID} {
				waitFrame(t, erinFrames, "message_deleted of "+id, func(f *client.Frame) bool {
					return f.Type == "message_deleted" && strings.Contains(string(f.Raw), id)
				})
			}
			// The DM is still there for erin, its other member deleted.
			var dmMembers struct{ Channel channel }
			e.as(t, "erin", "GET", "/api/v1/channels/"+dm.Channel.ID).expect(200, &dmMembers)
			if _, in := e.memberIDs(t, "erin", dm.Channel.ID)[e.carol.ID]; in {
				t.Fatal("carol is still a member of the DM")
			}
			// No new DM with a deleted user.
			e.as(t, "erin", "POST", "/api/v1/channels").json(map[string]any{"kind": "direct", "members": []string{e.carol.ID}}).expectError(404, "not_found")
			e.auditEntry(t, "admin.user_delete", e.carol.ID, func(m map[string]string) bool {
				return m["mode"] == "erase" && m["messages"] == "5"
			})
			if engine == "sqlite" {
				db := filepath.Join(e.n.Config.DataDir, "unhidra.db")
				for deadline := time.Now().Add(20 * time.Second); testenv.SQLiteFilesContain(t, db, "quagga"); time.Sleep(50 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("carol's words are still in the database files")
					}
				}
				if !testenv.SQLiteFilesContain(t, db, "zebra stays") {
					t.Fatal("the scan does not see text that was kept: it proves nothing")
				}
			}

			// ---- erasing bob after all: his kept messages go too; again
			// changes nothing.
			d = e.deleteUser(t, e.bob.ID, "erase")
			if d.Mode != "erase" || d.Messages != 2 || d.Pending {
				t.Fatalf("erase after anonymise: %+v", d)
			}
			if n := e.searchHits(t, "erin", "zebra"); n != 0 {
				t.Fatalf("search still finds %d of bob's messages", n)
			}
			d = e.deleteUser(t, e.bob.ID, "anonymise")
			if d.Mode != "erase" || d.Messages != 0 || d.Pending {
				t.Fatalf("deleting again: %+v", d)
			}
			e.auditEntry(t, "admin.user_delete", e.bob.ID, func(m map[string]string) bool {
				return m["mode"] == "erase" && m["messages"] == "2"
			})
		})
	}
}

func asClientError(err error, target **client.Error) bool {
	ce, ok := err.(*client.Error)
	if ok {
		*target = ce
	}
	return ok
}

// TestEraseInBatches: a user with more messages than a few batches is
// erased batch by batch; a purge cut short (the node stopped after the
// account was deleted, or a hold placed meanwhile) is finished by
// ResumeDeletions, as every node runs it.
func TestEraseInBatches(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newDeleteEnv(t, engine)
			gen := e.createChannel(t, "erin", "general", "public")
			other := e.createChannel(t, "erin", "other", "public")
			for _, ch := range []string{gen.ID, other.ID} {
				e.as(t, "carol", "POST", "/api/v1/channels/"+ch+"/join").expect(200, nil)
			}
			carol := unhidra.NewContextWithPrincipal(t.Context(), &unhidra.Principal{UserID: e.carol.ID, Role: unhidra.RoleMember})
			// More than two batches in general, one in other.
			const n = 2*250 + 30
			const inOther = (n + 4) / 5
			for i := range n {
				ch := gen.ID
				if i%5 == 0 {
					ch = other.ID
				}
				if _, _, err := e.n.Chat.Send(carol, unhidra.SendInput{ChannelID: ch, ClientMsgID: "m" + strconv.Itoa(i), Body: "okapi " + strconv.Itoa(i)}); err != nil {
					t.Fatal(err)
				}
			}
			// More reactions than a batch, on erin's messages.
			erin := unhidra.NewContextWithPrincipal(t.Context(), &unhidra.Principal{UserID: e.erin.ID, Role: unhidra.RoleMember})
			const reacted = 130
			for i := range reacted {
				m, _, err := e.n.Chat.Send(erin, unhidra.SendInput{ChannelID: gen.ID, ClientMsgID: "e" + strconv.Itoa(i), Body: "erin " + strconv.Itoa(i)})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.n.Chat.React(carol, m.ID, "👍", true); err != nil {
					t.Fatal(err)
				}
			}
			// The node "stops" right after the account's transaction: the
			// account is deleted, its channels not yet purged.
			st := authstore.New(e.n.Store)
			if _, err := st.DeleteUser(t.Context(), e.carol.ID, auth.UserDeletion{Mode: unhidra.DeleteErase, Now: time.Now()}); err != nil {
				t.Fatal(err)
			}
			// A hold placed on one channel before the purge runs keeps its
			// messages: the purge stays pending.
			e.as(t, "alice", "PUT", "/api/v1/admin/legal-holds/channel/"+other.ID).json(map[string]any{}).expect(200, nil)
			resumeUntil(t, e, func(left, pending int) bool { return left == inOther && pending == 1 })
			// Released, the next round finishes.
			e.as(t, "alice", "DELETE", "/api/v1/admin/legal-holds/channel/"+other.ID).expect(204, nil)
			resumeUntil(t, e, func(left, pending int) bool { return left == 0 && pending == 0 })
			if hits := e.searchHits(t, "erin", "okapi"); hits != 0 {
				t.Fatalf("search finds %d", hits)
			}
			// Every delete is an event: the log grew by one per message.
			var ch struct{ Channel channel }
			e.as(t, "erin", "GET", "/api/v1/channels/"+gen.ID).expect(200, &ch)
			// Two joins, carol's messages and their deletes, erin's messages
			// with carol's reactions added and removed, carol leaving.
			if want := int64(2 + 2*(n-inOther) + 3*reacted + 1); ch.Channel.LastSeq != want {
				t.Fatalf("general's last seq %d, want %d", ch.Channel.LastSeq, want)
			}
			var left int
			if err := e.n.Store.Read().QueryRow(t.Context(), `SELECT COUNT(*) FROM reactions WHERE user_id = ?`, e.carol.ID).Scan(&left); err != nil || left != 0 {
				t.Fatalf("carol's reactions left: %d, %v", left, err)
			}
		})
	}
}

// resumeUntil runs ResumeDeletions, as a node's RunDeletions does, until
// done says the messages carol has left are what it expects (the node's
// own background round may be running the same purge meanwhile).
func resumeUntil(t *testing.T, e *deleteEnv, done func(left, pending int) bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := e.n.Auth.ResumeDeletions(t.Context()); err != nil {
			t.Fatal(err)
		}
		left, err := e.n.Chat.UserMessageCount(t.Context(), e.carol.ID)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := authstore.New(e.n.Store).PendingDeletions(t.Context(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if done(left, len(ps)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages left, %d deletions pending", left, len(ps))
		}
	}
}

// TestAdminChannels: admins list every public and private channel (not
// the direct ones, which are only counted), page through them, see any
// one's members and archive it; nobody else may.
func TestAdminChannels(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newDeleteEnv(t, engine)
			pub := e.createChannel(t, "bob", "lobby", "public")
			priv := e.createChannel(t, "bob", "secret-plans", "private")
			priv2 := e.createChannel(t, "carol", "secret-plans", "private") // private names may repeat
			e.addMember(t, "bob", priv.ID, e.carol.ID, "member")
			e.send(t, "bob", priv.ID, "p1", "nobody outside reads this")
			var dm struct{ Channel channel }
			e.as(t, "bob", "POST", "/api/v1/channels").json(map[string]any{"kind": "direct", "members": []string{e.carol.ID}}).expect(201, &dm)

			for _, who := range []string{"bob", "dave"} {
				e.as(t, who, "GET", "/api/v1/admin/channels").expectError(403, "permission_denied")
				e.as(t, who, "GET", "/api/v1/admin/channels/"+priv.ID+"/members").expectError(403, "permission_denied")
				e.as(t, who, "POST", "/api/v1/admin/channels/"+priv.ID+"/archive").expectError(403, "permission_denied")
			}

			type page struct {
				Channels []struct {
					ID             string
					Name           string
					Kind           string
					Encrypted      bool
					Archived       bool
					MemberCount    int        `json:"member_count"`
					LastSeq        int64      `json:"last_seq"`
					CreatedAt      time.Time  `json:"created_at"`
					LastActivityAt *time.Time `json:"last_activity_at"`
				}
				NextCursor  string `json:"next_cursor"`
				DirectCount int    `json:"direct_count"`
			}
			var all page
			e.as(t, "alice", "GET", "/api/v1/admin/channels").expect(200, &all)
			if len(all.Channels) != 3 || all.DirectCount != 1 || all.NextCursor != "" {
				t.Fatalf("admin channels: %+v", all)
			}
			byID := map[string]int{}
			for i, c := range all.Channels {
				byID[c.ID] = i
				if c.Kind == "direct" || c.Name == "" || c.LastActivityAt == nil || c.CreatedAt.IsZero() {
					t.Fatalf("listed %+v", c)
				}
			}
			if c := all.Channels[byID[priv.ID]]; c.MemberCount != 2 || c.Kind != "private" || c.LastSeq != 3 || c.LastActivityAt.Before(c.CreatedAt) {
				t.Fatalf("private channel: %+v", c)
			}
			if _, ok := byID[dm.Channel.ID]; ok || all.Channels[0].Name != "lobby" {
				t.Fatalf("order or a DM listed: %+v", all.Channels)
			}
			// Pages of one, in name then id order, twins included.
			var seen []string
			for cursor := ""; ; {
				var p page
				e.as(t, "alice", "GET", "/api/v1/admin/channels?limit=1&cursor="+url.QueryEscape(cursor)).expect(200, &p)
				for _, c := range p.Channels {
					seen = append(seen, c.ID)
				}
				if p.NextCursor == "" {
					break
				}
				cursor = p.NextCursor
			}
			if len(seen) != 3 || seen[0] != pub.ID || seen[1] == seen[2] {
				t.Fatalf("pages: %v", seen)
			}
			var found page
			e.as(t, "alice", "GET", "/api/v1/admin/channels?q=SECRET").expect(200, &found)
			if len(found.Channels) != 2 {
				t.Fatalf("q=SECRET: %+v", found)
			}
			e.as(t, "alice", "GET", "/api/v1/admin/channels?cursor=@@").expectError(400, "invalid_argument")
			e.as(t, "alice", "GET", "/api/v1/admin/channels?limit=500").expectError(400, "invalid_argument")

			// Members of a private channel alice is not in; not of a DM.
			var ms membersOut
			e.as(t, "alice", "GET", "/api/v1/admin/channels/"+priv.ID+"/members").expect(200, &ms)
			if len(ms.Members) != 2 {
				t.Fatalf("members: %+v", ms)
			}
			e.as(t, "alice", "GET", "/api/v1/admin/channels/"+dm.Channel.ID+"/members").expectError(404, "not_found")
			e.as(t, "alice", "POST", "/api/v1/admin/channels/"+dm.Channel.ID+"/archive").expectError(404, "not_found")
			e.as(t, "alice", "GET", "/api/v1/admin/channels/nope/members").expectError(404, "not_found")

			// Archiving a private channel: read-only for its members.
			e.as(t, "alice", "POST", "/api/v1/admin/channels/"+priv.ID+"/archive").expect(204, nil)
			e.as(t, "alice", "POST", "/api/v1/admin/channels/"+priv.ID+"/archive").expect(204, nil)
			e.as(t, "bob", "POST", "/api/v1/channels/"+priv.ID+"/messages").json(map[string]any{"client_msg_id": "p2", "body": "x"}).expectError(403, "permission_denied")
			if c := e.channelOf(t, "carol", priv.ID); !c.Archived {
				t.Fatalf("not archived: %+v", c)
			}
			e.as(t, "alice", "GET", "/api/v1/admin/channels?q=secret").expect(200, &found)
			for _, c := range found.Channels {
				if c.Archived != (c.ID == priv.ID) {
					t.Fatalf("archived flags: %+v", found.Channels)
				}
			}
			if i, ok := byID[priv2.ID]; !ok || all.Channels[i].MemberCount != 1 {
				t.Fatalf("carol's secret-plans: %+v", all.Channels)
			}
			e.auditEntry(t, "chat.channel_archive", priv.ID, func(map[string]string) bool { return true })
		})
	}
}

type membersOut struct {
	Members []struct {
		UserID string `json:"user_id"`
		Role   string
	}
	NextCursor string `json:"next_cursor"`
}
