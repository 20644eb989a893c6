package gateway

// Shared presence: every node writes, for each user with sockets on it,
// one entry of the shared KV (Config.Presence) under the key (user id,
// node id) holding the node's counts of that user's sockets. A user's
// status is the merge over the nodes' entries, and their sockets across
// nodes the sum. The node writes an entry when it changes and again every
// TTL/3 (the heartbeat); a node killed without a goodbye stops writing and
// its entries expire after the TTL, when some node's sweep finds them
// (bus.KV.Expired) and publishes the users' merged status again: offline
// unless they are connected elsewhere.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/wire"
)

// nodePresence is one node's entry for one user: ids and counts only.
type nodePresence struct {
	// Status is the user's status on this node: the counts' status, or
	// during OfflineGrace after the last socket closed, the status before.
	Status string `json:"status"`
	DND    int    `json:"dnd"`
	Online int    `json:"online"`
	Away   int    `json:"away"`
	// Sockets counts every open socket, counted for presence yet or not,
	// and the upgrades admitted under the per-user cap.
	Sockets int `json:"sockets"`
}

// maxSocketsInEntry bounds the counts a node may claim, so a bad entry
// cannot overflow a sum.
const maxSocketsInEntry = 1 << 20

func (p nodePresence) encode() []byte {
	b, _ := json.Marshal(p)
	return b
}

// parseNodePresence decodes and checks another node's entry.
func parseNodePresence(b []byte) (nodePresence, error) {
	var p nodePresence
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("presence entry: %w", err)
	}
	switch p.Status {
	case wire.StatusDND, wire.StatusOnline, wire.StatusAway, wire.StatusOffline:
	default:
		return p, fmt.Errorf("presence entry: status %q", p.Status)
	}
	for _, n := range []int{p.DND, p.Online, p.Away, p.Sockets} {
		if n < 0 || n > maxSocketsInEntry {
			return p, errors.New("presence entry: count out of range")
		}
	}
	return p, nil
}

// statusRank orders statuses by precedence in a merge.
func statusRank(s string) int {
	switch s {
	case wire.StatusDND:
		return 3
	case wire.StatusOnline:
		return 2
	case wire.StatusAway:
		return 1
	}
	return 0
}

// mergeStatus is the status of a user whose nodes say a and b: dnd >
// online > away > offline, as among one node's sockets.
func mergeStatus(a, b string) string {
	if statusRank(b) > statusRank(a) {
		return b
	}
	if a == "" {
		return wire.StatusOffline
	}
	return a
}

// DefaultPresenceTTL is the lifetime of a node's presence entry without a
// heartbeat: how long the users of a node that died without a goodbye stay
// shown (plus one sweep, TTL/3).
const DefaultPresenceTTL = 30 * time.Second

func (g *Gateway) ownKey(userID string) bus.Key {
	return bus.Key{Group: userID, Name: g.nodeID}
}

// others reads the other nodes' entries of users (this node's own state
// is in memory, fresher than its entry).
func (g *Gateway) others(ctx context.Context, users ...string) (map[string][]nodePresence, error) {
	m, err := g.kv.List(ctx, users...)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]nodePresence, len(m))
	for user, nodes := range m {
		for node, raw := range nodes {
			if node == g.nodeID {
				continue
			}
			p, err := parseNodePresence(raw)
			if err != nil {
				g.m.badBusMessages.WithLabelValues("presence_entry").Inc()
				continue
			}
			out[user] = append(out[user], p)
		}
	}
	return out, nil
}

// localStatus is what this node says of userID now.
func (u *userIndex) localStatus(userID string) string {
	sh := u.shard(userID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.m[userID]; e != nil {
		return e.want
	}
	return wire.StatusOffline
}

// mergedStatus is userID's status across the nodes, given this node's.
// If the KV cannot be read it is this node's alone.
func (g *Gateway) mergedStatus(ctx context.Context, userID, local string) string {
	st := local
	ps, err := g.others(ctx, userID)
	if err != nil {
		if g.ctx.Err() == nil {
			g.log.Warn("gateway: read shared presence", slog.String("user_id", userID), slog.Any("err", err))
		}
		return st
	}
	for _, p := range ps[userID] {
		st = mergeStatus(st, p.Status)
	}
	return st
}

// remoteSockets counts userID's sockets on the other nodes. If the KV
// cannot be read it counts none: the cap then holds per node only, which
// is better than refusing every connection.
func (g *Gateway) remoteSockets(ctx context.Context, userID string) int {
	ps, err := g.others(ctx, userID)
	if err != nil {
		g.log.Warn("gateway: read shared presence for the per-user cap", slog.String("user_id", userID), slog.Any("err", err))
		return 0
	}
	n := 0
	for _, p := range ps[userID] {
		n += p.Sockets
	}
	return n
}

// Statuses returns the presence of the given users across every node of
// the install: for each, the merge of this node's status (idle and
// offline grace included) with the entries the other nodes keep in the
// shared presence KV. Users who are offline are left out. The caller
// decides who may ask about whom.
func (g *Gateway) Statuses(ctx context.Context, userIDs []string) (map[string]string, error) {
	out := make(map[string]string)
	var ask []string
	seen := map[string]bool{}
	for _, id := range userIDs {
		if bus.CheckGroup(id) != nil || seen[id] {
			continue // no entry can exist under it
		}
		seen[id] = true
		ask = append(ask, id)
		if st := g.users.localStatus(id); st != wire.StatusOffline {
			out[id] = st
		}
	}
	ps, err := g.others(ctx, ask...)
	if err != nil {
		return nil, fmt.Errorf("gateway: read shared presence: %w", err)
	}
	for id, entries := range ps {
		st := out[id]
		for _, p := range entries {
			st = mergeStatus(st, p.Status)
		}
		if st != wire.StatusOffline {
			out[id] = st
		}
	}
	return out, nil
}

// presenceKeeper writes every entry of this node again each TTL/3 and
// announces the users of entries that expired. One goroutine per node.
func (g *Gateway) presenceKeeper() {
	every := g.kv.TTL() / 3
	t := time.NewTicker(every)
	defer t.Stop()
	g.registerNode()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			g.users.heartbeat()
			g.sweepExpired()
		}
	}
}

// heartbeatWorkers bounds the writes of one heartbeat in flight at once.
const heartbeatWorkers = 8

// heartbeat writes the node's registry entry, marks every entry this
// node has written for writing again and writes them, through each user's own publishing turn so that a
// heartbeat never overwrites a newer state (or revives a deleted entry).
func (u *userIndex) heartbeat() {
	u.g.registerNode() // the node's own registry entry (nodes.go)
	var ids []string
	for i := range u.shards {
		sh := &u.shards[i]
		sh.mu.Lock()
		for id, e := range sh.m {
			if e.kvSent != nil {
				e.kvRefresh = true
				ids = append(ids, id)
			}
		}
		sh.mu.Unlock()
	}
	u.g.m.presenceEntries.Set(float64(len(ids)))
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(heartbeatWorkers, len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				u.resync(id)
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
}

// resync runs userID's publishing turn if a write is due.
func (u *userIndex) resync(userID string) {
	sh := u.shard(userID)
	sh.mu.Lock()
	e := sh.m[userID]
	if e == nil {
		sh.mu.Unlock()
		return
	}
	u.publishLocked(sh, userID, e)
}

// sweepExpired announces the users whose entry on some node expired: that
// node died (or lost the KV for a TTL), so their status may have changed.
// The KV hands each expiry to one node (Redis, in-process) or to each
// node (NATS); announcing the merged status more than once is harmless.
func (g *Gateway) sweepExpired() {
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.CallTimeout)
	defer cancel()
	keys, err := g.kv.Expired(ctx)
	if err != nil {
		if g.ctx.Err() == nil {
			g.log.Warn("gateway: sweep expired presence", slog.Any("err", err))
		}
		return
	}
	for _, k := range keys {
		if k.Group == nodesGroup {
			// The node registry (nodes.go): no user's status changed.
			// This node's own entry is written at the next heartbeat.
			continue
		}
		if k.Name == g.nodeID {
			// This node's own entry ran out (a pause longer than the
			// TTL): write it again.
			sh := g.users.shard(k.Group)
			sh.mu.Lock()
			if e := sh.m[k.Group]; e != nil && e.kvSent != nil {
				e.kvRefresh = true
				g.users.publishLocked(sh, k.Group, e)
			} else {
				sh.mu.Unlock()
			}
			continue
		}
		g.m.presenceExpired.Inc()
		st := g.mergedStatus(ctx, k.Group, g.users.localStatus(k.Group))
		g.publishStatus(k.Group, st)
	}
}

func (g *Gateway) publishStatus(userID, st string) {
	b := wire.PresenceUpdate{UserID: userID, Status: st}.Encode()
	if err := g.cfg.Bus.Publish(g.ctx, wire.PresenceSubject(userID), b); err != nil && g.ctx.Err() == nil {
		g.log.Warn("gateway: publish presence", slog.String("user_id", userID), slog.Any("err", err))
	}
}

// leave runs at shutdown, after the sockets closed: it deletes this
// node's entries and announces each of their users' status without this
// node (offline unless connected elsewhere). A user whose client
// reconnects to another node shows offline until it has.
func (g *Gateway) leave(ctx context.Context) {
	var ids []string
	for i := range g.users.shards {
		sh := &g.users.shards[i]
		sh.mu.Lock()
		for id, e := range sh.m {
			if e.offline != nil {
				e.offline.Stop()
				e.offline = nil
			}
			if e.kvSent != nil || e.published != wire.StatusOffline {
				ids = append(ids, id)
			}
		}
		sh.mu.Unlock()
	}
	for _, id := range ids {
		sh := g.users.shard(id)
		for {
			// A publishing turn that began before Shutdown may still
			// write: let it finish first.
			sh.mu.Lock()
			e := sh.m[id]
			busy := e != nil && e.publishing
			if !busy && e != nil {
				e.kvSent, e.published, e.want = nil, wire.StatusOffline, wire.StatusOffline
			}
			sh.mu.Unlock()
			if !busy || ctx.Err() != nil {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := g.kv.Delete(ctx, g.ownKey(id)); err != nil {
			g.log.Warn("gateway: delete presence entry at shutdown", slog.String("user_id", id), slog.Any("err", err))
		}
		st := g.mergedStatus(ctx, id, wire.StatusOffline)
		b := wire.PresenceUpdate{UserID: id, Status: st}.Encode()
		if err := g.cfg.Bus.Publish(ctx, wire.PresenceSubject(id), b); err != nil {
			g.log.Warn("gateway: publish presence at shutdown", slog.String("user_id", id), slog.Any("err", err))
		}
		if ctx.Err() != nil {
			return
		}
	}
}
