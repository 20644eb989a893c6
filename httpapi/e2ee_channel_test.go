package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/unhidra/unhidra/e2ee"
)

// senderKeyEnvelope returns a channel message's ciphertext as a client
// sends it: a sender-key envelope from userID, base64.
func senderKeyEnvelope(t testing.TB, userID, text string) string {
	t.Helper()
	keys, err := e2ee.GenerateClientKeys(nil, userID, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	sk, err := e2ee.NewSenderKey(nil, keys, "group", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	msg, err := sk.Encrypt([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	env, err := (&e2ee.Envelope{GroupProtocol: e2ee.GroupSenderKeys, SenderUserID: userID, SenderClientID: "laptop", Body: msg}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(env)
}

// TestEncryptedChannel: an encrypted channel takes only sender-key
// envelopes from their sender, retries are idempotent on the exact
// ciphertext, edits carry ciphertext, reactions are encrypted and go with
// their message, and neither search nor the compliance export sees it.
func TestEncryptedChannel(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			e := newChatEnv(t, engine)
			var enc struct{ Channel channel }
			e.as(t, "bob", "POST", "/api/v1/channels").json(map[string]any{"name": "vault", "kind": "private", "encrypted": true}).expect(201, &enc)
			ch := enc.Channel.ID
			e.addMember(t, "bob", ch, e.carol.ID, "member")
			post := "/api/v1/channels/" + ch + "/messages"

			// Plaintext, non-envelopes and other people's envelopes are refused.
			pairwise, _ := (&e2ee.Envelope{GroupProtocol: e2ee.GroupPairwise, SenderUserID: e.bob.ID, SenderClientID: "x", Body: []byte{1, 2}}).MarshalBinary()
			for name, body := range map[string]map[string]any{
				"body":            {"client_msg_id": "e1", "body": "plain"},
				"both":            {"client_msg_id": "e1", "body": "plain", "ciphertext": senderKeyEnvelope(t, e.bob.ID, "x")},
				"none":            {"client_msg_id": "e1"},
				"not base64":      {"client_msg_id": "e1", "ciphertext": "not base64!"},
				"not an envelope": {"client_msg_id": "e1", "ciphertext": "aGVsbG8="},
				"pairwise":        {"client_msg_id": "e1", "ciphertext": base64.StdEncoding.EncodeToString(pairwise)},
				"other sender":    {"client_msg_id": "e1", "ciphertext": senderKeyEnvelope(t, e.carol.ID, "x")},
			} {
				t.Run(name, func(t *testing.T) { e.as(t, "bob", "POST", post).json(body).expectError(400, "invalid_argument") })
			}
			huge := base64.StdEncoding.EncodeToString(make([]byte, 65<<10))
			e.as(t, "bob", "POST", post).json(map[string]any{"client_msg_id": "e1", "ciphertext": huge}).expectError(413, "payload_too_large")

			// A retry with the exact ciphertext is the same send; other
			// ciphertext under the same client_msg_id is a conflict.
			ct := senderKeyEnvelope(t, e.bob.ID, "the secret zebra")
			var sent struct{ Message *message }
			e.as(t, "bob", "POST", post).json(map[string]any{"client_msg_id": "e1", "ciphertext": ct}).expect(201, &sent)
			var again struct{ Message *message }
			e.as(t, "bob", "POST", post).json(map[string]any{"client_msg_id": "e1", "ciphertext": ct}).expect(200, &again)
			if again.Message.ID != sent.Message.ID || again.Message.Ciphertext != ct || again.Message.Body != "" {
				t.Fatalf("retry: %+v vs %+v", again.Message, sent.Message)
			}
			e.as(t, "bob", "POST", post).json(map[string]any{"client_msg_id": "e1", "ciphertext": senderKeyEnvelope(t, e.bob.ID, "the secret zebra")}).expectError(409, "conflict")
			id := sent.Message.ID

			// Edits carry ciphertext.
			e.as(t, "bob", "PATCH", "/api/v1/messages/"+id).json(map[string]any{"body": "plain"}).expectError(400, "invalid_argument")
			ct2 := senderKeyEnvelope(t, e.bob.ID, "the edited zebra")
			var edited struct{ Message *message }
			e.as(t, "bob", "PATCH", "/api/v1/messages/"+id).json(map[string]any{"ciphertext": ct2}).expect(200, &edited)
			if edited.Message.Ciphertext != ct2 || edited.Message.EditedAt == nil {
				t.Fatalf("edit: %+v", edited.Message)
			}
			e.as(t, "carol", "PATCH", "/api/v1/messages/"+id).json(map[string]any{"ciphertext": senderKeyEnvelope(t, e.carol.ID, "x")}).expectError(403, "permission_denied")

			// Reactions: the emoji is encrypted; the standard route is
			// refused here, and the encrypted one in standard channels.
			e.as(t, "carol", "PUT", "/api/v1/messages/"+id+"/reactions/"+url.PathEscape("👍")).expectError(400, "invalid_argument")
			e.as(t, "carol", "POST", "/api/v1/messages/"+id+"/reactions").json(map[string]any{"ciphertext": "aGk="}).expectError(400, "invalid_argument")
			e.as(t, "carol", "POST", "/api/v1/messages/"+id+"/reactions").json(map[string]any{"ciphertext": senderKeyEnvelope(t, e.bob.ID, "👍")}).expectError(400, "invalid_argument")
			e.as(t, "dave", "POST", "/api/v1/messages/"+id+"/reactions").json(map[string]any{"ciphertext": senderKeyEnvelope(t, e.dave.ID, "👍")}).expectError(404, "not_found")
			std := e.createChannel(t, "bob", "plain", "public")
			stdMsg := e.send(t, "bob", std.ID, "s1", "standard words")
			e.as(t, "bob", "POST", "/api/v1/messages/"+stdMsg.ID+"/reactions").json(map[string]any{"ciphertext": senderKeyEnvelope(t, e.bob.ID, "👍")}).expectError(400, "invalid_argument")

			unreadBefore := e.channelOf(t, "bob", ch).UnreadCount
			rct := senderKeyEnvelope(t, e.carol.ID, "👍")
			var r1, r2 struct {
				Reaction struct{ ID, MessageID, UserID, Ciphertext string }
			}
			e.as(t, "carol", "POST", "/api/v1/messages/"+id+"/reactions").json(map[string]any{"ciphertext": rct}).expect(201, &r1)
			e.as(t, "carol", "POST", "/api/v1/messages/"+id+"/reactions").json(map[string]any{"ciphertext": senderKeyEnvelope(t, e.carol.ID, "🎉")}).expect(201, &r2)
			if r1.Reaction.ID == "" || r1.Reaction.ID == r2.Reaction.ID || r1.Reaction.Ciphertext != rct {
				t.Fatalf("reactions: %+v %+v", r1, r2)
			}
			if got := e.channelOf(t, "bob", ch).UnreadCount; got != unreadBefore {
				t.Fatalf("a reaction counted as unread: %d, was %d", got, unreadBefore)
			}
			var got struct{ Message *message }
			e.as(t, "bob", "GET", "/api/v1/messages/"+id).expect(200, &got)
			if len(got.Message.EncryptedReactions) != 2 || got.Message.EncryptedReactions[0].Ciphertext != rct || len(got.Message.Reactions) != 0 {
				t.Fatalf("message reactions: %+v", got.Message)
			}
			e.as(t, "bob", "DELETE", "/api/v1/reactions/"+r1.Reaction.ID).expectError(403, "permission_denied")
			e.as(t, "carol", "DELETE", "/api/v1/reactions/"+r1.Reaction.ID).expect(204, nil)
			e.as(t, "carol", "DELETE", "/api/v1/reactions/"+r1.Reaction.ID).expect(204, nil)
			e.as(t, "carol", "DELETE", "/api/v1/reactions/"+strings.Repeat("x", 200)).expectError(400, "invalid_argument")
			// The removed reaction's ciphertext is gone from the event log
			// too; the other one's is there until its message goes.
			evs, _ := json.Marshal(e.events(t, "carol", ch))
			if bytes.Contains(evs, []byte(rct)) || !strings.Contains(string(evs), `"added":false`) {
				t.Fatalf("events after removing a reaction: %s", evs)
			}

			// Deleting the message deletes its edits and reactions, and
			// their ciphertext leaves the event log's rows.
			e.as(t, "bob", "DELETE", "/api/v1/messages/"+id).expect(204, nil)
			for _, q := range []string{
				`SELECT COUNT(*) FROM encrypted_reactions WHERE message_id = ?`,
				`SELECT COUNT(*) FROM message_edits WHERE message_id = ?`,
				`SELECT COUNT(*) FROM channel_events WHERE message_id = ? AND frame LIKE '%ciphertext%'`,
				`SELECT COUNT(*) FROM messages WHERE id = ? AND ciphertext <> ''`,
			} {
				var n int
				if err := e.n.Store.Read().QueryRow(t.Context(), q, id).Scan(&n); err != nil || n != 0 {
					t.Fatalf("%s: %d, %v", q, n, err)
				}
			}

			// Neither search nor the compliance export sees the channel.
			e.as(t, "bob", "POST", post).json(map[string]any{"client_msg_id": "e2", "ciphertext": senderKeyEnvelope(t, e.bob.ID, "x")}).expect(201, &sent)
			var hits struct{ Hits []map[string]any }
			e.as(t, "bob", "GET", "/api/v1/search?q="+url.QueryEscape(sent.Message.Ciphertext[:12])).expect(200, &hits)
			e.as(t, "bob", "GET", "/api/v1/search?q="+url.QueryEscape("in:vault")).expect(200, &hits)
			if len(hits.Hits) != 0 {
				t.Fatalf("search found encrypted messages: %v", hits.Hits)
			}
			q := url.Values{"from": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, "to": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}
			r := e.as(t, "alice", "GET", "/api/v1/admin/compliance/export?"+q.Encode()).do()
			if r.Status != 200 {
				t.Fatalf("export: %d %s", r.Status, r.Body)
			}
			lines := 0
			for sc := bufio.NewScanner(bytes.NewReader(r.Body)); sc.Scan(); lines++ {
				if strings.Contains(sc.Text(), ch) {
					t.Fatalf("the export has the encrypted channel: %s", sc.Text())
				}
			}
			if lines != 1 {
				t.Fatalf("export: %d lines, want the standard message only:\n%s", lines, r.Body)
			}
			q.Set("channel_id", ch)
			r = e.as(t, "alice", "GET", "/api/v1/admin/compliance/export?"+q.Encode()).do()
			if r.Status != 200 || len(bytes.TrimSpace(r.Body)) != 0 {
				t.Fatalf("export of the encrypted channel: %d %s", r.Status, r.Body)
			}
		})
	}
}
