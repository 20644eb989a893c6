// Package wsconn is the gateway's socket I/O engine: the WebSocket handshake,
// reading and writing text frames, keepalive pings and close codes, behind
// two small interfaces. The gateway's hub, sessions and protocol never import
// a WebSocket library. Two engines implement them: Gobwas (gobwas/ws, the
// default) and Coder (coder/websocket); an engine built on epoll (one poller
// goroutine for thousands of idle sockets) can replace either without
// touching the gateway.
//
// The contract is event-driven on purpose: an engine calls Handler when a
// frame arrives or the connection ends, and the gateway calls Conn.Write only
// when it has something to send. Nothing in the contract needs a goroutine
// parked on an idle socket; both engines happen to use one (a blocked read),
// an epoll engine would not.
package wsconn

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Engine upgrades HTTP requests to WebSocket connections.
type Engine interface {
	// Upgrade completes the WebSocket handshake on w, answering
	// opts.Subprotocol if the client offered it. On error the engine has
	// already answered the request with an HTTP error. The returned Conn
	// delivers nothing until Start.
	Upgrade(w http.ResponseWriter, r *http.Request, opts Options) (Conn, error)
}

// Options configure one connection.
type Options struct {
	// Subprotocol is answered when the client offered it.
	Subprotocol string
	// ReadLimit is the largest frame accepted; a larger one ends the
	// connection with 1009 and OnClose(ErrTooBig). Zero: 64 KiB.
	ReadLimit int64
	// PingInterval is how long a connection may go without a keepalive
	// ping; PongTimeout how long the peer has to answer one before the
	// connection ends with OnClose(ErrTimeout). Zero disables keepalive.
	PingInterval time.Duration
	PongTimeout  time.Duration
}

// Handler receives the events of one connection.
type Handler interface {
	// OnMessage is called with each text frame, in order, and never
	// concurrently for one connection. It may block (it does I/O); while it
	// runs, the engine reads nothing more from this connection, which is
	// the back-pressure a fast sender gets. data is valid only during the
	// call.
	OnMessage(data []byte)
	// OnClose is called exactly once, after the last OnMessage, when the
	// connection has ended for any reason: a *CloseError from the peer,
	// ErrTooBig, ErrTimeout, ErrBinary, or a transport error.
	OnClose(err error)
}

// Conn is one accepted connection.
type Conn interface {
	// Start begins delivering the connection's events to h. It is called
	// once, after the gateway has set up the connection's state.
	Start(h Handler)
	// Write sends each frame as one text message, in order, and returns
	// once they are handed to the operating system or ctx ends. The
	// gateway never calls Write concurrently on one Conn; the engine may
	// coalesce the frames into as few system calls as it can.
	Write(ctx context.Context, frames [][]byte) error
	// Close sends a close frame with code and reason (best effort, bounded
	// in time) and releases the connection. It never blocks the caller and
	// may be called more than once and concurrently with Write; only the
	// first call's code is sent.
	Close(code int, reason string)
}

// Errors an engine reports to OnClose.
var (
	ErrTooBig  = errors.New("wsconn: frame over the size limit")
	ErrTimeout = errors.New("wsconn: keepalive timeout")
	ErrBinary  = errors.New("wsconn: binary frame")
)

// CloseError is a close frame received from the peer.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string { return "wsconn: closed by peer" }

// IsUpgradeRequest reports whether r asks for a WebSocket: a GET with
// Connection: upgrade and Upgrade: websocket. The remaining checks of the
// handshake are the engine's, in Upgrade.
func IsUpgradeRequest(r *http.Request) bool {
	return r.Method == http.MethodGet && headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

// headerHasToken reports whether a comma-separated header has token,
// ignoring case.
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
