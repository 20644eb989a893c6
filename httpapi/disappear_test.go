package httpapi_test

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestDisappearingMessages: who may set the timer, what a message sent
// under it carries, and that the sweep deletes due messages' ciphertext
// once, however many sweeps run at the same time.
func TestDisappearingMessages(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			e := newChatEnv(t, engine)
			var dm struct{ Channel channel }
			e.as(t, "bob", "POST", "/api/v1/channels").json(map[string]any{"kind": "direct", "encrypted": true, "members": []string{e.carol.ID}}).expect(201, &dm)
			var priv struct{ Channel channel }
			e.as(t, "bob", "POST", "/api/v1/channels").json(map[string]any{"name": "secret", "kind": "private", "encrypted": true}).expect(201, &priv)
			e.addMember(t, "bob", priv.Channel.ID, e.carol.ID, "member")
			set := func(who, ch string, body map[string]any) *call {
				return e.as(t, who, "PUT", "/api/v1/channels/"+ch+"/disappearing").json(body)
			}

			// Refusals: a plain member of a channel, a non-member, bad values.
			set("carol", priv.Channel.ID, map[string]any{"disappear_after_s": 60}).expectError(403, "permission_denied")
			set("dave", priv.Channel.ID, map[string]any{"disappear_after_s": 60}).expectError(404, "not_found")
			set("dave", dm.Channel.ID, map[string]any{"disappear_after_s": 60}).expectError(404, "not_found")
			for _, bad := range []map[string]any{{}, {"disappear_after_s": -1}, {"disappear_after_s": 365*24*3600 + 1}, {"disappear_after_s": "60"}} {
				set("bob", dm.Channel.ID, bad).expectError(400, "invalid_argument")
			}
			var out struct {
				Channel struct {
					DisappearAfterS int `json:"disappear_after_s"`
				}
			}
			set("bob", priv.Channel.ID, map[string]any{"disappear_after_s": 3600}).expect(200, &out)
			if out.Channel.DisappearAfterS != 3600 {
				t.Fatalf("timer: %+v", out)
			}
			// Any member of a direct channel may set it; a channel event says so.
			set("carol", dm.Channel.ID, map[string]any{"disappear_after_s": 30}).expect(200, &out)
			evs := e.events(t, "bob", dm.Channel.ID)
			last := evs[len(evs)-1]
			if last["type"] != "channel_updated" || last["channel"].(map[string]any)["disappear_after_s"] != float64(30) {
				t.Fatalf("last event: %v", last)
			}

			// Messages sent under the timer expire; earlier ones do not.
			post := func(cmid string) *message {
				var m struct{ Message *message }
				e.as(t, "bob", "POST", "/api/v1/channels/"+dm.Channel.ID+"/messages").
					json(map[string]any{"client_msg_id": cmid, "ciphertext": senderKeyEnvelope(t, e.bob.ID, cmid)}).expect(201, &m)
				return m.Message
			}
			var ids []string
			for i := range 30 {
				m := post("d" + strconv.Itoa(i))
				if m.ExpiresAt == nil || m.ExpiresAt.Sub(m.CreatedAt) != 30*time.Second {
					t.Fatalf("expires_at: %+v", m)
				}
				ids = append(ids, m.ID)
			}
			set("carol", dm.Channel.ID, map[string]any{"disappear_after_s": 0}).expect(200, &out)
			keep := post("kept")
			if keep.ExpiresAt != nil {
				t.Fatalf("a message sent with the timer off expires: %+v", keep)
			}
			if n, err := e.n.Chat.SweepDisappearing(t.Context(), time.Now()); err != nil || n != 0 {
				t.Fatalf("early sweep: %d, %v", n, err)
			}

			// Two sweeps at once (as two nodes do) delete each message once.
			later := time.Now().Add(31 * time.Second)
			var wg sync.WaitGroup
			counts := make([]int, 2)
			for i := range counts {
				wg.Go(func() {
					n, err := e.n.Chat.SweepDisappearing(t.Context(), later)
					if err != nil {
						t.Error(err)
					}
					counts[i] = n
				})
			}
			wg.Wait()
			if counts[0]+counts[1] != len(ids) {
				t.Fatalf("sweeps deleted %v, want %d in all", counts, len(ids))
			}
			var left int
			if err := e.n.Store.Read().QueryRow(t.Context(), `SELECT COUNT(*) FROM messages WHERE channel_id = ? AND (ciphertext <> '' OR deleted_at IS NULL)`, dm.Channel.ID).Scan(&left); err != nil || left != 1 {
				t.Fatalf("messages left: %d, %v", left, err)
			}
			var got struct{ Message *message }
			e.as(t, "carol", "GET", "/api/v1/messages/"+ids[0]).expect(200, &got)
			if !got.Message.Deleted || got.Message.Ciphertext != "" || got.Message.ExpiresAt != nil {
				t.Fatalf("swept message: %+v", got.Message)
			}
			e.as(t, "carol", "GET", "/api/v1/messages/"+keep.ID).expect(200, &got)
			if got.Message.Deleted {
				t.Fatal("the message sent with the timer off was deleted")
			}
		})
	}
}
