package gateway

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/wire"
)

// nodes are gateways that share a bus, a chat service (the database) and
// a presence KV, as the nodes of one install do.
type nodes struct {
	b    *bus.Memory
	chat *fakeChat
	auth *fakeAuth
	kv   bus.KV
	rigs []*rig
}

func newNodes(t *testing.T, n int, kv bus.KV, edit func(*Config)) *nodes {
	t.Helper()
	b := bus.NewMemory(bus.MemoryOptions{})
	ns := &nodes{b: b, chat: newFakeChat(b), auth: &fakeAuth{tokens: map[string]*unhidra.Principal{}}, kv: kv}
	t.Cleanup(func() { b.Close() })
	for range n {
		cfg := Config{Auth: ns.auth, Chat: ns.chat, Events: ns.chat, Bus: b, Presence: kv, GapHold: 20 * time.Millisecond,
			HoldTimeout: 50 * time.Millisecond, PresenceEvery: 20 * time.Millisecond, OfflineGrace: 30 * time.Millisecond}
		if edit != nil {
			edit(&cfg)
		}
		g, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			g.Shutdown(ctx)
		})
		ns.rigs = append(ns.rigs, &rig{t: t, g: g, auth: ns.auth, chat: ns.chat, bus: b})
	}
	return ns
}

func statuses(t *testing.T, g *Gateway, ids ...string) map[string]string {
	t.Helper()
	st, err := g.Statuses(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSharedPresenceMerges: a user's status is the merge over the nodes
// their sockets are on, in what sockets hear and in Statuses on any node;
// when one node's last socket goes, the others' status remains.
func TestSharedPresenceMerges(t *testing.T) {
	ns := newNodes(t, 2, bus.NewMemoryKV(30*time.Second, nil), nil)
	n1, n2 := ns.rigs[0], ns.rigs[1]
	ns.chat.join("c", "u")
	ns.chat.join("c", "w")
	_, wc := n2.connect("w", false, time.Time{})
	heard := func() string { st, _ := wc.presence(); return st["u"] }

	u1, u1c := n1.connect("u", false, time.Time{})
	u1.OnMessage([]byte(`{"type":"presence","status":"dnd"}`))
	eventually(t, "w to hear u dnd", func() bool { return heard() == wire.StatusDND })
	if st := statuses(t, n2.g, "u", "w", "nobody"); st["u"] != wire.StatusDND || st["w"] != wire.StatusOnline || len(st) != 2 {
		t.Fatalf("Statuses on node 2 = %v", st)
	}
	// A second socket of u, online, on node 2: node 2 publishes the merge,
	// dnd, not its own online.
	n2.connect("u", false, time.Time{})
	time.Sleep(100 * time.Millisecond)
	if h := heard(); h != wire.StatusDND {
		t.Fatalf("w heard u %s after an online socket on another node, want dnd", h)
	}
	if st := statuses(t, n1.g, "u"); st["u"] != wire.StatusDND {
		t.Fatalf("Statuses on node 1 = %v", st)
	}
	// The dnd socket goes: online from node 2 remains.
	u1c.Close(1000, "")
	eventually(t, "w to hear u online", func() bool { return heard() == wire.StatusOnline })
	eventually(t, "node 1 to drop its entry", func() bool {
		m, _ := ns.kv.List(context.Background(), "u")
		return len(m["u"]) == 1
	})
	if st := statuses(t, n1.g, "u"); st["u"] != wire.StatusOnline {
		t.Fatalf("Statuses on node 1 = %v", st)
	}
}

// TestCapAcrossNodes: MaxPerUser counts a user's sockets on every node.
func TestCapAcrossNodes(t *testing.T) {
	ns := newNodes(t, 2, bus.NewMemoryKV(30*time.Second, nil), func(c *Config) { c.MaxPerUser = 2 })
	n1, n2 := ns.rigs[0], ns.rigs[1]
	ns.chat.join("c", "u")
	n1.connect("u", false, time.Time{})
	_, c2 := n2.connect("u", false, time.Time{})
	for i, r := range ns.rigs {
		eventually(t, "both sockets counted", func() bool { return r.g.remoteSockets(context.Background(), "u") == 1 })
		if r.g.reserve(context.Background(), "u") {
			t.Fatalf("node %d admitted a third socket", i)
		}
	}
	c2.Close(1000, "")
	eventually(t, "a place free again", func() bool {
		if n1.g.reserve(context.Background(), "u") {
			n1.g.users.unreserve("u")
			return true
		}
		return false
	})
}

// TestExpiredEntryAnnounced: the entry of a node that stopped writing
// (killed) expires; the sweep of a live node announces the user offline
// (or with the status their other sockets give), Statuses stops showing
// it, and a live node's own expired entry is written again.
func TestExpiredEntryAnnounced(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	kv := bus.NewMemoryKV(30*time.Second, clock)
	ns := newNodes(t, 1, kv, nil)
	n := ns.rigs[0]
	ns.chat.join("c", "u")
	ns.chat.join("c", "v")
	ns.chat.join("c", "w")
	_, wc := n.connect("w", false, time.Time{})
	heard := func(user string) string { st, _ := wc.presence(); return st[user] }
	eventually(t, "w's entry", func() bool { m, _ := kv.List(context.Background(), "w"); return len(m) == 1 })
	// A node that has since died wrote entries for u and v; v also has a
	// socket here, away.
	ctx := context.Background()
	for _, user := range []string{"u", "v"} {
		v := nodePresence{Status: wire.StatusDND, DND: 1, Sockets: 1}
		if err := kv.Put(ctx, bus.Key{Group: user, Name: "dead-node"}, v.encode()); err != nil {
			t.Fatal(err)
		}
	}
	vs, _ := n.connect("v", false, time.Time{})
	vs.OnMessage([]byte(`{"type":"presence","status":"away"}`))
	eventually(t, "v's entry here", func() bool { m, _ := kv.List(ctx, "v"); return len(m["v"]) == 2 })
	if st := statuses(t, n.g, "u", "v"); st["u"] != wire.StatusDND || st["v"] != wire.StatusDND {
		t.Fatalf("before the expiry: %v", st)
	}
	mu.Lock()
	now = now.Add(31 * time.Second)
	mu.Unlock()
	n.g.sweepExpired()
	eventually(t, "u announced offline", func() bool { return heard("u") == wire.StatusOffline })
	eventually(t, "v announced away", func() bool { return heard("v") == wire.StatusAway })
	if st := statuses(t, n.g, "u", "v", "w"); st["u"] != "" || st["v"] != wire.StatusAway || st["w"] != wire.StatusOnline {
		t.Fatalf("after the expiry: %v", st)
	}
	// This node's own entries expired too (the clock jumped): written again.
	eventually(t, "own entries written again", func() bool {
		m, _ := kv.List(ctx, "w", "v")
		return len(m["w"]) == 1 && len(m["v"]) == 1
	})
}

// TestShutdownSaysGoodbye: a node shutting down deletes its entries and
// announces its users offline (or as their other nodes say).
func TestShutdownSaysGoodbye(t *testing.T) {
	kv := bus.NewMemoryKV(30*time.Second, nil)
	ns := newNodes(t, 2, kv, nil)
	n1, n2 := ns.rigs[0], ns.rigs[1]
	ns.chat.join("c", "u")
	ns.chat.join("c", "w")
	_, wc := n2.connect("w", false, time.Time{})
	n1.connect("u", false, time.Time{})
	heard := func() string { st, _ := wc.presence(); return st["u"] }
	eventually(t, "u online", func() bool { return heard() == wire.StatusOnline })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n1.g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if m, _ := kv.List(ctx, "u"); len(m) != 0 {
		t.Fatalf("entries left after shutdown: %v", m)
	}
	eventually(t, "u offline", func() bool { return heard() == wire.StatusOffline })
}

// TestHeartbeatRewritesEntries: the heartbeat writes every entry again
// (so it does not expire) and never revives one deleted meanwhile.
func TestHeartbeatRewritesEntries(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	kv := bus.NewMemoryKV(30*time.Second, clock)
	ns := newNodes(t, 1, kv, nil)
	n := ns.rigs[0]
	ns.chat.join("c", "u")
	ns.chat.join("c", "x")
	n.connect("u", false, time.Time{})
	_, xc := n.connect("x", false, time.Time{})
	ctx := context.Background()
	eventually(t, "entries", func() bool { m, _ := kv.List(ctx, "u", "x"); return len(m) == 2 })
	xc.Close(1000, "")
	eventually(t, "x's entry deleted", func() bool { m, _ := kv.List(ctx, "x"); return len(m) == 0 })
	for range 4 {
		mu.Lock()
		now = now.Add(20 * time.Second)
		mu.Unlock()
		n.g.users.heartbeat()
	}
	m, _ := kv.List(ctx, "u", "x")
	if len(m["u"]) != 1 || len(m["x"]) != 0 {
		t.Fatalf("after heartbeats: %v", m)
	}
	if ks, _ := kv.Expired(ctx); len(ks) != 0 {
		t.Fatalf("expired despite heartbeats: %v", ks)
	}
}

func TestMergeStatus(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{wire.StatusOffline, wire.StatusAway, wire.StatusAway},
		{wire.StatusAway, wire.StatusOnline, wire.StatusOnline},
		{wire.StatusDND, wire.StatusOnline, wire.StatusDND},
		{wire.StatusOnline, wire.StatusOffline, wire.StatusOnline},
		{"", wire.StatusOffline, wire.StatusOffline},
	} {
		if got := mergeStatus(c.a, c.b); got != c.want {
			t.Errorf("mergeStatus(%q, %q) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

// FuzzParseNodePresence: another node's entry is checked, never trusted;
// what passes re-encodes to an entry that parses the same.
func FuzzParseNodePresence(f *testing.F) {
	f.Add(nodePresence{Status: wire.StatusOnline, Online: 2, Sockets: 2}.encode())
	f.Add([]byte(`{"status":"dnd","dnd":1,"sockets":-1}`))
	f.Add([]byte(`{"status":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseNodePresence(b)
		if err != nil {
			return
		}
		if p.Sockets < 0 || p.Sockets > maxSocketsInEntry || statusRank(p.Status) == 0 && p.Status != wire.StatusOffline {
			t.Fatalf("accepted %+v", p)
		}
		q, err := parseNodePresence(p.encode())
		if err != nil || q != p {
			t.Fatalf("round trip %+v -> %+v, %v", p, q, err)
		}
	})
}
