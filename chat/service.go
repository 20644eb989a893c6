// Package chat is the messaging service: channels (public, private, direct),
// membership and roles, messages and their channel events, threads,
// reactions, pins, mentions, read state, history and full-text search. Every
// rule and every authorization decision about them lives here, once; the
// transports (REST, WebSocket) only translate.
//
// Guarantees:
//   - Every durable change in a channel is stored as an unhidra.Event with the
//     channel's next gap-free seq, in the same transaction as the change.
//   - After the commit the event is published on wire.ChannelEventsSubject
//     as a wire.Event: its frame with its metadata beside it. A per-channel
//     lock is held across commit and publish, so one node publishes a
//     channel's events in seq order.
//   - Membership changes also publish a wire.Control on the member's
//     wire.UserSubject: ControlSubscribe before the channel's events of that
//     change, ControlUnsubscribe after them.
//   - Typing and read receipts are ephemeral: published on
//     wire.ChannelEphemeralSubject, never stored as events.
//   - A caller who is not a member of a private or direct channel gets
//     not_found for it, exactly as if it did not exist. The permission matrix
//     is written down in docs/permissions.md and implemented in perm.go.
package chat

import (
	"context"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/unhidra/unhidra"
)

// Limits.
const (
	// MaxBodyChars is the longest message body, in Unicode code points.
	MaxBodyChars = 16000
	// MaxCiphertextBytes is the largest decoded ciphertext envelope.
	MaxCiphertextBytes = 64 << 10
	// TypingInterval is the least time between two typing frames of one
	// user in one channel.
	TypingInterval = 3 * time.Second
	// MaxDirectMembers is the largest group DM, the caller included.
	MaxDirectMembers = 9
	// MaxEventsPage is the most events one Events call returns.
	MaxEventsPage = 1000
)

// Publisher is the part of the event bus the service uses.
type Publisher interface {
	Publish(ctx context.Context, subject string, data []byte) error
}

// Config wires a Service. Store is required; Bus may be nil (nothing is
// published, for tests of the rules alone).
type Config struct {
	Store  Store
	Bus    Publisher
	Logger *slog.Logger
	Now    func() time.Time
	// Registry, when set, receives the store latency histogram.
	Registry prometheus.Registerer
	// RetentionDays is how long channels without a retention of their own
	// keep messages; 0 keeps them forever (see retention.go).
	RetentionDays int
	// LiveRetentionDays, when set, is read at each use instead of
	// RetentionDays: the setting an admin changes while the server runs
	// (package settings).
	LiveRetentionDays func() int
}

// lockShards is the number of per-channel mutexes; channels hash onto them.
const lockShards = 64

// Service implements the chat rules.
type Service struct {
	store Store
	bus   Publisher
	log   *slog.Logger
	now   func() time.Time

	locks [lockShards]sync.Mutex

	typingMu sync.Mutex
	typing   map[string]time.Time // user id + "/" + channel id → last typing frame

	storeSeconds *prometheus.HistogramVec

	retentionDays     int
	liveRetentionDays func() int
}

// New returns a Service with defaults filled in.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, bus: cfg.Bus, log: cfg.Logger, now: cfg.Now, typing: map[string]time.Time{},
		retentionDays: cfg.RetentionDays, liveRetentionDays: cfg.LiveRetentionDays}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.storeSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "unhidra_chat_store_seconds",
		Help:    "Latency of the chat service's store operations, by operation.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"op"})
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(s.storeSeconds); err != nil {
			s.log.Warn("chat metrics not registered", slog.Any("err", err))
		}
	}
	return s
}

// observe starts timing a store operation; call the result when it ends.
func (s *Service) observe(op string) func() {
	start := time.Now()
	return func() { s.storeSeconds.WithLabelValues(op).Observe(time.Since(start).Seconds()) }
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// caller returns the principal of ctx or unauthenticated.
func caller(ctx context.Context) (*unhidra.Principal, error) {
	p := unhidra.PrincipalFromContext(ctx)
	if p == nil || p.UserID == "" {
		return nil, unhidra.Errorf(unhidra.EUnauthenticated, "authentication required")
	}
	return p, nil
}

func (s *Service) lockFor(channelID string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(channelID))
	return &s.locks[h.Sum32()%lockShards]
}
