package wsconn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// Gobwas is the Engine built on github.com/gobwas/ws, the low-level frame
// codec: the engine owns the socket and does its own framing, so a write is
// one mutex, one deadline and one system call, with no goroutine handoffs
// and no per-message machinery.
//
// Like Coder it spends one goroutine per connection, parked in a read, and
// runs keepalive on a runtime timer (with no goroutine at all while a ping
// waits for its pong). An idle connection holds a 512-byte read buffer and
// no write buffer: writes borrow one from a pool for the length of the call.
//
// Use it by pointer (&Gobwas{}); the zero value is ready.
type Gobwas struct {
	// bufs holds *frameBuf: write buffers live in the pool, not on idle
	// connections, so their number follows concurrent writes, not sockets.
	bufs sync.Pool
}

var _ Engine = (*Gobwas)(nil)

const (
	// readBufSize is the per-connection read buffer. It must hold a whole
	// control frame (125 bytes) so control payloads are read in place; most
	// client frames fit too and are handed to OnMessage without a copy.
	readBufSize = 512
	// closeTimeout bounds writing a close frame, and then waiting for the
	// peer's; controlTimeout bounds writing a pong. Both as coder/websocket.
	closeTimeout   = 5 * time.Second
	controlTimeout = 5 * time.Second
	// handshakeTimeout bounds writing the 101 response.
	handshakeTimeout = 10 * time.Second
	// maxPooledBuf: a write buffer grown past this by an unusual batch is
	// left to the garbage collector rather than kept in the pool.
	maxPooledBuf = 256 << 10
)

// errCloseSent: no frame may follow the close frame we sent.
var errCloseSent = fmt.Errorf("wsconn: close frame already sent: %w", net.ErrClosed)

// Upgrade implements Engine.
func (e *Gobwas) Upgrade(w http.ResponseWriter, r *http.Request, opts Options) (Conn, error) {
	// Check the request before hijacking, as coder/websocket does, so a bad
	// handshake is answered through w (and seen by logging middleware)
	// with the same statuses the Coder engine gives.
	if code, err := verifyClientRequest(w, r); err != nil {
		http.Error(w, err.Error(), code)
		return nil, err
	}
	u := ws.HTTPUpgrader{Timeout: handshakeTimeout}
	// The subprotocol is chosen here rather than with u.Protocol: gobwas
	// rejects the whole handshake when any offered protocol is not a strict
	// RFC 2616 token, and the client offers its access token as one.
	if p := selectSubprotocol(r, opts.Subprotocol); p != "" {
		u.Header = http.Header{"Sec-WebSocket-Protocol": {p}}
	}
	// No Negotiate: compression is never accepted.
	conn, rw, _, err := u.Upgrade(r, w) // hijacks through http.NewResponseController
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, err
	}
	// Drop net/http's 4 KiB buffers; keep whatever the client sent after
	// its request (a frame may already be there) ahead of the socket.
	var src io.Reader = conn
	if n := rw.Reader.Buffered(); n > 0 {
		pre, _ := rw.Reader.Peek(n)
		src = io.MultiReader(bytes.NewReader(bytes.Clone(pre)), conn)
	}
	limit := opts.ReadLimit
	if limit <= 0 {
		limit = defaultReadLimit
	}
	return &gobwasConn{
		e:     e,
		conn:  conn,
		br:    bufio.NewReaderSize(src, readBufSize),
		limit: limit,
		opts:  opts,
	}, nil
}

type gobwasConn struct {
	e     *Gobwas
	conn  net.Conn
	limit int64
	opts  Options

	// mu serializes every write on the socket: data, pings, pongs, close.
	mu        sync.Mutex
	closeSent bool // guarded by mu

	// rmu is held by whoever reads the socket: the read loop, or Close
	// waiting for the peer's close frame when no read loop runs (a socket
	// refused before Start, or closed before Start was called).
	rmu sync.Mutex
	br  *bufio.Reader              // guarded by rmu
	hdr [ws.MaxHeaderSize - 2]byte // header scratch, guarded by rmu
	// peerClose is the peer's close frame when Close's drain read it
	// (guarded by rmu).
	peerClose *CloseError

	closing  atomic.Bool // Close was called, or the reader failed the connection
	closed   atomic.Bool // the TCP connection is closed
	awaiting atomic.Bool // a ping is out and no pong has come back
	timedOut atomic.Bool
	timer    *time.Timer // keepalive
}

func (c *gobwasConn) Start(h Handler) {
	if c.opts.PingInterval > 0 {
		c.timer = time.AfterFunc(c.opts.PingInterval, c.keepalive)
	}
	go c.readLoop(h)
}

func (c *gobwasConn) readLoop(h Handler) {
	// Waits only if Close is already draining the socket (bounded).
	c.rmu.Lock()
	var err error
	if c.closed.Load() {
		// Close's drain ran first and ended the connection; what is left
		// in the read buffer is not at a frame boundary.
		err = net.ErrClosed
		if c.peerClose != nil {
			err = c.peerClose
		}
	} else {
		err = c.readMessages(h)
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	var ce *CloseError
	switch {
	case errors.As(err, &ce):
		// The close handshake is complete, whoever began it.
		c.closeConn()
	case errors.Is(err, ErrBinary), errors.Is(err, ErrTooBig):
		// Close(1003) is running its handshake; or 1009 was sent and the
		// socket closed.
	case c.timedOut.Load():
		err = ErrTimeout
	}
	// Release the socket whatever ended the loop, unless a Close of ours
	// is running its (bounded) close handshake: it reads the peer's close
	// frame once we let go of the reader.
	if !c.closing.Load() {
		c.closeConn()
	}
	c.rmu.Unlock()
	h.OnClose(err)
}

// readMessages reads frames until the connection ends, delivering each text
// message to h. It returns why it ended.
func (c *gobwasConn) readMessages(h Handler) error {
	var msg []byte // a message being reassembled from fragments, or a big one
	fragmented := false
	for {
		hd, err := ws.ReadHeaderBuffer(c.br, c.hdr[:])
		if err != nil {
			return err
		}
		state := ws.StateServerSide // clients must mask
		if fragmented {
			state = state.Set(ws.StateFragmented)
		}
		if err := ws.CheckHeader(hd, state); err != nil {
			c.fail(ws.StatusProtocolError, err.Error())
			return err
		}
		if hd.OpCode.IsControl() {
			if err := c.control(hd); err != nil {
				return err
			}
			continue
		}
		if int64(len(msg))+hd.Length > c.limit {
			c.fail(ws.StatusMessageTooBig, fmt.Sprintf("read limited at %d bytes", c.limit))
			return ErrTooBig
		}
		if hd.OpCode == ws.OpBinary {
			// Skip the payload so the close handshake reads from a frame
			// boundary.
			if _, err := c.br.Discard(int(hd.Length)); err != nil {
				return err
			}
			c.Close(1003, "text frames only")
			return ErrBinary
		}
		n := int(hd.Length)
		if !fragmented && hd.Fin && n <= c.br.Size() {
			// A whole message that fits in the read buffer: unmask it in
			// place and hand it over without copying (data is valid only
			// during OnMessage).
			p, err := c.br.Peek(n)
			if err != nil {
				return err
			}
			ws.Cipher(p, hd.Mask, 0)
			h.OnMessage(p)
			c.br.Discard(n)
			continue
		}
		off := len(msg)
		msg = slices.Grow(msg, n)[:off+n]
		if _, err := io.ReadFull(c.br, msg[off:]); err != nil {
			return err
		}
		ws.Cipher(msg[off:], hd.Mask, 0)
		if !hd.Fin {
			fragmented = true
			continue
		}
		fragmented = false
		h.OnMessage(msg)
		msg = nil // no buffer kept while idle
	}
}

// control handles a ping, pong or close frame (CheckHeader has bounded its
// payload to 125 bytes, which the read buffer holds).
func (c *gobwasConn) control(hd ws.Header) error {
	n := int(hd.Length)
	p, err := c.br.Peek(n)
	if err != nil {
		return err
	}
	ws.Cipher(p, hd.Mask, 0)
	defer c.br.Discard(n)
	switch hd.OpCode {
	case ws.OpPing:
		// After our close frame no pong may follow; keep reading for the
		// peer's close.
		if err := c.writeControl(ws.OpPong, p, controlTimeout); err != nil && !errors.Is(err, errCloseSent) {
			return err
		}
	case ws.OpPong:
		if c.awaiting.CompareAndSwap(true, false) && c.timer != nil {
			c.timer.Reset(c.opts.PingInterval)
		}
	case ws.OpClose:
		ce, err := parseClose(p)
		if err != nil {
			c.fail(ws.StatusProtocolError, err.Error())
			return err
		}
		// Echo the close unless ours went first (then this is the answer).
		// A close frame without a code (1005) is echoed without one.
		_ = c.writeControl(ws.OpClose, p, closeTimeout)
		return ce
	}
	return nil
}

// fail ends the connection for a protocol violation: a close frame with
// code, then the TCP connection at once.
func (c *gobwasConn) fail(code ws.StatusCode, reason string) {
	c.closing.Store(true)
	_ = c.writeControl(ws.OpClose, closeBody(code, reason), closeTimeout)
	c.closeConn()
}

func (c *gobwasConn) keepalive() {
	if c.closing.Load() || c.closed.Load() {
		return
	}
	if c.awaiting.Load() {
		// No pong within PongTimeout.
		c.timedOut.Store(true)
		c.closeConn()
		return
	}
	timeout := c.opts.PongTimeout
	if timeout <= 0 {
		timeout = c.opts.PingInterval
	}
	c.awaiting.Store(true)
	if err := c.writeControl(ws.OpPing, nil, timeout); err != nil {
		if !c.closing.Load() {
			c.timedOut.Store(true)
			c.closeConn()
		}
		return
	}
	// A pong may already have re-armed the timer for the next ping; this
	// then only brings that ping forward, which is harmless.
	c.timer.Reset(timeout)
}

func (c *gobwasConn) Write(ctx context.Context, frames [][]byte) error {
	if len(frames) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		c.closeConn()
		return err
	}
	fb := c.e.getBuf()
	n := 0
	for _, f := range frames {
		n += ws.HeaderSize(ws.Header{Length: int64(len(f))}) + len(f)
	}
	fb.b = slices.Grow(fb.b[:0], n)
	for _, f := range frames {
		fb.frame(ws.OpText, f)
	}
	deadline, hasDeadline := ctx.Deadline()
	c.mu.Lock()
	if c.closeSent {
		// Our close frame is out and its handshake is running: refuse
		// without cutting it short.
		c.mu.Unlock()
		c.e.putBuf(fb)
		return errCloseSent
	}
	c.conn.SetWriteDeadline(deadline) // zero: none
	var stop func() bool
	if !hasDeadline && ctx.Done() != nil {
		// Only for a cancellable context without a deadline (the gateway
		// always gives one, so this costs it nothing).
		stop = context.AfterFunc(ctx, func() { c.conn.SetWriteDeadline(time.Unix(1, 0)) })
	}
	_, err := c.conn.Write(fb.b)
	if stop != nil {
		stop()
	}
	c.mu.Unlock()
	c.e.putBuf(fb)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		c.closeConn()
	}
	return err
}

// writeControl writes one control frame, serialized with data writes.
func (c *gobwasConn) writeControl(op ws.OpCode, p []byte, timeout time.Duration) error {
	fb := c.e.getBuf()
	fb.frame(op, p)
	c.mu.Lock()
	var err error
	if c.closeSent {
		err = errCloseSent
	} else {
		c.closeSent = op == ws.OpClose
		c.conn.SetWriteDeadline(time.Now().Add(timeout))
		_, err = c.conn.Write(fb.b)
	}
	c.mu.Unlock()
	c.e.putBuf(fb)
	return err
}

func (c *gobwasConn) Close(code int, reason string) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	if len(reason) > 120 {
		reason = reason[:120]
	}
	// Writing may wait behind a Write and the handshake waits for the
	// peer: never on the caller's goroutine.
	go c.closeHandshake(code, reason)
}

func (c *gobwasConn) closeHandshake(code int, reason string) {
	if !validWireCloseCode(code) {
		code, reason = int(ws.StatusInternalServerError), ""
	}
	if err := c.writeControl(ws.OpClose, closeBody(ws.StatusCode(code), reason), closeTimeout); err != nil {
		c.closeConn()
		return
	}
	// Wait (bounded) for the peer's close frame. The read deadline wakes
	// whoever reads; the timer covers a read loop held up in OnMessage.
	c.conn.SetReadDeadline(time.Now().Add(closeTimeout))
	t := time.AfterFunc(closeTimeout, c.closeConn)
	defer t.Stop()
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.closed.Load() {
		// The read loop saw the peer's close, or the socket failed.
		return
	}
	// No read loop (yet): read and drop frames until the peer's close,
	// and keep it for a read loop started later to report.
	for {
		hd, err := ws.ReadHeaderBuffer(c.br, c.hdr[:])
		if err != nil {
			break
		}
		if hd.OpCode == ws.OpClose && hd.Length <= ws.MaxControlFramePayloadSize {
			if p, err := c.br.Peek(int(hd.Length)); err == nil {
				ws.Cipher(p, hd.Mask, 0)
				c.peerClose, _ = parseClose(p)
			}
			break
		}
		if _, err := c.br.Discard(int(hd.Length)); err != nil {
			break
		}
	}
	c.closeConn()
}

func (c *gobwasConn) closeConn() {
	if c.closed.CompareAndSwap(false, true) {
		c.conn.Close()
	}
}

// frameBuf is a pooled write buffer; it is its own io.Writer so gobwas can
// encode headers straight into it without allocating.
type frameBuf struct {
	b   []byte
	hdr [ws.MaxHeaderSize]byte
}

func (f *frameBuf) Write(p []byte) (int, error) {
	f.b = append(f.b, p...)
	return len(p), nil
}

// frame appends one unmasked, final frame.
func (f *frameBuf) frame(op ws.OpCode, p []byte) {
	_ = ws.WriteHeaderBuffer(f, ws.Header{Fin: true, OpCode: op, Length: int64(len(p))}, f.hdr[:])
	f.b = append(f.b, p...)
}

func (e *Gobwas) getBuf() *frameBuf {
	if fb, ok := e.bufs.Get().(*frameBuf); ok {
		return fb
	}
	return new(frameBuf)
}

func (e *Gobwas) putBuf(fb *frameBuf) {
	if cap(fb.b) > maxPooledBuf {
		return
	}
	fb.b = fb.b[:0]
	e.bufs.Put(fb)
}

func closeBody(code ws.StatusCode, reason string) []byte {
	p := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(p, uint16(code))
	return append(p, reason...)
}

// parseClose reads a close frame's payload as coder/websocket does: no
// payload is 1005, a code that may not be sent on the wire is an error.
func parseClose(p []byte) (*CloseError, error) {
	if len(p) == 0 {
		return &CloseError{Code: int(ws.StatusNoStatusRcvd)}, nil
	}
	if len(p) < 2 {
		return nil, errors.New("wsconn: close frame payload too short for a code")
	}
	code := int(binary.BigEndian.Uint16(p))
	if !validWireCloseCode(code) {
		return nil, fmt.Errorf("wsconn: invalid close code %d", code)
	}
	return &CloseError{Code: code, Reason: string(p[2:])}, nil
}

// validWireCloseCode: RFC 6455 7.4 and the IANA registry, as coder/websocket.
func validWireCloseCode(code int) bool {
	switch code {
	case 1004, 1005, 1006, 1015:
		return false
	}
	return code >= 1000 && code <= 1014 || code >= 3000 && code <= 4999
}

// verifyClientRequest is coder/websocket's handshake check, with its
// statuses.
func verifyClientRequest(w http.ResponseWriter, r *http.Request) (int, error) {
	if !r.ProtoAtLeast(1, 1) {
		return http.StatusUpgradeRequired, fmt.Errorf("WebSocket protocol violation: handshake request must be at least HTTP/1.1: %q", r.Proto)
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return http.StatusUpgradeRequired, fmt.Errorf("WebSocket protocol violation: Connection header %q does not contain Upgrade", r.Header.Get("Connection"))
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return http.StatusUpgradeRequired, fmt.Errorf("WebSocket protocol violation: Upgrade header %q does not contain websocket", r.Header.Get("Upgrade"))
	}
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, fmt.Errorf("WebSocket protocol violation: handshake request method is not GET but %q", r.Method)
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		return http.StatusBadRequest, fmt.Errorf("unsupported WebSocket protocol version (only 13 is supported): %q", r.Header.Get("Sec-WebSocket-Version"))
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return http.StatusBadRequest, errors.New("WebSocket protocol violation: one Sec-WebSocket-Key header required")
	}
	if v, err := base64.StdEncoding.DecodeString(keys[0]); err != nil || len(v) != 16 {
		return http.StatusBadRequest, fmt.Errorf("WebSocket protocol violation: invalid Sec-WebSocket-Key %q, must be a 16 byte base64 encoded string", keys[0])
	}
	return 0, nil
}

// selectSubprotocol returns the client's spelling of want if it offered it
// (compared ignoring case, as coder/websocket does), or "".
func selectSubprotocol(r *http.Request, want string) string {
	if want == "" {
		return ""
	}
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); strings.EqualFold(t, want) {
				return t
			}
		}
	}
	return ""
}
