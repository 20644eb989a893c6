// Package chat is the messaging service: channels (public, private, direct),
// membership and roles, messages and their channel events, threads,
// reactions, pins, mentions, read state, history and full-text search. Every
// rule and every authorization decision about them lives here, once; the
// transports (REST, WebSocket) only translate.
//
// Guarantees:
//   - Every durable change in a channel is stored as an unhidra.Event with the
//     channel's next gap-free seq, in the same transaction as the change.
//   - After the commit the event's Frame is published on
//     unhidra.ChannelEventsSubject. A per-channel lock is held across commit
//     and publish, so one node publishes a channel's events in seq order.
//   - Membership changes also publish an unhidra.ControlMessage on the
//     member's unhidra.UserSubject: ControlSubscribe before the channel's
//     events of that change, ControlUnsubscribe after them.
//   - Typing and read receipts are ephemeral: published on
//     unhidra.ChannelEphemeralSubject, never stored as events.
//   - A caller who is not a member of a private or direct channel gets
//     not_found for it, exactly as if it did not exist. The permission matrix
//     is written down in docs/permissions.md and implemented in perm.go.
package chat

import (
	"context"
	"encoding/json"
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
}

// New returns a Service with defaults filled in.
func New(cfg Config) *Service {
	s := &Service{store: cfg.Store, bus: cfg.Bus, log: cfg.Logger, now: cfg.Now, typing: map[string]time.Time{}}
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

// change collects what one transaction on a channel emits: its events and
// the control messages to publish after the commit.
type change struct {
	s         *Service
	tx        Tx
	channelID string
	now       time.Time
	events    []unhidra.Event
	subscribe []unhidra.ControlMessage // user id in ChannelID's place: see ctl
	unsub     []unhidra.ControlMessage
	subUsers  []string
	unsubUser []string
}

// emit takes the channel's next seq, builds the frame with it and stores the
// event. frame receives the seq and returns the frame value to marshal.
func (c *change) emit(ctx context.Context, typ string, frame func(seq int64) any) (int64, error) {
	seq, err := c.tx.NextSeq(ctx, c.channelID)
	if err != nil {
		return 0, err
	}
	return seq, c.record(ctx, seq, typ, frame(seq))
}

// record stores the event of a seq taken already with NextSeq (Send needs
// the seq inside the message before the frame exists).
func (c *change) record(ctx context.Context, seq int64, typ string, frame any) error {
	b, err := json.Marshal(frame)
	if err != nil {
		return err
	}
	ev := unhidra.Event{ChannelID: c.channelID, Seq: seq, Type: typ, Frame: b, CreatedAt: c.now}
	if err := c.tx.InsertEvent(ctx, &ev); err != nil {
		return err
	}
	c.events = append(c.events, ev)
	return nil
}

func (c *change) subscribeUser(userID string, seq int64) {
	c.subUsers = append(c.subUsers, userID)
	c.subscribe = append(c.subscribe, unhidra.ControlMessage{Type: unhidra.ControlSubscribe, ChannelID: c.channelID, Seq: seq})
}

func (c *change) unsubscribeUser(userID string, seq int64) {
	c.unsubUser = append(c.unsubUser, userID)
	c.unsub = append(c.unsub, unhidra.ControlMessage{Type: unhidra.ControlUnsubscribe, ChannelID: c.channelID, Seq: seq})
}

// inChannel runs fn in a transaction on channelID while holding the
// channel's lock, and after the commit publishes, still under the lock:
// subscribe controls, then the events in seq order, then unsubscribe
// controls. Holding the lock across commit and publish is what keeps one
// node's publications of a channel in seq order.
func (s *Service) inChannel(ctx context.Context, op, channelID string, fn func(c *change) error) error {
	mu := s.lockFor(channelID)
	mu.Lock()
	defer mu.Unlock()
	var c *change
	done := s.observe(op)
	err := s.store.Tx(ctx, func(tx Tx) error {
		c = &change{s: s, tx: tx, channelID: channelID, now: s.now().UTC().Truncate(time.Microsecond)}
		return fn(c)
	})
	done()
	if err != nil {
		return err
	}
	// The change is durable; a failed publish must not fail the request
	// (the gateway fills gaps from the store).
	pctx := context.WithoutCancel(ctx)
	for i, m := range c.subscribe {
		s.publishJSON(pctx, unhidra.UserSubject(c.subUsers[i]), m)
	}
	for _, ev := range c.events {
		s.publish(pctx, unhidra.ChannelEventsSubject(ev.ChannelID), ev.Frame)
	}
	for i, m := range c.unsub {
		s.publishJSON(pctx, unhidra.UserSubject(c.unsubUser[i]), m)
	}
	return nil
}

func (s *Service) publish(ctx context.Context, subject string, data []byte) {
	if s.bus == nil {
		return
	}
	if err := s.bus.Publish(ctx, subject, data); err != nil {
		s.log.Warn("publish failed", slog.String("subject", subject), slog.Any("err", err))
	}
}

func (s *Service) publishJSON(ctx context.Context, subject string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("marshal bus message", slog.Any("err", err))
		return
	}
	s.publish(ctx, subject, b)
}

// Frames: exactly the WebSocket server → client frames of API.md.

type messageFrame struct {
	Type      string           `json:"type"`
	ChannelID string           `json:"channel_id"`
	Seq       int64            `json:"seq"`
	Message   *unhidra.Message `json:"message"`
}

type messageDeletedFrame struct {
	Type      string `json:"type"`
	ChannelID string `json:"channel_id"`
	MessageID string `json:"message_id"`
	Seq       int64  `json:"seq"`
}

type reactionFrame struct {
	Type      string `json:"type"`
	ChannelID string `json:"channel_id"`
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
	UserID    string `json:"user_id"`
	Added     bool   `json:"added"`
	Seq       int64  `json:"seq"`
}

type channelFrame struct {
	Type      string           `json:"type"`
	ChannelID string           `json:"channel_id"`
	Seq       int64            `json:"seq"`
	Channel   *unhidra.Channel `json:"channel"`
}

type memberFrame struct {
	Type      string `json:"type"`
	ChannelID string `json:"channel_id"`
	UserID    string `json:"user_id"`
	Role      string `json:"role,omitempty"`
	Seq       int64  `json:"seq"`
}

type typingFrame struct {
	Type      string `json:"type"`
	ChannelID string `json:"channel_id"`
	UserID    string `json:"user_id"`
}

type readFrame struct {
	Type      string `json:"type"`
	ChannelID string `json:"channel_id"`
	UserID    string `json:"user_id"`
	Seq       int64  `json:"seq"`
}

// emitMessage stores a message or message_updated event for m (reactions
// as everyone sees them: Me false).
func (c *change) emitMessage(ctx context.Context, typ string, m *unhidra.Message) (int64, error) {
	return c.emit(ctx, typ, func(seq int64) any {
		if typ == unhidra.EventMessage {
			m.Seq = seq
		}
		return messageFrame{Type: typ, ChannelID: m.ChannelID, Seq: seq, Message: m}
	})
}

func (c *change) emitMember(ctx context.Context, typ, userID, role string) (int64, error) {
	return c.emit(ctx, typ, func(seq int64) any {
		return memberFrame{Type: typ, ChannelID: c.channelID, UserID: userID, Role: role, Seq: seq}
	})
}

func (c *change) emitChannel(ctx context.Context, ch *unhidra.Channel) (int64, error) {
	return c.emit(ctx, unhidra.EventChannelUpdated, func(seq int64) any {
		pub := publicChannel(ch)
		pub.LastSeq = seq
		return channelFrame{Type: unhidra.EventChannelUpdated, ChannelID: ch.ID, Seq: seq, Channel: pub}
	})
}

// publicChannel strips the per-user fields, for frames everyone receives.
func publicChannel(ch *unhidra.Channel) *unhidra.Channel {
	c := *ch
	c.Role, c.LastReadSeq, c.UnreadCount, c.MentionCount, c.Muted, c.Notify, c.Hidden = "", 0, 0, 0, false, "", false
	return &c
}
