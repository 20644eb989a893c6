package client

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/unhidra/unhidra"
)

// StreamOptions configure a Stream.
type StreamOptions struct {
	// Positions are the last event seq already seen per channel. nil
	// starts from now: the caller's channels' last_seq, read over REST at
	// the first connection, so that nothing that happens after Next is
	// first called is missed.
	Positions map[string]int64
	// Resync reloads a channel over REST when the server cannot replay its
	// gap (resync_required). from is the last event seq the stream
	// delivered; Resync returns the channel's event seq its reload covers
	// up to (typically Channel(…).LastSeq, read before the messages). With
	// nil, the stream takes the next event of the channel as it comes. The
	// resync_required frame is delivered after Resync returns either way.
	Resync func(ctx context.Context, channelID string, from int64) (int64, error)
	// MinBackoff and MaxBackoff bound the wait between reconnections
	// (defaults 250 ms and 30 s; jittered, doubling).
	MinBackoff, MaxBackoff time.Duration
	// PingInterval is the heartbeat of each connection (default 30 s;
	// negative disables).
	PingInterval time.Duration
	// Header is added to each handshake.
	Header http.Header
	// OnDisconnect, if set, is told each time the connection is lost and
	// how long the stream waits before reconnecting.
	OnDisconnect func(err error, wait time.Duration)
}

// Stream is a reconnecting subscription to the caller's channels. Next
// returns every channel event exactly once and in seq order per channel,
// across reconnections: after a disconnect it reconnects with backoff,
// resumes from the last delivered positions, drops events it already
// delivered, and when it notices a gap asks the server to replay it
// (resume on the same socket) rather than deliver out of order. Frames
// that are not channel events (hello, ack, typing, presence, read, resumed,
// resync_required, error, pong, …) are delivered as they come.
//
// Channels the user joins while disconnected are heard from the first
// event after the reconnection (their replay would need a position the
// stream never had).
//
// Next must be called from one goroutine; Conn and Positions may be called
// from any.
type Stream struct {
	c    *Client
	opts StreamOptions

	mu        sync.Mutex
	conn      *Conn
	positions map[string]int64
	started   bool

	// Next's own state.
	pending  map[string]bool // channels with a gap resume in flight
	resumed  map[string]bool // channels whose gap persisted after a resume
	attempt  int             // consecutive failed connections
	authFail bool            // the last connection was refused with 4001
}

// Stream returns a reconnecting subscription; it connects at the first Next.
func (c *Client) Stream(opts StreamOptions) *Stream {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 250 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = 30 * time.Second
	}
	s := &Stream{c: c, opts: opts, positions: map[string]int64{}, pending: map[string]bool{}, resumed: map[string]bool{}}
	if opts.Positions != nil {
		maps.Copy(s.positions, opts.Positions)
		s.started = true
	}
	return s
}

// Conn returns the current connection (for sending frames), or nil while
// the stream is reconnecting.
func (s *Stream) Conn() *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// Positions returns the last event seq delivered per channel: what a later
// Stream would resume from.
func (s *Stream) Positions() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.positions)
}

// Close closes the current connection; a later Next reconnects.
func (s *Stream) Close() error {
	s.mu.Lock()
	cn := s.conn
	s.conn = nil
	s.mu.Unlock()
	if cn == nil {
		return nil
	}
	return cn.Close()
}

// Next returns the next frame. It returns an error only when ctx ends, the
// session is over (unauthenticated after a refresh), the server forbids
// the connection, or a Resync callback fails (calling Next again retries).
func (s *Stream) Next(ctx context.Context) (*Frame, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cn := s.Conn()
		if cn == nil {
			var err error
			if cn, err = s.connect(ctx); err != nil {
				return nil, err
			}
			return cn.HelloFrame(), nil
		}
		f, err := cn.Read(ctx)
		if err != nil {
			s.drop(cn)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if IsCode(err, CodePermission) {
				return nil, err
			}
			// Unauthenticated (a token that expired unseen, a revoked
			// session) goes through connect, whose refresh decides.
			if err := s.wait(ctx, err); err != nil {
				return nil, err
			}
			continue
		}
		s.attempt = 0
		deliver, err := s.filter(ctx, cn, f)
		if err != nil {
			return nil, err
		}
		if deliver {
			return f, nil
		}
	}
}

// connect dials until a connection is up, waiting between attempts.
func (s *Stream) connect(ctx context.Context) (*Conn, error) {
	for {
		var cn *Conn
		var err error
		if !s.started {
			var chans []*unhidra.Channel
			if chans, err = s.c.Channels(ctx); err == nil {
				s.mu.Lock()
				for _, ch := range chans {
					if _, ok := s.positions[ch.ID]; !ok {
						s.positions[ch.ID] = ch.LastSeq
					}
				}
				s.started = true
				s.mu.Unlock()
			}
		}
		if s.started {
			clear(s.pending)
			cn, err = s.c.Connect(ctx, ConnectOptions{
				Positions:    s.Positions(),
				Header:       s.opts.Header,
				PingInterval: max(s.opts.PingInterval, 0),
			})
		}
		if err == nil {
			s.mu.Lock()
			s.conn = cn
			s.mu.Unlock()
			return cn, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// Connect already refreshed once on 4001; a second refusal in a
		// row means the session is over.
		if isFatal(err) || (IsCode(err, CodeUnauthenticated) && s.authFail) {
			return nil, err
		}
		s.authFail = IsCode(err, CodeUnauthenticated)
		if err := s.wait(ctx, err); err != nil {
			return nil, err
		}
	}
}

// isFatal reports errors that reconnecting cannot cure.
func isFatal(err error) bool {
	return IsCode(err, CodePermission) || (IsCode(err, CodeUnauthenticated) && !isClose(err))
}

func isClose(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.CloseCode != 0
}

// wait sleeps the backoff for the next attempt.
func (s *Stream) wait(ctx context.Context, cause error) error {
	s.attempt++
	d := s.opts.MinBackoff << min(s.attempt-1, 16)
	if d > s.opts.MaxBackoff || d <= 0 {
		d = s.opts.MaxBackoff
	}
	var e *Error
	if errors.As(cause, &e) && e.RetryAfter > d {
		d = min(e.RetryAfter, 5*s.opts.MaxBackoff)
	}
	// Full jitter in [d/2, d): many clients cut off by one restart do not
	// come back in lockstep.
	d = d/2 + rand.N(d/2+1)
	if s.opts.OnDisconnect != nil {
		s.opts.OnDisconnect(cause, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// drop forgets a failed connection.
func (s *Stream) drop(cn *Conn) {
	s.mu.Lock()
	if s.conn == cn {
		s.conn = nil
	}
	s.mu.Unlock()
	cn.CloseNow()
}

// filter decides whether f is delivered, keeping positions, and asks for a
// replay when a channel's events skip a seq.
func (s *Stream) filter(ctx context.Context, cn *Conn, f *Frame) (bool, error) {
	switch {
	case f.IsChannelEvent() && f.ChannelID != "" && f.Seq > 0:
		ch := f.ChannelID
		s.mu.Lock()
		pos, known := s.positions[ch]
		s.mu.Unlock()
		switch {
		case known && f.Seq <= pos:
			return false, nil // already delivered (replay overlap)
		case known && f.Seq > pos+1 && !s.resumed[ch]:
			// A gap: ask for it once; until the resumed frame the later
			// events come again, in order, from the replay.
			if !s.pending[ch] {
				s.pending[ch] = true
				if err := cn.Resume(ctx, map[string]int64{ch: pos}); err != nil {
					s.drop(cn) // reconnecting resumes every channel anyway
				}
			}
			return false, nil
		}
		// In order, or a channel first heard of, or a gap the server
		// could not fill (accepted rather than stall the channel).
		delete(s.resumed, ch)
		s.mu.Lock()
		s.positions[ch] = f.Seq
		if f.Type == FrameMemberLeft && s.isMe(cn, f) {
			// No events come after our own departure; a later rejoin
			// starts from its own member_joined.
			delete(s.positions, ch)
		}
		s.mu.Unlock()
		return true, nil
	case f.Type == FrameResumed:
		var r Resumed
		if f.Decode(&r) == nil && r.ChannelID != "" {
			s.mu.Lock()
			pos := s.positions[r.ChannelID]
			s.mu.Unlock()
			if s.pending[r.ChannelID] && pos < r.To {
				// The replay did not close the gap: take the next events
				// as they come rather than ask forever.
				s.resumed[r.ChannelID] = true
			}
			delete(s.pending, r.ChannelID)
		}
		return true, nil
	case f.Type == FrameResyncRequired:
		var r ResyncRequired
		if f.Decode(&r) != nil || r.ChannelID == "" {
			return true, nil
		}
		delete(s.pending, r.ChannelID)
		s.mu.Lock()
		from := s.positions[r.ChannelID]
		s.mu.Unlock()
		if s.opts.Resync == nil {
			s.mu.Lock()
			delete(s.positions, r.ChannelID)
			s.mu.Unlock()
			return true, nil
		}
		to, err := s.opts.Resync(ctx, r.ChannelID, from)
		if err != nil {
			// Positions are unchanged: the next gap asks again.
			return false, err
		}
		s.mu.Lock()
		if to > s.positions[r.ChannelID] {
			s.positions[r.ChannelID] = to
		}
		s.mu.Unlock()
		delete(s.resumed, r.ChannelID)
		return true, nil
	}
	return true, nil
}

// isMe reports whether a member frame is about the connection's own user.
func (s *Stream) isMe(cn *Conn, f *Frame) bool {
	h := cn.Hello()
	if h.User == nil {
		return false
	}
	var m MemberFrame
	return f.Decode(&m) == nil && m.UserID == h.User.ID
}
