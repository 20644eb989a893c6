package gateway

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/unhidra/unhidra/wire"
)

// presenceKind is what one socket contributes to its user's presence.
type presenceKind uint8

const (
	kindNone   presenceKind = iota // not counted yet (still opening)
	kindAway                       // chosen, or no frame for IdleAway
	kindOnline                     // active
	kindDND                        // do not disturb, chosen
)

func (k presenceKind) status() string {
	switch k {
	case kindDND:
		return wire.StatusDND
	case kindOnline:
		return wire.StatusOnline
	case kindAway:
		return wire.StatusAway
	}
	return wire.StatusOffline
}

const userShards = 64

// userIndex maps users to their sockets on this node and keeps each user's
// presence. Its shard locks are leaves: nothing else of the gateway is
// locked while one is held, and no bus I/O happens under one.
type userIndex struct {
	g      *Gateway
	seed   maphash.Seed
	shards [userShards]userShard
}

type userShard struct {
	mu sync.Mutex
	m  map[string]*userEntry
}

// userEntry is one user's sockets on this node. The user's status is
// derived from counts (sockets per presenceKind), kept as sockets come,
// go and change, so that no event has to look at every socket of a user
// who holds many.
type userEntry struct {
	sessions map[*session]struct{}
	counts   [kindDND + 1]int
	reserved int // upgrades admitted under the per-user cap, not yet added
	offline  *time.Timer
	// published is the status last handed to the bus, want the status to
	// publish; publishing marks a goroutine that is publishing, and which
	// publishes want again after each publication until the two agree, so
	// one user's updates reach the bus in order without a lock held across
	// the publication.
	published, want string
	publishing      bool
	// kvSent is the entry last written to the shared presence KV (nil:
	// none, or deleted); kvRefresh asks the publishing turn to write it
	// again (the heartbeat).
	kvSent    *nodePresence
	kvRefresh bool
}

// kvValue is the entry this node should hold for the user, or keep false
// if it should hold none.
func (e *userEntry) kvValue() (v nodePresence, keep bool) {
	v = nodePresence{
		Status: e.want, DND: e.counts[kindDND], Online: e.counts[kindOnline], Away: e.counts[kindAway],
		Sockets: len(e.sessions) + e.reserved,
	}
	return v, v.Status != wire.StatusOffline || v.Sockets > 0
}

func (e *userEntry) status() string {
	switch {
	case e.counts[kindDND] > 0:
		return wire.StatusDND
	case e.counts[kindOnline] > 0:
		return wire.StatusOnline
	case e.counts[kindAway] > 0:
		return wire.StatusAway
	}
	return wire.StatusOffline
}

// idle reports whether the entry says nothing any more and may be dropped.
func (e *userEntry) idle() bool {
	return len(e.sessions) == 0 && e.reserved == 0 && e.offline == nil && !e.publishing && e.published == wire.StatusOffline &&
		e.kvSent == nil
}

func (u *userIndex) init() {
	u.seed = maphash.MakeSeed()
	for i := range u.shards {
		u.shards[i].m = map[string]*userEntry{}
	}
}

func (u *userIndex) shard(id string) *userShard {
	return &u.shards[maphash.String(u.seed, id)%userShards]
}

func (sh *userShard) entry(userID string) *userEntry {
	e := sh.m[userID]
	if e == nil {
		e = &userEntry{sessions: map[*session]struct{}{}, published: wire.StatusOffline, want: wire.StatusOffline}
		sh.m[userID] = e
	}
	return e
}

// reserve admits one more socket for userID unless it has max already (0:
// no cap), counting remote sockets on other nodes. An admitted reservation
// ends with add (reserved true) or unreserve.
func (u *userIndex) reserve(userID string, max, remote int) bool {
	sh := u.shard(userID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.entry(userID)
	if max > 0 && len(e.sessions)+e.reserved+remote >= max {
		if e.idle() {
			delete(sh.m, userID)
		}
		return false
	}
	e.reserved++
	return true
}

func (u *userIndex) unreserve(userID string) {
	sh := u.shard(userID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.m[userID]; e != nil {
		e.reserved--
		if e.idle() {
			delete(sh.m, userID)
		}
	}
}

// add registers a socket. It counts for presence only once changed is
// called (when the socket has its subscriptions), so that the user's
// status is announced when their socket can hear the answers.
func (u *userIndex) add(s *session, reserved bool) {
	sh := u.shard(s.userID)
	sh.mu.Lock()
	e := sh.entry(s.userID)
	if reserved {
		e.reserved--
	}
	e.sessions[s] = struct{}{}
	s.kind = kindNone
	if e.offline != nil {
		e.offline.Stop()
		e.offline = nil
	}
	sh.mu.Unlock()
}

// changed recounts a socket whose presence may have changed (opened,
// presence frame, idle or active again) and publishes the user's status
// if it changed.
func (u *userIndex) changed(s *session) {
	sh := u.shard(s.userID)
	sh.mu.Lock()
	e := sh.m[s.userID]
	if e == nil {
		sh.mu.Unlock()
		return
	}
	if _, ok := e.sessions[s]; ok {
		k := s.presenceKindNow()
		e.counts[s.kind]--
		e.counts[k]++
		s.kind = k
	}
	u.publishLocked(sh, s.userID, e)
}

// remove forgets a socket; the user goes offline after OfflineGrace if no
// socket comes back (a reconnect is not a flap of presence).
func (u *userIndex) remove(s *session) {
	sh := u.shard(s.userID)
	sh.mu.Lock()
	e := sh.m[s.userID]
	if e == nil {
		sh.mu.Unlock()
		return
	}
	if _, ok := e.sessions[s]; ok {
		delete(e.sessions, s)
		e.counts[s.kind]--
		s.kind = kindNone
	}
	if len(e.sessions) > 0 {
		u.publishLocked(sh, s.userID, e)
		return
	}
	if e.offline == nil {
		userID := s.userID
		e.offline = time.AfterFunc(u.g.cfg.OfflineGrace, func() { u.goOffline(userID) })
	}
	sh.mu.Unlock()
}

func (u *userIndex) goOffline(userID string) {
	sh := u.shard(userID)
	sh.mu.Lock()
	e := sh.m[userID]
	if e == nil {
		sh.mu.Unlock()
		return
	}
	e.offline = nil
	u.publishLocked(sh, userID, e)
}

// publishLocked is called with sh.mu held and releases it. While the
// grace timer runs, a user without sockets is still shown as before.
// Precedence: dnd (an explicit wish not to be disturbed, whichever device
// set it) > online (one active socket is enough) > away (idle or chosen) >
// offline (no socket for OfflineGrace).
//
// One goroutine at a time (e.publishing) brings the user's entry in the
// shared presence KV up to date and, when this node's status for the user
// changed, publishes the user's status merged over every node's entry; it
// goes round until nothing changed meanwhile. After Shutdown began it does
// nothing: leave deletes the entries and announces the users.
func (u *userIndex) publishLocked(sh *userShard, userID string, e *userEntry) {
	if e.offline == nil || len(e.sessions) > 0 {
		e.want = e.status()
	}
	if e.publishing || u.g.closing.Load() {
		// The goroutine publishing for this user publishes want next.
		sh.mu.Unlock()
		return
	}
	e.publishing = true
	for {
		st := e.want
		v, keep := e.kvValue()
		writeKV := e.kvRefresh || keep != (e.kvSent != nil) || keep && *e.kvSent != v
		if (st == e.published && !writeKV) || u.g.closing.Load() {
			e.publishing = false
			if e.idle() {
				delete(sh.m, userID)
			}
			sh.mu.Unlock()
			return
		}
		changed := st != e.published
		e.published = st
		e.kvRefresh = false
		// Recorded before the write: a failed write is not retried at
		// once (the heartbeat writes again; a failed delete expires).
		if keep {
			e.kvSent = &v
		} else {
			e.kvSent = nil
		}
		sh.mu.Unlock()
		ctx, cancel := context.WithTimeout(u.g.ctx, u.g.cfg.CallTimeout)
		if writeKV {
			var err error
			if keep {
				err = u.g.kv.Put(ctx, u.g.ownKey(userID), v.encode())
			} else {
				err = u.g.kv.Delete(ctx, u.g.ownKey(userID))
			}
			if err != nil && u.g.ctx.Err() == nil {
				u.g.log.Warn("gateway: write shared presence", slog.String("user_id", userID), slog.Any("err", err))
			}
		}
		if changed {
			u.g.publishStatus(userID, u.g.mergedStatus(ctx, userID, st))
		}
		cancel()
		sh.mu.Lock()
	}
}

func (u *userIndex) sessionsOf(userID string) []*session {
	sh := u.shard(userID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.m[userID]
	if e == nil {
		return nil
	}
	out := make([]*session, 0, len(e.sessions))
	for s := range e.sessions {
		out = append(out, s)
	}
	return out
}

func (u *userIndex) all() []*session {
	var out []*session
	for i := range u.shards {
		sh := &u.shards[i]
		sh.mu.Lock()
		for _, e := range sh.m {
			for s := range e.sessions {
				out = append(out, s)
			}
		}
		sh.mu.Unlock()
	}
	return out
}

// idleSweeper marks sockets idle after IdleAway without a client frame. One
// goroutine per node, not a timer per socket.
func (g *Gateway) idleSweeper() {
	every := min(g.cfg.IdleAway/4, 15*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case now := <-t.C:
			cut := now.Add(-g.cfg.IdleAway).UnixNano()
			for _, s := range g.users.all() {
				if s.lastActive.Load() < cut && !s.idle.Swap(true) {
					g.users.changed(s)
				}
			}
		}
	}
}

// onPresence takes a user's new status from the bus and adds it to the
// pending presence of each of the user's channels that has sockets on this
// node; the next presence tick sends it (batching).
func (g *Gateway) onPresence(subject string, data []byte) {
	p, err := wire.ParsePresenceUpdate(data)
	if id, _ := wire.SubjectID(wire.AllPresence, subject); err != nil || p.UserID == "" || p.UserID != id {
		g.m.badBusMessages.WithLabelValues("presence").Inc()
		return
	}
	chans, ok := g.members.get(p.UserID)
	if !ok {
		ctx, cancel := context.WithTimeout(g.ctx, g.cfg.CallTimeout)
		chans, err = g.cfg.Events.ChannelIDsOf(ctx, p.UserID)
		cancel()
		if err != nil {
			if g.ctx.Err() == nil {
				g.log.Warn("gateway: presence: channels of user", slog.String("user_id", p.UserID), slog.Any("err", err))
			}
			return
		}
		g.members.put(p.UserID, chans)
	}
	for _, ch := range chans {
		c := g.hub.get(ch)
		if c == nil {
			continue
		}
		c.mu.Lock()
		first := c.presence == nil
		if first {
			c.presence = map[string]string{}
		}
		c.presence[p.UserID] = p.Status
		subs := len(c.subs)
		c.mu.Unlock()
		if first {
			g.batcher.dirty(c, subs)
		}
	}
}

// presenceBatcher sends pending presence in batches: a channel's changes
// wait PresenceEvery, and one more PresenceEvery per PresenceChannelScale
// local subscribers, then every socket of the channels that are due gets
// at most one frame with every user whose status changed in any of them.
// The wait grows with the channel because a mass connect lasts about as
// long as the channel is large: N members connecting together then cost
// each socket a number of frames that does not grow with N. It runs only
// while something is pending.
type presenceBatcher struct {
	g     *Gateway
	mu    sync.Mutex
	due   map[*channel]time.Time
	timer *time.Timer
	next  time.Time // when timer fires
}

// maxPresencePerFrame bounds one presence frame; more users go in several.
const maxPresencePerFrame = 1000

// presenceWait is how long a channel with subs local subscribers batches
// its presence changes.
func (g *Gateway) presenceWait(subs int) time.Duration {
	return g.cfg.PresenceEvery * time.Duration(1+subs/g.cfg.PresenceChannelScale)
}

func (b *presenceBatcher) dirty(c *channel, subs int) {
	at := time.Now().Add(b.g.presenceWait(subs))
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.due == nil {
		b.due = map[*channel]time.Time{}
	}
	if _, ok := b.due[c]; !ok {
		b.due[c] = at
	}
	b.armLocked(at)
}

// armLocked makes sure the timer fires by at.
func (b *presenceBatcher) armLocked(at time.Time) {
	if b.timer != nil && !b.next.After(at) {
		return
	}
	if b.timer != nil {
		b.timer.Stop()
	}
	b.next = at
	b.timer = time.AfterFunc(time.Until(at), b.tick)
}

func (b *presenceBatcher) tick() {
	now := time.Now()
	b.mu.Lock()
	b.timer = nil
	var chans []*channel
	var later time.Time
	for c, at := range b.due {
		if !at.After(now) {
			chans = append(chans, c)
			delete(b.due, c)
		} else if later.IsZero() || at.Before(later) {
			later = at
		}
	}
	if !later.IsZero() {
		b.armLocked(later)
	}
	b.mu.Unlock()

	// A socket's frame merges the batches of every due channel it hears.
	// Sockets that hear the same set of them (all the members of one
	// channel, or of the same few channels) share one encoding.
	type pending struct {
		key     []byte // indexes of its batches, in order
		batches []map[string]string
	}
	perSession := map[*session]*pending{}
	var order []*session
	for i, c := range chans {
		c.mu.Lock()
		batch := c.presence
		c.presence = nil
		var sessions []*session
		for sb := range c.subs {
			if !sb.removed {
				sessions = append(sessions, sb.s)
			}
		}
		c.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		for _, s := range sessions {
			p := perSession[s]
			if p == nil {
				p = &pending{}
				perSession[s] = p
				order = append(order, s)
			}
			p.key = binary.AppendUvarint(p.key, uint64(i))
			p.batches = append(p.batches, batch)
		}
	}
	encoded := map[string][][]byte{}
	var buf []byte
	for _, s := range order {
		p := perSession[s]
		frames, ok := encoded[string(p.key)]
		if !ok {
			merged := p.batches[0]
			if len(p.batches) > 1 {
				merged = map[string]string{}
				for _, m := range p.batches {
					for u, st := range m {
						merged[u] = st
					}
				}
			}
			frames = encodePresence(&buf, merged)
			encoded[string(p.key)] = frames
		}
		for _, f := range frames {
			s.enqueuePresence(f)
		}
	}
}

// encodePresence turns a batch into presence frames of at most
// maxPresencePerFrame users each, encoding in *buf.
func encodePresence(buf *[]byte, batch map[string]string) [][]byte {
	var frames [][]byte
	ids := make([]string, 0, min(len(batch), maxPresencePerFrame))
	flush := func() {
		*buf = wire.AppendPresence((*buf)[:0], ids, batch)
		frames = append(frames, append([]byte(nil), *buf...))
		ids = ids[:0]
	}
	for u := range batch {
		ids = append(ids, u)
		if len(ids) == maxPresencePerFrame {
			flush()
		}
	}
	if len(ids) > 0 {
		flush()
	}
	return frames
}
