package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestEventFramesLive: every kind of channel change reaches another member's
// socket live, as the frame API.md names, in gap-free seq order — threads,
// edits, reactions, pins, deletes, renames — plus read receipts.
func TestEventFramesLive(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		n := startNode(t, engine, nil)
		a, b := newAccount(t, n, false), newAccount(t, n, false)
		ch := newChannel(t, n, a, b)
		wb := dial(t, n, b.Token)
		ready(wb)

		type msgResp struct {
			Message struct {
				ID  string `json:"id"`
				Seq int64  `json:"seq"`
			} `json:"message"`
		}
		var root, reply msgResp
		api(t, n, "POST", "/api/v1/channels/"+ch+"/messages", a.Token, map[string]string{"client_msg_id": "root", "body": "root @" + b.Name}, 201, &root)
		api(t, n, "POST", "/api/v1/channels/"+ch+"/messages", a.Token, map[string]string{"client_msg_id": "reply", "body": "in thread", "thread_root_id": root.Message.ID}, 201, &reply)
		api(t, n, "PATCH", "/api/v1/messages/"+root.Message.ID, a.Token, map[string]string{"body": "root @" + b.Name + ", edited"}, 200, nil)
		api(t, n, "PUT", "/api/v1/messages/"+root.Message.ID+"/reactions/"+url.PathEscape("👍"), a.Token, nil, 200, nil)
		api(t, n, "DELETE", "/api/v1/messages/"+root.Message.ID+"/reactions/"+url.PathEscape("👍"), a.Token, nil, 200, nil)
		api(t, n, "PUT", "/api/v1/messages/"+root.Message.ID+"/pin", a.Token, nil, 200, nil)
		api(t, n, "DELETE", "/api/v1/messages/"+reply.Message.ID, a.Token, nil, 204, nil)
		api(t, n, "PATCH", "/api/v1/channels/"+ch, a.Token, map[string]string{"topic": "now with a topic"}, 200, nil)

		want := []string{
			"message",         // root
			"message",         // reply
			"message_updated", // root's reply_count
			"message_updated", // edit
			"reaction",        // added
			"reaction",        // removed
			"message_updated", // pin
			"message_deleted", // reply tombstone
			"message_updated", // root's reply_count back down
			"channel_updated", // topic
		}
		var last int64
		for i, typ := range want {
			f := wb.expect(typ, "presence", "typing")
			if f.ChannelID != ch || (last != 0 && f.Seq != last+1) {
				t.Fatalf("event %d: %s after seq %d", i, f.raw, last)
			}
			last = f.Seq
			switch i {
			case 0:
				if !strings.Contains(string(f.Message), `"body":"root @`) {
					t.Fatalf("root frame %s", f.raw)
				}
			case 2:
				if !strings.Contains(string(f.Message), `"reply_count":1`) {
					t.Fatalf("reply count frame %s", f.raw)
				}
			case 3:
				if !strings.Contains(string(f.Message), ", edited") || !strings.Contains(string(f.Message), `"edited_at"`) {
					t.Fatalf("edit frame %s", f.raw)
				}
			case 4, 5:
				var r struct {
					Emoji string `json:"emoji"`
					Added bool   `json:"added"`
				}
				json.Unmarshal(f.raw, &r)
				if r.Emoji != "👍" || r.Added != (i == 4) || f.MessageID != root.Message.ID || f.UserID != a.ID {
					t.Fatalf("reaction frame %s", f.raw)
				}
			case 6:
				if !strings.Contains(string(f.Message), `"pinned":true`) {
					t.Fatalf("pin frame %s", f.raw)
				}
			case 7:
				if f.MessageID != reply.Message.ID {
					t.Fatalf("delete frame %s", f.raw)
				}
			}
		}
		api(t, n, "POST", "/api/v1/channels/"+ch+"/read", a.Token, map[string]int64{"seq": last}, 204, nil)
		rr := wb.expect("read", "presence", "typing")
		if rr.UserID != a.ID || rr.Seq != last || rr.ChannelID != ch {
			t.Fatalf("read receipt %s", rr.raw)
		}
		// The mention shows in b's channel list until b reads.
		var list struct {
			Channels []struct {
				ID           string `json:"id"`
				UnreadCount  int    `json:"unread_count"`
				MentionCount int    `json:"mention_count"`
			} `json:"channels"`
		}
		api(t, n, "GET", "/api/v1/channels", b.Token, nil, 200, &list)
		for _, c := range list.Channels {
			if c.ID == ch && (c.MentionCount != 1 || c.UnreadCount < 1) {
				t.Fatalf("b's counts before reading: %+v", c)
			}
		}
		// The socket's read is applied after the frame is taken: poll for
		// it to a deadline rather than guessing how long that takes.
		wb.send(map[string]any{"type": "read", "channel_id": ch, "seq": last})
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			api(t, n, "GET", "/api/v1/channels", b.Token, nil, 200, &list)
			cleared, found := false, false
			for _, c := range list.Channels {
				if c.ID == ch {
					found, cleared = true, c.MentionCount == 0 && c.UnreadCount == 0
				}
			}
			if !found {
				t.Fatalf("channel %s missing from b's list %+v", ch, list.Channels)
			}
			if cleared {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("b's counts after reading over the socket: %+v", list.Channels)
			}
		}
	})
}

// TestSlowConsumerClosed: a socket that stops reading is closed with 4009
// once its queue overflows, and a reading member of the same channel gets
// every message regardless.
func TestSlowConsumerClosed(t *testing.T) {
	n := startNode(t, "sqlite", nil)
	a, slow, fast := newAccount(t, n, false), newAccount(t, n, false), newAccount(t, n, false)
	ch := newChannel(t, n, a, slow, fast)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sc, _, err := dialRaw(ctx, n, slow.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.CloseNow()
	sc.SetReadLimit(1 << 20)
	// Read the hello and end the hold, then read nothing more.
	if _, _, err := sc.Read(ctx); err != nil {
		t.Fatal(err)
	}
	sc.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`))
	wf := dial(t, n, fast.Token)
	ready(wf)

	// Large messages (16,000 four-byte characters) fill the kernel's socket
	// buffers and then the server's queue quickly.
	big := strings.Repeat("😀", 16000)
	const count = 200
	for i := range count {
		api(t, n, "POST", "/api/v1/channels/"+ch+"/messages", a.Token, map[string]string{"client_msg_id": fmt.Sprint("big", i), "body": big}, 201, nil)
	}
	// The slow one, reading now, finds what was buffered and then 4009.
	// If the server gave up waiting to write its close frame into the full
	// socket before we read (a loaded machine), the connection just ends;
	// the metrics below still say why.
	code := -1
	for {
		_, _, err := sc.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				code = int(ce.Code)
			}
			break
		}
	}
	if code != 4009 && code != -1 {
		t.Fatalf("slow consumer closed with %d, want 4009", code)
	}
	// The fast reader is unaffected: it gets all the messages.
	for got := 0; got < count; {
		f := wf.next()
		if f.Type == "message" {
			got++
		}
		if f.Type == "error" {
			t.Fatalf("fast reader got %s", f.raw)
		}
	}
	r, err := http.Get(n.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if !strings.Contains(string(b), "gateway_slow_consumers_total 1") || !strings.Contains(string(b), `gateway_closes_total{code="4009"} 1`) {
		t.Fatalf("slow consumer not counted: %s", grepLines(string(b), "gateway_"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
