package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/gateway/wsconn"
	"github.com/unhidra/unhidra/wire"
)

// These tests drive the hub and sessions directly, with in-memory fakes of
// the gateway's own consumer interfaces (Chat, Events, Authenticator,
// wsconn.Conn), for exact control over bus order, losses and a socket that
// never drains.

type fakeAuth struct {
	mu     sync.Mutex
	tokens map[string]*unhidra.Principal
}

func (a *fakeAuth) Authenticate(_ context.Context, tok string) (*unhidra.Principal, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.tokens[tok]; p != nil {
		cp := *p
		return &cp, nil
	}
	return nil, unhidra.Errorf(unhidra.EUnauthenticated, "bad token")
}

func (a *fakeAuth) Me(ctx context.Context) (*unhidra.User, error) {
	p := unhidra.PrincipalFromContext(ctx)
	return &unhidra.User{ID: p.UserID, Username: p.UserID}, nil
}

type fakeChat struct {
	mu      sync.Mutex
	bus     bus.Bus
	members map[string]map[string]bool
	events  map[string][]wire.Event
	// publish decides what happens to an event's bus publication; nil
	// publishes it at once.
	publish func(subject string, data []byte)
	// reads counts ChannelEvents calls, lookups ChannelIDsOf calls.
	reads, lookups int
	// readDelay slows every ChannelEvents call.
	readDelay time.Duration
}

func newFakeChat(b bus.Bus) *fakeChat {
	return &fakeChat{bus: b, members: map[string]map[string]bool{}, events: map[string][]wire.Event{}}
}

func (c *fakeChat) join(ch, user string) {
	c.mu.Lock()
	if c.members[ch] == nil {
		c.members[ch] = map[string]bool{}
	}
	c.members[ch][user] = true
	c.mu.Unlock()
}

// post stores an event and publishes it (through c.publish).
func (c *fakeChat) post(ch, typ, user string) (int64, []byte) {
	c.mu.Lock()
	seq := int64(len(c.events[ch]) + 1)
	frame := fmt.Appendf(nil, `{"type":%q,"channel_id":%q,"seq":%d,"user_id":%q}`, typ, ch, seq, user)
	ev := wire.Event{Type: typ, ChannelID: ch, Seq: seq, UserID: user, Frame: frame}
	c.events[ch] = append(c.events[ch], ev)
	pub := c.publish
	c.mu.Unlock()
	data := ev.Append(nil)
	if pub != nil {
		pub(wire.ChannelEventsSubject(ch), data)
	} else {
		c.bus.Publish(context.Background(), wire.ChannelEventsSubject(ch), data)
	}
	return seq, data
}

func (c *fakeChat) MemberChannels(ctx context.Context) (map[string]int64, error) {
	p := unhidra.PrincipalFromContext(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int64{}
	for ch, m := range c.members {
		if m[p.UserID] {
			out[ch] = int64(len(c.events[ch]))
		}
	}
	return out, nil
}

func (c *fakeChat) Send(ctx context.Context, in unhidra.SendInput) (*unhidra.Message, bool, error) {
	p := unhidra.PrincipalFromContext(ctx)
	c.mu.Lock()
	ok := c.members[in.ChannelID][p.UserID]
	c.mu.Unlock()
	if !ok {
		return nil, false, unhidra.Errorf(unhidra.ENotFound, "no such channel")
	}
	seq, _ := c.post(in.ChannelID, wire.TypeMessage, p.UserID)
	return &unhidra.Message{ID: fmt.Sprintf("m%d", seq), Seq: seq}, true, nil
}

func (c *fakeChat) ChannelEvents(_ context.Context, ch string, after int64, limit int) ([]wire.Event, error) {
	c.mu.Lock()
	delay := c.readDelay
	c.mu.Unlock()
	time.Sleep(delay)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	var out []wire.Event
	for _, e := range c.events[ch] {
		if e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (c *fakeChat) MarkRead(context.Context, string, int64) error { return nil }
func (c *fakeChat) Typing(context.Context, string) error          { return nil }
func (c *fakeChat) ChannelIDsOf(_ context.Context, user string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lookups++
	var out []string
	for ch, m := range c.members {
		if m[user] {
			out = append(out, ch)
		}
	}
	return out, nil
}

// fakeConn records frames; with block set, Write never returns until the
// connection is closed (a client that never reads).
type fakeConn struct {
	mu     sync.Mutex
	frames [][]byte
	code   int
	block  bool
	closed chan struct{}
	h      wsconn.Handler
}

func newFakeConn(block bool) *fakeConn { return &fakeConn{block: block, closed: make(chan struct{})} }

func (c *fakeConn) Start(h wsconn.Handler) { c.mu.Lock(); c.h = h; c.mu.Unlock() }

func (c *fakeConn) Write(ctx context.Context, frames [][]byte) error {
	if c.block {
		select {
		case <-c.closed:
			return context.Canceled
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range frames {
		c.frames = append(c.frames, append([]byte(nil), f...))
	}
	return nil
}

func (c *fakeConn) Close(code int, _ string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.code != 0 {
		return
	}
	c.code = code
	close(c.closed)
	if h := c.h; h != nil {
		go h.OnClose(&wsconn.CloseError{Code: code})
	}
}

func (c *fakeConn) closeCode() int { c.mu.Lock(); defer c.mu.Unlock(); return c.code }

// seqs returns the seqs of channel events of ch sent so far, and the types
// of the other frames.
func (c *fakeConn) seqs(ch string) (seqs []int64, other []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.frames {
		var f struct {
			Type      string `json:"type"`
			ChannelID string `json:"channel_id"`
			Seq       int64  `json:"seq"`
		}
		json.Unmarshal(b, &f)
		if f.ChannelID == ch && f.Seq > 0 && f.Type != wire.TypeResumed {
			seqs = append(seqs, f.Seq)
		} else {
			other = append(other, f.Type)
		}
	}
	return seqs, other
}

type rig struct {
	t    *testing.T
	g    *Gateway
	auth *fakeAuth
	chat *fakeChat
	bus  *bus.Memory
}

func newRig(t *testing.T, edit func(*Config)) *rig {
	t.Helper()
	b := bus.NewMemory(bus.MemoryOptions{})
	r := &rig{t: t, auth: &fakeAuth{tokens: map[string]*unhidra.Principal{}}, bus: b}
	r.chat = newFakeChat(b)
	cfg := Config{Auth: r.auth, Chat: r.chat, Events: r.chat, Bus: b, GapHold: 20 * time.Millisecond, HoldTimeout: 50 * time.Millisecond,
		PresenceEvery: 20 * time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.g = g
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
		b.Close()
	})
	return r
}

// connect opens a session for user on a fake connection.
func (r *rig) connect(user string, block bool, exp time.Time) (*session, *fakeConn) {
	r.t.Helper()
	tok := fmt.Sprintf("tok-%s-%d", user, time.Now().UnixNano())
	p := &unhidra.Principal{UserID: user, SessionID: "s-" + tok, ExpiresAt: exp}
	r.auth.mu.Lock()
	r.auth.tokens[tok] = p
	r.auth.mu.Unlock()
	c := newFakeConn(block)
	s := r.g.newSession(c, p, "192.0.2.1", "test")
	r.g.open(s, tok, false)
	return s, c
}

func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	for range 500 {
		if f() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func contiguous(seqs []int64, from, to int64) bool {
	if int64(len(seqs)) != to-from {
		return false
	}
	for i, s := range seqs {
		if s != from+int64(i)+1 {
			return false
		}
	}
	return true
}

// TestStreamReordersAndFillsGaps: the bus delivers a channel's events out
// of order and loses some; every socket still gets 1..N exactly once, in
// order.
func TestStreamReordersAndFillsGaps(t *testing.T) {
	r := newRig(t, nil)
	r.chat.join("c", "u1")
	r.chat.join("c", "u2")
	_, c1 := r.connect("u1", false, time.Time{})
	s2, c2 := r.connect("u2", false, time.Time{})
	s2.OnMessage([]byte(`{"type":"ping"}`))

	var held [][]byte
	r.chat.mu.Lock()
	r.chat.publish = func(subj string, frame []byte) {
		held = append(held, frame)
	}
	r.chat.mu.Unlock()
	const n = 60
	for range n {
		r.chat.post("c", wire.TypeMessage, "u3")
	}
	// Publish in a scrambled order, dropping every 7th event.
	for i := len(held) - 1; i >= 0; i -= 2 {
		if i%7 != 0 {
			r.bus.Publish(context.Background(), "chan.c", held[i])
		}
	}
	for i := len(held) - 2; i >= 0; i -= 2 {
		if i%7 != 0 {
			r.bus.Publish(context.Background(), "chan.c", held[i])
		}
	}
	for _, c := range []*fakeConn{c1, c2} {
		eventually(t, "every event in order", func() bool {
			s, _ := c.seqs("c")
			return contiguous(s, 0, n)
		})
	}
	// Duplicates from the bus change nothing. A fresh event published
	// after them is a barrier: once a socket has it, the duplicates before
	// it on the same channel have been dealt with.
	for _, f := range held[:10] {
		r.bus.Publish(context.Background(), "chan.c", f)
	}
	r.chat.post("c", wire.TypeMessage, "u3")
	r.bus.Publish(context.Background(), "chan.c", held[n])
	for _, c := range []*fakeConn{c1, c2} {
		eventually(t, "the event after the duplicates", func() bool {
			s, _ := c.seqs("c")
			return len(s) > 0 && s[len(s)-1] == n+1
		})
		if s, _ := c.seqs("c"); !contiguous(s, 0, n+1) {
			t.Fatalf("after duplicates: %v", s)
		}
	}
}

// TestSlowConsumerIsClosedAlone: a socket that never drains is closed with
// 4009 once its queue is full; the others get everything.
func TestSlowConsumerIsClosedAlone(t *testing.T) {
	r := newRig(t, func(c *Config) { c.QueueFrames = 16 })
	r.chat.join("c", "slow")
	r.chat.join("c", "fast")
	slow, sc := r.connect("slow", true, time.Time{})
	fast, fc := r.connect("fast", false, time.Time{})
	slow.OnMessage([]byte(`{"type":"ping"}`))
	fast.OnMessage([]byte(`{"type":"ping"}`))
	// Paced so that only the socket that never drains falls behind.
	const n = 100
	for i := range n {
		r.chat.post("c", wire.TypeMessage, "x")
		eventually(t, "fast socket keeps up", func() bool {
			s, _ := fc.seqs("c")
			return contiguous(s, 0, int64(i+1))
		})
	}
	eventually(t, "4009", func() bool { return sc.closeCode() == wire.CloseTooSlow })
	if fc.closeCode() != 0 {
		t.Fatalf("fast socket closed with %d", fc.closeCode())
	}
	eventually(t, "slow session forgotten", func() bool { return r.g.ActiveConnections() == 1 })
}

// TestResumeReplaysThenResumed: a resume as the first frame gets the gap
// from the ring or store, then resumed, then live events; a gap beyond
// MaxReplay gets resync_required.
func TestResumeReplaysThenResumed(t *testing.T) {
	r := newRig(t, func(c *Config) { c.MaxReplay = 50; c.RingSize = 8; c.EventsPage = 7 })
	r.chat.join("c", "u")
	r.chat.join("d", "u")
	for range 40 {
		r.chat.post("c", wire.TypeMessage, "x")
	}
	for range 80 {
		r.chat.post("d", wire.TypeMessage, "x")
	}
	s, c := r.connect("u", false, time.Time{})
	s.OnMessage([]byte(`{"type":"resume","positions":{"c":3,"d":10,"nope":1}}`))
	r.chat.post("c", wire.TypeMessage, "x")
	eventually(t, "replay of c", func() bool {
		seqs, _ := c.seqs("c")
		return contiguous(seqs, 3, 41)
	})
	_, other := c.seqs("c")
	want := map[string]int{wire.TypeHello: 1, wire.TypeResumed: 1, wire.TypeResyncRequired: 1, wire.TypeError: 1}
	got := map[string]int{}
	for _, o := range other {
		if o != wire.TypeMessage { // d's frames
			got[o]++
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("frames %v, want %v", other, want)
		}
	}
	// resumed{c, 3, 40} precedes the live event 41.
	c.mu.Lock()
	var order []string
	for _, b := range c.frames {
		var f struct {
			Type      string `json:"type"`
			ChannelID string `json:"channel_id"`
			Seq       int64  `json:"seq"`
			From, To  int64
		}
		json.Unmarshal(b, &f)
		if f.ChannelID == "c" && (f.Type == wire.TypeResumed || f.Seq >= 40) {
			order = append(order, fmt.Sprintf("%s:%d:%d:%d", f.Type, f.Seq, f.From, f.To))
		}
	}
	c.mu.Unlock()
	// The live event 41 may be part of the replay or follow resumed, but
	// resumed.to is the last replayed seq either way.
	if o := fmt.Sprint(order); o != "[message:40:0:0 resumed:0:3:40 message:41:0:0]" && o != "[message:40:0:0 message:41:0:0 resumed:0:3:41]" {
		t.Fatalf("order %v", order)
	}
}

// TestTokenExpiry: the socket closes with 4001 at expiry unless an auth
// frame of the same user renews it; another user's token is refused.
func TestTokenExpiry(t *testing.T) {
	r := newRig(t, nil)
	// The expiry leaves time for the auth frames on a busy machine.
	expiry := time.Now().Add(time.Second)
	s, c := r.connect("u", false, expiry)
	r.auth.mu.Lock()
	r.auth.tokens["fresh"] = &unhidra.Principal{UserID: "u", SessionID: "s2", ExpiresAt: time.Now().Add(time.Hour)}
	r.auth.tokens["other"] = &unhidra.Principal{UserID: "v", SessionID: "s3", ExpiresAt: time.Now().Add(time.Hour)}
	r.auth.mu.Unlock()
	s.OnMessage([]byte(`{"type":"auth","access_token":"other"}`))
	s.OnMessage([]byte(`{"type":"auth","access_token":"fresh"}`))
	// A socket that is not renewed, expiring just after the first would
	// have: once it is closed, the first one's old expiry has passed.
	_, c2 := r.connect("u", false, expiry.Add(50*time.Millisecond))
	eventually(t, "4001 at expiry", func() bool { return c2.closeCode() == wire.CloseUnauthenticated })
	if code := c.closeCode(); code != 0 {
		t.Fatalf("renewed socket closed with %d", code)
	}
	eventually(t, "hello and the refusal of the other user's token", func() bool {
		_, other := c.seqs("")
		return fmt.Sprint(other) == "[hello error]"
	})
}

// TestAckBeforeEchoUnderLoad: with other events flowing, the sender's ack
// always precedes its own message.
func TestAckBeforeEchoUnderLoad(t *testing.T) {
	r := newRig(t, nil)
	r.chat.join("c", "u")
	r.chat.join("c", "x")
	s, c := r.connect("u", false, time.Time{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			r.chat.post("c", wire.TypeMessage, "x")
		}
	}()
	for i := range 30 {
		s.OnMessage(fmt.Appendf(nil, `{"type":"send","client_msg_id":"c%d","channel_id":"c","body":"b"}`, i))
	}
	<-done
	eventually(t, "all events", func() bool {
		seqs, _ := c.seqs("c")
		return contiguous(seqs, 0, 130)
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	acked := map[int64]bool{}
	for _, b := range c.frames {
		var f struct {
			Type   string `json:"type"`
			Seq    int64  `json:"seq"`
			UserID string `json:"user_id"`
		}
		json.Unmarshal(b, &f)
		switch {
		case f.Type == wire.TypeAck:
			acked[f.Seq] = true
		case f.Type == wire.TypeMessage && f.UserID == "u" && !acked[f.Seq]:
			t.Fatalf("echo of seq %d before its ack", f.Seq)
		}
	}
	if len(acked) != 30 {
		t.Fatalf("%d acks", len(acked))
	}
}

// presence returns the statuses a socket learnt from presence frames, and
// how many presence frames it got.
func (c *fakeConn) presence() (map[string]string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, n := map[string]string{}, 0
	for _, b := range c.frames {
		var p wire.Presence
		if json.Unmarshal(b, &p) != nil || p.Type != wire.TypePresence {
			continue
		}
		n++
		for u, st := range p.Statuses() {
			out[u] = st
		}
	}
	return out, n
}

// TestPresenceBatched: when the members of one channel connect together,
// each socket learns every member's status in a few frames, not one frame
// per member, with no store lookup for users whose sockets are on this
// node; someone sharing no channel hears nothing.
func TestPresenceBatched(t *testing.T) {
	r := newRig(t, func(c *Config) { c.PresenceEvery = 200 * time.Millisecond })
	const n = 200
	conns := make([]*fakeConn, n)
	for i := range n {
		r.chat.join("c", fmt.Sprintf("u%d", i))
	}
	r.chat.join("other", "loner")
	_, loner := r.connect("loner", false, time.Time{})
	for i := range n {
		_, conns[i] = r.connect(fmt.Sprintf("u%d", i), false, time.Time{})
	}
	for i, c := range conns {
		eventually(t, "every member online", func() bool {
			st, _ := c.presence()
			for j := range n {
				if st[fmt.Sprintf("u%d", j)] != wire.StatusOnline {
					return false
				}
			}
			return true
		})
		if _, frames := c.presence(); frames > n/4 {
			t.Fatalf("socket %d got %d presence frames for %d members", i, frames, n)
		}
	}
	if st, _ := loner.presence(); len(st) != 1 || st["loner"] != wire.StatusOnline {
		t.Fatalf("a user sharing no channel heard %v", st)
	}
	r.chat.mu.Lock()
	lookups := r.chat.lookups
	r.chat.mu.Unlock()
	if lookups != 0 {
		t.Fatalf("%d channel lookups for users connected here", lookups)
	}
}

// TestCatchUpSharesStoreReads: many sockets resuming a channel from the
// same position at once cost one store read per page between them, and
// each still gets every event exactly once, in order.
func TestCatchUpSharesStoreReads(t *testing.T) {
	r := newRig(t, func(c *Config) { c.RingSize = 4; c.EventsPage = 10 })
	const subs, events = 40, 100
	for i := range subs {
		r.chat.join("c", fmt.Sprintf("u%d", i))
	}
	for range events {
		r.chat.post("c", wire.TypeMessage, "x")
	}
	sessions := make([]*session, subs)
	conns := make([]*fakeConn, subs)
	for i := range subs {
		sessions[i], conns[i] = r.connect(fmt.Sprintf("u%d", i), false, time.Time{})
	}
	r.chat.mu.Lock()
	r.chat.reads = 0
	r.chat.readDelay = 30 * time.Millisecond
	r.chat.mu.Unlock()
	for _, s := range sessions {
		go s.OnMessage([]byte(`{"type":"resume","positions":{"c":0}}`))
	}
	for _, c := range conns {
		eventually(t, "every event once, in order", func() bool {
			seqs, _ := c.seqs("c")
			return contiguous(seqs, 0, events)
		})
	}
	r.chat.mu.Lock()
	reads := r.chat.reads
	r.chat.mu.Unlock()
	if pages := events / 10; reads > 3*pages {
		t.Fatalf("%d store reads for %d sockets catching up %d pages", reads, subs, pages)
	}
}

// TestPresenceOfManySockets: a user's status follows their sockets' own
// (dnd over online over away, offline after the last one closes), counted
// as sockets come, change and go.
func TestPresenceOfManySockets(t *testing.T) {
	r := newRig(t, func(c *Config) { c.OfflineGrace = 30 * time.Millisecond })
	r.chat.join("c", "u")
	r.chat.join("c", "w")
	_, wc := r.connect("w", false, time.Time{})
	statusOfU := func() string { st, _ := wc.presence(); return st["u"] }
	var socks []*session
	var conns []*fakeConn
	for range 5 {
		s, c := r.connect("u", false, time.Time{})
		socks, conns = append(socks, s), append(conns, c)
	}
	eventually(t, "online", func() bool { return statusOfU() == wire.StatusOnline })
	for _, s := range socks {
		s.OnMessage([]byte(`{"type":"presence","status":"away"}`))
	}
	eventually(t, "away once every socket is", func() bool { return statusOfU() == wire.StatusAway })
	socks[2].OnMessage([]byte(`{"type":"presence","status":"dnd"}`))
	socks[3].OnMessage([]byte(`{"type":"presence","status":"online"}`))
	eventually(t, "dnd beats online", func() bool { return statusOfU() == wire.StatusDND })
	conns[2].Close(1000, "")
	eventually(t, "online when the dnd socket goes", func() bool { return statusOfU() == wire.StatusOnline })
	for _, i := range []int{0, 1, 3, 4} {
		conns[i].Close(1000, "")
	}
	eventually(t, "offline after the last socket", func() bool { return statusOfU() == wire.StatusOffline })
	if n := len(r.g.users.sessionsOf("u")); n != 0 {
		t.Fatalf("%d sockets of u still counted", n)
	}
}
