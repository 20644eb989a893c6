package gateway

import (
	"hash/maphash"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/unhidra/unhidra/wire"
)

const hubShards = 64

// hub maps channel IDs to the channel state of this node, sharded so that
// looking up one channel never waits for another channel's lock.
type hub struct {
	seed   maphash.Seed
	shards [hubShards]hubShard
}

type hubShard struct {
	mu sync.Mutex
	m  map[string]*channel
}

func (h *hub) init() {
	h.seed = maphash.MakeSeed()
	for i := range h.shards {
		h.shards[i].m = map[string]*channel{}
	}
}

func (h *hub) shard(id string) *hubShard {
	return &h.shards[maphash.String(h.seed, id)%hubShards]
}

func (h *hub) get(id string) *channel {
	sh := h.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.m[id]
}

// getOrCreate returns the channel state, creating it with delivered = pos
// (the position of the subscriber about to join) if there is none.
func (h *hub) getOrCreate(id string, pos int64) (c *channel, created bool) {
	sh := h.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if c = sh.m[id]; c != nil {
		return c, false
	}
	c = &channel{id: id, subs: map[*sub]struct{}{}, delivered: pos}
	sh.m[id] = c
	return c, true
}

// event is one channel event as this node fans it out: the frame bytes,
// serialized once by the service that stored the event and written as they
// are to every socket, and the metadata that came beside them.
type event struct {
	seq        int64
	typ        string
	frame      []byte
	sentAt     int64  // unix ns the message was created, for the latency histogram; 0 for others and replays
	userID     string // member_joined, member_left: the member
	messageID  string // the message the event is about, if any
	supersedes bool   // the event changes messageID's content
}

func newEvent(e *wire.Event, live bool) *event {
	ev := &event{seq: e.Seq, typ: e.Type, frame: e.Frame, messageID: e.MessageID, supersedes: e.Supersedes}
	if e.Type == wire.TypeMemberJoined || e.Type == wire.TypeMemberLeft {
		ev.userID = e.UserID
	}
	if live && e.Type == wire.TypeMessage && e.At > 0 {
		ev.sentAt = e.At * 1000
	}
	return ev
}

// channel is this node's state of one channel with local subscribers: the
// ordered stream (delivered, pending), the replay ring and the subscribers.
// Every field is guarded by mu, and so are the fields of its subs.
type channel struct {
	id string
	mu sync.Mutex

	subs map[*sub]struct{}
	// delivered is the last seq of the node's ordered stream: every event
	// up to it has been offered to the subscribers in order.
	delivered int64
	// ring holds the most recent events, contiguous and ending at
	// delivered: seqs (delivered-n, delivered].
	ring  []*event
	start int // index of the oldest event in ring
	n     int
	// pending holds events that arrived ahead of a gap.
	pending  map[int64]*event
	gapTimer *time.Timer
	filling  bool
	// synced: a read of the store made after this state existed has been
	// merged into the stream, so every event past delivered will reach it
	// over the bus (or be noticed as a gap). Subscribers wait for it
	// before going live.
	synced bool
	dead   bool // removed from the hub; a subscriber must look it up again
	// presence collects the statuses of this channel's members that
	// changed since the last presence tick (presence.go).
	presence map[string]string
}

func (c *channel) ringPush(e *event, size int) {
	if len(c.ring) < size {
		// Grow lazily: a quiet channel costs little.
		if c.n == len(c.ring) {
			if c.start != 0 {
				c.ring = append(c.ring[c.start:], c.ring[:c.start]...)
				c.start = 0
			}
			c.ring = append(c.ring, e)
			c.n++
			return
		}
	}
	if c.n < len(c.ring) {
		c.ring[(c.start+c.n)%len(c.ring)] = e
		c.n++
		return
	}
	c.ring[c.start] = e
	c.start = (c.start + 1) % len(c.ring)
}

func (c *channel) ringAt(i int) *event { return c.ring[(c.start+i)%len(c.ring)] }

func (c *channel) ringReset() { c.ring, c.start, c.n = nil, 0, 0 }

// ringForget drops the oldest events of the ring up to and including the
// newest one about messageID, so that no earlier version of a message that
// was edited or deleted is replayed from memory; what the ring still holds
// stays contiguous and ends at delivered, and a replay from further back
// reads the store, which renders the message as it now is.
func (c *channel) ringForget(messageID string) {
	for i := c.n - 1; i >= 0; i-- {
		if c.ringAt(i).messageID != messageID {
			continue
		}
		for j := 0; j <= i; j++ {
			c.ring[(c.start+j)%len(c.ring)] = nil
		}
		c.start = (c.start + i + 1) % len(c.ring)
		c.n -= i + 1
		return
	}
}

// covers reports whether the ring holds every event after `after` up to
// delivered.
func (c *channel) covers(after int64) bool { return after >= c.delivered-int64(c.n) }

// since calls f with each ring event after `after`, in order.
func (c *channel) since(after int64, f func(*event)) {
	first := after - (c.delivered - int64(c.n)) // index of seq after+1
	if first < 0 {
		first = 0
	}
	for i := int(first); i < c.n; i++ {
		f(c.ringAt(i))
	}
}

// offerLocked adds e to c's ordered stream: a duplicate is dropped, the
// next seq is delivered (with whatever it unblocks), and an event past a
// gap waits in pending while GapHold runs, then the store fills the gap.
func (g *Gateway) offerLocked(c *channel, e *event) {
	if e.seq <= c.delivered {
		return
	}
	if e.seq > c.delivered+1 {
		if c.pending == nil {
			c.pending = map[int64]*event{}
		}
		c.pending[e.seq] = e
		if !c.filling && c.gapTimer == nil {
			hold := g.cfg.GapHold
			if len(c.pending) > g.cfg.RingSize {
				hold = 0
			}
			c.gapTimer = time.AfterFunc(hold, func() { g.fill(c) })
		}
		return
	}
	g.deliverLocked(c, e)
	for len(c.pending) > 0 {
		next, ok := c.pending[c.delivered+1]
		if !ok {
			break
		}
		delete(c.pending, next.seq)
		g.deliverLocked(c, next)
	}
	if len(c.pending) == 0 {
		c.pending = nil
		if c.gapTimer != nil {
			c.gapTimer.Stop()
			c.gapTimer = nil
		}
	}
}

// deliverLocked appends the next event to the stream and hands it to every
// live subscriber.
func (g *Gateway) deliverLocked(c *channel, e *event) {
	if e.supersedes && e.messageID != "" {
		c.ringForget(e.messageID)
	}
	c.ringPush(e, g.cfg.RingSize)
	c.delivered = e.seq
	for sb := range c.subs {
		if !sb.live() || e.seq <= sb.sent {
			continue
		}
		if e.seq == sb.sent+1 {
			g.sendEventLocked(sb, e)
		} else {
			// The socket is behind the stream (after a skip): it catches
			// up on its own.
			sb.catching = true
			go g.catchUp(sb)
		}
	}
}

// skipLocked gives up on the gap before the oldest pending event: the
// stream jumps over it, and every subscriber that needs the skipped events
// reads them from the store.
func (g *Gateway) skipLocked(c *channel) {
	seqs := make([]int64, 0, len(c.pending))
	for s := range c.pending {
		seqs = append(seqs, s)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, s := range seqs {
		e := c.pending[s]
		delete(c.pending, s)
		if s <= c.delivered {
			continue
		}
		if s > c.delivered+1 {
			c.ringReset() // the ring stays contiguous
			c.delivered = s - 1
		}
		g.deliverLocked(c, e)
	}
	c.pending = nil
}

// fill reads the store to sync a new channel state or close a gap in its
// stream. One fill runs at a time per channel.
func (g *Gateway) fill(c *channel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gapTimer != nil {
		c.gapTimer.Stop()
		c.gapTimer = nil
	}
	if c.filling || c.dead {
		return
	}
	c.filling = true
	defer func() { c.filling = false }()
	for !c.dead && (!c.synced || len(c.pending) > 0) {
		after := c.delivered
		c.mu.Unlock()
		evs, err := g.reader.read(c.id, after)
		c.mu.Lock()
		if err != nil {
			g.log.Warn("gateway: channel stream: store read failed; subscribers will catch up on their own",
				slog.String("channel_id", c.id), slog.Any("err", err))
		}
		progressed := false
		for i := range evs {
			if evs[i].Seq > c.delivered {
				progressed = true
			}
			g.offerLocked(c, newEvent(&evs[i], false))
		}
		exhausted := err != nil || len(evs) < g.cfg.EventsPage
		if exhausted && !c.synced {
			c.synced = true
			g.kickWaitersLocked(c)
		}
		if len(c.pending) > 0 && (exhausted || !progressed) {
			// The store does not have what the bus announced (yet), or
			// cannot be read: do not hold live events any longer.
			g.skipLocked(c)
		}
	}
}

func (g *Gateway) kickWaitersLocked(c *channel) {
	for sb := range c.subs {
		if sb.waitSync {
			sb.waitSync = false
			g.resumeLocked(sb)
		}
	}
}

// dropChannel forgets a channel state once it has no subscriber.
func (g *Gateway) dropChannel(c *channel) {
	sh := g.hub.shard(c.id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.subs) > 0 || c.dead {
		return
	}
	c.dead = true
	if c.gapTimer != nil {
		c.gapTimer.Stop()
		c.gapTimer = nil
	}
	if sh.m[c.id] == c {
		delete(sh.m, c.id)
	}
}
