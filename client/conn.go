package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/wire"
)

// Subprotocol is the WebSocket subprotocol of API v1.
const Subprotocol = wire.Subprotocol

// Close codes the server uses (API.md "Errors and limits").
const (
	CloseUnauthenticated = wire.CloseUnauthenticated // missing, invalid or expired token; session revoked
	CloseForbidden       = wire.CloseForbidden
	CloseRateLimited     = wire.CloseRateLimited
	CloseTooSlow         = wire.CloseTooSlow // the client fell behind: reconnect and resume
	CloseGoingAway       = wire.CloseGoingAway
)

// ConnectOptions configure a WebSocket connection.
type ConnectOptions struct {
	// Positions, when not empty, are sent in a resume frame as the first
	// client frame: the server replays each channel's events after its
	// position before any live event of that channel. When empty, Connect
	// sends a ping instead, which ends the server's hold of live events
	// (it holds them until the first client frame or for 2 s).
	Positions map[string]int64
	// Header is added to the handshake request (e.g. Origin).
	Header http.Header
	// ReadLimit bounds one frame in bytes (default 4 MiB).
	ReadLimit int64
	// PingInterval, when positive, sends a WebSocket ping that often and
	// closes the connection when no pong comes back within the interval,
	// so a dead network path is noticed. It needs a reader running (Read
	// in a loop), as Stream does.
	PingInterval time.Duration
}

// Conn is a WebSocket connection to /api/v1/ws. Read must be called from
// one goroutine at a time; the write methods are safe to call concurrently
// with Read and with each other.
//
// While the client holds a refresh token, the Conn keeps itself
// authenticated: shortly before its access token expires it obtains a fresh
// one (refreshing the session if needed) and sends it in an auth frame,
// since the server closes the socket with 4001 at expiry otherwise.
type Conn struct {
	c     *Client
	ws    *websocket.Conn
	hello Hello
	raw   json.RawMessage // the hello frame as received

	stop context.CancelFunc // ends the background goroutines
	wg   sync.WaitGroup

	mu        sync.Mutex
	positions map[string]int64
}

// wsURL is the WebSocket URL of the gateway.
func (c *Client) wsURL(path string) string {
	switch {
	case strings.HasPrefix(c.base, "https://"):
		return "wss://" + strings.TrimPrefix(c.base, "https://") + path
	default:
		return "ws://" + strings.TrimPrefix(c.base, "http://") + path
	}
}

// Connect opens a WebSocket and waits for the server's hello. A token
// refused by the server (close 4001) gets one refresh and one retry, like a
// REST call. The returned errors are *Error for refusals by the server.
func (c *Client) Connect(ctx context.Context, opts ConnectOptions) (*Conn, error) {
	tok, err := c.AccessToken(ctx)
	if err != nil {
		return nil, err
	}
	cn, err := c.connect(ctx, tok, opts)
	if IsCode(err, CodeUnauthenticated) && c.Tokens().RefreshToken != "" {
		if rerr := c.refresh(ctx, tok); rerr != nil {
			if IsCode(rerr, CodeUnauthenticated) {
				return nil, err
			}
			return nil, rerr
		}
		cn, err = c.connect(ctx, c.Tokens().AccessToken, opts)
	}
	return cn, err
}

func (c *Client) connect(ctx context.Context, tok string, opts ConnectOptions) (*Conn, error) {
	header := http.Header{"User-Agent": {c.userAgent}}
	for k, v := range opts.Header {
		header[k] = v
	}
	ws, resp, err := websocket.Dial(ctx, c.wsURL("/api/v1/ws"), &websocket.DialOptions{
		HTTPClient:   c.hc,
		HTTPHeader:   header,
		Subprotocols: []string{Subprotocol, wire.BearerPrefix + tok},
	})
	if err != nil {
		if resp != nil && resp.StatusCode >= 300 {
			return nil, decodeError(resp)
		}
		// The dial error may quote the request, never the subprotocol header.
		return nil, fmt.Errorf("connect: %w", err)
	}
	if ws.Subprotocol() != Subprotocol {
		ws.Close(websocket.StatusProtocolError, "")
		return nil, fmt.Errorf("connect: server chose subprotocol %q, want %q", ws.Subprotocol(), Subprotocol)
	}
	limit := opts.ReadLimit
	if limit <= 0 {
		limit = 4 << 20
	}
	ws.SetReadLimit(limit)

	cn := &Conn{c: c, ws: ws, positions: map[string]int64{}}
	maps.Copy(cn.positions, opts.Positions)
	// The hello comes first; a refused token shows up here as close 4001.
	hctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	f, err := cn.Read(hctx)
	cancel()
	if err != nil {
		ws.CloseNow()
		return nil, err
	}
	if f.Type != FrameHello {
		ws.CloseNow()
		return nil, fmt.Errorf("connect: first frame is %q, want hello", f.Type)
	}
	if err := f.Decode(&cn.hello); err != nil {
		ws.CloseNow()
		return nil, err
	}
	cn.raw = f.Raw
	if len(opts.Positions) > 0 {
		err = cn.Resume(ctx, opts.Positions)
	} else {
		err = cn.Ping(ctx)
	}
	if err != nil {
		ws.CloseNow()
		return nil, err
	}

	bg, stop := context.WithCancel(context.Background())
	cn.stop = stop
	if c.Tokens().RefreshToken != "" {
		cn.wg.Go(func() { cn.keepAuthenticated(bg, tok) })
	}
	if opts.PingInterval > 0 {
		cn.wg.Go(func() { cn.heartbeat(bg, opts.PingInterval) })
	}
	return cn, nil
}

// Hello returns the hello frame's payload.
func (cn *Conn) Hello() Hello { return cn.hello }

// HelloFrame returns the hello frame as a Frame.
func (cn *Conn) HelloFrame() *Frame { return &Frame{Type: FrameHello, Raw: cn.raw} }

// Read returns the next frame. Cancelling ctx closes the connection (the
// WebSocket library cannot abandon a read half-way). A close by the server
// comes back as an *Error with CloseCode set.
func (cn *Conn) Read(ctx context.Context) (*Frame, error) {
	for {
		typ, b, err := cn.ws.Read(ctx)
		if err != nil {
			// The connection is over: nothing left to keep alive.
			if cn.stop != nil {
				cn.stop()
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, closeError(err)
		}
		if typ != websocket.MessageText {
			continue // the protocol is text frames only; ignore anything else
		}
		f, err := ParseFrame(b)
		if err != nil {
			return nil, err
		}
		if f.IsChannelEvent() && f.ChannelID != "" && f.Seq > 0 {
			cn.mu.Lock()
			if f.Seq > cn.positions[f.ChannelID] {
				cn.positions[f.ChannelID] = f.Seq
			}
			cn.mu.Unlock()
		}
		return f, nil
	}
}

// closeError turns a WebSocket close into an *Error carrying its code.
func closeError(err error) error {
	var ce websocket.CloseError
	if !errors.As(err, &ce) {
		return fmt.Errorf("websocket: %w", err)
	}
	e := &Error{CloseCode: int(ce.Code), Message: ce.Reason}
	switch ce.Code {
	case CloseUnauthenticated:
		e.Code = CodeUnauthenticated
	case CloseForbidden:
		e.Code = CodePermission
	case CloseRateLimited:
		e.Code = CodeRateLimited
	default:
		e.Code = CodeUnavailable
	}
	return e
}

// Positions returns the last event seq seen per channel on this socket
// (starting from the positions it was opened with).
func (cn *Conn) Positions() map[string]int64 {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return maps.Clone(cn.positions)
}

// Close closes the connection normally.
func (cn *Conn) Close() error {
	if cn.stop != nil {
		cn.stop()
	}
	err := cn.ws.Close(websocket.StatusNormalClosure, "")
	cn.wg.Wait()
	return err
}

// CloseNow closes the connection without the closing handshake.
func (cn *Conn) CloseNow() error {
	if cn.stop != nil {
		cn.stop()
	}
	err := cn.ws.CloseNow()
	cn.wg.Wait()
	return err
}

// write sends one client frame.
func (cn *Conn) write(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := cn.ws.Write(ctx, websocket.MessageText, b); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return closeError(err)
	}
	return nil
}

// WriteFrame sends an arbitrary client frame (a JSON object with "type").
func (cn *Conn) WriteFrame(ctx context.Context, frame any) error { return cn.write(ctx, frame) }

// Send posts a message over the socket. An empty ClientMsgID is filled in
// (and kept in in, so a retry is stored once). The server answers with an
// ack frame carrying the same client_msg_id, or an error frame whose ref is
// it.
func (cn *Conn) Send(ctx context.Context, in *unhidra.SendInput) error {
	if in.ClientMsgID == "" {
		in.ClientMsgID = NewClientMsgID()
	}
	return cn.write(ctx, &wire.ClientFrame{Type: wire.TypeSend, ClientMsgID: in.ClientMsgID, ChannelID: in.ChannelID,
		Body: in.Body, Ciphertext: in.Ciphertext, ThreadRootID: in.ThreadRootID, Attachments: in.Attachments})
}

// Typing says the caller is typing in a channel.
func (cn *Conn) Typing(ctx context.Context, channelID string) error {
	return cn.write(ctx, &wire.ClientFrame{Type: wire.TypeTyping, ChannelID: channelID})
}

// MarkRead sets the caller's read position (a read receipt).
func (cn *Conn) MarkRead(ctx context.Context, channelID string, seq int64) error {
	return cn.write(ctx, &wire.ClientFrame{Type: wire.TypeRead, ChannelID: channelID, Seq: &seq})
}

// SetPresence sets the caller's presence: "online", "away" or "dnd".
func (cn *Conn) SetPresence(ctx context.Context, status string) error {
	return cn.write(ctx, &wire.ClientFrame{Type: wire.TypePresence, Status: status})
}

// Resume asks for the events of each channel after its position; each
// channel's replay ends with a resumed frame (or resync_required).
func (cn *Conn) Resume(ctx context.Context, positions map[string]int64) error {
	if positions == nil {
		positions = map[string]int64{}
	}
	return cn.write(ctx, &wire.ClientFrame{Type: wire.TypeResume, Positions: positions})
}

// Auth presents a fresh access token for this socket.
func (cn *Conn) Auth(ctx context.Context, accessToken string) error {
	return cn.write(ctx, &wire.ClientFrame{Type: wire.TypeAuth, AccessToken: accessToken})
}

// Ping sends an application ping; the server answers pong.
func (cn *Conn) Ping(ctx context.Context) error {
	return cn.write(ctx, &wire.ClientFrame{Type: wire.TypePing})
}

// AckToDevice acknowledges to_device messages, which the server then drops.
func (cn *Conn) AckToDevice(ctx context.Context, ids []string) error {
	if ids == nil {
		ids = []string{}
	}
	return cn.write(ctx, &wire.ClientFrame{Type: wire.TypeToDeviceAck, IDs: ids})
}

// keepAuthenticated sends an auth frame with a fresh token before the
// socket's token expires, for as long as the connection lives.
func (cn *Conn) keepAuthenticated(ctx context.Context, tok string) {
	c := cn.c
	exp := tokenExpiry(tok)
	if exp.IsZero() {
		exp = c.Tokens().ExpiresAt
	}
	for {
		if exp.IsZero() {
			return // nothing to schedule on
		}
		wait := exp.Sub(c.now()) - c.margin(Tokens{AccessToken: tok})
		t := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		next, err := c.AccessToken(ctx)
		if err == nil && next == tok {
			// The client's token is still the socket's one and not yet
			// stale by its clock: refresh explicitly.
			err = c.refresh(ctx, tok)
			next = c.Tokens().AccessToken
		}
		if err == nil {
			err = cn.Auth(ctx, next)
		}
		if err != nil {
			if ctx.Err() != nil || IsCode(err, CodeUnauthenticated) {
				return // closed, or the session is over: the server will close at expiry
			}
			// A transient failure: try again a little later, until expiry.
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
			continue
		}
		tok = next
		if exp = tokenExpiry(tok); exp.IsZero() {
			exp = c.Tokens().ExpiresAt
		}
	}
}

// heartbeat pings the server at every interval and closes the connection
// when a pong does not come back in time, so that Read fails and the
// caller reconnects instead of waiting on a dead path forever.
func (cn *Conn) heartbeat(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, every)
		err := cn.ws.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				cn.ws.CloseNow()
			}
			return
		}
	}
}
