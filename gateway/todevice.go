package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/wire"
)

// Inbox is the to-device inbox (keys.Service implements it). A socket
// delivers the messages of the client install its access token names
// (unhidra.Principal.ClientID).
type Inbox interface {
	// PendingToDevice reads a client's unacknowledged messages for the
	// node, not for a caller: those of ids when ids is not nil, else up to
	// limit with ids above after, ascending by id.
	PendingToDevice(ctx context.Context, userID, clientID string, ids []string, after string, limit int) ([]*unhidra.ToDeviceMessage, error)
	// AckToDevice deletes messages of the caller's client clientID (caller
	// from ctx) and returns how many it deleted.
	AckToDevice(ctx context.Context, clientID string, ids []string) (int, error)
}

// inbox is one socket's delivery of to-device messages: at least once,
// until the client acknowledges. On connect (and when an auth frame binds
// the socket to another client) the socket replays its client's waiting
// messages a page at a time: a page is read when fewer than window
// messages are out unacknowledged, and holds at most a quarter of the
// send queue's bytes, so a full inbox never overflows a socket. Live
// messages (a ControlToDevice notice) are read by id once per node and
// sent to every socket of the client, within the same byte budget; what
// does not fit waits for the replay. An id already sent and not yet
// acknowledged on this socket is not sent again by it; another socket, or
// a reconnect, sends it again, so clients drop repeats by id.
type inbox struct {
	mu      sync.Mutex
	client  string          // the client whose messages this socket delivers; "" for none
	gen     int             // bumped when client changes, to drop reads for the previous one
	sent    map[string]bool // ids sent and not acknowledged
	cursor  string          // the replay has read every id up to here
	more    bool            // the replay may have more to read
	reading bool            // a replay read is running
}

// inboxWindow is how many messages a socket has out unacknowledged before
// its replay waits for acks; inboxPage is what one replay read asks for.
const (
	inboxWindow = 64
	inboxPage   = 64
	inboxRetry  = 2 * time.Second // after a failed replay read
)

// bindInbox starts delivery for the socket's current client, if it has one
// and it is not the one delivered already.
func (g *Gateway) bindInbox(s *session) {
	if g.cfg.Inbox == nil {
		return
	}
	client := s.principal().ClientID
	in := &s.inbox
	in.mu.Lock()
	if in.client == client {
		in.mu.Unlock()
		return
	}
	in.client, in.gen = client, in.gen+1
	in.sent, in.cursor, in.more = map[string]bool{}, "", client != ""
	in.mu.Unlock()
	g.pullInbox(s)
}

// pullInbox reads the socket's next replay page, unless one is being read,
// the replay is done or the window is full.
func (g *Gateway) pullInbox(s *session) {
	in := &s.inbox
	in.mu.Lock()
	if in.reading || !in.more || in.client == "" || len(in.sent) >= inboxWindow {
		in.mu.Unlock()
		return
	}
	in.reading = true
	client, gen, after := in.client, in.gen, in.cursor
	in.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(g.ctx, g.cfg.CallTimeout)
		msgs, err := g.cfg.Inbox.PendingToDevice(ctx, s.userID, client, nil, after, inboxPage)
		cancel()
		in.mu.Lock()
		in.reading = false
		if in.gen != gen {
			in.mu.Unlock()
			g.pullInbox(s) // the socket changed client meanwhile
			return
		}
		if err != nil {
			in.mu.Unlock()
			if g.ctx.Err() == nil && !s.isClosing() {
				g.log.LogAttrs(g.ctx, slog.LevelWarn, "gateway: to-device replay read failed; retrying", slog.String("user_id", s.userID), slog.Any("err", err))
				time.AfterFunc(inboxRetry, func() { g.pullInbox(s) })
			}
			return
		}
		frames, last, cut := g.takeLocked(in, msgs)
		if last != "" {
			in.cursor = last
		}
		in.more = cut || len(msgs) == inboxPage
		again := in.more && len(in.sent) < inboxWindow
		in.mu.Unlock()
		for _, f := range frames {
			s.enqueue(f, 0)
		}
		if again && !s.isClosing() {
			g.pullInbox(s)
		}
	}()
}

// takeLocked picks, in order, the messages of msgs not yet sent on the
// socket, within the byte budget of one delivery, and marks them sent. It
// returns their frames, the id of the last message it went through (sent
// or skipped as sent already) and whether the budget cut the list short.
func (g *Gateway) takeLocked(in *inbox, msgs []*unhidra.ToDeviceMessage) (frames [][]byte, last string, cut bool) {
	budget := g.cfg.QueueBytes / 4
	for _, m := range msgs {
		if in.sent[m.ID] {
			last = m.ID
			continue
		}
		f := wire.NewToDevice(m.ID, m.FromUser, m.FromClient, m.Ciphertext)
		if len(frames) > 0 && len(f) > budget {
			return frames, last, true
		}
		budget -= len(f)
		in.sent[m.ID] = true
		frames = append(frames, f)
		last = m.ID
	}
	return frames, last, false
}

// deliverToDevice sends the messages of a ControlToDevice notice to this
// node's sockets of the client: one read of the store for all of them.
func (g *Gateway) deliverToDevice(userID string, m wire.Control) {
	if g.cfg.Inbox == nil {
		return
	}
	var targets []*session
	for _, s := range g.users.sessionsOf(userID) {
		s.inbox.mu.Lock()
		if s.inbox.client == m.ClientID {
			targets = append(targets, s)
		}
		s.inbox.mu.Unlock()
	}
	if len(targets) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(g.ctx, g.cfg.CallTimeout)
		msgs, err := g.cfg.Inbox.PendingToDevice(ctx, userID, m.ClientID, m.IDs, "", len(m.IDs))
		cancel()
		if err != nil {
			g.log.LogAttrs(g.ctx, slog.LevelWarn, "gateway: to-device read failed; the messages wait for the next connect",
				slog.String("user_id", userID), slog.Any("err", err))
			return
		}
		for _, s := range targets {
			in := &s.inbox
			in.mu.Lock()
			if in.client != m.ClientID {
				in.mu.Unlock()
				continue
			}
			frames, _, cut := g.takeLocked(in, msgs)
			if cut {
				in.more = true // the rest comes with the replay, after acks
			}
			in.mu.Unlock()
			for _, f := range frames {
				s.enqueue(f, 0)
			}
		}
	}()
}

// handleToDeviceAck acknowledges messages of the socket's client: the
// service deletes them, and the replay goes on if it was waiting for room.
func (s *session) handleToDeviceAck(f *wire.ClientFrame) {
	g := s.g
	if g.cfg.Inbox == nil || len(f.IDs) == 0 {
		return
	}
	s.inbox.mu.Lock()
	client := s.inbox.client
	s.inbox.mu.Unlock()
	if client == "" {
		s.sendError(unhidra.Errorf(unhidra.EInvalid, "this socket's access token is bound to no client: register the client and send a fresh token (auth)"), f.Ref)
		return
	}
	ctx, cancel := g.callCtx(s.principal())
	_, err := g.cfg.Inbox.AckToDevice(ctx, client, f.IDs)
	cancel()
	if err != nil {
		s.sendError(err, f.Ref)
		return
	}
	s.inbox.mu.Lock()
	if s.inbox.client == client {
		for _, id := range f.IDs {
			delete(s.inbox.sent, id)
		}
	}
	s.inbox.mu.Unlock()
	g.pullInbox(s)
}
