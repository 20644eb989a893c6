package wsconn_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gobwas/ws"

	"github.com/unhidra/unhidra/gateway/wsconn"
)

// Every test runs against every engine: Gobwas must behave as Coder does.
func engines() map[string]func() wsconn.Engine {
	return map[string]func() wsconn.Engine{
		"coder":  func() wsconn.Engine { return wsconn.Coder{} },
		"gobwas": func() wsconn.Engine { return &wsconn.Gobwas{} },
	}
}

func forEngines(t *testing.T, f func(t *testing.T, eng wsconn.Engine)) {
	for name, mk := range engines() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f(t, mk())
		})
	}
}

// recorder is a Handler that hands events to the test.
type recorder struct {
	msgs   chan string
	closed chan error
}

func newRecorder() *recorder {
	return &recorder{msgs: make(chan string, 100), closed: make(chan error, 1)}
}

func (r *recorder) OnMessage(data []byte) { r.msgs <- string(data) }
func (r *recorder) OnClose(err error)     { r.closed <- err }

func (r *recorder) msg(t *testing.T) string {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case err := <-r.closed:
		t.Fatalf("closed (%v) while waiting for a message", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no message")
	}
	return ""
}

func (r *recorder) closeErr(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.closed:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("OnClose not called")
	}
	return nil
}

// server upgrades every request with eng and hands the test the Conn. The
// ResponseWriter is wrapped (as the gateway's middleware does) and the
// server's writes to each socket are counted; while hold is set, they wait
// (counted in held) until release is closed, which makes "a write that
// cannot finish" exact instead of a guess about socket buffer sizes.
type server struct {
	url     string
	addr    string
	conns   chan wsconn.Conn
	writes  atomic.Int64
	hold    atomic.Bool
	held    atomic.Int64
	release chan struct{}
}

// holdWrites makes every later server write wait until the returned
// function is called (or the test ends).
func (s *server) holdWrites(t *testing.T) (release func()) {
	var once sync.Once
	release = func() { once.Do(func() { s.hold.Store(false); close(s.release) }) }
	s.hold.Store(true)
	t.Cleanup(release)
	return release
}

// waitHeld waits until a server write is held.
func (s *server) waitHeld(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.held.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no server write was held")
		}
	}
}

// returnsWhileHeld calls f and fails the test if it does not return while
// the server's writes are held: f must not wait for a write (or for the
// peer, whose answer the held writes keep from it).
func returnsWhileHeld(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s waits for a write that cannot finish", what)
	}
}

type wrappedWriter struct{ http.ResponseWriter }

func (w wrappedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func newServer(t *testing.T, eng wsconn.Engine, opts wsconn.Options) *server {
	s := &server{conns: make(chan wsconn.Conn, 4), release: make(chan struct{})}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := eng.Upgrade(wrappedWriter{w}, r, opts)
		if err != nil {
			return
		}
		s.conns <- c
	}))
	ts.Listener = countingListener{ts.Listener, s}
	ts.Start()
	t.Cleanup(ts.Close)
	s.url = "ws" + strings.TrimPrefix(ts.URL, "http")
	s.addr = ts.Listener.Addr().String()
	return s
}

func (s *server) accept(t *testing.T) wsconn.Conn {
	t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection")
	}
	return nil
}

// start accepts a connection and starts it with a recorder.
func (s *server) start(t *testing.T) (wsconn.Conn, *recorder) {
	c := s.accept(t)
	r := newRecorder()
	c.Start(r)
	return c, r
}

func (s *server) dial(t *testing.T, protos ...string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, s.url, &websocket.DialOptions{Subprotocols: protos})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	c.SetReadLimit(1 << 20)
	return c
}

type countingListener struct {
	net.Listener
	s *server
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, s: l.s}, nil
}

type countingConn struct {
	net.Conn
	s *server
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.s.writes.Add(1)
	if c.s.hold.Load() {
		c.s.held.Add(1)
		<-c.s.release
	}
	return c.Conn.Write(p)
}

func ctx5s(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func readText(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	typ, b, err := c.Read(ctx5s(t))
	if err != nil {
		t.Fatal(err)
	}
	if typ != websocket.MessageText {
		t.Fatalf("message type %v, want text", typ)
	}
	return string(b)
}

func TestRoundTrip(t *testing.T) {
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, wsconn.Options{})
		cl := s.dial(t)
		c, r := s.start(t)
		ctx := ctx5s(t)
		for _, m := range []string{"hello", "", strings.Repeat("x", 100<<10/2)} {
			if err := cl.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
				t.Fatal(err)
			}
			if got := r.msg(t); got != m {
				t.Fatalf("server got %d bytes, want %d", len(got), len(m))
			}
		}
		for _, m := range []string{"world", strings.Repeat("y", 70000)} {
			if err := c.Write(ctx, [][]byte{[]byte(m)}); err != nil {
				t.Fatal(err)
			}
			if got := readText(t, cl); got != m {
				t.Fatalf("client got %d bytes, want %d", len(got), len(m))
			}
		}
	})
}

// TestWriteBatch: the frames of one Write arrive as separate messages, in
// order, and leave in one system call.
func TestWriteBatch(t *testing.T) {
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, wsconn.Options{})
		cl := s.dial(t)
		c, _ := s.start(t)
		frames := [][]byte{[]byte("one"), []byte(strings.Repeat("2", 300)), []byte("three"), []byte(strings.Repeat("4", 70000))}
		before := s.writes.Load()
		if err := c.Write(ctx5s(t), frames); err != nil {
			t.Fatal(err)
		}
		if n := s.writes.Load() - before; n != 1 {
			t.Errorf("%d writes for one batch, want 1", n)
		}
		for _, f := range frames {
			if got := readText(t, cl); got != string(f) {
				t.Fatalf("got %.10q (%d bytes), want %.10q", got, len(got), f)
			}
		}
	})
}

func TestSubprotocol(t *testing.T) {
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, wsconn.Options{Subprotocol: "unhidra.v1"})
		// The token rides along as a subprotocol and need not be a strict
		// HTTP token.
		cl := s.dial(t, "bearer.abc/def=", "unhidra.v1")
		s.accept(t).Close(1000, "")
		if got := cl.Subprotocol(); got != "unhidra.v1" {
			t.Errorf("negotiated %q, want unhidra.v1", got)
		}
		cl = s.dial(t, "other")
		s.accept(t).Close(1000, "")
		if got := cl.Subprotocol(); got != "" {
			t.Errorf("negotiated %q, want none", got)
		}
	})
}

func TestBadHandshake(t *testing.T) {
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, wsconn.Options{})
		resp, err := http.Get("http" + strings.TrimPrefix(s.url, "ws"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUpgradeRequired {
			t.Errorf("plain GET: status %d, want 426", resp.StatusCode)
		}
	})
}

func TestReadLimit(t *testing.T) {
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, wsconn.Options{ReadLimit: 1000})
		cl := s.dial(t)
		_, r := s.start(t)
		ctx := ctx5s(t)
		if err := cl.Write(ctx, websocket.MessageText, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		if got := r.msg(t); len(got) != 1000 {
			t.Fatalf("got %d bytes", len(got))
		}
		cl.Write(ctx, websocket.MessageText, make([]byte, 1001))
		if err := r.closeErr(t); !errors.Is(err, wsconn.ErrTooBig) {
			t.Errorf("OnClose(%v), want ErrTooBig", err)
		}
		_, _, err := cl.Read(ctx)
		if code := websocket.CloseStatus(err); code != websocket.StatusMessageTooBig {
			t.Errorf("client saw %v, want 1009", err)
		}
	})
}

// TestReadLimitFragmented: the limit is on the whole message.
func TestReadLimitFragmented(t *testing.T) {
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, wsconn.Options{ReadLimit: 1000})
		cl := s.dial(t)
		_, r := s.start(t)
		ctx := ctx5s(t)
		w, err := cl.Writer(ctx, websocket.MessageText)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			w.Write(make([]byte, 400))
		}
		w.Close()
		if err := r.closeErr(t); !errors.Is(err, wsconn.ErrTooBig) {
			t.Errorf("OnClose(%v), want ErrTooBig", err)
		}
		_, _, err = cl.Read(ctx)
		if code := websocket.CloseStatus(err); code != websocket.StatusMessageTooBig {
			t.Errorf("client saw %v, want 1009", err)
		}
	})
}

func TestBinaryRefused(t *testing.T) {
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, wsconn.Options{})
		cl := s.dial(t)
		_, r := s.start(t)
		ctx := ctx5s(t)
		cl.Write(ctx, websocket.MessageBinary, []byte{1, 2, 3})
		if err := r.closeErr(t); !errors.Is(err, wsconn.ErrBinary) {
			t.Errorf("OnClose(%v), want ErrBinary", err)
		}
		_, _, err := cl.Read(ctx)
		if code := websocket.CloseStatus(err); code != websocket.StatusUnsupportedData {
			t.Errorf("client saw %v, want 1003", err)
		}
	})
}

func TestServerClose(t *testing.T) {
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, wsconn.Options{})
		cl := s.dial(t)
		c, r := s.start(t)
		c.Write(ctx5s(t), [][]byte{[]byte("last")})
		// Close must not wait for its close frame to be written, nor for
		// the peer's answer: with the server's writes held, it can have
		// neither.
		release := s.holdWrites(t)
		returnsWhileHeld(t, "Close", func() {
			c.Close(4009, "too slow")
			c.Close(4000, "second call ignored")
		})
		release()
		if got := readText(t, cl); got != "last" {
			t.Fatalf("got %q", got)
		}
		_, _, err := cl.Read(ctx5s(t))
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4009 || ce.Reason != "too slow" {
			t.Fatalf("client saw %v, want 4009 too slow", err)
		}
		// The client echoed the close: the handshake ends promptly.
		err = r.closeErr(t)
		var sce *wsconn.CloseError
		_, isCoder := eng.(wsconn.Coder)
		// (coder/websocket reports a closed connection when its Close,
		// rather than the read loop, reads the echo.)
		if (!errors.As(err, &sce) || sce.Code != 4009) && !isCoder {
			t.Errorf("OnClose(%v), want the echoed 4009", err)
		}
		if err := c.Write(ctx5s(t), [][]byte{[]byte("after")}); err == nil {
			t.Error("Write after Close succeeded")
		}
	})
}

func TestClientClose(t *testing.T) {
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, wsconn.Options{})
		cl := s.dial(t)
		c, r := s.start(t)
		if err := cl.Close(4321, "see you"); err != nil {
			t.Fatalf("client close handshake: %v", err)
		}
		err := r.closeErr(t)
		var ce *wsconn.CloseError
		if !errors.As(err, &ce) || ce.Code != 4321 || ce.Reason != "see you" {
			t.Fatalf("OnClose(%v), want 4321 see you", err)
		}
		if err := c.Write(ctx5s(t), [][]byte{[]byte("x")}); err == nil {
			t.Error("Write after the peer closed succeeded")
		}
		c.Close(1000, "") // harmless
	})
}

// TestCloseBeforeStart: a socket refused right after the handshake (as the
// gateway refuses a bad token) is closed with its code, and one closed
// before Start still reports OnClose once started.
func TestCloseBeforeStart(t *testing.T) {
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, wsconn.Options{})
		cl := s.dial(t)
		s.accept(t).Close(4001, "bad token")
		_, _, err := cl.Read(ctx5s(t))
		if code := websocket.CloseStatus(err); code != 4001 {
			t.Errorf("client saw %v, want 4001", err)
		}

		cl = s.dial(t)
		c := s.accept(t)
		c.Close(1001, "going away")
		r := newRecorder()
		c.Start(r)
		_, _, err = cl.Read(ctx5s(t))
		if code := websocket.CloseStatus(err); code != 1001 {
			t.Errorf("client saw %v, want 1001", err)
		}
		r.closeErr(t)
	})
}

// TestCloseWhileWriteBlocked: Close returns at once even when a Write is
// stuck; the socket then ends although the peer never reads.
func TestCloseWhileWriteBlocked(t *testing.T) {
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, wsconn.Options{})
		s.dial(t) // never reads
		c, r := s.start(t)
		release := s.holdWrites(t)
		big := make([]byte, 1<<20)
		done := make(chan error, 1)
		go func() {
			for {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				err := c.Write(ctx, [][]byte{big})
				cancel()
				if err != nil {
					done <- err
					return
				}
			}
		}()
		s.waitHeld(t)
		returnsWhileHeld(t, "Close", func() { c.Close(4009, "too slow") })
		// Now the writes go on into a peer that does not read: they fail
		// once the close frame is out or when the socket buffers fill and
		// a Write times out, and the socket ends at the latest when the
		// close handshake gives up on the peer (coder/websocket's Write,
		// on failing, waits for that handshake, up to 5 s each way).
		release()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("blocked Write never returned")
		}
		r.closeErr(t)
	})
}

// TestKeepalive: a client that answers pings stays; one that does not is
// dropped with ErrTimeout.
func TestKeepalive(t *testing.T) {
	// A pong timeout well above what a loaded machine takes to answer, so
	// that only the client that never reads is dropped.
	opts := wsconn.Options{PingInterval: 20 * time.Millisecond, PongTimeout: 2 * time.Second}
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, opts)

		// Answers pings: coder/websocket does so while reading.
		cl := s.dial(t)
		c, r := s.start(t)
		got := make(chan string, 1)
		go func() {
			_, b, err := cl.Read(context.Background())
			if err == nil {
				got <- string(b)
			}
		}()
		// Several pings go out; each engine sends the next one only after
		// the pong of the last, so each counts an answered one.
		before := s.writes.Load()
		for deadline := time.Now().Add(10 * time.Second); s.writes.Load()-before < 5; time.Sleep(5 * time.Millisecond) {
			select {
			case err := <-r.closed:
				t.Fatalf("closed (%v) though the client answers pings", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d pings in 10 s at a 20 ms interval", s.writes.Load()-before)
			}
		}
		c.Write(ctx5s(t), [][]byte{[]byte("still here")})
		select {
		case m := <-got:
			if m != "still here" {
				t.Errorf("got %q", m)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no message")
		}

		// Does not read, so never answers.
		s.dial(t)
		_, r = s.start(t)
		if err := r.closeErr(t); !errors.Is(err, wsconn.ErrTimeout) {
			t.Errorf("OnClose(%v), want ErrTimeout", err)
		}
	})
}

// TestFragmented: a message sent in several frames arrives whole.
func TestFragmented(t *testing.T) {
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, wsconn.Options{})
		cl := s.dial(t)
		_, r := s.start(t)
		ctx := ctx5s(t)
		for _, parts := range [][]string{{"hel", "lo"}, {"a", strings.Repeat("b", 2000), "c"}} {
			w, err := cl.Writer(ctx, websocket.MessageText)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range parts {
				if _, err := w.Write([]byte(p)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got, want := r.msg(t), strings.Join(parts, ""); got != want {
				t.Fatalf("got %d bytes, want %d", len(got), len(want))
			}
		}
	})
}

// rawDial does the handshake by hand so the test can send frames a
// conforming client would not.
func rawDial(t *testing.T, s *server, early []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	// early frames go in the same write as the request.
	req := fmt.Appendf(nil, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", s.addr)
	nc.Write(append(req, early...))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	return nc, br
}

func masked(f ws.Frame) []byte {
	b, err := ws.CompileFrame(ws.MaskFrame(f))
	if err != nil {
		panic(err)
	}
	return b
}

// readFrame reads one server frame, which must not be masked.
func readFrame(t *testing.T, br *bufio.Reader) ws.Frame {
	t.Helper()
	h, err := ws.ReadHeader(br)
	if err != nil {
		t.Fatal(err)
	}
	if h.Masked {
		t.Fatal("server frame is masked")
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(br, p); err != nil {
		t.Fatal(err)
	}
	return ws.Frame{Header: h, Payload: p}
}

// TestRawFrames: fragments with a ping between them, a ping answered with
// its payload, and the message sent in the same packet as the handshake
// request.
func TestRawFrames(t *testing.T) {
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, wsconn.Options{})
		nc, br := rawDial(t, s, masked(ws.NewTextFrame([]byte("early"))))
		_, r := s.start(t)
		if got := r.msg(t); got != "early" {
			t.Fatalf("got %q", got)
		}
		var b bytes.Buffer
		b.Write(masked(ws.NewFrame(ws.OpText, false, []byte("frag"))))
		b.Write(masked(ws.NewPingFrame([]byte("are you there"))))
		b.Write(masked(ws.NewFrame(ws.OpContinuation, false, []byte("men"))))
		b.Write(masked(ws.NewFrame(ws.OpContinuation, true, []byte("ted"))))
		nc.Write(b.Bytes())
		if f := readFrame(t, br); f.Header.OpCode != ws.OpPong || string(f.Payload) != "are you there" {
			t.Fatalf("got %v %q, want the pong", f.Header.OpCode, f.Payload)
		}
		if got := r.msg(t); got != "fragmented" {
			t.Fatalf("got %q", got)
		}
		// A close frame without a code is echoed without one.
		nc.Write(masked(ws.NewCloseFrame(nil)))
		if f := readFrame(t, br); f.Header.OpCode != ws.OpClose || len(f.Payload) != 0 {
			t.Fatalf("got %v %q, want an empty close", f.Header.OpCode, f.Payload)
		}
		var ce *wsconn.CloseError
		if err := r.closeErr(t); !errors.As(err, &ce) || ce.Code != 1005 {
			t.Errorf("OnClose(%v), want 1005", err)
		}
	})
}

// TestUnmaskedRefused: clients must mask; an unmasked frame ends the
// connection with 1002.
func TestUnmaskedRefused(t *testing.T) {
	forEngines(t, func(t *testing.T, eng wsconn.Engine) {
		s := newServer(t, eng, wsconn.Options{})
		nc, br := rawDial(t, s, nil)
		_, r := s.start(t)
		f, _ := ws.CompileFrame(ws.NewTextFrame([]byte("plain")))
		nc.Write(f)
		if _, ok := eng.(wsconn.Coder); ok {
			// coder/websocket drops the connection without a close frame.
			if err := r.closeErr(t); err == nil {
				t.Error("OnClose(nil)")
			}
			return
		}
		fr := readFrame(t, br)
		if fr.Header.OpCode != ws.OpClose {
			t.Fatalf("got %v, want close", fr.Header.OpCode)
		}
		if code, _ := ws.ParseCloseFrameData(fr.Payload); code != ws.StatusProtocolError {
			t.Errorf("close code %d, want 1002", code)
		}
		if err := r.closeErr(t); err == nil {
			t.Error("OnClose(nil)")
		}
		select {
		case m := <-r.msgs:
			t.Errorf("delivered %q", m)
		default:
		}
		// The server then drops the connection.
		if _, err := io.Copy(io.Discard, br); err != nil {
			t.Errorf("connection not closed: %v", err)
		}
	})
}
