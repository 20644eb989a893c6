package gateway

// Connections across nodes. An admin's list of live sockets, and closing
// one, must cover every node of the install, not only the one that
// answers the request; yet a socket's connect must stay as cheap as it
// is, so nothing about single sockets is written anywhere shared. Instead:
//
//   - Each node registers itself in the shared KV (group nodesGroup, name
//     its node id), written at start and with every presence heartbeat
//     (TTL/3), deleted at shutdown; a killed node's entry expires after
//     the TTL.
//   - The node serving the admin asks: a wire.NodeRequest on
//     wire.NodeRequestsSubject(install), which every other node of the
//     install answers from memory with a wire.NodeReply on the asker's
//     wire.NodeRepliesSubject. The
//     asker waits until every registered node answered, or NodeTimeout,
//     and names the nodes that did not (Unreachable): their sockets are
//     missing from the answer, or the socket to close may be on one of
//     them.
//
// The bus is trusted like the control messages: the asker authorizes the
// admin; the answering node acts on what it is asked.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/wire"
)

// nodesGroup is the KV group of the node registry. No user id can be it
// (ids hold no control characters), so presence never mistakes it for a
// user's entries.
const nodesGroup = "\x00nodes"

// ConnectionInfo describes one live socket for admins. It travels
// between nodes as a wire.NodeConnection (the same fields).
type ConnectionInfo struct {
	ID        string    `json:"id" doc:"the connection id (the hello's connection_id)"`
	NodeID    string    `json:"node_id" doc:"the node that holds the socket (random at each start of a node)"`
	UserID    string    `json:"user_id"`
	Username  string    `json:"username"`
	SessionID string    `json:"session_id" doc:"the session (refresh-token family) the socket signed in with; pat:<id> for a personal access token"`
	IP        string    `json:"ip" doc:"the client address"`
	UserAgent string    `json:"user_agent" doc:"the client's User-Agent, at most 256 bytes"`
	Since     time.Time `json:"since" doc:"when the socket connected"`
	FramesIn  int64     `json:"frames_in"`
	FramesOut int64     `json:"frames_out"`
	Status    string    `json:"status"`
	Channels  int       `json:"channels" doc:"channels the socket hears"`
}

func toWire(cs []ConnectionInfo) []wire.NodeConnection {
	out := make([]wire.NodeConnection, len(cs))
	for i, c := range cs {
		out[i] = wire.NodeConnection(c)
	}
	return out
}

func fromWire(cs []wire.NodeConnection) []ConnectionInfo {
	out := make([]ConnectionInfo, len(cs))
	for i, c := range cs {
		out[i] = ConnectionInfo(c)
	}
	return out
}

// Connection lists take limit sockets, DefaultConnections if none is
// asked for and at most MaxConnections.
const (
	DefaultConnections = 50
	MaxConnections     = 200
)

// ConnectionQuery selects a page of the install's live sockets.
type ConnectionQuery struct {
	UserID string // only this user's; "" for everyone's
	Cursor string // the NextCursor of the previous page; "" for the first
	Limit  int    // DefaultConnections if 0; at most MaxConnections
}

// ConnectionPage is a page of live sockets, oldest first.
type ConnectionPage struct {
	Connections []ConnectionInfo
	// NextCursor asks for the next page; empty on the last.
	NextCursor string
	// Unreachable names the nodes that did not answer in time: their
	// sockets are not in the page.
	Unreachable []string
}

func (g *Gateway) nodeKey() bus.Key { return bus.Key{Group: nodesGroup, Name: g.nodeID} }

// NodeID is this process's id among the nodes (random at each start).
func (g *Gateway) NodeID() string { return g.nodeID }

// registerNode writes this node's registry entry.
func (g *Gateway) registerNode() {
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.CallTimeout)
	defer cancel()
	v, _ := json.Marshal(map[string]any{"started": g.started})
	if err := g.kv.Put(ctx, g.nodeKey(), v); err != nil && g.ctx.Err() == nil {
		g.log.Warn("gateway: register the node; admins' connection lists may miss it until the next heartbeat", slog.Any("err", err))
	}
}

// unregisterNode deletes this node's registry entry, so that askers stop
// waiting for it.
func (g *Gateway) unregisterNode(ctx context.Context) {
	if err := g.kv.Delete(ctx, g.nodeKey()); err != nil {
		g.log.Warn("gateway: unregister the node", slog.Any("err", err))
	}
}

// otherNodes lists the registered nodes but this one.
func (g *Gateway) otherNodes(ctx context.Context) ([]string, error) {
	m, err := g.kv.List(ctx, nodesGroup)
	if err != nil {
		return nil, err
	}
	var out []string
	for id := range m[nodesGroup] {
		if id != g.nodeID && wire.PlainID(id) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out, nil
}

// gathering collects the replies to one request.
type gathering struct {
	mu      sync.Mutex
	replies map[string]wire.NodeReply // by node
	signal  chan struct{}
}

// ask sends req to every other node and waits for their replies: until
// each registered node answered, stop reports that the replies so far
// settle the question, or NodeTimeout. It returns the replies by node and
// the registered nodes that did not answer.
func (g *Gateway) ask(ctx context.Context, req wire.NodeRequest, stop func(map[string]wire.NodeReply) bool) (map[string]wire.NodeReply, []string, error) {
	nodes, err := g.otherNodes(ctx)
	if err != nil {
		return nil, nil, &unhidra.Error{Code: unhidra.EUnavailable, Message: "cannot read the list of nodes; try again", Err: err}
	}
	if len(nodes) == 0 {
		return nil, nil, nil
	}
	req.ID, req.From = newID(), g.nodeID
	gt := &gathering{replies: map[string]wire.NodeReply{}, signal: make(chan struct{}, 1)}
	g.reqMu.Lock()
	g.reqs[req.ID] = gt
	g.reqMu.Unlock()
	defer func() {
		g.reqMu.Lock()
		delete(g.reqs, req.ID)
		g.reqMu.Unlock()
	}()
	if err := g.cfg.Bus.Publish(ctx, wire.NodeRequestsSubject(g.cfg.Install), req.Encode()); err != nil {
		return nil, nodes, &unhidra.Error{Code: unhidra.EUnavailable, Message: "cannot reach the other nodes; try again", Err: err}
	}
	timer := time.NewTimer(g.cfg.NodeTimeout)
	defer timer.Stop()
	for {
		gt.mu.Lock()
		done := true
		for _, n := range nodes {
			if _, ok := gt.replies[n]; !ok {
				done = false
				break
			}
		}
		if !done && stop != nil {
			done = stop(gt.replies)
		}
		gt.mu.Unlock()
		if done {
			break
		}
		select {
		case <-gt.signal:
			continue
		case <-timer.C:
		case <-ctx.Done():
		}
		break
	}
	gt.mu.Lock()
	defer gt.mu.Unlock()
	replies := make(map[string]wire.NodeReply, len(gt.replies))
	for k, v := range gt.replies {
		replies[k] = v
	}
	var missing []string
	for _, n := range nodes {
		if _, ok := replies[n]; !ok {
			missing = append(missing, n)
		}
	}
	return replies, missing, nil
}

// onNodeReply hands a reply to the request waiting for it.
func (g *Gateway) onNodeReply(_ string, data []byte) {
	m, err := wire.ParseNodeReply(data)
	if err != nil {
		g.m.badBusMessages.WithLabelValues("node_reply").Inc()
		g.log.Warn("gateway: bad node reply", slog.Int("bytes", len(data)), slog.Any("err", err))
		return
	}
	g.reqMu.Lock()
	gt := g.reqs[m.ID]
	g.reqMu.Unlock()
	if gt == nil {
		return // too late: the asker has answered already
	}
	gt.mu.Lock()
	gt.replies[m.Node] = m
	gt.mu.Unlock()
	select {
	case gt.signal <- struct{}{}:
	default:
	}
}

// onNodeRequest answers another node's request from this node's sockets.
func (g *Gateway) onNodeRequest(_ string, data []byte) {
	m, err := wire.ParseNodeRequest(data)
	if err != nil {
		g.m.badBusMessages.WithLabelValues("node_request").Inc()
		g.log.Warn("gateway: bad node request", slog.Int("bytes", len(data)), slog.Any("err", err))
		return
	}
	if m.From == g.nodeID {
		return
	}
	reply := wire.NodeReply{ID: m.ID, Node: g.nodeID}
	switch m.Op {
	case wire.NodeOpConnections:
		var cs []ConnectionInfo
		cs, reply.HasMore = g.localConnections(m.UserID, m.AfterTime, m.AfterID, m.Limit)
		reply.Connections = toWire(cs)
	case wire.NodeOpClose:
		if info, ok := g.closeLocal(m.ConnectionID, m.By); ok {
			reply.Closed, reply.Connections = 1, toWire([]ConnectionInfo{info})
		}
	case wire.NodeOpCloseUser:
		reply.Closed = g.closeUserLocal(m.UserID, m.By)
	}
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.CallTimeout)
	defer cancel()
	if err := g.cfg.Bus.Publish(ctx, wire.NodeRepliesSubject(g.cfg.Install, m.From), reply.Encode()); err != nil && g.ctx.Err() == nil {
		g.log.Warn("gateway: answer a node request", slog.String("op", m.Op), slog.Any("err", err))
	}
}

// localConnections lists this node's sockets after (after, afterID) in
// (since, id) order, userID's only if set: at most limit, and whether
// there are more.
func (g *Gateway) localConnections(userID string, after time.Time, afterID string, limit int) ([]ConnectionInfo, bool) {
	var ss []*session
	if userID != "" {
		ss = g.users.sessionsOf(userID)
	} else {
		ss = g.users.all()
	}
	out := make([]ConnectionInfo, 0, min(len(ss), limit+1))
	for _, s := range ss {
		if !after.IsZero() && !connAfter(s.since, s.id, after, afterID) {
			continue
		}
		if s.isClosing() {
			continue // closed already, waiting for the client's goodbye
		}
		out = append(out, s.info())
	}
	sortConnections(out)
	if len(out) > limit {
		return out[:limit], true
	}
	return out, false
}

// connAfter reports whether (t, id) comes after (after, afterID).
func connAfter(t time.Time, id string, after time.Time, afterID string) bool {
	return t.After(after) || t.Equal(after) && id > afterID
}

func sortConnections(cs []ConnectionInfo) {
	slices.SortFunc(cs, func(a, b ConnectionInfo) int {
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// encodeCursor and decodeCursor make a page's position opaque:
// base64url of "<since in unix microseconds>_<connection id>".
func encodeCursor(c ConnectionInfo) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.Since.UnixMicro(), 10) + "_" + c.ID))
}

func decodeCursor(s string) (time.Time, string, error) {
	bad := unhidra.Errorf(unhidra.EInvalid, "cursor is not one this server gave out")
	if len(s) > 256 {
		return time.Time{}, "", bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", bad
	}
	us, id, ok := strings.Cut(string(raw), "_")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || n <= 0 || !wire.PlainID(id) {
		return time.Time{}, "", bad
	}
	return time.UnixMicro(n).UTC(), id, nil
}

// Connections lists the live sockets of every node, oldest first, a page
// at a time. Only admins may call it. Nodes that did not answer within
// NodeTimeout are named in Unreachable.
func (g *Gateway) Connections(ctx context.Context, q ConnectionQuery) (*ConnectionPage, error) {
	if _, err := requireAdmin(ctx, "list connections"); err != nil {
		return nil, err
	}
	if q.Limit == 0 {
		q.Limit = DefaultConnections
	}
	if q.Limit < 1 || q.Limit > MaxConnections {
		return nil, unhidra.Errorf(unhidra.EInvalid, "limit must be from 1 to %d", MaxConnections)
	}
	var after time.Time
	var afterID string
	if q.Cursor != "" {
		var err error
		if after, afterID, err = decodeCursor(q.Cursor); err != nil {
			return nil, err
		}
	}
	page := &ConnectionPage{Connections: []ConnectionInfo{}, Unreachable: []string{}}
	if q.UserID != "" {
		if err := unhidra.CheckID("user_id", q.UserID); err != nil {
			return nil, err
		}
		if !wire.PlainID(q.UserID) {
			return page, nil // no socket belongs to such an id
		}
	}
	// Each node lists one more than the page, so that the merge knows
	// whether more follow.
	all, _ := g.localConnections(q.UserID, after, afterID, q.Limit+1)
	replies, missing, err := g.ask(ctx, wire.NodeRequest{Op: wire.NodeOpConnections, UserID: q.UserID,
		AfterTime: after, AfterID: afterID, Limit: q.Limit + 1}, nil)
	if err != nil {
		return nil, err
	}
	for _, r := range replies {
		all = append(all, fromWire(r.Connections)...)
	}
	sortConnections(all)
	if len(all) > q.Limit {
		all = all[:q.Limit]
		page.NextCursor = encodeCursor(all[len(all)-1])
	}
	page.Connections = all
	if missing != nil {
		page.Unreachable = missing
	}
	return page, nil
}

// closedByAdmin is the reason sent with wire.CloseByAdmin when an admin
// closes a socket. The session is not revoked: the client may connect
// again with its token, and should only do so on its user's request.
const closedByAdmin = "closed by an administrator"

// closeLocal closes this node's socket id, if it holds it.
func (g *Gateway) closeLocal(id, by string) (ConnectionInfo, bool) {
	for _, s := range g.users.all() {
		if s.id == id {
			info := s.info()
			if !s.closeWith(wire.CloseByAdmin, closedByAdmin) {
				return info, false // closing already
			}
			g.log.Info("connection closed by an admin", slog.String("admin_id", by),
				slog.String("connection_id", s.id), slog.String("user_id", s.userID))
			return info, true
		}
	}
	return ConnectionInfo{}, false
}

// closeUserLocal closes every socket of userID on this node.
func (g *Gateway) closeUserLocal(userID, by string) int {
	n := 0
	for _, s := range g.users.sessionsOf(userID) {
		if s.closeWith(wire.CloseByAdmin, closedByAdmin) {
			n++
		}
	}
	if n > 0 {
		g.log.Info("connections closed by an admin", slog.String("admin_id", by),
			slog.String("user_id", userID), slog.Int("closed", n))
	}
	return n
}

// CloseConnection closes one live socket, on whichever node holds it, with
// 4010 (id as in ConnectionInfo). Only admins may call it. An id no node
// holds is ENotFound; if some node did not answer it is EUnavailable,
// since the socket may be there.
func (g *Gateway) CloseConnection(ctx context.Context, id string) error {
	p, err := requireAdmin(ctx, "close connections")
	if err != nil {
		return err
	}
	if err := unhidra.CheckID("connection id", id); err != nil {
		return err
	}
	notFound := unhidra.Errorf(unhidra.ENotFound, "no live connection %s", id)
	if !wire.PlainID(id) {
		return notFound
	}
	info, ok := g.closeLocal(id, p.UserID)
	if !ok {
		replies, missing, err := g.ask(ctx, wire.NodeRequest{Op: wire.NodeOpClose, ConnectionID: id, By: p.UserID},
			func(rs map[string]wire.NodeReply) bool {
				for _, r := range rs {
					if r.Closed > 0 {
						return true
					}
				}
				return false
			})
		if err != nil {
			return err
		}
		for _, r := range replies {
			if r.Closed > 0 && len(r.Connections) == 1 {
				info, ok = ConnectionInfo(r.Connections[0]), true
			}
		}
		if !ok && len(missing) > 0 {
			return unhidra.Errorf(unhidra.EUnavailable, "no answering node holds connection %s, but %s did not answer; try again", id, nodeList(missing))
		}
	}
	if !ok {
		return notFound
	}
	g.record(ctx, p, "connection", id, map[string]string{"user_id": info.UserID, "node_id": info.NodeID, "session_id": info.SessionID})
	return nil
}

// CloseUserConnections closes every live socket of userID on every node
// with 4010 and returns how many it closed (0 for a user with none) and
// the nodes that did not answer. Only admins may call it.
func (g *Gateway) CloseUserConnections(ctx context.Context, userID string) (int, []string, error) {
	p, err := requireAdmin(ctx, "close connections")
	if err != nil {
		return 0, nil, err
	}
	if err := unhidra.CheckID("user id", userID); err != nil {
		return 0, nil, err
	}
	if !wire.PlainID(userID) {
		return 0, []string{}, nil
	}
	n := g.closeUserLocal(userID, p.UserID)
	replies, missing, err := g.ask(ctx, wire.NodeRequest{Op: wire.NodeOpCloseUser, UserID: userID, By: p.UserID}, nil)
	if err != nil {
		return n, nil, err
	}
	for _, r := range replies {
		n += r.Closed
	}
	if missing == nil {
		missing = []string{}
	}
	if n > 0 {
		g.record(ctx, p, "user", userID, map[string]string{"closed": strconv.Itoa(n)})
	}
	return n, missing, nil
}

// record writes the audit event of an admin's close (no durable change:
// a transaction of its own).
func (g *Gateway) record(ctx context.Context, p *unhidra.Principal, targetType, targetID string, meta map[string]string) {
	if g.cfg.Audit == nil {
		return
	}
	ev := &audit.Event{Action: audit.ActionConnectionClose, ActorType: audit.ActorUser, ActorID: p.UserID,
		TargetType: targetType, TargetID: targetID, IP: audit.CleanIP(audit.ClientIP(ctx)), Metadata: meta, Time: time.Now()}
	if err := g.cfg.Audit.Record(context.WithoutCancel(ctx), ev); err != nil {
		g.log.LogAttrs(ctx, slog.LevelError, "gateway: audit a closed connection", slog.Any("err", err))
	}
}

func nodeList(ids []string) string {
	if len(ids) == 1 {
		return "node " + ids[0]
	}
	return fmt.Sprintf("nodes %s", strings.Join(ids, ", "))
}

// boundUserAgent keeps a user agent for display: at most
// wire.MaxUserAgent bytes of valid UTF-8, control characters replaced.
func boundUserAgent(ua string) string {
	ua = strings.ToValidUTF8(ua, "\uFFFD")
	ua = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '\uFFFD'
		}
		return r
	}, ua)
	if len(ua) <= wire.MaxUserAgent {
		return ua
	}
	cut := wire.MaxUserAgent
	for cut > 0 && !utf8.RuneStart(ua[cut]) {
		cut--
	}
	return ua[:cut]
}
