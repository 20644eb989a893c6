// Package redisbus is a bus.Bus on Redis Streams, for sites that run Redis
// (6.2 or later; tested on 7.0) rather than NATS. Open it with a
// redis://[user:password@]host:port/db URL (rediss:// for TLS).
//
// # Streams
//
// A Redis stream has one key and no wildcard reads, so subjects are mapped
// to a fixed set of streams by their first token, the subject's kind: one
// stream each for "chan" (channel events), "eph" (ephemeral frames),
// "user" (control messages) and "presence", and one stream, "other", for
// every other first token. The keys are Options.Prefix followed by the
// kind ("unhidra:bus:chan", …). Each entry holds the full subject (field
// "s") and the data (field "d").
//
// A subscription whose pattern has a literal first token reads the one
// stream of that kind; a pattern that starts with "*" or ">" reads all
// five. Every subscription filters what it reads with bus.Match.
//
// # Fan-out
//
// Every subscription has its own consumer group, named after
// Options.Name with a random suffix, on each stream it reads, created at
// "$" when Subscribe is called (so it hears what is published after
// Subscribe returns). Because no two subscriptions share a group, every
// subscription on every node hears every message of its streams: this is
// fan-out, not work-sharing. The subscription reads with XREADGROUP …
// BLOCK … NOACK from a goroutine of its own and hands each matching
// message to its buffer (Options.Buffer); when the buffer is full the
// message is dropped and counted (Dropped, and the bus_redis_dropped_total
// metric). Delivery is at most once, so nothing is ever re-read from a
// pending list: NOACK keeps the pending list empty and saves the XACK
// round trip. A second goroutine calls the handler, one message at a time.
//
// Order: one stream keeps the order in which Redis accepted the entries,
// so a subscription hears one publisher's messages in that publisher's
// order across every subject of a kind (and across every subject outside
// the four named kinds, which share "other"). A pattern that starts with a
// wildcard and so reads several streams keeps that order within each
// stream but not across them; none of the product's subscriptions does
// that (they are chan.>, eph.>, user.> and presence.>).
//
// # Retention
//
// Streams are bounded two ways, so no event content lives on in Redis:
//   - Each XADD trims its stream with MAXLEN ~ Options.MaxLen (default
//     10,000 entries; approximate trimming keeps at most about a hundred
//     more).
//   - Every bus trims each stream by time once a minute (and at Open) with
//     XTRIM MINID, dropping entries older than Options.MaxAge (default five
//     minutes) by the Redis server's clock, and sets the stream key to
//     expire MaxAge plus two minutes later. While any node runs, entries
//     live at most MaxAge plus a minute; when every node has stopped, the
//     keys expire and the streams and their groups vanish. (A stream
//     that XADD creates gets its expiry at the next janitor run of any
//     node.)
//
// Subscribers read entries within milliseconds, so a retention of minutes
// only matters to a subscription that fell behind, which at most once lets
// drop.
//
// # Consumer groups of nodes that went away
//
// Subscription.Close and Bus.Close destroy the subscription's groups
// (XGROUP DESTROY). A node that is killed leaves its groups behind, and
// since a group does not hold entries in the stream (NOACK) they cost only
// their bookkeeping. The same once-a-minute janitor removes them: a group
// whose consumers have all been idle (XINFO CONSUMERS) for longer than
// Options.GroupIdle (default ten minutes), or that has no consumer, is
// destroyed. A live subscription's consumer is never idle for more than
// its block time (a few seconds), because it issues XREADGROUP again each
// time one returns. If a node was paused for longer than GroupIdle and its
// group was removed, the subscription recreates it at "$" on its next read
// and logs a warning: what was published in the meantime is lost, as at
// most once allows.
package redisbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/unhidra/unhidra/bus"
)

// Defaults of Options.
const (
	DefaultPrefix    = "unhidra:bus:"
	DefaultMaxLen    = 10000
	DefaultMaxAge    = 5 * time.Minute
	DefaultGroupIdle = 10 * time.Minute
	DefaultBuffer    = 65536
)

// kinds are the first subject tokens with a stream of their own; every
// other first token goes to otherKind.
var kinds = []string{"chan", "eph", "user", "presence"}

const otherKind = "other"

const (
	// block is how long one XREADGROUP waits for entries.
	block = 5 * time.Second
	// readCount is the most entries one XREADGROUP returns per stream.
	readCount = 1024
	// janitorEvery is the period of retention trimming and group cleanup.
	janitorEvery = time.Minute
	// readerPool is the connection pool of the subscriptions' blocking
	// reads (one connection each while blocked); publishing has its own
	// pool, so readers never hold up Publish.
	readerPool = 1024
)

// Options configures a Bus. Every field is optional.
type Options struct {
	// Name names this node in consumer group names (default: the host
	// name).
	Name string
	// Logger receives warnings about Redis errors (default slog.Default()).
	Logger *slog.Logger
	// Registry, if set, gets the bus_redis_* metrics.
	Registry *prometheus.Registry
	// Prefix starts every stream key (default DefaultPrefix). Nodes that
	// talk to each other use the same prefix.
	Prefix string
	// MaxLen bounds each stream's length, approximately (default
	// DefaultMaxLen).
	MaxLen int64
	// MaxAge bounds how long an entry stays in its stream (default
	// DefaultMaxAge).
	MaxAge time.Duration
	// GroupIdle is how long a consumer group may go unread before any
	// node's janitor destroys it (default DefaultGroupIdle). It must stay
	// well above the few seconds a live subscription's read blocks, or
	// janitors destroy live groups (which their subscriptions then
	// recreate, losing what was published meanwhile).
	GroupIdle time.Duration
	// Buffer is each subscription's queue length (default DefaultBuffer).
	Buffer int
}

// Bus is a bus.Bus on Redis Streams.
type Bus struct {
	pub, read *redis.Client
	opts      Options
	log       *slog.Logger
	m         metrics
	dropped   atomic.Int64

	mu     sync.Mutex
	subs   map[*sub]struct{}
	closed bool

	reads       sync.WaitGroup // running sub.read calls, closed or not
	stop        chan struct{}  // closed by Close: ends the janitor
	janitorDone chan struct{}
}

var _ bus.Bus = (*Bus)(nil)

type metrics struct {
	published, received, dropped, errors prometheus.Counter
	groupsRemoved                        prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) metrics {
	m := metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bus_redis_published_total", Help: "Messages added to the Redis streams by this node.",
		}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bus_redis_received_total", Help: "Messages queued for this node's subscriptions (after subject filtering).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bus_redis_dropped_total", Help: "Messages dropped because a subscription's queue was full.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bus_redis_errors_total", Help: "Failed Redis commands of subscriptions and the janitor (publish errors are returned instead).",
		}),
		groupsRemoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bus_redis_stale_groups_removed_total", Help: "Consumer groups of vanished nodes removed by this node's janitor.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.published, m.received, m.dropped, m.errors, m.groupsRemoved)
	}
	return m
}

// Open connects to the Redis server at url, checks it answers, trims the
// streams and removes stale consumer groups once, and starts the janitor
// that does so every minute.
func Open(ctx context.Context, url string, opts Options) (*Bus, error) {
	ro, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisbus: %w", err)
	}
	ro.ContextTimeoutEnabled = true
	if opts.Name == "" {
		opts.Name, _ = os.Hostname()
		if opts.Name == "" {
			opts.Name = "node"
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.MaxLen <= 0 {
		opts.MaxLen = DefaultMaxLen
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.GroupIdle <= 0 {
		opts.GroupIdle = DefaultGroupIdle
	}
	if opts.Buffer <= 0 {
		opts.Buffer = DefaultBuffer
	}
	rro := *ro
	rro.PoolSize = readerPool
	b := &Bus{
		pub: redis.NewClient(ro), read: redis.NewClient(&rro),
		opts: opts, log: opts.Logger.With("component", "redisbus"),
		subs: map[*sub]struct{}{}, stop: make(chan struct{}), janitorDone: make(chan struct{}),
	}
	if err := b.pub.Ping(ctx).Err(); err != nil {
		b.pub.Close()
		b.read.Close()
		return nil, fmt.Errorf("redisbus: ping %s: %w", ro.Addr, err)
	}
	b.m = newMetrics(opts.Registry)
	b.janitor(ctx)
	go b.runJanitor()
	return b, nil
}

// streamOf returns the key of the stream that carries subject.
func (b *Bus) streamOf(subject string) string {
	first, _, _ := strings.Cut(subject, ".")
	for _, k := range kinds {
		if first == k {
			return b.opts.Prefix + k
		}
	}
	return b.opts.Prefix + otherKind
}

// streams returns every stream key of this bus.
func (b *Bus) streams() []string {
	s := make([]string, 0, len(kinds)+1)
	for _, k := range kinds {
		s = append(s, b.opts.Prefix+k)
	}
	return append(s, b.opts.Prefix+otherKind)
}

// Publish adds data to the stream of subject's kind.
func (b *Bus) Publish(ctx context.Context, subject string, data []byte) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return bus.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := b.pub.XAdd(ctx, &redis.XAddArgs{
		Stream: b.streamOf(subject), MaxLen: b.opts.MaxLen, Approx: true,
		Values: []any{"s", subject, "d", data},
	}).Err()
	if err != nil {
		return fmt.Errorf("redisbus: publish: %w", err)
	}
	b.m.published.Inc()
	return nil
}

// Ping sends PING.
func (b *Bus) Ping(ctx context.Context) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return bus.ErrClosed
	}
	if err := b.pub.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisbus: ping: %w", err)
	}
	return nil
}

// Close stops every subscription, destroys their consumer groups and
// closes the connections.
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
	var errs []error
	for _, s := range subs {
		errs = append(errs, s.Close())
	}
	// Destroying a group ends its blocked read at once; if that failed,
	// the read ends when its block time runs out. Waiting for the reads of
	// every subscription, including those closed before, lets their
	// connections close cleanly.
	reads := make(chan struct{})
	go func() { b.reads.Wait(); close(reads) }()
	select {
	case <-reads:
	case <-time.After(block + 5*time.Second):
	}
	close(b.stop)
	<-b.janitorDone
	errs = append(errs, b.read.Close(), b.pub.Close())
	return errors.Join(errs...)
}

// Dropped counts messages dropped because a subscription's queue was full.
func (b *Bus) Dropped() int64 { return b.dropped.Load() }

type sub struct {
	b       *Bus
	pattern string
	streams []string // keys read
	group   string   // also the consumer's name
	q       *bus.Queue
	done    chan struct{} // closed by Close: ends the read loop
	once    sync.Once

	gmu sync.Mutex // serialises group (re)creation with Close's destruction
}

// Subscribe creates the subscription's consumer groups at "$" and starts
// reading.
func (b *Bus) Subscribe(pattern string, handler bus.Handler) (bus.Subscription, error) {
	if pattern == "" || handler == nil {
		return nil, errors.New("redisbus: subscribe needs a pattern and a handler")
	}
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, err
	}
	s := &sub{
		b: b, pattern: pattern,
		group: b.opts.Name + "." + hex.EncodeToString(r[:]),
		q:     bus.NewQueue(b.opts.Buffer, handler),
		done:  make(chan struct{}),
	}
	if first, _, _ := strings.Cut(pattern, "."); first == "*" || first == ">" {
		s.streams = b.streams()
	} else {
		s.streams = []string{b.streamOf(pattern)}
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.q.Stop()
		return nil, bus.ErrClosed
	}
	b.subs[s] = struct{}{}
	b.reads.Add(1) // under mu, so never concurrent with Close's Wait
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.createGroups(ctx); err != nil {
		b.reads.Done()
		s.Close()
		return nil, fmt.Errorf("redisbus: subscribe %q: %w", pattern, err)
	}
	go s.read()
	return s, nil
}

// createGroups creates the group and its consumer on every stream s reads,
// in one transaction, so that no janitor ever sees the group without its
// consumer. A group that already exists is kept.
func (s *sub) createGroups(ctx context.Context) error {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	select {
	case <-s.done:
		return bus.ErrClosed
	default:
	}
	_, err := s.b.pub.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, st := range s.streams {
			p.XGroupCreateMkStream(ctx, st, s.group, "$")
			p.XGroupCreateConsumer(ctx, st, s.group, s.group)
		}
		return nil
	})
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return err
	}
	return nil
}

// read moves matching messages from the streams to s.ch until Close.
func (s *sub) read() {
	defer s.b.reads.Done()
	args := &redis.XReadGroupArgs{
		Group: s.group, Consumer: s.group, Count: readCount, Block: block, NoAck: true,
		Streams: make([]string, 0, 2*len(s.streams)),
	}
	args.Streams = append(args.Streams, s.streams...)
	for range s.streams {
		args.Streams = append(args.Streams, ">")
	}
	// Close's XGROUP DESTROY ends a blocked read with NOGROUP; the read is
	// not cancelled by context, which would cost its connection.
	ctx := context.Background()
	backoff := 50 * time.Millisecond
	for {
		res, err := s.b.read.XReadGroup(ctx, args).Result()
		select {
		case <-s.done:
			return
		default:
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			s.b.m.errors.Inc()
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				s.b.log.Warn("consumer group vanished; recreating it, messages published meanwhile are lost",
					"group", s.group, "pattern", s.pattern)
				err = s.createGroups(ctx)
			}
			if err != nil {
				s.b.log.Warn("reading the bus", "group", s.group, "err", err)
				select {
				case <-s.done:
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 5*time.Second)
			}
			continue
		}
		backoff = 50 * time.Millisecond
		for _, st := range res {
			for _, m := range st.Messages {
				subject, _ := m.Values["s"].(string)
				data, _ := m.Values["d"].(string)
				if subject == "" || !bus.Match(s.pattern, subject) {
					continue
				}
				if s.q.Offer(subject, []byte(data)) {
					s.b.m.received.Inc()
				} else {
					s.b.dropped.Add(1)
					s.b.m.dropped.Inc()
				}
			}
		}
	}
}

// Close stops delivery, waiting for a running handler call, and destroys
// the subscription's consumer groups.
func (s *sub) Close() error {
	var err error
	s.once.Do(func() {
		s.b.mu.Lock()
		delete(s.b.subs, s)
		s.b.mu.Unlock()
		s.q.Stop()
		close(s.done)

		s.gmu.Lock()
		defer s.gmu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = s.b.pub.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, st := range s.streams {
				p.XGroupDestroy(ctx, st, s.group)
			}
			return nil
		})
		if err != nil {
			// The janitor of some node removes the groups later.
			s.b.log.Warn("destroying consumer groups", "group", s.group, "err", err)
			s.b.m.errors.Inc()
			err = nil
		}
	})
	return err
}

func (b *Bus) runJanitor() {
	defer close(b.janitorDone)
	t := time.NewTicker(janitorEvery)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			b.janitor(ctx)
			cancel()
		}
	}
}

// janitor trims every stream to MaxAge by the server's clock, renews the
// keys' expiry, and destroys consumer groups idle past GroupIdle. Errors
// are logged: the next run tries again.
func (b *Bus) janitor(ctx context.Context) {
	fail := func(what string, err error) {
		b.m.errors.Inc()
		b.log.Warn("bus janitor: "+what, "err", err)
	}
	now, err := b.pub.Time(ctx).Result()
	if err != nil {
		fail("TIME", err)
		return
	}
	minID := strconv.FormatInt(now.Add(-b.opts.MaxAge).UnixMilli(), 10)
	ttl := b.opts.MaxAge + 2*janitorEvery
	for _, st := range b.streams() {
		if _, err := b.pub.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.XTrimMinID(ctx, st, minID)
			p.PExpire(ctx, st, ttl)
			return nil
		}); err != nil {
			fail("trimming "+st, err)
			continue
		}
		groups, err := b.pub.XInfoGroups(ctx, st).Result()
		if err != nil {
			if !strings.Contains(err.Error(), "no such key") {
				fail("XINFO GROUPS "+st, err)
			}
			continue
		}
		for _, g := range groups {
			stale := g.Consumers == 0
			if !stale {
				cs, err := b.pub.XInfoConsumers(ctx, st, g.Name).Result()
				if err != nil {
					if !strings.HasPrefix(err.Error(), "NOGROUP") {
						fail("XINFO CONSUMERS "+st, err)
					}
					continue
				}
				stale = len(cs) > 0
				for _, c := range cs {
					if c.Idle <= b.opts.GroupIdle {
						stale = false
					}
				}
			}
			if !stale {
				continue
			}
			if err := b.pub.XGroupDestroy(ctx, st, g.Name).Err(); err != nil {
				fail("XGROUP DESTROY "+st, err)
				continue
			}
			b.m.groupsRemoved.Inc()
			b.log.Info("removed a stale consumer group", "stream", st, "group", g.Name)
		}
	}
}
