package gateway_test

import "testing"

// TestPersonalAccessTokenSocket: a read-only personal access token opens a
// socket and hears messages, but its send, typing and read frames are
// refused with permission_denied; a write token sends. A token without
// read (admin only) is refused at the handshake with 4003; a revoked
// token's socket closes with 4001.
func TestPersonalAccessTokenSocket(t *testing.T) {
	n := startNode(t, "sqlite", nil)
	a, b := newAccount(t, n, true), newAccount(t, n, false)
	ch := newChannel(t, n, a, b)
	pat := func(who account, scopes ...string) (string, string) {
		t.Helper()
		var out struct {
			Token struct {
				ID string `json:"id"`
			} `json:"token"`
			Secret string `json:"secret"`
		}
		api(t, n, "POST", "/api/v1/users/me/tokens", who.Token, map[string]any{"name": "ws", "scopes": scopes, "expires_in_s": 3600}, 201, &out)
		return out.Token.ID, out.Secret
	}
	readID, read := pat(b, "read")
	_, write := pat(b, "write")
	_, adminOnly := pat(a, "admin")

	wr := dial(t, n, read)
	ready(wr)
	wr.send(map[string]any{"type": "send", "client_msg_id": "r1", "channel_id": ch, "body": "from a read token", "ref": "s1"})
	if f := wr.expect("error", "presence"); f.Code != "permission_denied" {
		t.Fatalf("send with a read token: %s", f.raw)
	}
	wr.send(map[string]any{"type": "typing", "channel_id": ch})
	if f := wr.expect("error", "presence"); f.Code != "permission_denied" {
		t.Fatalf("typing with a read token: %s", f.raw)
	}
	wr.send(map[string]any{"type": "read", "channel_id": ch, "seq": 1})
	if f := wr.expect("error", "presence"); f.Code != "permission_denied" {
		t.Fatalf("read with a read token: %s", f.raw)
	}
	postMessage(t, n, a, ch, "for readers")
	if f := wr.expect("message", "presence"); f.ChannelID != ch {
		t.Fatalf("message: %s", f.raw)
	}

	ww := dial(t, n, write)
	ready(ww)
	ww.send(map[string]any{"type": "send", "client_msg_id": "w1", "channel_id": ch, "body": "from a write token"})
	ww.expect("ack", "presence", "message")

	wa := dial(t, n, adminOnly)
	if code := wa.closed(); code != 4003 {
		t.Fatalf("admin-only token socket closed with %d, want 4003", code)
	}

	api(t, n, "DELETE", "/api/v1/users/me/tokens/"+readID, b.Token, nil, 204, nil)
	if code := wr.closed(); code != 4001 {
		t.Fatalf("revoked token's socket closed with %d, want 4001", code)
	}
}
