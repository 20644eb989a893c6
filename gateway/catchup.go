package gateway

import (
	"log/slog"

	"github.com/unhidra/unhidra/wire"
)

// sub is one socket's subscription to one channel. Its fields are guarded
// by the channel's mu (the socket's goroutines and the channel's fan-out
// both change them).
type sub struct {
	c *channel
	s *session

	// sent is the last seq written to (queued for) this socket; it only
	// grows, which is what makes a seq never go out twice.
	sent int64
	// known is the channel's last seq as this socket learnt it (hello or
	// subscribe), a floor for where the channel is.
	known int64
	// A subscription is live (gets the channel's events as they are
	// delivered) unless one of these holds it back.
	held     bool // a new socket, until its first frame or HoldTimeout
	sending  int  // sends of this socket to this channel in flight (ack before echo)
	catching bool // a catch-up is running
	waitSync bool // waiting for the channel state's first store read
	removed  bool

	started    bool  // an event of this channel went out on this socket
	resumeFrom int64 // ≥ 0: a resume is being served; resumed{from, to} follows the replay
	leaveAt    int64 // the user's member_left: deliver up to it, then stop
	rejoinAt   int64 // a later member_joined: subscribe again from it after leaving
}

func (sb *sub) live() bool {
	return !sb.held && sb.sending == 0 && !sb.catching && !sb.waitSync && !sb.removed
}

// subscribe adds channel chID to socket s, positioned after seq pos.
func (g *Gateway) subscribe(s *session, chID string, pos int64, held bool) {
	for {
		c, created := g.hub.getOrCreate(chID, pos)
		c.mu.Lock()
		if c.dead {
			c.mu.Unlock()
			continue
		}
		s.mu.Lock()
		if s.closing || s.subs[chID] != nil {
			s.mu.Unlock()
			c.mu.Unlock()
			if created {
				g.dropChannel(c)
			}
			return
		}
		sb := &sub{c: c, s: s, sent: pos, known: pos, held: held && s.holding, resumeFrom: -1}
		if s.subs == nil {
			s.subs = map[string]*sub{}
		}
		s.subs[chID] = sb
		s.mu.Unlock()
		c.subs[sb] = struct{}{}
		g.resumeLocked(sb)
		c.mu.Unlock()
		if created {
			go g.fill(c)
		}
		return
	}
}

// resumeLocked brings a subscription that nothing holds back up to the
// stream: at once from the ring when it covers the gap, else from the store
// on another goroutine.
func (g *Gateway) resumeLocked(sb *sub) {
	if sb.removed || sb.held || sb.sending > 0 || sb.catching || sb.waitSync {
		return
	}
	if g.stepLocked(sb) {
		sb.catching = true
		go g.catchUp(sb)
	}
}

// stepLocked finishes a catch-up from the ring if it can, and reports
// whether the store must be read first.
func (g *Gateway) stepLocked(sb *sub) (needStore bool) {
	c := sb.c
	if !c.synced {
		sb.waitSync = true
		return false
	}
	if sb.sent < c.delivered && !c.covers(sb.sent) {
		return true
	}
	c.since(sb.sent, func(e *event) {
		if !sb.removed && e.seq == sb.sent+1 {
			g.sendEventLocked(sb, e)
		}
	})
	if sb.removed {
		return false
	}
	if sb.resumeFrom >= 0 {
		sb.s.enqueue(wire.NewResumed(c.id, sb.resumeFrom, sb.sent), 0)
		sb.resumeFrom = -1
	}
	return false
}

// catchUp replays a subscription's gap from the store, page by page, until
// the ring covers the rest; the last step and going live happen under the
// channel lock, so no live event can slip in between or be lost. Pages are
// read for the node (storeReader), shared with every other subscriber
// reading the same page; what this socket may have is bounded by its
// subscription (leaveAt), not by a permission check per page.
func (g *Gateway) catchUp(sb *sub) {
	c := sb.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if sb.removed || sb.held || sb.sending > 0 {
			// Whoever holds it will resume it.
			sb.catching = false
			return
		}
		if !g.stepLocked(sb) {
			sb.catching = false
			return
		}
		after := sb.sent
		c.mu.Unlock()
		evs, err := g.reader.read(c.id, after)
		c.mu.Lock()
		if sb.sent != after || sb.removed {
			continue // moved on meanwhile (a resume); look again
		}
		if err != nil {
			g.log.Warn("gateway: replay from the store failed; asking the client to resync",
				slog.String("channel_id", c.id), slog.Any("err", err))
			g.resyncLocked(sb)
			continue
		}
		for i := range evs {
			if sb.removed || evs[i].Seq <= sb.sent {
				continue
			}
			g.sendEventLocked(sb, newEvent(&evs[i], false))
		}
		if sb.sent == after {
			// The store has nothing past after although the stream does:
			// never loop on it.
			g.resyncLocked(sb)
		}
	}
}

// resyncLocked tells the client to reload the channel over REST and
// continues live from the stream's position.
func (g *Gateway) resyncLocked(sb *sub) {
	sb.s.enqueue(wire.NewResyncRequired(sb.c.id), 0)
	if sb.c.delivered > sb.sent {
		sb.sent = sb.c.delivered
	}
	sb.started = true
	sb.resumeFrom = -1
}

// sendEventLocked queues the next event of a subscription.
func (g *Gateway) sendEventLocked(sb *sub, e *event) {
	if sb.leaveAt > 0 && e.seq > sb.leaveAt {
		g.removeSubLocked(sb)
		return
	}
	sb.s.enqueue(e.frame, e.sentAt)
	sb.sent = e.seq
	sb.started = true
	if e.typ == wire.TypeMemberLeft && e.userID == sb.s.userID && (sb.leaveAt == 0 || e.seq < sb.leaveAt) {
		// The user's own removal: nothing of this channel after it, even
		// if the control message saying so has not arrived yet.
		sb.leaveAt = e.seq
	}
	if sb.leaveAt > 0 && sb.sent >= sb.leaveAt {
		g.removeSubLocked(sb)
	}
}

// removeSubLocked ends a subscription (c.mu held).
func (g *Gateway) removeSubLocked(sb *sub) {
	if sb.removed {
		return
	}
	sb.removed = true
	c, s := sb.c, sb.s
	delete(c.subs, sb)
	s.mu.Lock()
	if s.subs[c.id] == sb {
		delete(s.subs, c.id)
	}
	s.mu.Unlock()
	if sb.rejoinAt > sb.leaveAt && sb.leaveAt > 0 {
		go g.subscribe(s, c.id, sb.rejoinAt-1, false)
	}
	if len(c.subs) == 0 {
		go g.dropChannel(c)
	}
}

// follow starts delivery of a channel the user joined (ControlSubscribe),
// from seq (their member_joined) on.
func (g *Gateway) follow(s *session, chID string, seq int64) {
	if sb := s.sub(chID); sb != nil {
		c := sb.c
		c.mu.Lock()
		if !sb.removed {
			if seq > sb.rejoinAt {
				sb.rejoinAt = seq
			}
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
	g.subscribe(s, chID, seq-1, true)
}

// unfollow stops delivery after seq (the user's member_left).
func (g *Gateway) unfollow(s *session, chID string, seq int64) {
	sb := s.sub(chID)
	if sb == nil {
		return
	}
	c := sb.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if sb.removed {
		return
	}
	if seq <= 0 {
		g.removeSubLocked(sb)
		return
	}
	if sb.leaveAt == 0 || seq < sb.leaveAt {
		sb.leaveAt = seq
	}
	if sb.sent >= sb.leaveAt {
		g.removeSubLocked(sb)
	}
}

// resume serves a client's resume frame for one channel.
func (g *Gateway) resume(s *session, chID string, pos int64) bool {
	sb := s.sub(chID)
	if sb == nil {
		return false
	}
	c := sb.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if sb.removed {
		return false
	}
	latest := max(sb.known, c.delivered, sb.sent)
	pos = min(pos, latest)
	if sb.started {
		// Never send a seq twice on one socket.
		pos = max(pos, sb.sent)
	}
	sb.sent = pos
	if latest-pos > g.cfg.MaxReplay {
		g.resyncLocked(sb)
		sb.sent = latest
		return true
	}
	sb.resumeFrom = pos
	if sb.catching {
		return true // the running catch-up sees the new position
	}
	g.resumeLocked(sb)
	return true
}
