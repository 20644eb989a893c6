package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/unhidra/unhidra/config"
	"github.com/unhidra/unhidra/internal/testserver"
	"github.com/unhidra/unhidra/wire"
)

// startNode runs a node on engine with the WebSocket rate limits off
// (tests that need them turn them on).
func startNode(t *testing.T, engine string, edit func(*config.Config)) *testserver.Node {
	t.Helper()
	cfg := testserver.Config(t, engine)
	cfg.RateWSIP.N, cfg.RateWSUser.N, cfg.RateWSMsg.N = 0, 0, 0
	if edit != nil {
		edit(&cfg)
	}
	return testserver.Start(t, cfg)
}

var userSeq atomic.Int64

type account struct {
	ID, Name, Token string
}

func api(t testing.TB, n *testserver.Node, method, path, token string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, n.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
}

// newAccount registers and signs in a user; admin makes it the node's admin.
func newAccount(t testing.TB, n *testserver.Node, admin bool) account {
	t.Helper()
	name := fmt.Sprintf("user%d", userSeq.Add(1))
	pw := passwordFor(name)
	body := map[string]string{"username": name, "password": pw}
	if admin {
		tok, needed, err := n.Auth.Bootstrap(context.Background())
		if err != nil || !needed {
			t.Fatalf("bootstrap: %v %v", needed, err)
		}
		body["setup_token"] = tok
	}
	api(t, n, "POST", "/api/v1/auth/register", "", body, 201, nil)
	return login(t, n, name, pw)
}

func login(t testing.TB, n *testserver.Node, name, pw string) account {
	t.Helper()
	var lr struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	api(t, n, "POST", "/api/v1/auth/login", "", map[string]string{"username": name, "password": pw}, 200, &lr)
	return account{ID: lr.User.ID, Name: name, Token: lr.AccessToken}
}

// newChannel creates a public channel owned by owner with the members added.
func newChannel(t testing.TB, n *testserver.Node, owner account, members ...account) string {
	t.Helper()
	var cr struct {
		Channel struct {
			ID string `json:"id"`
		} `json:"channel"`
	}
	api(t, n, "POST", "/api/v1/channels", owner.Token, map[string]any{"name": fmt.Sprintf("room%d", userSeq.Add(1)), "kind": "private"}, 201, &cr)
	for _, m := range members {
		api(t, n, "PUT", "/api/v1/channels/"+cr.Channel.ID+"/members/"+m.ID, owner.Token, map[string]string{"role": "member"}, 201, nil)
	}
	return cr.Channel.ID
}

func postMessage(t testing.TB, n *testserver.Node, a account, ch, body string) int64 {
	t.Helper()
	var mr struct {
		Message struct {
			Seq int64 `json:"seq"`
		} `json:"message"`
	}
	api(t, n, "POST", "/api/v1/channels/"+ch+"/messages", a.Token, map[string]string{"client_msg_id": fmt.Sprintf("m%d", userSeq.Add(1)), "body": body}, 201, &mr)
	return mr.Message.Seq
}

// frame is a server frame, decoded loosely.
type frame struct {
	Type      string          `json:"type"`
	ChannelID string          `json:"channel_id"`
	Seq       int64           `json:"seq"`
	UserID    string          `json:"user_id"`
	Status    string          `json:"status"`
	Code      string          `json:"code"`
	Ref       string          `json:"ref"`
	From      int64           `json:"from"`
	To        int64           `json:"to"`
	MessageID string          `json:"message_id"`
	ClientMsg string          `json:"client_msg_id"`
	Message   json.RawMessage `json:"message"`
	raw       []byte
}

// presenceOf returns userID's status in a presence frame.
func (f frame) presenceOf(userID string) (string, bool) {
	var p wire.Presence
	if json.Unmarshal(f.raw, &p) != nil {
		return "", false
	}
	st, ok := p.Statuses()[userID]
	return st, ok
}

type wsClient struct {
	t      testing.TB
	c      *websocket.Conn
	frames chan frame
	err    chan error
}

func wsURL(n *testserver.Node) string { return "ws" + strings.TrimPrefix(n.URL, "http") + "/api/v1/ws" }

func dialRaw(ctx context.Context, n *testserver.Node, token string, h http.Header) (*websocket.Conn, *http.Response, error) {
	protos := []string{"unhidra.v1"}
	if token != "" {
		protos = append(protos, "bearer."+token)
	}
	return websocket.Dial(ctx, wsURL(n), &websocket.DialOptions{Subprotocols: protos, HTTPHeader: h})
}

// dial opens a socket and reads its frames into a channel.
func dial(t testing.TB, n *testserver.Node, token string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := dialRaw(ctx, n, token, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if c.Subprotocol() != "unhidra.v1" {
		t.Fatalf("subprotocol %q", c.Subprotocol())
	}
	c.SetReadLimit(1 << 20)
	w := &wsClient{t: t, c: c, frames: make(chan frame, 4096), err: make(chan error, 1)}
	go func() {
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				w.err <- err
				close(w.frames)
				return
			}
			var f frame
			if err := json.Unmarshal(b, &f); err != nil {
				w.err <- fmt.Errorf("bad frame %s: %w", b, err)
				close(w.frames)
				return
			}
			f.raw = b
			w.frames <- f
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	return w
}

func (w *wsClient) send(v any) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	if err := w.c.Write(context.Background(), websocket.MessageText, b); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame, failing after a timeout.
func (w *wsClient) next() frame {
	w.t.Helper()
	select {
	case f, ok := <-w.frames:
		if !ok {
			w.t.Fatalf("socket ended: %v", <-w.err)
		}
		return f
	case <-time.After(10 * time.Second):
		w.t.Fatalf("no frame within 10s")
	}
	return frame{}
}

// expect reads frames until one of type typ, skipping the types in skip;
// any other frame fails the test.
func (w *wsClient) expect(typ string, skip ...string) frame {
	w.t.Helper()
	for {
		f := w.next()
		if f.Type == typ {
			return f
		}
		ok := false
		for _, s := range skip {
			ok = ok || s == f.Type
		}
		if !ok {
			w.t.Fatalf("got %s, want %s", f.raw, typ)
		}
	}
}

// quiet fails if a frame other than the skipped types arrives within d.
func (w *wsClient) quiet(d time.Duration, skip ...string) {
	w.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case f, ok := <-w.frames:
			if !ok {
				return
			}
			ok2 := false
			for _, s := range skip {
				ok2 = ok2 || s == f.Type
			}
			if !ok2 {
				w.t.Fatalf("unexpected frame %s", f.raw)
			}
		case <-deadline:
			return
		}
	}
}

// closed waits for the socket to end and returns the close code.
func (w *wsClient) closed() int {
	w.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case _, ok := <-w.frames:
			if !ok {
				err := <-w.err
				var ce websocket.CloseError
				if errors.As(err, &ce) {
					return int(ce.Code)
				}
				return -1
			}
		case <-deadline:
			w.t.Fatalf("socket still open")
			return 0
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// passwordFor is a policy-conforming password that does not contain name.
func passwordFor(name string) string {
	return "correct horse battery staple " + strings.Map(func(r rune) rune { return 'a' + (r % 26) }, name)
}
