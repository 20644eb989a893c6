package gateway

import (
	"context"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/gateway/wire"
)

const userShards = 64

// userIndex maps users to their sockets on this node and keeps each user's
// published presence. Its shard locks are leaves: nothing else is locked
// while one is held (Bus.Publish aside, see locksordering.txt).
type userIndex struct {
	g      *Gateway
	seed   maphash.Seed
	shards [userShards]userShard
}

type userShard struct {
	mu sync.Mutex
	m  map[string]*userEntry
}

type userEntry struct {
	sessions  map[*session]struct{}
	published string
	offline   *time.Timer
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

func (u *userIndex) add(s *session) {
	sh := u.shard(s.userID)
	sh.mu.Lock()
	e := sh.m[s.userID]
	if e == nil {
		e = &userEntry{sessions: map[*session]struct{}{}, published: wire.StatusOffline}
		sh.m[s.userID] = e
	}
	e.sessions[s] = struct{}{}
	if e.offline != nil {
		e.offline.Stop()
		e.offline = nil
	}
	sh.mu.Unlock()
	u.update(s.userID)
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
	delete(e.sessions, s)
	if len(e.sessions) > 0 {
		sh.mu.Unlock()
		u.update(s.userID)
		return
	}
	if e.offline == nil {
		e.offline = time.AfterFunc(u.g.cfg.OfflineGrace, func() { u.update(s.userID) })
	}
	sh.mu.Unlock()
}

// update recomputes a user's presence on this node and publishes it when it
// changed. Precedence: dnd (an explicit wish not to be disturbed, whichever
// device set it) > online (one active socket is enough) > away (idle or
// chosen) > offline (no socket for OfflineGrace).
func (u *userIndex) update(userID string) {
	sh := u.shard(userID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.m[userID]
	if e == nil {
		return
	}
	status := wire.StatusOffline
	if len(e.sessions) > 0 {
		status = wire.StatusAway
		for s := range e.sessions {
			switch s.presence() {
			case wire.StatusDND:
				status = wire.StatusDND
			case wire.StatusOnline:
				if status != wire.StatusDND {
					status = wire.StatusOnline
				}
			}
		}
	} else if e.offline != nil {
		e.offline = nil
		delete(sh.m, userID)
	}
	if status == e.published {
		return
	}
	e.published = status
	// Published under the shard lock so that two updates of one user
	// reach the bus in the order they were computed.
	if err := u.g.cfg.Bus.Publish(u.g.ctx, unhidra.PresenceSubject(userID), wire.Presence(userID, status)); err != nil && u.g.ctx.Err() == nil {
		u.g.log.Warn("gateway: publish presence", slog.String("user_id", userID), slog.Any("err", err))
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
			changed := map[string]bool{}
			for _, s := range g.users.all() {
				if s.lastActive.Load() < cut && !s.idle.Swap(true) {
					changed[s.userID] = true
				}
			}
			for u := range changed {
				g.users.update(u)
			}
		}
	}
}

// onPresence delivers a user's presence to the local sockets of users who
// share a channel with them.
func (g *Gateway) onPresence(subject string, data []byte) {
	userID := strings.TrimPrefix(subject, "presence.")
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.CallTimeout)
	chans, err := g.cfg.Chat.ChannelIDsOf(ctx, userID)
	cancel()
	if err != nil {
		if g.ctx.Err() == nil {
			g.log.Warn("gateway: presence: channels of user", slog.String("user_id", userID), slog.Any("err", err))
		}
		return
	}
	seen := map[*session]bool{}
	for _, ch := range chans {
		c := g.hub.get(ch)
		if c == nil {
			continue
		}
		c.mu.Lock()
		for sb := range c.subs {
			if !sb.removed && !seen[sb.s] {
				seen[sb.s] = true
				sb.s.enqueue(data, 0)
			}
		}
		c.mu.Unlock()
	}
}
