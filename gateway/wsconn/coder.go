package wsconn

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Coder is the Engine built on github.com/coder/websocket. It spends one
// goroutine per connection, parked in Read; keepalive runs on a runtime
// timer, and a goroutine exists only while a ping waits for its pong.
//
// Writes are corked: the frames of one Write call go out in one system call
// (coder/websocket alone would flush after each message), which is the
// batching half of the gateway's batching writer.
type Coder struct{}

var _ Engine = Coder{}

const defaultReadLimit = 64 << 10

// Upgrade implements Engine.
func (Coder) Upgrade(w http.ResponseWriter, r *http.Request, opts Options) (Conn, error) {
	cw := &corkWriter{ResponseWriter: w}
	var protos []string
	if opts.Subprotocol != "" {
		protos = []string{opts.Subprotocol}
	}
	ws, err := websocket.Accept(cw, r, &websocket.AcceptOptions{
		Subprotocols: protos,
		// The gateway checks Origin against its own allow-list before
		// calling Upgrade (with rules coder/websocket does not have).
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, err
	}
	limit := opts.ReadLimit
	if limit <= 0 {
		limit = defaultReadLimit
	}
	ws.SetReadLimit(limit)
	return &coderConn{ws: ws, cork: cw.cork, opts: opts}, nil
}

type coderConn struct {
	ws   *websocket.Conn
	cork *corkConn
	opts Options

	closing  atomic.Bool
	timedOut atomic.Bool
	timer    *time.Timer // keepalive
	ctx      context.Context
	cancel   context.CancelFunc
}

func (c *coderConn) Start(h Handler) {
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if c.opts.PingInterval > 0 {
		c.timer = time.AfterFunc(c.opts.PingInterval, c.keepalive)
	}
	go c.readLoop(h)
}

func (c *coderConn) readLoop(h Handler) {
	var err error
	for {
		var typ websocket.MessageType
		var data []byte
		typ, data, err = c.ws.Read(c.ctx)
		if err != nil {
			break
		}
		if typ != websocket.MessageText {
			err = ErrBinary
			c.Close(1003, "text frames only")
			break
		}
		h.OnMessage(data)
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	c.cancel()
	var ce websocket.CloseError
	switch {
	case errors.Is(err, ErrBinary):
	case errors.As(err, &ce):
		err = &CloseError{Code: int(ce.Code), Reason: ce.Reason}
	case errors.Is(err, websocket.ErrMessageTooBig):
		err = ErrTooBig
	case c.timedOut.Load():
		err = ErrTimeout
	}
	// Release the socket whatever ended the loop, unless a Close of ours
	// is still running its (bounded) close handshake.
	if !c.closing.Load() {
		c.ws.CloseNow()
	}
	h.OnClose(err)
}

func (c *coderConn) keepalive() {
	if c.closing.Load() {
		return
	}
	timeout := c.opts.PongTimeout
	if timeout <= 0 {
		timeout = c.opts.PingInterval
	}
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	err := c.ws.Ping(ctx)
	cancel()
	if err != nil {
		if c.ctx.Err() == nil {
			c.timedOut.Store(true)
			c.ws.CloseNow()
		}
		return
	}
	c.timer.Reset(c.opts.PingInterval)
}

func (c *coderConn) Write(ctx context.Context, frames [][]byte) error {
	c.cork.mu.Lock()
	c.cork.corked = true
	c.cork.mu.Unlock()
	var err error
	for _, f := range frames {
		if err = c.ws.Write(ctx, websocket.MessageText, f); err != nil {
			break
		}
	}
	if ferr := c.cork.uncork(ctx); err == nil {
		err = ferr
	}
	if err != nil {
		c.ws.CloseNow()
	}
	return err
}

func (c *coderConn) Close(code int, reason string) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	if len(reason) > 120 {
		reason = reason[:120]
	}
	// coder/websocket's Close waits for the peer's close frame (up to 5 s
	// each way): never on the caller's goroutine.
	go c.ws.Close(websocket.StatusCode(code), reason)
}

// corkWriter hands coder/websocket a hijacked connection whose writes can be
// held back and sent together.
type corkWriter struct {
	http.ResponseWriter
	cork *corkConn
}

func (w *corkWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.cork = &corkConn{Conn: conn}
	// net/http has flushed the 101 response and emptied its writer;
	// reuse its buffer, now writing through the cork.
	brw.Writer.Reset(w.cork)
	return w.cork, brw, nil
}

func (w *corkWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// corkConn buffers writes while corked. Writes arrive whole frames at a time
// under coder/websocket's write lock, so holding mu while flushing keeps
// every frame intact and in order, pings and pongs included.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) uncork(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return nil
	}
	if d, ok := ctx.Deadline(); ok {
		c.Conn.SetWriteDeadline(d)
		defer c.Conn.SetWriteDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { c.Conn.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	_, err := c.Conn.Write(c.buf)
	// An idle socket keeps no write buffer.
	c.buf = nil
	return err
}
