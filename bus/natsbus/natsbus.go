// Package natsbus is a bus.Bus on NATS, for nodes that share events.
//
// Bus subjects are NATS subjects as they are: both are dot-separated tokens,
// and NATS reads "*" (one token) and a final ">" (one or more tokens) as
// package bus does. Core NATS is at most once, which is the bus contract;
// nothing is stored in NATS, and a node that misses a message repairs the
// gap from the store. Subjects that have no gap to repair (control
// messages) can be carried by JetStream instead (Options.Streams, see
// Stream), so that a reconnecting node still gets what it missed.
//
// Each subscription has its own bounded queue and goroutine, as in the
// in-process bus: the NATS client's reader only appends to the queue, and
// when a queue is full the message is dropped for that subscription and
// counted. The client reconnects by itself and re-subscribes; while it is
// disconnected, Publish buffers up to the client's reconnect buffer and then
// fails.
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/unhidra/unhidra/bus"
)

// Options configures a Bus.
type Options struct {
	// Name identifies this connection in the server's monitoring (for
	// example the node's host name).
	Name string
	// Logger receives connection state changes (default: discarded).
	Logger *slog.Logger
	// Registry, when set, gets unhidra_bus_dropped_total and
	// unhidra_bus_connected.
	Registry *prometheus.Registry
	// Buffer is each subscription's queue length (default 65536).
	Buffer int
	// Streams are the subjects carried by JetStream rather than core NATS
	// (see Stream); Open creates or updates them. None by default.
	Streams []Stream
}

// Bus is a bus.Bus on one NATS connection.
type Bus struct {
	nc     *nats.Conn
	log    *slog.Logger
	buffer int
	// js and streams are set by Open when Options.Streams is not empty,
	// and not changed afterwards.
	js      nats.JetStreamContext
	streams []Stream

	mu     sync.Mutex
	subs   map[*sub]struct{}
	closed bool

	dropped    atomic.Int64
	dropMetric prometheus.Counter
}

var _ bus.Bus = (*Bus)(nil)

// Open connects to the NATS server(s) at url (comma-separated nats://
// URLs). It fails if no server answers before ctx ends (or within 10 s);
// after that the connection is kept up for as long as the Bus is open.
func Open(ctx context.Context, url string, opts Options) (*Bus, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Buffer <= 0 {
		opts.Buffer = 65536
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	b := &Bus{log: opts.Logger, buffer: opts.Buffer, subs: map[*sub]struct{}{}}
	b.dropMetric = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "unhidra_bus_dropped_total",
		Help: "Bus messages dropped because a subscriber's queue was full.",
	})
	log := opts.Logger
	nc, err := nats.Connect(url,
		nats.Name(opts.Name),
		nats.Timeout(timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("bus: disconnected from NATS", slog.Any("err", err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("bus: reconnected to NATS", slog.String("server", nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, s *nats.Subscription, err error) {
			subject := ""
			if s != nil {
				subject = s.Subject
			}
			log.Warn("bus: NATS error", slog.String("subject", subject), slog.Any("err", err))
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("bus: connect to NATS: %w", err)
	}
	b.nc = nc
	if opts.Registry != nil {
		connected := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "unhidra_bus_connected",
			Help: "1 while the node is connected to the bus server, else 0.",
		}, func() float64 {
			if nc.Status() == nats.CONNECTED {
				return 1
			}
			return 0
		})
		for _, c := range []prometheus.Collector{b.dropMetric, connected} {
			if err := opts.Registry.Register(c); err != nil {
				nc.Close()
				return nil, fmt.Errorf("bus: metrics: %w", err)
			}
		}
	}
	if err := b.setUpStreams(ctx, opts.Streams); err != nil {
		nc.Close()
		return nil, err
	}
	log.Info("bus: connected to NATS", slog.String("server", nc.ConnectedUrlRedacted()))
	return b, nil
}

type sub struct {
	b    *Bus
	ns   *nats.Subscription
	q    *bus.Queue
	once sync.Once
}

// Publish hands data to the NATS client, which sends it in order with this
// Bus's other messages. It fails with bus.ErrClosed after Close, and while
// disconnected once the client's reconnect buffer is full.
func (b *Bus) Publish(ctx context.Context, subject string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, ok := b.streamFor(subject); ok {
		return b.publishStream(ctx, subject, data)
	}
	if err := b.nc.Publish(subject, data); err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return bus.ErrClosed
		}
		return fmt.Errorf("bus: publish %s: %w", subject, err)
	}
	return nil
}

// Subscribe starts a subscription. When it returns while connected, the
// server knows of it, so every message published afterwards, from any
// node, reaches it.
func (b *Bus) Subscribe(pattern string, handler bus.Handler) (bus.Subscription, error) {
	if pattern == "" || handler == nil {
		return nil, errors.New("bus: subscribe needs a pattern and a handler")
	}
	s := &sub{b: b, q: bus.NewQueue(b.buffer, handler)}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.q.Stop()
		return nil, bus.ErrClosed
	}
	var ns *nats.Subscription
	var err error
	if stream, ok := b.streamFor(pattern); ok {
		ns, err = b.subscribeStream(s, stream, pattern)
	} else {
		ns, err = b.nc.Subscribe(pattern, s.enqueue)
	}
	if err != nil {
		b.mu.Unlock()
		s.q.Stop()
		if errors.Is(err, nats.ErrConnectionClosed) {
			return nil, bus.ErrClosed
		}
		return nil, fmt.Errorf("bus: subscribe %s: %w", pattern, err)
	}
	// The client's own queue only ever holds messages on their way to
	// the subscription's queue, which enqueue never blocks on.
	if err := ns.SetPendingLimits(-1, -1); err != nil {
		b.mu.Unlock()
		ns.Unsubscribe()
		s.q.Stop()
		return nil, fmt.Errorf("bus: subscribe %s: %w", pattern, err)
	}
	s.ns = ns
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	if b.nc.Status() == nats.CONNECTED {
		// While reconnecting the client subscribes again by itself once
		// it is back; there is nothing to wait for then.
		if err := b.nc.FlushTimeout(10 * time.Second); err != nil && b.nc.Status() == nats.CONNECTED {
			s.Close()
			return nil, fmt.Errorf("bus: subscribe %s: %w", pattern, err)
		}
	}
	return s, nil
}

// enqueue runs on the NATS client's delivery goroutine of the subscription.
func (s *sub) enqueue(m *nats.Msg) {
	if !s.q.Offer(m.Subject, m.Data) {
		s.b.dropped.Add(1)
		s.b.dropMetric.Inc()
	}
}

// Close stops the subscription; no handler call starts after it returns.
func (s *sub) Close() error {
	s.once.Do(func() {
		s.b.mu.Lock()
		delete(s.b.subs, s)
		s.b.mu.Unlock()
		// After Close of the connection there is nothing to unsubscribe.
		s.ns.Unsubscribe()
		s.q.Stop()
	})
	return nil
}

// Ping reports an error unless the connection is up and the server answers
// a round trip before ctx ends (or within 5 s if ctx has no deadline).
func (b *Bus) Ping(ctx context.Context) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return bus.ErrClosed
	}
	if st := b.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("bus: NATS connection is %s", st)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("bus: NATS ping: %w", err)
	}
	return nil
}

// Close ends every subscription and the connection. What Publish accepted
// and the client has not sent yet is flushed first, briefly.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := make([]*sub, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.Close()
	}
	if b.nc.Status() == nats.CONNECTED {
		b.nc.FlushTimeout(2 * time.Second)
	}
	b.nc.Close()
	return nil
}

// Dropped counts messages dropped because a subscriber's queue was full.
func (b *Bus) Dropped() int64 { return b.dropped.Load() }
