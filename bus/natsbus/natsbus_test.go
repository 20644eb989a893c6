package natsbus_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/bus/bustest"
	"github.com/unhidra/unhidra/bus/natsbus"
)

// natsURL is the NATS server the tests use (scripts/services.sh starts it);
// UNHIDRA_TEST_NATS names another. The tests fail when it is unreachable.
func natsURL() string {
	if u := os.Getenv("UNHIDRA_TEST_NATS"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

func open(t *testing.T, opts natsbus.Options) *natsbus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if opts.Name == "" {
		opts.Name = "unhidra-test " + t.Name()
	}
	b, err := natsbus.Open(ctx, natsURL(), opts)
	if err != nil {
		t.Fatalf("NATS at %s (start it with scripts/services.sh): %v", natsURL(), err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bus.Bus { return open(t, natsbus.Options{}) })
}

// TestAcrossConnections: what one node publishes reaches another node's
// subscription, in order.
func TestAcrossConnections(t *testing.T) {
	a, b := open(t, natsbus.Options{}), open(t, natsbus.Options{})
	p := bustest.Prefix(t)
	const n = 100
	got := make(chan string, n)
	s, err := b.Subscribe(p+".>", func(_ string, d []byte) { got <- string(d) })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		if err := a.Publish(context.Background(), p+".x", []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		select {
		case m := <-got:
			if m != fmt.Sprint(i) {
				t.Fatalf("message %d is %q", i, m)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("message %d never arrived", i)
		}
	}
}

// TestDropsCounted: a subscription whose handler does not return keeps
// Buffer messages (and one in the handler) and counts the rest as drops.
func TestDropsCounted(t *testing.T) {
	const buffer, n = 4, 50
	reg := prometheus.NewRegistry()
	b := open(t, natsbus.Options{Buffer: buffer, Registry: reg})
	p := bustest.Prefix(t)
	block := make(chan struct{})
	s, err := b.Subscribe(p+".x", func(string, []byte) { <-block })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer close(block) // before s.Close, which waits for the handler
	for range n {
		if err := b.Publish(context.Background(), p+".x", nil); err != nil {
			t.Fatal(err)
		}
	}
	// Delivery is asynchronous: wait (boundedly) until the drops are
	// counted. One message may sit in the handler, buffer in the queue.
	deadline := time.Now().Add(30 * time.Second)
	for b.Dropped() < n-buffer-1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if d := b.Dropped(); d < n-buffer-1 || d > n-buffer {
		t.Fatalf("dropped %d, want %d or %d", d, n-buffer-1, n-buffer)
	}
	if got := gathered(t, reg, "unhidra_bus_dropped_total"); got != float64(b.Dropped()) {
		t.Fatalf("unhidra_bus_dropped_total = %v, want %d", got, b.Dropped())
	}
	if got := gathered(t, reg, "unhidra_bus_connected"); got != 1 {
		t.Fatalf("unhidra_bus_connected = %v, want 1", got)
	}
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if b, err := natsbus.Open(ctx, "nats://127.0.0.1:1", natsbus.Options{}); err == nil {
		b.Close()
		t.Fatal("Open of a port nobody listens on succeeded")
	}
}

// gathered returns the value of the metric called name in reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}
