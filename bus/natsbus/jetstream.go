package natsbus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/unhidra/unhidra/bus"
)

// Stream names subjects that travel through JetStream instead of core NATS:
// messages a node must not miss because its connection to NATS blinked.
//
// Core NATS drops whatever is published while a subscriber's connection is
// down. For channel events that is fine (the gateway repairs a seq gap from
// the store), but a control message (a member removed, a session revoked)
// has no sequence to notice it by, and a node that missed one would keep
// serving a removed member or a revoked session. A stream keeps such
// messages for MaxAge; each subscription is an ordered consumer that, after
// a reconnect, resumes from the last message it saw.
type Stream struct {
	// Name is the JetStream stream's name (unique on the NATS account).
	Name string
	// Subjects are the subjects it captures ("user.>"). Publishes on them
	// wait for the stream's acknowledgement; subscriptions whose pattern
	// lies within one of them read the stream.
	Subjects []string
	// MaxAge is how long the stream keeps a message (default 2 minutes):
	// longer than any reconnect a node should survive, and short, so what
	// the stream holds (ids and sequence numbers: control messages carry
	// no content) does not live on.
	MaxAge time.Duration
	// Replicas is the stream's replication on a clustered NATS (default 1).
	Replicas int
}

// DefaultStreamMaxAge is Stream.MaxAge when zero.
const DefaultStreamMaxAge = 2 * time.Minute

// publishTimeout bounds the wait for a stream's acknowledgement when the
// caller's context has no deadline.
const publishTimeout = 5 * time.Second

// setUpStreams creates or updates the configured streams. Several nodes
// starting at once is harmless: adding a stream that exists with the same
// configuration succeeds, and otherwise the configuration is updated.
func (b *Bus) setUpStreams(ctx context.Context, streams []Stream) error {
	if len(streams) == 0 {
		return nil
	}
	js, err := b.nc.JetStream(nats.Context(ctx))
	if err != nil {
		return fmt.Errorf("bus: JetStream: %w", err)
	}
	for _, s := range streams {
		if s.Name == "" || len(s.Subjects) == 0 {
			return errors.New("bus: a stream needs a name and subjects")
		}
		if s.MaxAge <= 0 {
			s.MaxAge = DefaultStreamMaxAge
		}
		if s.Replicas <= 0 {
			s.Replicas = 1
		}
		cfg := &nats.StreamConfig{
			Name:      s.Name,
			Subjects:  s.Subjects,
			Retention: nats.LimitsPolicy,
			MaxAge:    s.MaxAge,
			Storage:   nats.FileStorage,
			Discard:   nats.DiscardOld,
			Replicas:  s.Replicas,
			// Nothing is ever read twice by id, and a duplicate window
			// would only hold message ids in memory.
			Duplicates: 0,
		}
		if _, err := js.AddStream(cfg, nats.Context(ctx)); err != nil {
			if !errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
				return fmt.Errorf("bus: JetStream stream %s: %w", s.Name, err)
			}
			if _, err := js.UpdateStream(cfg, nats.Context(ctx)); err != nil {
				return fmt.Errorf("bus: JetStream stream %s: %w", s.Name, err)
			}
		}
		b.streams = append(b.streams, s)
	}
	b.js = js
	return nil
}

// streamFor returns the stream that captures subject (or whose subjects
// contain every subject a pattern matches), if any.
func (b *Bus) streamFor(subject string) (Stream, bool) {
	for _, s := range b.streams {
		if slices.ContainsFunc(s.Subjects, func(p string) bool { return bus.Match(p, subject) }) {
			return s, true
		}
	}
	return Stream{}, false
}

// publishStream publishes through JetStream and waits for the stream to
// store the message.
func (b *Bus) publishStream(ctx context.Context, subject string, data []byte) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, publishTimeout)
		defer cancel()
	}
	if _, err := b.js.Publish(subject, data, nats.Context(ctx)); err != nil {
		if errors.Is(err, nats.ErrConnectionClosed) {
			return bus.ErrClosed
		}
		return fmt.Errorf("bus: publish %s: %w", subject, err)
	}
	return nil
}

// subscribeStream reads the stream with an ordered consumer: ephemeral,
// flow-controlled, starting with what is published from now on, and
// re-created by the client from the last message delivered when it notices
// a gap (after a reconnect, or a missed heartbeat).
func (b *Bus) subscribeStream(s *sub, stream Stream, pattern string) (*nats.Subscription, error) {
	return b.js.Subscribe(pattern, s.enqueue,
		nats.BindStream(stream.Name),
		nats.OrderedConsumer(),
		nats.DeliverNew(),
	)
}
