package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/unhidra/unhidra/internal/testserver"
)

type connection struct {
	ID        string `json:"id"`
	NodeID    string `json:"node_id"`
	UserID    string `json:"user_id"`
	Username  string `json:"username"`
	SessionID string `json:"session_id"`
	UserAgent string `json:"user_agent"`
	Since     string `json:"since"`
}

type connectionsPage struct {
	Connections []connection `json:"connections"`
	NextCursor  string       `json:"next_cursor"`
	Unreachable []string     `json:"unreachable_nodes"`
}

// TestAdminConnectionsAcrossNodes: an admin on one node lists the sockets
// of both nodes (with their node, user and a bounded user agent), pages
// through them without losing or repeating one, and closes a socket and a
// user's sockets held by the other node; members and guests are refused
// all of it.
func TestAdminConnectionsAcrossNodes(t *testing.T) {
	t.Parallel()
	cfg := testserver.Config(t, "postgres")
	cfg.RateWSIP.N, cfg.RateWSUser.N, cfg.RateWSMsg.N = 0, 0, 0
	cfg.Bus = testNATS()
	// A bucket (and so an install) of its own: the NATS server is shared
	// with other tests, whose nodes must not answer these requests.
	cfg.PresenceBucket = fmt.Sprintf("conns_test_%d", time.Now().UnixNano())
	n1 := testserver.Start(t, cfg)
	cfg2 := cfg
	cfg2.DataDir = t.TempDir()
	cfg2.JWTKeyDir = n1.Config.KeyDir()
	n2 := testserver.Start(t, cfg2)

	admin := newAccount(t, n1, true)
	a, b := newAccount(t, n1, false), newAccount(t, n2, false)
	wa := dial(t, n1, a.Token)
	idA := connectionID(t, ready(wa))
	wb1, wb2 := dial(t, n2, b.Token), dial(t, n2, b.Token)
	idB1 := connectionID(t, ready(wb1))
	ready(wb2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	long := strings.Repeat("é", 300) + "tail"
	raw, _, err := dialRaw(ctx, n2, b.Token, http.Header{"User-Agent": {long}})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.CloseNow()

	list := func(n *testserver.Node, query string) connectionsPage {
		t.Helper()
		var p connectionsPage
		api(t, n, "GET", "/api/v1/admin/connections"+query, admin.Token, nil, 200, &p)
		return p
	}
	// The raw socket registers once its account is loaded.
	var all connectionsPage
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if all = list(n1, ""); len(all.Connections) == 4 || time.Now().After(deadline) {
			break
		}
	}
	if len(all.Connections) != 4 || len(all.Unreachable) != 0 {
		t.Fatalf("node 1 lists %+v", all)
	}
	nodes := map[string]string{}
	for _, c := range all.Connections {
		who := map[string]string{a.ID: a.Name, b.ID: b.Name}[c.UserID]
		if who == "" || c.Username != who || c.SessionID == "" || c.NodeID == "" {
			t.Fatalf("connection %+v", c)
		}
		nodes[c.UserID] += c.NodeID + " "
		if len(c.UserAgent) > 256 || !utf8.ValidString(c.UserAgent) || strings.ContainsRune(c.UserAgent, 1) {
			t.Fatalf("user agent %q not bounded", c.UserAgent)
		}
	}
	if f := strings.Fields(nodes[b.ID]); len(f) != 3 || f[0] != f[1] || f[1] != f[2] || strings.TrimSpace(nodes[a.ID]) == f[0] {
		t.Fatalf("node ids: %v", nodes)
	}
	if other := list(n2, ""); len(other.Connections) != 4 {
		t.Fatalf("node 2 lists %d", len(other.Connections))
	}
	// Pages of one, oldest first, each socket once.
	seen := map[string]bool{}
	var prev string
	for cursor, pages := "", 0; ; pages++ {
		p := list(n2, "?limit=1&cursor="+cursor)
		if len(p.Connections) != 1 || seen[p.Connections[0].ID] || p.Connections[0].Since < prev {
			t.Fatalf("page %d: %+v", pages, p)
		}
		seen[p.Connections[0].ID], prev = true, p.Connections[0].Since
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) != 4 {
		t.Fatalf("paging saw %d sockets", len(seen))
	}
	if p := list(n1, "?user_id="+a.ID); len(p.Connections) != 1 || p.Connections[0].ID != idA {
		t.Fatalf("a's sockets: %+v", p)
	}
	api(t, n1, "GET", "/api/v1/admin/connections?cursor=bm9wZQ", admin.Token, nil, 400, nil)
	api(t, n1, "GET", "/api/v1/admin/connections?limit=201", admin.Token, nil, 400, nil)

	// Members: refused, nothing closes.
	api(t, n1, "GET", "/api/v1/admin/connections", a.Token, nil, 403, nil)
	api(t, n1, "DELETE", "/api/v1/admin/connections/"+idB1, a.Token, nil, 403, nil)
	api(t, n2, "DELETE", "/api/v1/admin/users/"+a.ID+"/connections", b.Token, nil, 403, nil)
	// A guest: refused the same way.
	g := newAccount(t, n1, false)
	api(t, n1, "PATCH", "/api/v1/admin/users/"+g.ID, admin.Token, map[string]any{"role": "guest"}, 200, nil)
	api(t, n2, "GET", "/api/v1/admin/connections", g.Token, nil, 403, nil)
	api(t, n2, "DELETE", "/api/v1/admin/connections/"+idB1, g.Token, nil, 403, nil)
	api(t, n1, "DELETE", "/api/v1/admin/users/"+b.ID+"/connections", g.Token, nil, 403, nil)
	api(t, n1, "GET", "/api/v1/admin/connections", "", nil, 401, nil)
	alive(wb1)
	alive(wa)

	// One of b's sockets on node 2, closed through node 1.
	api(t, n1, "DELETE", "/api/v1/admin/connections/"+idB1, admin.Token, nil, 204, nil)
	if code := wb1.closed(); code != 4010 {
		t.Fatalf("b's socket: code %d, want 4010", code)
	}
	alive(wb2)
	api(t, n1, "DELETE", "/api/v1/admin/connections/"+idB1, admin.Token, nil, 404, nil)
	// Every socket of b (node 2) through node 1, of a (node 1) through node 2.
	var closed struct {
		Closed      int      `json:"closed"`
		Unreachable []string `json:"unreachable_nodes"`
	}
	api(t, n1, "DELETE", "/api/v1/admin/users/"+b.ID+"/connections", admin.Token, nil, 200, &closed)
	if closed.Closed != 2 || len(closed.Unreachable) != 0 {
		t.Fatalf("closed %+v, want b's two other sockets", closed)
	}
	if code := wb2.closed(); code != 4010 {
		t.Fatalf("b's second socket: code %d", code)
	}
	adminOn2 := login(t, n2, admin.Name, passwordFor(admin.Name))
	api(t, n2, "DELETE", "/api/v1/admin/users/"+a.ID+"/connections", adminOn2.Token, nil, 200, &closed)
	if closed.Closed != 1 {
		t.Fatalf("closed %+v, want a's socket", closed)
	}
	if code := wa.closed(); code != 4010 {
		t.Fatalf("a's socket: code %d", code)
	}
	if p := list(n1, ""); len(p.Connections) != 0 {
		t.Fatalf("left open: %+v", p.Connections)
	}

	// Audited on the node that served the admin.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var log struct {
			Entries []struct {
				TargetType string            `json:"target_type"`
				TargetID   string            `json:"target_id"`
				Metadata   map[string]string `json:"metadata"`
			} `json:"entries"`
		}
		api(t, n1, "GET", "/api/v1/admin/audit?action=admin.connection_close", admin.Token, nil, 200, &log)
		if len(log.Entries) == 3 {
			e := log.Entries[0]
			if e.TargetType != "connection" || e.TargetID != idB1 || e.Metadata["user_id"] != b.ID || e.Metadata["node_id"] == "" {
				t.Fatalf("first entry %+v", e)
			}
			if e := log.Entries[1]; e.TargetType != "user" || e.TargetID != b.ID || e.Metadata["closed"] != "2" {
				t.Fatalf("second entry %+v", e)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d admin.connection_close entries, want 3", len(log.Entries))
		}
	}
}
