package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/chat"
	"github.com/unhidra/unhidra/internal/testserver"
	"github.com/unhidra/unhidra/wire"
)

const (
	carolPW = "third user passphrase 3"
	davePW  = "fourth user passphrase 44"
)

type channel struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Kind         string   `json:"kind"`
	Encrypted    bool     `json:"encrypted"`
	Topic        string   `json:"topic"`
	Archived     bool     `json:"archived"`
	Role         string   `json:"role"`
	LastSeq      int64    `json:"last_seq"`
	LastReadSeq  int64    `json:"last_read_seq"`
	UnreadCount  int      `json:"unread_count"`
	MentionCount int      `json:"mention_count"`
	Muted        bool     `json:"muted"`
	Notify       string   `json:"notify"`
	Members      []string `json:"members"`
}

type message = unhidra.Message

// chatEnv is a node with four users: alice (system admin), bob, carol, dave.
type chatEnv struct {
	n                       *testserver.Node
	alice, bob, carol, dave user
	tok                     map[string]string // username → access token
}

func newChatEnv(t *testing.T, engine string) *chatEnv {
	t.Helper()
	n := testserver.Start(t, testserver.Config(t, engine))
	e := &chatEnv{n: n, tok: map[string]string{}}
	e.alice = bootstrapAdmin(t, n, "alice", adminPW)
	e.bob = register(t, n, "bob", bobPW)
	e.carol = register(t, n, "carol", carolPW)
	e.dave = register(t, n, "dave", davePW)
	for name, pw := range map[string]string{"alice": adminPW, "bob": bobPW, "carol": carolPW, "dave": davePW} {
		e.tok[name] = login(t, n, name, pw).AccessToken
	}
	return e
}

func (e *chatEnv) as(t testing.TB, who, method, path string) *call {
	return newCall(t, e.n, method, path).bearer(e.tok[who])
}

func (e *chatEnv) createChannel(t testing.TB, who, name, kind string) channel {
	t.Helper()
	var out struct{ Channel channel }
	e.as(t, who, "POST", "/api/v1/channels").json(map[string]any{"name": name, "kind": kind}).expect(201, &out)
	return out.Channel
}

func (e *chatEnv) send(t testing.TB, who, channelID, cmid, body string) *message {
	t.Helper()
	var out struct{ Message *message }
	e.as(t, who, "POST", "/api/v1/channels/"+channelID+"/messages").
		json(map[string]any{"client_msg_id": cmid, "body": body}).expect(201, &out)
	return out.Message
}

func (e *chatEnv) addMember(t testing.TB, who, channelID, userID, role string) {
	t.Helper()
	e.as(t, who, "PUT", "/api/v1/channels/"+channelID+"/members/"+userID).json(map[string]string{"role": role}).expect(201, nil)
}

func (e *chatEnv) channelOf(t testing.TB, who, id string) channel {
	t.Helper()
	var out struct{ Channels []channel }
	e.as(t, who, "GET", "/api/v1/channels").expect(200, &out)
	for _, c := range out.Channels {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("%s is not in channel %s", who, id)
	return channel{}
}

func (e *chatEnv) events(t testing.TB, who, channelID string) []map[string]any {
	t.Helper()
	var out struct {
		Events []struct {
			Seq   int64
			Type  string
			Frame json.RawMessage
		}
	}
	e.as(t, who, "GET", "/api/v1/channels/"+channelID+"/events").expect(200, &out)
	var frames []map[string]any
	for i, ev := range out.Events {
		if ev.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d: not gap-free", i, ev.Seq)
		}
		var f map[string]any
		if err := json.Unmarshal(ev.Frame, &f); err != nil {
			t.Fatal(err)
		}
		if f["type"] != ev.Type || f["channel_id"] != channelID || f["seq"] != float64(ev.Seq) {
			t.Fatalf("frame %s does not carry type/channel_id/seq of its event", ev.Frame)
		}
		frames = append(frames, f)
	}
	return frames
}

// TestChatFlow walks the main messaging flow on each engine.
func TestChatFlow(t *testing.T) {
	for _, engine := range testserver.Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newChatEnv(t, engine)

			// Subscribe to the bus like the gateway does.
			var mu sync.Mutex
			var got []string
			sub, err := e.n.Bus.Subscribe(wire.AllUsers, func(subject string, data []byte) {
				mu.Lock()
				got = append(got, subject+" "+string(data))
				mu.Unlock()
			})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()

			gen := e.createChannel(t, "bob", "General", "public")
			if gen.Name != "general" || gen.Role != "owner" || gen.LastSeq != 1 {
				t.Fatalf("created %+v", gen)
			}
			e.as(t, "carol", "POST", "/api/v1/channels").json(map[string]any{"name": "general", "kind": "public"}).expectError(409, "conflict")
			var browse struct{ Channels []channel }
			e.as(t, "carol", "GET", "/api/v1/channels/browse?q=gen").expect(200, &browse)
			if len(browse.Channels) != 1 || browse.Channels[0].ID != gen.ID {
				t.Fatalf("browse = %+v", browse)
			}
			// A public channel: carol sees it, but must join to read.
			e.as(t, "carol", "GET", "/api/v1/channels/"+gen.ID).expect(200, nil)
			e.as(t, "carol", "GET", "/api/v1/channels/"+gen.ID+"/messages").expectError(403, "permission_denied")
			e.as(t, "carol", "POST", "/api/v1/channels/"+gen.ID+"/join").expect(200, nil)

			m1 := e.send(t, "bob", gen.ID, "m1", "hello @carol and @nobody")
			if m1.Seq != 3 || len(m1.Mentions) != 1 || m1.Mentions[0] != e.carol.ID {
				t.Fatalf("m1 = %+v", m1)
			}
			// Idempotent retry: same id and content → 200 with the same message.
			var again struct{ Message *message }
			e.as(t, "bob", "POST", "/api/v1/channels/"+gen.ID+"/messages").
				json(map[string]any{"client_msg_id": "m1", "body": "hello @carol and @nobody"}).expect(200, &again)
			if again.Message.ID != m1.ID || again.Message.Seq != m1.Seq {
				t.Fatalf("retry = %+v", again.Message)
			}
			e.as(t, "bob", "POST", "/api/v1/channels/"+gen.ID+"/messages").
				json(map[string]any{"client_msg_id": "m1", "body": "other"}).expectError(409, "conflict")
			e.as(t, "bob", "POST", "/api/v1/channels/"+gen.ID+"/messages").
				json(map[string]any{"client_msg_id": "m2", "body": strings.Repeat("x", chat.MaxBodyChars+1)}).expectError(413, "payload_too_large")
			e.as(t, "bob", "POST", "/api/v1/channels/"+gen.ID+"/messages").
				json(map[string]any{"client_msg_id": "m2", "body": "x", "attachments": []string{"f1"}}).expectError(400, "invalid_argument")

			c := e.channelOf(t, "carol", gen.ID)
			if c.UnreadCount != 1 || c.MentionCount != 1 {
				t.Fatalf("carol's counts = %+v", c)
			}
			e.send(t, "bob", gen.ID, "m2", "@channel standup")
			c = e.channelOf(t, "carol", gen.ID)
			if c.UnreadCount != 2 || c.MentionCount != 2 {
				t.Fatalf("carol's counts after @channel = %+v", c)
			}
			e.as(t, "carol", "POST", "/api/v1/channels/"+gen.ID+"/read").json(map[string]any{"seq": m1.Seq}).expect(204, nil)
			c = e.channelOf(t, "carol", gen.ID)
			if c.UnreadCount != 1 || c.MentionCount != 1 || c.LastReadSeq != m1.Seq {
				t.Fatalf("after read = %+v", c)
			}
			e.as(t, "carol", "POST", "/api/v1/channels/"+gen.ID+"/read").json(map[string]any{"seq": 999}).expectError(400, "invalid_argument")
			e.as(t, "carol", "POST", "/api/v1/channels/read-all").expect(204, nil)
			if c = e.channelOf(t, "carol", gen.ID); c.UnreadCount != 0 || c.MentionCount != 0 {
				t.Fatalf("after read-all = %+v", c)
			}

			// Threads.
			r1 := e.send2(t, "carol", gen.ID, "r1", "a reply", m1.ID)
			var th chat.Thread
			e.as(t, "bob", "GET", "/api/v1/messages/"+m1.ID+"/thread").expect(200, &th)
			if th.Root.ReplyCount != 1 || th.Root.LastReplyAt == nil || len(th.Replies) != 1 || th.Replies[0].ID != r1.ID ||
				len(th.Participants) != 1 || !th.Following {
				t.Fatalf("thread = %+v", th)
			}
			e.as(t, "bob", "DELETE", "/api/v1/messages/"+m1.ID+"/follow").expect(204, nil)
			e.as(t, "bob", "GET", "/api/v1/messages/"+m1.ID+"/thread").expect(200, &th)
			if th.Following {
				t.Fatal("unfollow did not stick")
			}
			// History lists top-level messages only.
			var page struct {
				Messages []*message
				HasMore  bool `json:"has_more"`
			}
			e.as(t, "carol", "GET", "/api/v1/channels/"+gen.ID+"/messages").expect(200, &page)
			if len(page.Messages) != 2 || page.Messages[0].ID != m1.ID || page.Messages[1].Seq <= page.Messages[0].Seq {
				t.Fatalf("history = %+v", page)
			}

			// Reactions, pins, edits, deletes.
			var rm struct{ Message *message }
			e.as(t, "carol", "PUT", "/api/v1/messages/"+m1.ID+"/reactions/"+url.PathEscape("👍")).expect(200, &rm)
			e.as(t, "carol", "PUT", "/api/v1/messages/"+m1.ID+"/reactions/"+url.PathEscape("👍")).expect(200, &rm)
			if len(rm.Message.Reactions) != 1 || rm.Message.Reactions[0].Count != 1 || !rm.Message.Reactions[0].Me {
				t.Fatalf("reactions = %+v", rm.Message.Reactions)
			}
			e.as(t, "carol", "PUT", "/api/v1/messages/"+m1.ID+"/reactions/abc").expectError(400, "invalid_argument")
			e.as(t, "bob", "PUT", "/api/v1/messages/"+m1.ID+"/pin").expect(200, &rm)
			if !rm.Message.Pinned {
				t.Fatal("not pinned")
			}
			e.as(t, "bob", "GET", "/api/v1/channels/"+gen.ID+"/pins").expect(200, &page)
			if len(page.Messages) != 1 {
				t.Fatalf("pins = %+v", page.Messages)
			}
			e.as(t, "bob", "PATCH", "/api/v1/messages/"+m1.ID).json(map[string]string{"body": "hello again"}).expect(200, &rm)
			if rm.Message.Body != "hello again" || rm.Message.EditedAt == nil {
				t.Fatalf("edited = %+v", rm.Message)
			}
			e.as(t, "carol", "PATCH", "/api/v1/messages/"+m1.ID).json(map[string]string{"body": "mine now"}).expectError(403, "permission_denied")
			var hist struct{ Edits []chat.Edit }
			e.as(t, "bob", "GET", "/api/v1/messages/"+m1.ID+"/history").expect(200, &hist)
			if len(hist.Edits) != 1 || hist.Edits[0].Body != "hello @carol and @nobody" {
				t.Fatalf("history = %+v", hist)
			}
			e.as(t, "carol", "GET", "/api/v1/messages/"+m1.ID+"/history").expectError(403, "permission_denied")

			// Search.
			e.send(t, "carol", gen.ID, "s1", "The quick brown fox jumps")
			var sr struct {
				Hits []struct {
					Message    *message
					Highlights []chat.Highlight
				}
				NextCursor string `json:"next_cursor"`
			}
			e.as(t, "bob", "GET", "/api/v1/search?q="+url.QueryEscape(`"brown fox" from:carol in:general`)).expect(200, &sr)
			if len(sr.Hits) != 1 || len(sr.Hits[0].Highlights) != 1 || sr.Hits[0].Highlights[0] != (chat.Highlight{Start: 10, End: 19}) {
				t.Fatalf("search = %+v", sr)
			}
			e.as(t, "dave", "GET", "/api/v1/search?q=quick").expect(200, &sr)
			if len(sr.Hits) != 0 {
				t.Fatalf("dave (not a member) found %+v", sr.Hits)
			}
			e.as(t, "bob", "GET", "/api/v1/search?q="+url.QueryEscape("before:2020-13-01")).expectError(400, "invalid_argument")

			e.as(t, "bob", "DELETE", "/api/v1/messages/"+r1.ID).expect(204, nil)
			th = chat.Thread{}
			e.as(t, "bob", "GET", "/api/v1/messages/"+m1.ID+"/thread").expect(200, &th)
			if th.Root.ReplyCount != 0 || !th.Replies[0].Deleted || th.Replies[0].Body != "" {
				t.Fatalf("after delete: root %+v reply %+v", th.Root, th.Replies[0])
			}

			// Private channels are invisible to non-members.
			priv := e.createChannel(t, "bob", "secret", "private")
			e.as(t, "dave", "GET", "/api/v1/channels/"+priv.ID).expectError(404, "not_found")
			e.as(t, "dave", "POST", "/api/v1/channels/"+priv.ID+"/join").expectError(404, "not_found")
			e.addMember(t, "bob", priv.ID, e.dave.ID, "member")
			e.as(t, "dave", "GET", "/api/v1/channels/"+priv.ID).expect(200, nil)
			e.as(t, "bob", "DELETE", "/api/v1/channels/"+priv.ID+"/members/"+e.dave.ID).expect(204, nil)
			e.as(t, "dave", "GET", "/api/v1/channels/"+priv.ID+"/messages").expectError(404, "not_found")

			// DMs: idempotent by member set and mode.
			var dm struct{ Channel channel }
			e.as(t, "bob", "POST", "/api/v1/channels").json(map[string]any{"kind": "direct", "members": []string{e.carol.ID}}).expect(201, &dm)
			var dm2 struct{ Channel channel }
			e.as(t, "carol", "POST", "/api/v1/channels").json(map[string]any{"kind": "direct", "members": []string{e.bob.ID, e.carol.ID}}).expect(200, &dm2)
			if dm2.Channel.ID != dm.Channel.ID || len(dm.Channel.Members) != 2 {
				t.Fatalf("dm %+v vs %+v", dm.Channel, dm2.Channel)
			}
			e.as(t, "dave", "GET", "/api/v1/channels/"+dm.Channel.ID).expectError(404, "not_found")

			// Encrypted channels take ciphertext only.
			var enc struct{ Channel channel }
			e.as(t, "bob", "POST", "/api/v1/channels").json(map[string]any{"name": "vault", "kind": "private", "encrypted": true}).expect(201, &enc)
			e.as(t, "bob", "POST", "/api/v1/channels/"+enc.Channel.ID+"/messages").json(map[string]any{"client_msg_id": "e1", "body": "plain"}).expectError(400, "invalid_argument")
			e.as(t, "bob", "POST", "/api/v1/channels/"+enc.Channel.ID+"/messages").json(map[string]any{"client_msg_id": "e1", "ciphertext": "not base64!"}).expectError(400, "invalid_argument")
			e.as(t, "bob", "POST", "/api/v1/channels/"+enc.Channel.ID+"/messages").json(map[string]any{"client_msg_id": "e1", "ciphertext": senderKeyEnvelope(t, e.bob.ID, "hello")}).expect(201, nil)

			// The event log of general: gap-free, frames as API.md shapes them.
			frames := e.events(t, "bob", gen.ID)
			var types []string
			for _, f := range frames {
				types = append(types, f["type"].(string))
			}
			want := "member_joined member_joined message message message message_updated reaction message_updated message_updated message message_deleted message_updated"
			if strings.Join(types, " ") != want {
				t.Fatalf("event types:\n got %s\nwant %s", strings.Join(types, " "), want)
			}

			// Control messages: subscribe for bob's channel creations and
			// joins, unsubscribe for dave's removal.
			mu.Lock()
			defer mu.Unlock()
			all := strings.Join(got, "\n")
			for _, w := range []string{
				fmt.Sprintf(`user.%s {"type":"subscribe","channel_id":"%s","seq":1}`, e.bob.ID, gen.ID),
				fmt.Sprintf(`user.%s {"type":"subscribe","channel_id":"%s","seq":2}`, e.carol.ID, gen.ID),
				fmt.Sprintf(`user.%s {"type":"unsubscribe","channel_id":"%s","seq":3}`, e.dave.ID, priv.ID),
			} {
				if !strings.Contains(all, w) {
					t.Errorf("bus did not carry %s; got\n%s", w, all)
				}
			}
		})
	}
}

func (e *chatEnv) send2(t testing.TB, who, channelID, cmid, body, root string) *message {
	t.Helper()
	var out struct{ Message *message }
	e.as(t, who, "POST", "/api/v1/channels/"+channelID+"/messages").
		json(map[string]any{"client_msg_id": cmid, "body": body, "thread_root_id": root}).expect(201, &out)
	return out.Message
}
