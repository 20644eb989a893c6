package gateway

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/gateway/wsconn"
	"github.com/unhidra/unhidra/wire"
)

// session is one socket. Its state is a handful of fields and timers; no
// goroutine is needed to keep an idle session alive (the writer runs only
// while there is something to write).
type session struct {
	g      *Gateway
	conn   wsconn.Conn
	id     string
	userID string
	ip, ua string
	since  time.Time

	framesIn, framesOut atomic.Int64
	lastActive          atomic.Int64  // unix ns of the last client frame
	status              atomic.Uint32 // presence the client chose (statusOnline…)
	idle                atomic.Bool   // no client frame for IdleAway

	// Used only by the engine's reading goroutine (OnMessage).
	frameBudget, strikeBudget int64 // rate limit buckets (ratelimit.Rate)
	sawFrame                  bool

	mu        sync.Mutex // guards the fields below
	p         *unhidra.Principal
	username  string   // once the account is loaded (open)
	q         []queued // everything but presence, in order
	pq        [][]byte // presence frames, written after q
	qBytes    int      // of q and pq
	flushing  bool
	closing   bool // no more output: a close was sent or the socket died
	closed    bool // OnClose ran
	holding   bool // events held until the first frame (new subs start held)
	subs      map[string]*sub
	expiry    *time.Timer
	holdTimer *time.Timer

	// kind is this socket's contribution to its user's presence, as last
	// counted in the user's entry; guarded by the user's shard lock.
	kind presenceKind

	inbox inbox // to-device delivery (todevice.go)
}

type queued struct {
	frame  []byte
	sentAt int64
}

// Statuses a client chooses with a presence frame.
const (
	statusOnline uint32 = iota
	statusAway
	statusDND
)

func (g *Gateway) newSession(conn wsconn.Conn, p *unhidra.Principal, ip, ua string) *session {
	// since is kept to the microsecond, as connection cursors are.
	s := &session{g: g, conn: conn, id: newID(), userID: p.UserID, ip: ip, ua: boundUserAgent(ua),
		since: time.Now().UTC().Truncate(time.Microsecond), p: p, holding: true}
	s.lastActive.Store(time.Now().UnixNano())
	return s
}

func (s *session) principal() *unhidra.Principal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p
}

func (s *session) ctx() context.Context {
	return unhidra.NewContextWithPrincipal(s.g.ctx, s.principal())
}

// isClosing reports whether the socket takes no more output.
func (s *session) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *session) sub(chID string) *sub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subs[chID]
}

func (s *session) startTimers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return
	}
	s.holdTimer = time.AfterFunc(s.g.cfg.HoldTimeout, s.releaseHold)
	s.armExpiryLocked()
}

// armExpiryLocked closes the socket with 4001 when its access token
// expires, unless an auth frame brings a fresh one first.
func (s *session) armExpiryLocked() {
	if s.expiry != nil {
		s.expiry.Stop()
	}
	if s.p.ExpiresAt.IsZero() {
		return
	}
	s.expiry = time.AfterFunc(time.Until(s.p.ExpiresAt), func() {
		s.closeWith(wire.CloseUnauthenticated, "the access token expired")
	})
}

// releaseHold ends a new socket's hold: every subscription still held
// catches up and goes live.
func (s *session) releaseHold() {
	s.mu.Lock()
	if !s.holding {
		s.mu.Unlock()
		return
	}
	s.holding = false
	if s.holdTimer != nil {
		s.holdTimer.Stop()
	}
	subs := make([]*sub, 0, len(s.subs))
	for _, sb := range s.subs {
		subs = append(subs, sb)
	}
	s.mu.Unlock()
	for _, sb := range subs {
		sb.c.mu.Lock()
		sb.held = false
		s.g.resumeLocked(sb)
		sb.c.mu.Unlock()
	}
}

// enqueue adds a frame to the socket's bounded queue and makes sure a
// writer runs. It never blocks: a socket whose queue is full is closed
// with 4009 and loses the frame, so one slow reader never slows a fan-out.
// It may be called with a channel lock held.
func (s *session) enqueue(frame []byte, sentAt int64) { s.add(frame, sentAt, false) }

// enqueuePresence is enqueue for a presence frame. Presence has no order
// with anything else, so each write puts what else is queued first: a
// large batch of statuses never delays a message behind it.
func (s *session) enqueuePresence(frame []byte) { s.add(frame, 0, true) }

func (s *session) add(frame []byte, sentAt int64, presence bool) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	if len(s.q)+len(s.pq) >= s.g.cfg.QueueFrames || s.qBytes+len(frame) > s.g.cfg.QueueBytes {
		s.mu.Unlock()
		s.g.m.slowConsumers.Inc()
		s.closeWith(wire.CloseTooSlow, "too slow: reconnect and resume")
		return
	}
	if presence {
		s.pq = append(s.pq, frame)
	} else {
		s.q = append(s.q, queued{frame, sentAt})
	}
	s.qBytes += len(frame)
	start := !s.flushing
	s.flushing = true
	s.mu.Unlock()
	if start {
		go s.flush()
	}
}

// flush writes the queue in batches until it is empty: every frame queued
// while a batch is being written goes out in the next one.
func (s *session) flush() {
	for {
		s.mu.Lock()
		if s.closing || len(s.q)+len(s.pq) == 0 {
			s.flushing = false
			s.q, s.pq, s.qBytes = nil, nil, 0
			s.mu.Unlock()
			return
		}
		batch, presence := s.q, s.pq
		s.q, s.pq, s.qBytes = nil, nil, 0
		s.mu.Unlock()
		frames := make([][]byte, 0, len(batch)+len(presence))
		for _, b := range batch {
			frames = append(frames, b.frame)
		}
		frames = append(frames, presence...)
		ctx, cancel := context.WithTimeout(context.Background(), s.g.cfg.WriteTimeout)
		err := s.conn.Write(ctx, frames)
		cancel()
		if err != nil {
			s.mu.Lock()
			s.closing, s.flushing = true, false
			s.q, s.pq, s.qBytes = nil, nil, 0
			s.mu.Unlock()
			s.conn.Close(wire.CloseInternal, "write failed")
			return
		}
		now := time.Now().UnixNano()
		for _, b := range batch {
			if b.sentAt > 0 {
				s.g.m.latency.Observe(float64(now-b.sentAt) / 1e9)
			}
		}
		s.framesOut.Add(int64(len(frames)))
		s.g.m.messages.WithLabelValues("out").Add(float64(len(frames)))
	}
}

// closeWith closes the socket with code; only the first call counts, and
// reports true.
func (s *session) closeWith(code int, reason string) bool {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return false
	}
	s.closing = true
	s.q, s.pq, s.qBytes = nil, nil, 0
	s.mu.Unlock()
	s.g.m.closes.WithLabelValues(closeLabel(code)).Inc()
	s.conn.Close(code, reason)
	return true
}

func closeLabel(code int) string { return strconv.Itoa(code) }

// OnClose implements wsconn.Handler: the socket is gone; forget it.
func (s *session) OnClose(err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed, s.closing = true, true
	s.q, s.pq, s.qBytes = nil, nil, 0
	subs := s.subs
	s.subs = nil
	if s.expiry != nil {
		s.expiry.Stop()
	}
	if s.holdTimer != nil {
		s.holdTimer.Stop()
	}
	s.mu.Unlock()
	switch {
	case errors.Is(err, wsconn.ErrTooBig):
		s.g.m.badFrames.WithLabelValues("too_big").Inc()
	case errors.Is(err, wsconn.ErrBinary):
		s.g.m.badFrames.WithLabelValues("binary").Inc()
	case errors.Is(err, wsconn.ErrTimeout):
		s.g.m.closes.WithLabelValues("keepalive_timeout").Inc()
	}
	for _, sb := range subs {
		c := sb.c
		c.mu.Lock()
		if !sb.removed {
			sb.removed = true
			delete(c.subs, sb)
		}
		empty := len(c.subs) == 0
		c.mu.Unlock()
		if empty {
			s.g.dropChannel(c)
		}
	}
	s.g.users.remove(s)
	s.g.m.active.Dec()
	s.g.sessions.Done()
}

// allow applies the per-connection frame rate: an over-limit frame is
// refused with an error frame; when refusals themselves exceed the rate
// (a sustained flood), the socket is closed with 4008.
func (s *session) allow(now int64) bool {
	rate := s.g.frameRate
	if ok, _ := rate.Allow(&s.frameBudget, now); ok {
		return true
	}
	s.g.m.rateLimitHits.WithLabelValues("msg").Inc()
	if ok, _ := rate.Allow(&s.strikeBudget, now); !ok {
		s.closeWith(wire.CloseRateLimited, "too many frames")
		return false
	}
	s.enqueue(wire.NewError(unhidra.ERateLimited, "too many frames; slow down", ""), 0)
	return false
}

// OnMessage implements wsconn.Handler: one client frame.
func (s *session) OnMessage(data []byte) {
	g := s.g
	s.framesIn.Add(1)
	g.m.messages.WithLabelValues("in").Inc()
	now := time.Now().UnixNano()
	s.lastActive.Store(now)
	if s.idle.Swap(false) {
		g.users.changed(s)
	}
	first := !s.sawFrame
	s.sawFrame = true
	if !s.allow(now) {
		if first {
			s.releaseHold()
		}
		return
	}
	f, err := wire.Decode(data)
	if err != nil {
		g.m.badFrames.WithLabelValues("invalid").Inc()
		s.sendError(err, f.ErrorRef())
		if first {
			s.releaseHold()
		}
		return
	}
	if first && f.Type != wire.TypeResume {
		s.releaseHold()
	}
	switch f.Type {
	case wire.TypeSend, wire.TypeTyping, wire.TypeRead:
		// A personal access token without the write scope reads only.
		if !s.principal().Allows(unhidra.ScopeWrite) {
			s.sendError(unhidra.Errorf(unhidra.EPermission, "this personal access token lacks the \"write\" scope"), f.Ref)
			return
		}
	}
	switch f.Type {
	case wire.TypePing:
		s.enqueue(wire.Pong(), 0)
	case wire.TypeSend:
		s.handleSend(f)
	case wire.TypeResume:
		s.handleResume(f)
		if first {
			s.releaseHold()
		}
	case wire.TypeTyping:
		s.call(f.Ref, func(ctx context.Context) error { return g.cfg.Chat.Typing(ctx, f.ChannelID) })
	case wire.TypeRead:
		s.call(f.Ref, func(ctx context.Context) error { return g.cfg.Chat.MarkRead(ctx, f.ChannelID, *f.Seq) })
	case wire.TypePresence:
		var st uint32
		switch f.Status {
		case wire.StatusAway:
			st = statusAway
		case wire.StatusDND:
			st = statusDND
		}
		s.status.Store(st)
		g.users.changed(s)
	case wire.TypeAuth:
		s.handleAuth(f)
	case wire.TypeToDeviceAck:
		s.handleToDeviceAck(f)
	}
}

// call runs a service call as the socket's user and answers a failure
// with an error frame.
func (s *session) call(ref string, fn func(ctx context.Context) error) {
	ctx, cancel := s.g.callCtx(s.principal())
	err := fn(ctx)
	cancel()
	if err != nil {
		s.sendError(err, ref)
	}
}

func (s *session) sendError(err error, ref string) {
	code := unhidra.ErrorCode(err)
	if code == unhidra.EInternal {
		s.g.log.LogAttrs(context.Background(), slog.LevelError, "gateway: frame failed", slog.String("user_id", s.userID), slog.Any("err", err))
	}
	s.enqueue(wire.NewError(code, unhidra.ErrorMessage(err), ref), 0)
}

// handleSend posts a message. The channel's events are held on this socket
// while the send is in flight and released after the ack is queued, so the
// ack always precedes the echo.
func (s *session) handleSend(f *wire.ClientFrame) {
	g := s.g
	sb := s.sub(f.ChannelID)
	if sb != nil {
		sb.c.mu.Lock()
		sb.sending++
		sb.c.mu.Unlock()
	}
	ctx, cancel := g.callCtx(s.principal())
	msg, _, err := g.cfg.Chat.Send(ctx, unhidra.SendInput{
		ChannelID: f.ChannelID, ClientMsgID: f.ClientMsgID, Body: f.Body, Ciphertext: f.Ciphertext,
		ThreadRootID: f.ThreadRootID, Attachments: f.Attachments,
	})
	cancel()
	if err != nil {
		s.sendError(err, f.ErrorRef())
	} else {
		s.enqueue(wire.NewAck(f.ClientMsgID, msg.ID, msg.Seq), 0)
	}
	if sb != nil {
		sb.c.mu.Lock()
		sb.sending--
		g.resumeLocked(sb)
		sb.c.mu.Unlock()
	}
}

func (s *session) handleResume(f *wire.ClientFrame) {
	for ch, pos := range f.Positions {
		if !s.g.resume(s, ch, pos) {
			s.enqueue(wire.NewError(unhidra.ENotFound, "not a channel of yours", ch), 0)
		}
	}
}

// handleAuth replaces the socket's token before it expires. The new token
// must belong to the same user; a failure leaves the current one in force.
func (s *session) handleAuth(f *wire.ClientFrame) {
	g := s.g
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.CallTimeout)
	p, err := g.cfg.Auth.Authenticate(ctx, f.AccessToken)
	cancel()
	if err != nil {
		s.sendError(err, f.Ref)
		return
	}
	if p.UserID != s.userID {
		s.sendError(unhidra.Errorf(unhidra.EPermission, "the token belongs to another user"), f.Ref)
		return
	}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.p = p
	s.armExpiryLocked()
	s.mu.Unlock()
	// A token refreshed after the client registered names it: the socket
	// starts delivering its to-device messages.
	g.bindInbox(s)
}

func (s *session) info() ConnectionInfo {
	s.mu.Lock()
	p, n, name := s.p, len(s.subs), s.username
	s.mu.Unlock()
	return ConnectionInfo{
		ID: s.id, NodeID: s.g.nodeID, UserID: s.userID, Username: name, SessionID: p.SessionID, IP: s.ip, UserAgent: s.ua, Since: s.since,
		FramesIn: s.framesIn.Load(), FramesOut: s.framesOut.Load(), Status: s.presenceKindNow().status(), Channels: n,
	}
}

// presenceKindNow is this socket's own presence, idleness included.
func (s *session) presenceKindNow() presenceKind {
	switch s.status.Load() {
	case statusDND:
		return kindDND
	case statusAway:
		return kindAway
	}
	if s.idle.Load() {
		return kindAway
	}
	return kindOnline
}
