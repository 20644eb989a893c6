package cluster

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Balancer is a TCP load balancer in front of the nodes, as an operator
// would run: each new connection goes to the next node that accepts it, so
// a client whose node dies reconnects to another through the same address.
type Balancer struct {
	URL   string
	ln    net.Listener
	c     *Cluster
	next  atomic.Uint64
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	// Prefer, when ≥ 0, sends new connections to that node first.
	Prefer atomic.Int64
}

// Balancer starts a load balancer over the cluster's nodes; it stops when t ends.
func (c *Cluster) Balancer(t testing.TB) *Balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &Balancer{URL: "http://" + ln.Addr().String(), ln: ln, c: c, conns: map[net.Conn]struct{}{}}
	b.Prefer.Store(-1)
	go b.serve()
	t.Cleanup(b.close)
	return b
}

func (b *Balancer) serve() {
	for {
		in, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.forward(in)
	}
}

func (b *Balancer) forward(in net.Conn) {
	n := len(b.c.Nodes)
	start := int(b.next.Add(1))
	if p := b.Prefer.Load(); p >= 0 {
		start = int(p)
	}
	var out net.Conn
	for i := 0; i < n && out == nil; i++ {
		node := b.c.Nodes[(start+i)%n]
		out, _ = net.Dial("tcp", node.address())
	}
	if out == nil {
		in.Close()
		return
	}
	b.track(in, out)
	go func() {
		io.Copy(out, in)
		out.Close()
	}()
	io.Copy(in, out)
	in.Close()
	b.untrack(in, out)
}

func (b *Balancer) track(cs ...net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range cs {
		b.conns[c] = struct{}{}
	}
}

func (b *Balancer) untrack(cs ...net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range cs {
		delete(b.conns, c)
	}
}

func (b *Balancer) close() {
	b.ln.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.conns {
		c.Close()
	}
}
