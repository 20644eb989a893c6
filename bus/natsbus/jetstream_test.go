package natsbus_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/bus/bustest"
	"github.com/unhidra/unhidra/bus/natsbus"
)

// testStream is a stream of the test's own, deleted when the test ends.
func testStream(t *testing.T, prefix string) natsbus.Stream {
	t.Helper()
	name := strings.NewReplacer(".", "_", "-", "_").Replace(prefix)
	t.Cleanup(func() {
		nc, err := nats.Connect(natsURL())
		if err != nil {
			return
		}
		defer nc.Close()
		if js, err := nc.JetStream(); err == nil {
			js.DeleteStream(name)
		}
	})
	return natsbus.Stream{Name: name, Subjects: []string{prefix + ".>"}, MaxAge: time.Minute}
}

// TestConformanceJetStream: subjects carried by JetStream keep the bus
// contract (order, wildcards, fan-out, close) like core ones.
func TestConformanceJetStream(t *testing.T) {
	bustest.RunPrefixed(t, func(t *testing.T, prefix string) bus.Bus {
		return open(t, natsbus.Options{Streams: []natsbus.Stream{testStream(t, prefix)}})
	})
}

// TestStreamSurvivesDisconnect: what is published on a stream subject
// while a subscriber's connection to NATS is cut reaches it after it
// reconnects, in order; core NATS would have lost it.
func TestStreamSurvivesDisconnect(t *testing.T) {
	p := bustest.Prefix(t)
	stream := testStream(t, p)
	proxy := newProxy(t, strings.TrimPrefix(natsURL(), "nats://"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub, err := natsbus.Open(ctx, "nats://"+proxy.addr(), natsbus.Options{Name: "subscriber", Streams: []natsbus.Stream{stream}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub := open(t, natsbus.Options{Streams: []natsbus.Stream{stream}})

	got := make(chan string, 10)
	s, err := sub.Subscribe(p+".>", func(_ string, d []byte) { got <- string(d) })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	expect := func(want string) {
		t.Helper()
		select {
		case m := <-got:
			if m != want {
				t.Fatalf("got %q, want %q", m, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%q never arrived", want)
		}
	}
	if err := pub.Publish(ctx, p+".u1", []byte("before")); err != nil {
		t.Fatal(err)
	}
	expect("before")

	proxy.cut()
	waitFor(t, func() bool { return sub.Ping(context.Background()) != nil })
	for i := range 3 {
		if err := pub.Publish(ctx, p+".u1", fmt.Appendf(nil, "during %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	proxy.restore()
	waitFor(t, func() bool { return sub.Ping(context.Background()) == nil })
	if err := pub.Publish(ctx, p+".u1", []byte("after")); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		expect(fmt.Sprintf("during %d", i))
	}
	expect("after")
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proxy forwards TCP to target; cut closes every connection and refuses
// new ones until restore.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *proxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}
