package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// These tests drive the client's side of the protocol against a scripted
// peer: each connection runs the next script, which sends exactly the
// frames a test needs (duplicates, gaps, replays) and checks what the client
// sends. The real gateway is exercised by the end-to-end tests.

type peer struct {
	t  *testing.T
	ws *websocket.Conn
}

func (p *peer) send(v any) {
	p.t.Helper()
	b, _ := json.Marshal(v)
	if err := p.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		p.t.Errorf("peer send: %v", err)
	}
}

// expect reads the next client frame and checks its type.
func (p *peer) expect(typ string) map[string]any {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := p.ws.Read(ctx)
	if err != nil {
		p.t.Errorf("peer read: %v", err)
		return nil
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	if m["type"] != typ {
		p.t.Errorf("client sent %s, want a %s frame", b, typ)
	}
	return m
}

func ev(ch string, seq int64) map[string]any {
	return map[string]any{"type": "message", "channel_id": ch, "seq": seq,
		"message": map[string]any{"id": fmt.Sprintf("%s-%d", ch, seq), "channel_id": ch, "seq": seq, "body": "x"}}
}

func resumedFrame(ch string, from, to int64) map[string]any {
	return map[string]any{"type": "resumed", "channel_id": ch, "from": from, "to": to}
}

var helloFrame = map[string]any{"type": "hello", "session_id": "s1", "user": map[string]any{"id": "me", "username": "me"}}

// scripted starts a peer that runs scripts[i] on the i-th connection.
func scripted(t *testing.T, scripts ...func(p *peer)) *httptest.Server {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/ws" {
			http.NotFound(w, r)
			return
		}
		protos := r.Header.Get("Sec-WebSocket-Protocol")
		if !strings.Contains(protos, "unhidra.v1") || !strings.Contains(protos, "bearer.") {
			t.Errorf("subprotocols offered: %q", protos)
		}
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"unhidra.v1"}})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		i := int(n.Add(1)) - 1
		if i >= len(scripts) {
			ws.Close(4003, "no more scripts")
			return
		}
		scripts[i](&peer{t: t, ws: ws})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestStreamExactlyOnceInOrder(t *testing.T) {
	srv := scripted(t,
		func(p *peer) {
			p.send(helloFrame)
			r := p.expect("resume")
			if pos, _ := r["positions"].(map[string]any); pos["c1"] != 3.0 || pos["c2"] != 10.0 {
				p.t.Errorf("first resume: %v", r)
			}
			p.send(resumedFrame("c1", 3, 3))
			p.send(ev("c1", 4))
			p.send(ev("c1", 5))
			p.send(ev("c1", 5)) // a duplicate
			p.ws.Close(CloseTooSlow, "resync")
		},
		func(p *peer) {
			p.send(helloFrame)
			r := p.expect("resume")
			if pos, _ := r["positions"].(map[string]any); pos["c1"] != 5.0 {
				p.t.Errorf("second resume: %v", r)
			}
			for seq := int64(4); seq <= 7; seq++ { // the replay overlaps 4 and 5
				p.send(ev("c1", seq))
			}
			p.send(resumedFrame("c1", 5, 7))
			p.send(ev("c1", 9)) // 8 went missing: the client asks for it
			r = p.expect("resume")
			if pos, _ := r["positions"].(map[string]any); len(pos) != 1 || pos["c1"] != 7.0 {
				p.t.Errorf("gap resume: %v", r)
			}
			p.send(ev("c1", 10)) // live, ahead of the replay: dropped, replayed below
			p.send(ev("c1", 8))
			p.send(ev("c1", 9))
			p.send(ev("c1", 10))
			p.send(resumedFrame("c1", 7, 10))
			p.send(map[string]any{"type": "resync_required", "channel_id": "c2"})
			p.send(ev("c2", 15)) // covered by the reload
			p.send(ev("c2", 21))
			p.send(map[string]any{"type": "read", "channel_id": "c1", "user_id": "u2", "seq": 99})
			p.send(ev("c1", 11))
			p.send(map[string]any{"type": "typing", "channel_id": "c1", "user_id": "u2"})
			for { // until the client closes
				if _, _, err := p.ws.Read(context.Background()); err != nil {
					return
				}
			}
		},
	)
	c, _ := New(srv.URL, WithTokens(Tokens{AccessToken: "opaque"}))
	var resyncs []string
	s := c.Stream(StreamOptions{
		Positions:  map[string]int64{"c1": 3, "c2": 10},
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, PingInterval: -1,
		Resync: func(ctx context.Context, ch string, from int64) (int64, error) {
			resyncs = append(resyncs, fmt.Sprintf("%s@%d", ch, from))
			return 20, nil
		},
	})
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var got []string
	hellos := 0
	for {
		f, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("next: %v (got %v)", err, got)
		}
		if f.Type == FrameHello {
			hellos++
		}
		if f.IsChannelEvent() {
			got = append(got, fmt.Sprintf("%s:%d", f.ChannelID, f.Seq))
		}
		if f.Type == FrameTyping {
			break
		}
	}
	want := []string{"c1:4", "c1:5", "c1:6", "c1:7", "c1:8", "c1:9", "c1:10", "c2:21", "c1:11"}
	if !slices.Equal(got, want) {
		t.Fatalf("events delivered %v, want %v", got, want)
	}
	if hellos != 2 || !slices.Equal(resyncs, []string{"c2@10"}) {
		t.Fatalf("hellos %d, resyncs %v", hellos, resyncs)
	}
	if pos := s.Positions(); pos["c1"] != 11 || pos["c2"] != 21 {
		t.Fatalf("positions %v", pos)
	}
}

func TestConnectRefusedAndForbidden(t *testing.T) {
	srv := scripted(t,
		func(p *peer) { p.ws.Close(CloseUnauthenticated, "token expired") },
		func(p *peer) { p.ws.Close(CloseForbidden, "forbidden") },
	)
	c, _ := New(srv.URL, WithTokens(Tokens{AccessToken: "opaque"}))
	_, err := c.Connect(t.Context(), ConnectOptions{})
	var e *Error
	if !IsCode(err, CodeUnauthenticated) || !errors.As(err, &e) || e.CloseCode != CloseUnauthenticated {
		t.Fatalf("4001: %v", err)
	}
	// A forbidden stream ends instead of reconnecting forever.
	s := c.Stream(StreamOptions{Positions: map[string]int64{}, MinBackoff: time.Millisecond, PingInterval: -1})
	if _, err := s.Next(t.Context()); !IsCode(err, CodePermission) {
		t.Fatalf("4003: %v", err)
	}
}

// TestConnKeepsItselfAuthenticated: before the socket's access token
// expires, the Conn refreshes the session and presents the new token in an
// auth frame, so a long-lived socket is not closed at expiry.
func TestConnKeepsItselfAuthenticated(t *testing.T) {
	ts, mux := newTokenMux()
	ts.ttl = 3 * time.Second // refreshed at half its life: 1.5 s in
	auth := make(chan string, 1)
	mux.HandleFunc("/api/v1/ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"unhidra.v1"}})
		if err != nil {
			return
		}
		defer ws.CloseNow()
		p := &peer{t: t, ws: ws}
		p.send(helloFrame)
		p.expect("ping")
		f := p.expect("auth")
		tok, _ := f["access_token"].(string)
		auth <- tok
		p.send(map[string]any{"type": "pong"})
		for {
			if _, _, err := ws.Read(context.Background()); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, _ := New(srv.URL)
	if _, err := c.Login(t.Context(), "bob", "right password"); err != nil {
		t.Fatal(err)
	}
	first := c.Tokens().AccessToken
	cn, err := c.Connect(t.Context(), ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	if cn.Hello().SessionID != "s1" {
		t.Fatalf("hello %+v", cn.Hello())
	}
	go func() { // a reader, as a real client has
		for {
			if _, err := cn.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	select {
	case tok := <-auth:
		ts.mu.Lock()
		valid := ts.access[tok]
		ts.mu.Unlock()
		if tok == first || !valid || tok != c.Tokens().AccessToken {
			t.Fatal("the auth frame did not carry the refreshed token")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no auth frame before expiry")
	}
}
