package gateway_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/unhidra/unhidra/config"
	"github.com/unhidra/unhidra/internal/testserver"
	"github.com/unhidra/unhidra/ratelimit"
)

func eachEngine(t *testing.T, f func(t *testing.T, engine string)) {
	for _, e := range testserver.Engines {
		t.Run(e, func(t *testing.T) {
			t.Parallel()
			f(t, e)
		})
	}
}

// ready reads hello and ends the initial hold with a ping.
func ready(w *wsClient) frame {
	w.t.Helper()
	h := w.expect("hello")
	w.send(map[string]any{"type": "ping"})
	w.expect("pong", "presence")
	return h
}

func TestLiveDeliveryAckBeforeEchoAndMembership(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		n := startNode(t, engine, nil)
		a, b := newAccount(t, n, false), newAccount(t, n, false)
		ch := newChannel(t, n, a, b)
		wa, wb := dial(t, n, a.Token), dial(t, n, b.Token)
		ready(wa)
		ready(wb)

		wa.send(map[string]any{"type": "send", "client_msg_id": "c1", "channel_id": ch, "body": "hello"})
		ack := wa.expect("ack", "presence")
		if ack.ClientMsg != "c1" || ack.Seq == 0 || ack.MessageID == "" {
			t.Fatalf("ack %s", ack.raw)
		}
		echo := wa.expect("message", "presence")
		if echo.Seq != ack.Seq || echo.ChannelID != ch {
			t.Fatalf("echo %s after ack %s", echo.raw, ack.raw)
		}
		if got := wb.expect("message", "presence"); got.Seq != ack.Seq {
			t.Fatalf("b got %s", got.raw)
		}

		// Removal: member_left for b, then nothing of the channel.
		api(t, n, "DELETE", "/api/v1/channels/"+ch+"/members/"+b.ID, a.Token, nil, 204, nil)
		left := wb.expect("member_left", "presence")
		if left.UserID != b.ID || left.Seq != ack.Seq+1 {
			t.Fatalf("member_left %s", left.raw)
		}
		postMessage(t, n, a, ch, "b must not see this")
		wa.expect("member_left", "presence")
		wa.expect("message", "presence")
		wb.quiet(300*time.Millisecond, "presence")

		// Join again: delivery starts from member_joined.
		api(t, n, "PUT", "/api/v1/channels/"+ch+"/members/"+b.ID, a.Token, map[string]string{"role": "member"}, 201, nil)
		joined := wb.expect("member_joined", "presence")
		if joined.UserID != b.ID || joined.Seq != ack.Seq+3 {
			t.Fatalf("member_joined %s", joined.raw)
		}
		seq := postMessage(t, n, a, ch, "welcome back")
		if got := wb.expect("message", "presence"); got.Seq != seq {
			t.Fatalf("after rejoin %s", got.raw)
		}

		// A new channel reaches a socket opened before it existed.
		ch2 := newChannel(t, n, a, b)
		if got := wb.expect("member_joined", "presence"); got.ChannelID != ch2 {
			t.Fatalf("new channel %s", got.raw)
		}
	})
}

func TestSessionEndsCloseSockets(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		n := startNode(t, engine, nil)
		a := newAccount(t, n, false)

		// Bad and missing tokens: handshake completes, then 4001.
		for _, tok := range []string{"", "not-a-token"} {
			w := dial(t, n, tok)
			if code := w.closed(); code != 4001 {
				t.Fatalf("token %q: close %d, want 4001", tok, code)
			}
		}

		// Logout closes that session's socket, not another session's.
		pw := passwordFor(a.Name)
		other := login(t, n, a.Name, pw)
		w1, w2 := dial(t, n, a.Token), dial(t, n, other.Token)
		ready(w1)
		ready(w2)
		api(t, n, "POST", "/api/v1/auth/logout", a.Token, map[string]string{}, 204, nil)
		if code := w1.closed(); code != 4001 {
			t.Fatalf("logout: close %d", code)
		}
		w2.quiet(200*time.Millisecond, "presence")

		// A password change closes every other session.
		third := login(t, n, a.Name, pw)
		w3 := dial(t, n, third.Token)
		ready(w3)
		api(t, n, "POST", "/api/v1/users/me/password", other.Token, map[string]string{"old_password": pw, "new_password": pw + " new"}, 204, nil)
		if code := w3.closed(); code != 4001 {
			t.Fatalf("password change: close %d", code)
		}
		// Revoked tokens cannot open a socket either.
		w4 := dial(t, n, third.Token)
		if code := w4.closed(); code != 4001 {
			t.Fatalf("revoked token: close %d", code)
		}
	})
}

func TestOriginAllowList(t *testing.T) {
	n := startNode(t, "sqlite", func(c *config.Config) { c.AllowedOrigins = []string{"https://chat.example.com"} })
	a := newAccount(t, n, false)
	ctx := t.Context()
	for origin, ok := range map[string]bool{"https://chat.example.com": true, "https://evil.example.com": false, "": true, "null": false} {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, resp, err := dialRaw(ctx, n, a.Token, h)
		if ok != (err == nil) {
			t.Fatalf("origin %q: err %v", origin, err)
		}
		if err == nil {
			c.CloseNow()
		} else if resp == nil || resp.StatusCode != 403 {
			t.Fatalf("origin %q: response %v", origin, resp)
		}
	}
	// Without a list or public URL: only the request's own host.
	n2 := startNode(t, "sqlite", nil)
	b := newAccount(t, n2, false)
	host := strings.TrimPrefix(n2.URL, "http://")
	for origin, ok := range map[string]bool{"http://" + host: true, "http://other.example:1": false} {
		c, _, err := dialRaw(ctx, n2, b.Token, http.Header{"Origin": {origin}})
		if ok != (err == nil) {
			t.Fatalf("origin %q: err %v", origin, err)
		}
		if err == nil {
			c.CloseNow()
		}
	}
}

func TestBadInput(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		n := startNode(t, engine, nil)
		a, b, c := newAccount(t, n, false), newAccount(t, n, false), newAccount(t, n, false)
		ch := newChannel(t, n, a, b)
		other := newChannel(t, n, c)
		wa, wb := dial(t, n, a.Token), dial(t, n, b.Token)
		ready(wa)
		ready(wb)
		for _, bad := range []string{`{`, `[]`, `{"type":"nope"}`, `{"type":"send"}`, `{"type":"ping","extra":1}`, `{"type":"read","channel_id":"x","seq":-1}`} {
			if err := wa.c.Write(t.Context(), websocket.MessageText, []byte(bad)); err != nil {
				t.Fatal(err)
			}
			if f := wa.expect("error", "presence"); f.Code != "invalid_argument" {
				t.Fatalf("%s: %s", bad, f.raw)
			}
		}
		wa.send(map[string]any{"type": "send", "client_msg_id": "x1", "channel_id": other, "body": "hi"})
		if f := wa.expect("error", "presence"); f.Code != "not_found" || f.Ref != "x1" {
			t.Fatalf("send to a foreign channel: %s", f.raw)
		}
		// Still open, and the other user never noticed.
		wa.send(map[string]any{"type": "send", "client_msg_id": "x2", "channel_id": ch, "body": "still here"})
		wa.expect("ack", "presence")
		if f := wb.expect("message", "presence"); f.ChannelID != ch {
			t.Fatal(f.raw)
		}
		// An oversized frame closes with 1009.
		big := `{"type":"send","client_msg_id":"x3","channel_id":"` + ch + `","body":"` + strings.Repeat("a", 70<<10) + `"}`
		wa.c.Write(t.Context(), websocket.MessageText, []byte(big))
		if code := wa.closed(); code != 1009 {
			t.Fatalf("oversized: close %d", code)
		}
		wb.quiet(200*time.Millisecond, "presence")
	})
}

func TestRateLimits(t *testing.T) {
	n := startNode(t, "sqlite", func(c *config.Config) {
		c.RateWSMsg = ratelimit.Spec{N: 5, Per: time.Minute}
		c.RateWSUser = ratelimit.Spec{N: 3, Per: time.Hour}
	})
	a := newAccount(t, n, false)
	w := dial(t, n, a.Token)
	w.expect("hello")
	for range 5 {
		w.send(map[string]any{"type": "ping"})
		w.expect("pong", "presence")
	}
	w.send(map[string]any{"type": "ping"})
	if f := w.expect("error", "presence"); f.Code != "rate_limited" {
		t.Fatal(f.raw)
	}
	for range 10 {
		if err := w.c.Write(t.Context(), websocket.MessageText, []byte(`{"type":"ping"}`)); err != nil {
			break
		}
	}
	if code := w.closed(); code != 4008 {
		t.Fatalf("flood: close %d", code)
	}
	// Per user: the 4th connection within the hour is closed with 4008.
	ready(dial(t, n, a.Token))
	ready(dial(t, n, a.Token))
	if code := dial(t, n, a.Token).closed(); code != 4008 {
		t.Fatalf("4th connection: close %d", code)
	}
}

func TestPresenceTypingAndAdminConnections(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		n := startNode(t, engine, nil)
		admin := newAccount(t, n, true)
		a, b, stranger := newAccount(t, n, false), newAccount(t, n, false), newAccount(t, n, false)
		ch := newChannel(t, n, a, b)
		wa := dial(t, n, a.Token)
		ready(wa)
		ws := dial(t, n, stranger.Token)
		ready(ws)
		wb := dial(t, n, b.Token)
		ready(wb)
		// Other presence (a's own, arriving late under load) may come first.
		for {
			if st, ok := wa.expect("presence").presenceOf(b.ID); ok {
				if st != "online" {
					t.Fatalf("presence of b: %s", st)
				}
				break
			}
		}
		wb.send(map[string]any{"type": "presence", "status": "dnd"})
		for {
			if st, _ := wa.expect("presence").presenceOf(b.ID); st == "dnd" {
				break
			}
		}
		wb.send(map[string]any{"type": "typing", "channel_id": ch})
		if f := wa.expect("typing", "presence"); f.UserID != b.ID || f.ChannelID != ch {
			t.Fatalf("typing %s", f.raw)
		}
		wb.quiet(200*time.Millisecond, "presence")
		// A user who shares no channel hears neither.
		ws.quiet(200 * time.Millisecond)

		var conns struct {
			Connections []struct {
				UserID    string `json:"user_id"`
				IP        string `json:"ip"`
				UserAgent string `json:"user_agent"`
				FramesIn  int64  `json:"frames_in"`
				FramesOut int64  `json:"frames_out"`
			} `json:"connections"`
		}
		api(t, n, "GET", "/api/v1/admin/connections", admin.Token, nil, 200, &conns)
		if len(conns.Connections) != 3 {
			t.Fatalf("connections %+v", conns)
		}
		for _, c := range conns.Connections {
			if c.IP != "127.0.0.1" || c.FramesIn < 1 || c.FramesOut < 2 {
				t.Fatalf("connection %+v", c)
			}
		}
		api(t, n, "GET", "/api/v1/admin/connections", a.Token, nil, 403, nil)

		// b leaves: offline after the grace period.
		wb.c.Close(websocket.StatusNormalClosure, "")
		for {
			if st, _ := wa.expect("presence").presenceOf(b.ID); st == "offline" {
				break
			}
		}
	})
}

func TestShutdownSendsGoingAway(t *testing.T) {
	n := startNode(t, "sqlite", nil)
	a := newAccount(t, n, false)
	ws := []*wsClient{dial(t, n, a.Token), dial(t, n, a.Token)}
	for _, w := range ws {
		ready(w)
	}
	done := make(chan struct{})
	go func() { n.Stop(); close(done) }()
	for _, w := range ws {
		if code := w.closed(); code != 1001 {
			t.Fatalf("close %d, want 1001", code)
		}
	}
	<-done
}

// TestResumeAfterRandomDisconnects cuts sockets at random points during a
// stream of sends; each reconnect resumes from the last seq it saw. Every
// client must end with the complete, ordered, duplicate-free sequence.
func TestResumeAfterRandomDisconnects(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		n := startNode(t, engine, nil)
		owner := newAccount(t, n, false)
		const clients, senders, perSender = 4, 3, 40
		var members []account
		for range clients {
			members = append(members, newAccount(t, n, false))
		}
		ch := newChannel(t, n, owner, members...)
		var base struct {
			Channel struct {
				LastSeq int64 `json:"last_seq"`
			} `json:"channel"`
		}
		api(t, n, "GET", "/api/v1/channels/"+ch, owner.Token, nil, 200, &base)
		total := base.Channel.LastSeq + senders*perSender

		var wg sync.WaitGroup
		errs := make(chan error, clients+senders)
		for i := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w := dial(t, n, owner.Token)
				w.expect("hello")
				for j := range perSender {
					w.send(map[string]any{"type": "send", "client_msg_id": fmt.Sprintf("s%d-%d", i, j), "channel_id": ch, "body": fmt.Sprintf("%d/%d", i, j)})
				}
				acks := 0
				for acks < perSender {
					f, ok := <-w.frames
					if !ok {
						errs <- fmt.Errorf("sender %d: socket ended", i)
						return
					}
					if f.Type == "ack" {
						acks++
					}
					if f.Type == "error" {
						errs <- fmt.Errorf("sender %d: %s", i, f.raw)
						return
					}
				}
			}()
		}
		results := make([][]int64, clients)
		for i, m := range members {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(i), 7))
				var seen []int64
				last := int64(0)
				deadline := time.Now().Add(60 * time.Second)
				for reconnects := 0; last < total; reconnects++ {
					if time.Now().After(deadline) || reconnects > 500 {
						errs <- fmt.Errorf("client %d: stuck at %d of %d after %d reconnects", i, last, total, reconnects)
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					c, _, err := dialRaw(ctx, n, m.Token, nil)
					cancel()
					if err != nil {
						errs <- err
						return
					}
					c.SetReadLimit(1 << 20)
					c.Write(context.Background(), websocket.MessageText, fmt.Appendf(nil, `{"type":"resume","positions":{%q:%d}}`, ch, last))
					cut := 1 + rng.IntN(25)
					for k := 0; k < cut && last < total; k++ {
						rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
						_, b, err := c.Read(rctx)
						rcancel()
						if err != nil {
							break
						}
						var f frame
						if err := jsonUnmarshal(b, &f); err != nil {
							errs <- err
							return
						}
						switch {
						case f.Type == "resync_required":
							errs <- fmt.Errorf("client %d: resync_required", i)
							return
						case f.ChannelID == ch && f.Seq > 0 && f.Type != "resumed":
							if f.Seq != last+1 {
								errs <- fmt.Errorf("client %d: seq %d after %d (%s)", i, f.Seq, last, b)
								return
							}
							last = f.Seq
							seen = append(seen, f.Seq)
						}
					}
					c.CloseNow() // cut at a random point
				}
				results[i] = seen
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for i, seen := range results {
			if int64(len(seen)) != total {
				t.Errorf("client %d: %d events, want %d", i, len(seen), total)
			}
		}
	})
}

// TestHandshakeRefusals: a socket that does not offer unhidra.v1 is refused
// with HTTP 400 before the upgrade; a user at the per-node cap of open
// sockets is refused with 429 until one closes.
func TestHandshakeRefusals(t *testing.T) {
	n := startNode(t, "sqlite", func(c *config.Config) { c.WSMaxPerUser = 2 })
	a := newAccount(t, n, false)
	ctx := t.Context()
	_, resp, err := websocket.Dial(ctx, wsURL(n), &websocket.DialOptions{Subprotocols: []string{"bearer." + a.Token}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bearer only: %v %v", resp, err)
	}
	w1, w2 := dial(t, n, a.Token), dial(t, n, a.Token)
	ready(w1)
	ready(w2)
	_, resp, err = dialRaw(ctx, n, a.Token, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third socket: %v %v", resp, err)
	}
	w1.c.Close(websocket.StatusNormalClosure, "")
	w1.closed()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, _, err := dialRaw(ctx, n, a.Token, nil)
		if err == nil {
			c.CloseNow()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a socket closed, but a new one is still refused: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSameErrorsAsREST: a send the chat service refuses gets the same code
// and message over the socket as over REST, NUL bytes and invalid ids
// included, on both engines; nothing is stored.
func TestSameErrorsAsREST(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		n := startNode(t, engine, nil)
		a, b := newAccount(t, n, false), newAccount(t, n, false)
		ch := newChannel(t, n, a, b)
		wa := dial(t, n, a.Token)
		ready(wa)
		for name, send := range map[string]map[string]any{
			"no client_msg_id":       {"body": "hi"},
			"bad client_msg_id":      {"client_msg_id": "a b", "body": "hi"},
			"blank body":             {"client_msg_id": "c1", "body": "  "},
			"no body":                {"client_msg_id": "c1"},
			"body too long":          {"client_msg_id": "c1", "body": strings.Repeat("é", 16001)},
			"control character":      {"client_msg_id": "c1", "body": "a\u0000b"},
			"ciphertext in standard": {"client_msg_id": "c1", "ciphertext": "AAAA"},
			"thread root elsewhere":  {"client_msg_id": "c1", "body": "hi", "thread_root_id": "nope"},
			"thread root with NUL":   {"client_msg_id": "c1", "body": "hi", "thread_root_id": "a\u0000b"},
			"thread root not an id":  {"client_msg_id": "c1", "body": "hi", "thread_root_id": strings.Repeat("x", 200)},
			"attachment unknown":     {"client_msg_id": "c1", "body": "hi", "attachments": []string{"f1"}},
		} {
			var rest struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			status := 400
			if name == "body too long" {
				status = 413
			}
			api(t, n, "POST", "/api/v1/channels/"+ch+"/messages", a.Token, send, status, &rest)
			frame := map[string]any{"type": "send", "channel_id": ch}
			for k, v := range send {
				frame[k] = v
			}
			wa.send(frame)
			f := wa.expect("error", "presence")
			var got struct{ Code, Message string }
			jsonUnmarshal(f.raw, &got)
			if got.Code != rest.Error.Code || got.Message != rest.Error.Message {
				t.Errorf("%s: socket %s %q, REST %s %q", name, got.Code, got.Message, rest.Error.Code, rest.Error.Message)
			}
		}
		// Channel ids with NUL or too long, in every frame that names one.
		for _, bad := range []string{`{"type":"send","client_msg_id":"c9","channel_id":"a\u0000b","body":"x"}`,
			`{"type":"typing","channel_id":"a\u0000b"}`, `{"type":"read","channel_id":"a\u0000b","seq":1}`,
			`{"type":"typing","channel_id":"` + strings.Repeat("x", 300) + `"}`, `{"type":"typing"}`} {
			wa.c.Write(t.Context(), websocket.MessageText, []byte(bad))
			if f := wa.expect("error", "presence"); f.Code != "invalid_argument" {
				t.Fatalf("%s: %s", bad, f.raw)
			}
		}
		var msgs struct {
			Messages []any `json:"messages"`
		}
		api(t, n, "GET", "/api/v1/channels/"+ch+"/messages", a.Token, nil, 200, &msgs)
		if len(msgs.Messages) != 0 {
			t.Fatalf("refused sends stored: %v", msgs.Messages)
		}
	})
}
