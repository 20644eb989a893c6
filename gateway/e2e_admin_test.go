package gateway_test

import "testing"

// connectionID reads the connection id of a socket's hello.
func connectionID(t *testing.T, hello frame) string {
	t.Helper()
	var h struct {
		ConnectionID string `json:"connection_id"`
	}
	if err := jsonUnmarshal(hello.raw, &h); err != nil || h.ConnectionID == "" {
		t.Fatalf("hello without connection_id: %s", hello.raw)
	}
	return h.ConnectionID
}

// alive fails unless the socket still answers a ping.
func alive(w *wsClient) {
	w.t.Helper()
	w.send(map[string]any{"type": "ping"})
	w.expect("pong", "presence", "typing")
}

// TestAdminClosesConnections: an admin closes one socket, then all of a
// user's, with 4010; whoever is not an admin is refused and closes
// nothing; the closed client connects again with the same token.
func TestAdminClosesConnections(t *testing.T) {
	eachEngine(t, func(t *testing.T, engine string) {
		n := startNode(t, engine, nil)
		admin := newAccount(t, n, true)
		a, b := newAccount(t, n, false), newAccount(t, n, false)
		ch := newChannel(t, n, a, b)
		wa1, wa2, wb := dial(t, n, a.Token), dial(t, n, a.Token), dial(t, n, b.Token)
		id1 := connectionID(t, ready(wa1))
		ready(wa2)
		idb := connectionID(t, ready(wb))

		// Refused: a member (even about their own socket or their own
		// user), and nobody signed in.
		for _, who := range []account{a, b} {
			api(t, n, "DELETE", "/api/v1/admin/connections/"+id1, who.Token, nil, 403, nil)
			api(t, n, "DELETE", "/api/v1/admin/connections/"+idb, who.Token, nil, 403, nil)
			api(t, n, "DELETE", "/api/v1/admin/users/"+a.ID+"/connections", who.Token, nil, 403, nil)
			api(t, n, "DELETE", "/api/v1/admin/users/"+b.ID+"/connections", who.Token, nil, 403, nil)
		}
		api(t, n, "DELETE", "/api/v1/admin/connections/"+id1, "", nil, 401, nil)
		api(t, n, "DELETE", "/api/v1/admin/users/"+a.ID+"/connections", "", nil, 401, nil)
		for _, w := range []*wsClient{wa1, wa2, wb} {
			alive(w)
		}

		// One socket: that one closes with 4010, the user's other socket and
		// everyone else's stay.
		api(t, n, "DELETE", "/api/v1/admin/connections/"+id1, admin.Token, nil, 204, nil)
		if code := wa1.closed(); code != 4010 {
			t.Fatalf("closed connection: code %d, want 4010", code)
		}
		alive(wa2)
		alive(wb)
		api(t, n, "DELETE", "/api/v1/admin/connections/0190a1b2-0000-7000-8000-000000000000", admin.Token, nil, 404, nil)

		// Every socket of a user.
		var closed struct {
			Closed int `json:"closed"`
		}
		api(t, n, "DELETE", "/api/v1/admin/users/"+a.ID+"/connections", admin.Token, nil, 200, &closed)
		if closed.Closed != 1 {
			t.Fatalf("closed %d sockets of a, want 1 (the other was closed already)", closed.Closed)
		}
		if code := wa2.closed(); code != 4010 {
			t.Fatalf("user's connection: code %d, want 4010", code)
		}
		alive(wb)
		api(t, n, "DELETE", "/api/v1/admin/users/"+a.ID+"/connections", admin.Token, nil, 200, &closed)
		if closed.Closed != 0 {
			t.Fatalf("second close: %d, want 0", closed.Closed)
		}

		// Not a revocation: the same token opens a socket that works.
		again := dial(t, n, a.Token)
		ready(again)
		postMessage(t, n, b, ch, "still here?")
		if f := again.expect("message", "presence"); f.ChannelID != ch {
			t.Fatalf("after reconnect: %s", f.raw)
		}
		api(t, n, "GET", "/api/v1/users/me", a.Token, nil, 200, nil)
	})
}
